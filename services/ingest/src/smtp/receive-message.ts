import {
  MessageLineChecker,
  type MessageLineViolation,
  type IngestRefusal as RefusalReason,
} from '@outpost/core';
import type { SMTPServerDataStream } from 'smtp-server';
import { IngestRefusal } from '../ingest-refusal.ts';

const VIOLATION_REFUSALS: Record<MessageLineViolation, RefusalReason> = {
  bareCarriageReturn: 'bareLineEnding',
  bareLineFeed: 'bareLineEnding',
  nul: 'nulInMessage',
  lineTooLong: 'lineTooLong',
};

/**
 * Reads a message's DATA as it streams in and returns it whole, or throws the refusal that answers
 * it. Every chunk is checked on arrival (line endings, NUL, line length, size); once the message is
 * known to be refused nothing more is kept, but the rest is still read, as SMTP requires, to the
 * end of DATA. Memory is bounded by the size limit, whatever the client sends.
 */
export async function receiveMessage(stream: SMTPServerDataStream): Promise<Buffer> {
  const checker = new MessageLineChecker();
  let chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (stream.sizeExceeded || checker.violation !== undefined) {
      chunks = [];
      continue;
    }
    if (checker.push(chunk) === undefined) chunks.push(chunk);
  }
  // The size verdict first: smtp-server counted every byte, even those we no longer looked at.
  if (stream.sizeExceeded) throw new IngestRefusal('messageTooBig');
  const violation = checker.end();
  if (violation !== undefined) throw new IngestRefusal(VIOLATION_REFUSALS[violation]);
  return Buffer.concat(chunks);
}
