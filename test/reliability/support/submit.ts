import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import type { AcceptedMessage } from '../invariants.ts';

export interface Submission {
  sender: string;
  recipients: string[];
  message: string;
}

export interface SubmissionResult {
  /** Set when ingest answered 250: the id it queued the message under. */
  id?: string;
  /** The reply code of a refusal, or 0 when the connection failed. */
  refused?: number;
  accepted: string[];
}

/**
 * Submits many messages over a few long SMTP sessions (like a busy client with a connection pool),
 * in order within each lane. A refused message is not retried here: the caller decides.
 */
export async function submitAll(
  port: number,
  submissions: readonly Submission[],
  lanes = 4,
): Promise<SubmissionResult[]> {
  const results: SubmissionResult[] = new Array(submissions.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(lanes, submissions.length) }, async () => {
      let connection: SMTPConnection | undefined;
      try {
        while (next < submissions.length) {
          const index = next++;
          connection ??= await open(port);
          const outcome = await send(connection, submissions[index]!);
          results[index] = outcome.result;
          if (outcome.broken) {
            connection.close();
            connection = undefined;
          }
        }
      } finally {
        connection?.close();
      }
    }),
  );
  return results;
}

/** The ledger entry of an accepted submission: domains lower-cased, as Outpost keeps them. */
export function toAccepted(submission: Submission, result: SubmissionResult): AcceptedMessage | undefined {
  if (!result.id) return undefined;
  return { id: result.id, sender: submission.sender, recipients: result.accepted.map(normalizeAddress) };
}

export function normalizeAddress(address: string): string {
  const at = address.lastIndexOf('@');
  return at === -1 ? address : `${address.slice(0, at)}@${address.slice(at + 1).toLowerCase()}`;
}

async function open(port: number): Promise<SMTPConnection> {
  const connection = new SMTPConnection({
    host: '127.0.0.1',
    port,
    ignoreTLS: true,
    connectionTimeout: 5_000,
    greetingTimeout: 5_000,
    socketTimeout: 20_000,
  });
  connection.on('error', () => {});
  await new Promise<void>((resolve, reject) =>
    connection.connect((error) => (error ? reject(error) : resolve())),
  );
  return connection;
}

async function send(
  connection: SMTPConnection,
  submission: Submission,
): Promise<{ result: SubmissionResult; broken: boolean }> {
  try {
    const info = await new Promise<SMTPConnection.SentMessageInfo>((resolve, reject) =>
      connection.send(
        { from: submission.sender || false, to: submission.recipients } as SMTPConnection.Envelope,
        submission.message,
        (error, sent) => (error ? reject(error) : resolve(sent)),
      ),
    );
    const id = info.response.match(/queued as ([0-9a-f-]{36})/)?.[1];
    return {
      result: { ...(id ? { id } : { refused: 0 }), accepted: info.accepted.map(String) },
      broken: false,
    };
  } catch (error) {
    const code = (error as { responseCode?: number }).responseCode ?? 0;
    // After a refusal the session may stand mid-transaction or be closed (421): start afresh.
    return { result: { refused: code, accepted: [] }, broken: true };
  }
}
