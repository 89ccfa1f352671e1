import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { Socket } from 'node:net';
import { assertLoopback } from './dns-server.ts';
import { listenOn } from './listen.ts';

/** What the server answers for one policy domain. */
export type PolicyAnswer =
  /** The policy file (RFC 8461 §3.2); `contentType` defaults to text/plain, `status` to 200. */
  | { kind: 'policy'; body: string; contentType?: string; status?: number }
  /** A redirect, which a sender must not follow (§3.3). */
  | { kind: 'redirect'; location: string; status?: 301 | 302 | 307 | 308 }
  /** Accepts the request and never answers. */
  | { kind: 'hang' }
  /** A text/plain body of this many bytes, sent in chunks without a Content-Length. */
  | { kind: 'oversized'; bytes: number };

export interface PolicyRequest {
  /** The policy domain: the Host header without `mta-sts.` and the port. */
  domain: string;
  host: string;
  path: string;
  /** The TLS server name the client asked for (SNI). */
  servername: string | undefined;
}

export interface HttpsPolicyServerOptions {
  /** Loopback address to bind; default '127.0.0.1'. */
  host?: string;
  /** Default 0 = a free port. */
  port?: number;
  /** The certificate presented for every name: issue it for `mta-sts.<domain>` of each test domain. */
  tls: { key: string; cert: string };
}

export interface HttpsPolicyServer {
  readonly host: string;
  readonly port: number;
  /** Every request, in arrival order. */
  readonly requests: PolicyRequest[];
  /** What `mta-sts.<domain>` serves at /.well-known/mta-sts.txt; a string is a policy file. */
  set(domain: string, answer: PolicyAnswer | string): void;
  /** `domain` answers 404 again. */
  remove(domain: string): void;
  close(): Promise<void>;
}

export const POLICY_PATH = '/.well-known/mta-sts.txt';

/** A policy file (RFC 8461 §3.2) with CRLF line endings. */
export function policyText(policy: {
  mode: 'enforce' | 'testing' | 'none';
  mx: readonly string[];
  maxAge?: number;
}): string {
  return [
    'version: STSv1',
    `mode: ${policy.mode}`,
    ...policy.mx.map((mx) => `mx: ${mx}`),
    `max_age: ${policy.maxAge ?? 86_400}`,
    '',
  ].join('\r\n');
}

/**
 * A loopback HTTPS server standing in for the `mta-sts.<domain>` policy hosts of any number of test
 * domains (told apart by the Host header), with answers a policy fetcher must refuse: redirects,
 * endless waits, oversized bodies, wrong media types.
 */
export async function startHttpsPolicyServer(options: HttpsPolicyServerOptions): Promise<HttpsPolicyServer> {
  const host = options.host ?? '127.0.0.1';
  assertLoopback(host);
  const answers = new Map<string, PolicyAnswer>();
  const requests: PolicyRequest[] = [];
  const sockets = new Set<Socket>();

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const hostHeader = (request.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
    const domain = hostHeader.replace(/^mta-sts\./, '');
    const servername = (request.socket as { servername?: string | false }).servername || undefined;
    requests.push({ domain, host: hostHeader, path: request.url ?? '', servername });
    const answer = hostHeader.startsWith('mta-sts.') ? answers.get(domain) : undefined;
    if (request.url !== POLICY_PATH || !answer) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    switch (answer.kind) {
      case 'policy':
        response
          .writeHead(answer.status ?? 200, { 'content-type': answer.contentType ?? 'text/plain' })
          .end(answer.body);
        return;
      case 'redirect':
        response.writeHead(answer.status ?? 301, { location: answer.location }).end();
        return;
      case 'hang':
        return;
      case 'oversized': {
        response.writeHead(200, { 'content-type': 'text/plain' });
        const line = `${'x'.repeat(1023)}\n`;
        let sent = 0;
        const write = () => {
          while (sent < answer.bytes) {
            sent += line.length;
            if (!response.write(line)) {
              response.once('drain', write);
              return;
            }
          }
          response.end();
        };
        write();
        return;
      }
    }
  };

  const server = createServer({ key: options.tls.key, cert: options.tls.cert }, handle);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => {});
  const port = await listenOn(server, host, options.port ?? 0);

  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    requests,
    set: (domain, answer) =>
      answers.set(
        domain.toLowerCase(),
        typeof answer === 'string' ? { kind: 'policy', body: answer } : answer,
      ),
    remove: (domain) => answers.delete(domain.toLowerCase()),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
