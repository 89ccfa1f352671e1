import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What /metrics serves: a prom-client Registry fits. */
export interface MetricsRegistry {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface HealthServer {
  address: AddressInfo;
  close(): Promise<void>;
}

/**
 * The small HTTP server of the worker services (delivery, bounce): /healthz (the process answers),
 * /readyz (its dependencies answer), /metrics (Prometheus). Keep it inside: it has no auth.
 */
export async function startHealthServer(options: {
  host: string;
  port: number;
  registry: MetricsRegistry;
  ready: () => Promise<boolean>;
}): Promise<HealthServer> {
  const server: Server = createServer((request, response) => {
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      response.writeHead(status, { 'content-type': type });
      response.end(body);
    };
    const route = request.url?.split('?')[0];
    if (route === '/healthz') return reply(200, 'ok\n');
    if (route === '/readyz') {
      return void options.ready().then(
        (ready) => reply(ready ? 200 : 503, ready ? 'ready\n' : 'not ready\n'),
        () => reply(503, 'not ready\n'),
      );
    }
    if (route === '/metrics') {
      return void options.registry.metrics().then(
        (text) => reply(200, text, options.registry.contentType),
        (error: unknown) => reply(500, `metrics failed: ${String(error)}\n`),
      );
    }
    reply(404, 'not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  return {
    address: server.address() as AddressInfo,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
