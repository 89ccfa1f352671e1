import { ApiFailure, forgetKey, storedKey } from './api.js';
import { fill } from './dom.js';
import { loginView, refusalText } from './login-view.js';
import { messagePage } from './message-page.js';
import { overviewView } from './overview-view.js';
import { searchView } from './search-view.js';

// The operators' page: a hash router over three views (#/, #/search?..., #/message/<id>); each
// view renders into a fresh container, so a slow answer for a view left behind lands nowhere.

const main = document.getElementById('main');
const nav = document.getElementById('nav');

function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

/** A refused key sends the operator back to the sign-in form, saying why; other errors stay in the view. */
function fail(error) {
  if (!(error instanceof ApiFailure) || error.status !== 401) return false;
  forgetKey();
  showLogin(refusalText(error));
  return true;
}

function showLogin(reason) {
  nav.hidden = true;
  const container = document.createElement('div');
  fill(main, container);
  loginView(container, { reason, onSignedIn: render });
}

function render() {
  if (!storedKey()) {
    showLogin();
    return;
  }
  nav.hidden = false;
  const container = document.createElement('div');
  fill(main, container);
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, queryText = ''] = hash.split('?');
  const params = new URLSearchParams(queryText);
  if (path.startsWith('/message/')) {
    messagePage(container, { fail, messageId: decodeURIComponent(path.slice('/message/'.length)) });
  } else if (path === '/search') {
    searchView(container, { fail, params, navigate });
  } else {
    overviewView(container, { fail });
  }
  for (const link of nav.querySelectorAll('a')) {
    const target = link.getAttribute('href').slice(1);
    link.classList.toggle('current', target === '/' ? path === '/' : path.startsWith(target));
  }
}

document.getElementById('sign-out').addEventListener('click', () => {
  forgetKey();
  showLogin();
});
window.addEventListener('hashchange', render);
render();
