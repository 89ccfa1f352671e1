import { ApiFailure, apiGet, forgetKey, storeKey } from './api.js';
import { el, fill, notice } from './dom.js';

/**
 * Asks for the operator key and checks it with one call before showing anything. `reason` says why
 * the key is asked for again (it was refused, or it stopped working).
 */
export function loginView(container, { reason, onSignedIn }) {
  const input = el('input', {
    id: 'operator-key',
    name: 'key',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'outpost_op_...',
  });
  const status = el(
    'div',
    { class: 'login-status', 'aria-live': 'polite' },
    reason ? notice(reason, 'error') : null,
  );
  const form = el(
    'form',
    { class: 'login', id: 'login-form' },
    el('h1', {}, 'Sign in'),
    el(
      'p',
      {},
      'Enter an operator key of this trace-query (OUTPOST_OPERATOR_KEYS; make one with ',
      el('code', {}, 'outpost operator-key <name>'),
      '). It is kept in this tab only and sent with every request.',
    ),
    el('label', { for: 'operator-key' }, 'Operator key'),
    input,
    el('button', { type: 'submit' }, 'Sign in'),
    status,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      fill(status, notice('Enter the operator key.', 'error'));
      return;
    }
    storeKey(key);
    fill(status, notice('Checking the key...'));
    try {
      await apiGet('queue');
      onSignedIn();
    } catch (error) {
      forgetKey();
      fill(status, notice(refusalText(error), 'error'));
    }
  });
  fill(container, form);
  input.focus();
}

export function refusalText(error) {
  if (error instanceof ApiFailure && error.status === 401)
    return 'This key was refused (401 Unauthorized). Only operator keys of this trace-query work here; API keys for sending mail do not.';
  return `Could not check the key: ${error.message}`;
}
