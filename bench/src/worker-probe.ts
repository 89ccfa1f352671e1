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
 *
 * With OUTPOST_BENCH_ALLOC_PROFILE=FILE (`--alloc-prof`) it also samples what the worker allocates
 * between "mark" and "stats", garbage included (V8's sampling heap profiler, which by default keeps
 * only what is still alive), and writes the profile to FILE before answering "stats".
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

const allocationProfileFile = process.env.OUTPOST_BENCH_ALLOC_PROFILE;
let allocations: Session | undefined;

async function startAllocationSampling(): Promise<void> {
  if (!allocationProfileFile || allocations) return;
  allocations = new Session();
  allocations.connect();
  await allocations.post('HeapProfiler.startSampling', {
    samplingInterval: 16_384,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
}

async function writeAllocationProfile(): Promise<void> {
  if (!allocationProfileFile || !allocations) return;
  const { profile } = await allocations.post('HeapProfiler.stopSampling');
  writeFileSync(allocationProfileFile, JSON.stringify(profile));
  allocations.disconnect();
  allocations = undefined;
}

let window = performance.eventLoopUtilization();
const commands = createInterface({ input: process.stdin });
commands.on('line', async (line) => {
  if (line === 'mark') {
    window = performance.eventLoopUtilization();
    await startAllocationSampling().catch((error: unknown) => {
      process.stderr.write(`allocation sampling did not start: ${String(error)}\n`);
    });
  } else if (line === 'stats') {
    await writeAllocationProfile().catch((error: unknown) => {
      process.stderr.write(`allocation profile not written: ${String(error)}\n`);
    });
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
