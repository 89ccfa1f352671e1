import { createServer } from 'node:net';

/**
 * Ports this process already handed out. The kernel may give a port that was just released to the
 * next bind to port 0, so two calls in a row (four workers' health ports, say) could get the same
 * port, and the second process to bind it would fail at start. Each call returns a port not
 * returned before in this process.
 */
const handedOut = new Set<string>();

/** A TCP port free on `host` now (for a process to listen on shortly). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await unusedPort(host);
    const key = `${host}:${port}`;
    if (handedOut.has(key)) continue;
    handedOut.add(key);
    return port;
  }
  throw new Error(`no port on ${host} that was not handed out before`);
}

async function unusedPort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port assigned');
  return address.port;
}
