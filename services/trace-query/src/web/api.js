// The page's only way to the server: the JSON API under /v1, with the operator key as a bearer
// token. The key stays in this tab's sessionStorage: gone when the tab closes.

const KEY_NAME = 'outpost-operator-key';
/** Relative to the page, so a reverse proxy may serve trace-query under a prefix. */
const API_BASE = new URL('../v1/', import.meta.url);

export class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const storedKey = () => sessionStorage.getItem(KEY_NAME) ?? '';
export const storeKey = (key) => sessionStorage.setItem(KEY_NAME, key);
export const forgetKey = () => sessionStorage.removeItem(KEY_NAME);

/** GET /v1/<path>?<params>; throws ApiFailure (status 401 for a missing or refused key). */
export async function apiGet(path, params = {}) {
  const url = new URL(path, API_BASE);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, String(value));
  }
  let response;
  try {
    response = await fetch(url, {
      headers: { authorization: `Bearer ${storedKey()}`, accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (error) {
    throw new ApiFailure(0, 'unreachable', `trace-query did not answer (${error.message})`);
  }
  const body = await response.json().catch(() => undefined);
  if (!response.ok) {
    throw new ApiFailure(
      response.status,
      body?.error?.code ?? 'http_error',
      body?.error?.message ?? `HTTP ${response.status}`,
    );
  }
  return body;
}
