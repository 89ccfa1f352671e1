import { readdirSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { QueryApiError } from '../api-error.ts';

/**
 * The folder of the page's files: plain HTML, CSS and ES modules, served as they are (no build
 * step). Found through the package's own exports, not relative to this module: in the bundle the
 * image runs (dist/outpost.mjs, scripts/build.ts) this module is no longer beside them. Looked up
 * when the server starts, not when the module loads: the bundle loads it for every command.
 */
const webDir = () => new URL('.', import.meta.resolve('@outpost/trace-query/web/index.html'));

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Only our own files run and load, nothing inline: a transcript line that slipped into the markup
 * as HTML still could not run a script, load an image from elsewhere or send data anywhere.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface PageFile {
  body: Buffer;
  type: string;
}

/** Read once at start: a handful of small files, and no path from a request ever reaches the disk. */
function loadPageFiles(dir: URL): Map<string, PageFile> {
  const files = new Map<string, PageFile>();
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[extname(name)];
    if (type && /^[a-z0-9-]+\.[a-z]+$/.test(name))
      files.set(name, { body: readFileSync(new URL(name, dir)), type });
  }
  return files;
}

function sendFile(reply: FastifyReply, file: PageFile): FastifyReply {
  return reply
    .header('content-type', file.type)
    .header('content-security-policy', PAGE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cache-control', 'no-cache')
    .send(file.body);
}

/**
 * The operators' web page at /ui/. The shell needs no key; everything it shows comes from /v1,
 * which does (the page asks for the operator key and sends it with each call).
 */
export function registerPageRoutes(app: FastifyInstance): void {
  const dir = webDir();
  const files = loadPageFiles(dir);
  const index = files.get('index.html');
  if (!index) throw new Error(`the web page is missing: no index.html in ${dir.pathname}`);
  // Relative, so the redirect also holds behind a reverse proxy that adds a path prefix.
  app.get('/', (_request, reply) => reply.redirect('ui/'));
  app.get('/ui', (_request, reply) => reply.redirect('ui/'));
  app.get('/ui/', (_request, reply) => sendFile(reply, index));
  app.get<{ Params: { file: string } }>('/ui/:file', (request, reply) => {
    const file = files.get(request.params.file);
    if (!file) throw new QueryApiError(404, 'not_found', `No file ${request.params.file} in the web page`);
    return sendFile(reply, file);
  });
}
