import type { ClientIdentity, DsnReport } from '@outpost/core';
import { composeDsn, prepareMessage } from '@outpost/core';
import type { MessageWriter } from '@outpost/queue';
import { assembleDsn } from './assemble-dsn.ts';
import type { DsnContext } from './dsn-collector.ts';
import { returnedPart } from './to-dsn-report.ts';

export interface DsnToWrite {
  report: DsnReport;
  context: DsnContext;
  /** The DSN's own message id (stable across retries, so a retried write is a duplicate BullMQ ignores). */
  dsnId: string;
  to: string;
  /** Header Message-ID of the DSN, with angle brackets. */
  headerMessageId: string;
}

/**
 * Queues the DSN as a new message from the null sender (RFC 3461 §6.2: "MAIL FROM:<>"), delivered
 * like any other through its own delivery jobs, with the DSN lifetime.
 */
export async function writeDsn(
  dsn: DsnToWrite,
  deps: { writer: MessageWriter; hostname: string; lifetimeMs: number; now: number },
): Promise<void> {
  const raw = await assembleDsn(
    composeDsn(dsn.report),
    {
      hostname: deps.hostname,
      to: dsn.to,
      date: deps.now,
      messageId: dsn.headerMessageId,
      inReplyTo: dsn.context.headers.messageId,
    },
    returnedPart(dsn.context).content,
  );
  const message = prepareMessage({
    id: dsn.dsnId,
    sender: '',
    recipients: [{ address: dsn.to }],
    dsn: {},
    raw,
    client: localClient(deps.hostname),
    hostname: deps.hostname,
    now: deps.now,
    lifetimeMs: deps.lifetimeMs,
  });
  await deps.writer.write(message);
}

/** The DSN is made here, not received: its Received: field names ourselves. */
function localClient(hostname: string): ClientIdentity {
  return { protocol: 'local', address: '127.0.0.1', heloName: hostname, tls: false };
}
