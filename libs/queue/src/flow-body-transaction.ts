import { AsyncLocalStorage } from 'node:async_hooks';
import type { ChainableCommander, Cluster, Redis } from 'ioredis';

type Connection = Redis | Cluster;
type ExecReplies = Awaited<ReturnType<ChainableCommander['exec']>>;

/** Keys to SET in the MULTI of the flow being written, and whether that MULTI took them. */
interface PendingKeys {
  readonly entries: readonly (readonly [key: string, value: Buffer])[];
  attached: boolean;
}

const pendingKeys = new AsyncLocalStorage<PendingKeys>();
const prepared = new WeakSet<Connection>();

/**
 * BullMQ's FlowProducer writes a flow in a MULTI of its own and has no way to add a plain key to it.
 * The bodies must go in that same MULTI: written apart, a crash between the two writes would leave
 * bodies no job refers to (or jobs without a body). So the writer's connection gets a `multi` that,
 * for a MULTI opened inside `withKeysInFlowTransaction` (found through AsyncLocalStorage, so no other
 * MULTI on the connection is touched), appends the SETs just before EXEC and takes their replies off
 * again: BullMQ reads the replies by position. Redis refuses a whole MULTI when a queued command is
 * refused (out of memory: EXECABORT), so the flow and its bodies are stored together or not at all.
 */
export function prepareFlowTransactions(connection: Connection): void {
  if (prepared.has(connection)) return;
  prepared.add(connection);
  const openMulti = connection.multi.bind(connection) as (...args: unknown[]) => ChainableCommander;
  (connection as { multi: unknown }).multi = (...args: unknown[]) => {
    const transaction = openMulti(...args);
    const pending = pendingKeys.getStore();
    if (!pending || pending.attached) return transaction;
    pending.attached = true;
    const exec = transaction.exec.bind(transaction);
    transaction.exec = (async () => {
      for (const [key, value] of pending.entries) transaction.set(key, value);
      const replies: ExecReplies = await exec();
      if (!replies) return replies;
      const ours = replies.slice(replies.length - pending.entries.length);
      const refused = ours.find(([error]) => error);
      if (refused?.[0]) throw refused[0];
      return replies.slice(0, replies.length - pending.entries.length);
    }) as ChainableCommander['exec'];
    return transaction;
  };
}

/**
 * Runs `write` (a FlowProducer call on a prepared connection) with `entries` added to its MULTI.
 * Throws when the write opened no MULTI: then the bodies were not stored, and saying 250 would lose
 * mail (a BullMQ that stopped writing flows in a MULTI fails here, in the tests, not in production).
 */
export async function withKeysInFlowTransaction<T>(
  entries: PendingKeys['entries'],
  write: () => Promise<T>,
): Promise<T> {
  const pending: PendingKeys = { entries, attached: false };
  const result = await pendingKeys.run(pending, write);
  if (!pending.attached) throw new Error('the flow was written without a MULTI: its bodies were not stored');
  return result;
}
