import type { Resolver } from 'node:dns/promises';
import { connect } from 'node:net';
import type { ReachOutcome } from '@outpost/core';

/**
 * The FAQ's "is outbound port 25 open?": connect to the first MX of `domain` (or the domain itself
 * when it has no MX, RFC 5321 §5.1) and read the greeting, then say QUIT. Nothing is sent.
 */
export async function reachMx(
  resolver: Resolver,
  domain: string,
  port: number,
  timeoutMs: number,
): Promise<ReachOutcome> {
  const mx = await resolver.resolveMx(domain).catch(() => []);
  const host = mx.sort((a, b) => a.priority - b.priority)[0]?.exchange ?? domain;
  const addresses = await resolver.resolve4(host).catch(async () => resolver.resolve6(host).catch(() => []));
  const address = addresses[0];
  if (!address) return { kind: 'no-mx', error: `no MX and no address for ${domain}` };
  return new Promise((resolve) => {
    const socket = connect({ host: address, port });
    const finish = (outcome: ReachOutcome) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(
      () => finish({ kind: 'error', host, address, port, error: `no greeting within ${timeoutMs} ms` }),
      timeoutMs,
    );
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
      const end = received.indexOf('\n');
      if (end < 0) return;
      const banner = received.slice(0, end).trimEnd();
      socket.write('QUIT\r\n');
      finish({ kind: 'banner', host, address, port, banner });
    });
    socket.on('error', (error) => finish({ kind: 'error', host, address, port, error: error.message }));
    socket.on('close', () =>
      finish({ kind: 'error', host, address, port, error: 'closed before a greeting' }),
    );
  });
}
