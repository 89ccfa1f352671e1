import assert from 'node:assert/strict';
import { type OutpostProcess, spawnOutpost, submitMessage } from '@outpost/testing';
import type { DeliveryWorld } from '../../delivery/test/helpers.ts';

export interface AllInOneRun {
  /** Where the receiver listens, and the domain whose MX it is. */
  receiverAddress: string;
  domain: string;
  /** The CLI to run (default: the sources; the bundle test passes dist's bundle). */
  cli?: string;
}

/**
 * `outpost all`, every service in one process on free ports, delivers one message submitted over
 * SMTP to a receiver of its own. Resolves once the receiver has it, with the operators' HTTP port.
 */
export async function deliverThroughAllInOne(
  world: DeliveryWorld,
  processes: OutpostProcess[],
  run: AllInOneRun,
): Promise<{ queryPort: number }> {
  const receiver = await world.receiver(run.receiverAddress);
  world.mx(run.domain, [{ name: `mx.${run.domain}`, priority: 10, a: [run.receiverAddress] }]);
  const all = spawnOutpost(
    'all',
    world.env({
      LOG_LEVEL: 'info',
      OUTPOST_SMTP_LISTEN: '127.0.0.1:0',
      OUTPOST_HTTP_LISTEN: '127.0.0.1:0',
      OUTPOST_TRACE_QUERY_LISTEN: '127.0.0.1:0',
    }),
    run.cli ? { cli: run.cli } : {},
  );
  processes.push(all);
  const ready = await all.waitForLog((line) => line.msg === 'ingest listening');
  await all.waitForLog((line) => line.msg === 'delivery running');
  const query = await all.waitForLog((line) => line.msg === 'trace-query running');
  const recipient = `erin@${run.domain}`;
  const result = await submitMessage({
    port: (ready.smtp as { port: number }).port,
    from: 'alice@example.com',
    to: [recipient],
    message: 'Subject: all in one\r\n\r\nHi.\r\n',
  });
  assert.match(result.response, /^250 /);
  const [received] = await receiver.waitForMessages(1, 15_000);
  assert.deepEqual(received!.to, [recipient]);
  assert.match(received!.data.toString(), /\r\nSubject: all in one\r\n/);
  return { queryPort: (query.http as { port: number }).port };
}
