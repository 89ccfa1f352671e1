/**
 * Delivery-log keys. All share the queue's hash tag so a Redis Cluster keeps them in one slot with
 * the queues (multi-key writes stay atomic).
 */
const P = '{outpost}:log';

export const logKeys = {
  record: (attemptId: string) => `${P}:rec:${attemptId}`,
  messageAttempts: (messageId: string) => `${P}:msg:${messageId}:attempts`,
  messageRecipients: (messageId: string) => `${P}:msg:${messageId}:rcpt`,
  messageActions: (messageId: string) => `${P}:msg:${messageId}:actions`,
  messageMeta: (messageId: string) => `${P}:msg:${messageId}:meta`,
  /** Every record by time, and its size: what retention walks. */
  records: `${P}:records`,
  sizes: `${P}:sizes`,
  bytes: `${P}:bytes`,
  /** The secondary indexes that exist, so age trimming can reach all of them. */
  indexes: `${P}:indexes`,
  index: (kind: 'all' | 'status' | 'domain' | 'rcpt' | 'cat' | 'code', value = '') =>
    kind === 'all' ? `${P}:idx:all` : `${P}:idx:${kind}:${value.toLowerCase()}`,
};

/** Index members point at one recipient of one record. */
export const entryMember = (attemptId: string, recipientIndex: number) => `${attemptId}#${recipientIndex}`;

export function parseEntryMember(member: string): { attemptId: string; index: number } {
  const hash = member.lastIndexOf('#');
  return { attemptId: member.slice(0, hash), index: Number(member.slice(hash + 1)) };
}
