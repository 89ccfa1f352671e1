/**
 * Loaded into each delivery worker with `node --import` (the worker itself is the unchanged
 * `outpost delivery`): it ties the worker's life to the benchmark and reports the event-loop
 * utilisation of the worker's one JavaScript thread.
 *
 *   stdin "mark"   start a measurement window
 *   stdin "stats"  -> stdout PROBE {"eventLoopUtilization":..,"heapUsedBytes":..,"heapAfterGcBytes":..}
 *                     (after the load: the heap is weighed after a full GC, with --expose-gc)
 *   stdin closed (the benchmark is gone, even by SIGKILL) -> SIGTERM to itself: the CLI's own
 *   graceful stop, then exit
 */
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

let window = performance.eventLoopUtilization();
const commands = createInterface({ input: process.stdin });
commands.on('line', (line) => {
  if (line === 'mark') window = performance.eventLoopUtilization();
  else if (line === 'stats') {
    const heapUsedBytes = process.memoryUsage().heapUsed;
    // The benchmark starts workers with --expose-gc so that the heap can be weighed without its
    // garbage; gc() runs only here, after the load.
    (globalThis as { gc?: () => void }).gc?.();
    const stats = {
      eventLoopUtilization: performance.eventLoopUtilization(window).utilization,
      heapUsedBytes,
      heapAfterGcBytes: process.memoryUsage().heapUsed,
    };
    process.stdout.write(`PROBE ${JSON.stringify(stats)}\n`);
  }
});
commands.on('close', () => {
  process.kill(process.pid, 'SIGTERM');
  setTimeout(() => process.exit(1), 10_000).unref();
});
