// Building the page from API data: every value becomes a text node or a checked attribute, never
// markup. Transcripts and reply texts come from remote servers and may contain anything.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Attributes a view may set; event handlers and style are not among them. */
const ALLOWED_ATTRIBUTES = new Set([
  'class',
  'id',
  'href',
  'type',
  'name',
  'value',
  'placeholder',
  'for',
  'autocomplete',
  'hidden',
  'open',
  'role',
  'title',
  'colspan',
  'datetime',
  'selected',
  'spellcheck',
  'aria-label',
  'aria-live',
  'data-status',
  'data-category',
  'data-direction',
  'rel',
  'target',
  'viewBox',
  'x',
  'y',
  'x1',
  'x2',
  'y1',
  'y2',
  'width',
  'height',
  'text-anchor',
  'preserveAspectRatio',
]);

/** Only links inside the page, or http(s) links elsewhere (a trace viewer). */
function safeHref(value) {
  if (value.startsWith('#')) return value;
  try {
    const url = new URL(value, document.baseURI);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

function setAttributes(node, attributes) {
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (!ALLOWED_ATTRIBUTES.has(name)) throw new Error(`attribute ${name} is not allowed`);
    const text = value === true ? '' : String(value);
    if (name === 'href') {
      const href = safeHref(text);
      if (href !== undefined) node.setAttribute('href', href);
      continue;
    }
    node.setAttribute(name, text);
  }
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** An HTML element: `el('td', {class: 'x'}, 'text', otherNode)`. */
export function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  setAttributes(node, attributes);
  return append(node, children);
}

/** An SVG element, for the chart. */
export function svg(tag, attributes, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttributes(node, attributes);
  return append(node, children);
}

/** The node's content replaced by `children`. */
export function fill(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

const pad = (number) => String(number).padStart(2, '0');

/** Local time, `2026-05-04 13:07:42`. */
export function formatTime(ms) {
  if (ms === undefined || ms === null || !Number.isFinite(ms) || ms <= 0) return '-';
  const date = new Date(ms);
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** The value a `datetime-local` input takes for a time. */
export function toLocalInput(ms) {
  const date = new Date(ms);
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** `3 min ago`, `2 h ago`. */
export function formatAge(ms) {
  const seconds = Math.round(ms / 1000);
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

/** A message or notice in the page; `kind` is `error` or `info`. */
export function notice(text, kind = 'info') {
  return el('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

export function messageLink(messageId, text) {
  return el('a', { href: `#/message/${encodeURIComponent(messageId)}` }, text ?? messageId);
}
