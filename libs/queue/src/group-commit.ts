/**
 * Group commit: while one batch is being written, later items wait and then go together in the
 * next batch. A lone item is written at once (no added latency); under load, one Redis
 * transaction (and one fsync) carries many messages. Each caller gets its own batch's outcome.
 */
export function createGroupCommit<T>(writeBatch: (items: T[]) => Promise<void>, maxBatch = 64) {
  let queue: Array<{ item: T; resolve: () => void; reject: (error: unknown) => void }> = [];
  let writing = false;

  const drain = async () => {
    writing = true;
    while (queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      try {
        await writeBatch(batch.map((entry) => entry.item));
        for (const entry of batch) entry.resolve();
      } catch (error) {
        for (const entry of batch) entry.reject(error);
      }
    }
    writing = false;
  };

  return (item: T): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (!writing) void drain();
    });
}
