/**
 * Child processes of the benchmark, and the guarantee that none outlives it: every child is tracked
 * and SIGKILLed on exit, on an error, and on SIGINT/SIGTERM/SIGHUP; extra cleanups (a Redis directory)
 * run then too. The node children also exit by themselves when their stdin closes, which happens
 * even when this process is killed with SIGKILL.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const children = new Set<ChildProcess>();
const cleanups = new Set<() => void>();
let installed = false;

function killEverything(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
  for (const cleanup of cleanups) {
    try {
      cleanup();
    } catch {
      // best effort: we are going down
    }
  }
  cleanups.clear();
}

export function installCleanupHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killEverything);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\n${signal}: stopping every child process\n`);
      killEverything();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

/** Tracks a child that is not a node script (smtp-sink, dnsmasq): killed with the others on abort. */
export function trackChild(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Registers a synchronous cleanup for abnormal exits; call the returned function once done normally. */
export function onAbort(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

export interface NodeChild {
  child: ChildProcess;
  /** The next stdout line starting with `prefix`, parsed as JSON after the prefix. */
  nextLine<T>(prefix: string, timeoutMs: number): Promise<T>;
  send(line: string): void;
  /** Stdout lines no nextLine() has taken (a service's log lines, say), oldest first; at most 1,000. */
  otherLines(): string[];
  /** Last 64 KiB of stderr, for error messages. */
  stderr(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Spawns `node [nodeArgs] script [args]` with stdin/stdout as a line protocol. */
export function spawnNode(
  script: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; nodeArgs?: string[] },
): NodeChild {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), script, ...args], {
    env: options.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => children.delete(child));
  child.stdin?.on('error', () => {}); // EPIPE once the child is gone
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-65_536);
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    // Lines nobody asks for (logs) must not pile up: keep the newest.
    if (lines.length > 2_000) lines.splice(0, lines.length - 1_000);
    for (const wake of waiters) wake();
  });
  const describe = () => `${script} (pid ${child.pid}); stderr:\n${stderr.trim() || '(empty)'}`;

  return {
    child,
    nextLine<T>(prefix: string, timeoutMs: number) {
      return new Promise<T>((resolve, reject) => {
        const check = () => {
          const index = lines.findIndex((line) => line.startsWith(prefix));
          if (index === -1) return;
          const [line] = lines.splice(index, 1);
          done();
          try {
            resolve(JSON.parse(line!.slice(prefix.length)) as T);
          } catch (error) {
            reject(error);
          }
        };
        // 'close' comes after 'exit' once stdout and stderr are drained, so the last lines are in.
        const onExit = () => {
          check();
          done();
          reject(new Error(`exited (code ${child.exitCode}, signal ${child.signalCode}): ${describe()}`));
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no "${prefix.trim()}" line within ${timeoutMs} ms from ${describe()}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('close', onExit);
        };
        waiters.add(check);
        if (child.exitCode !== null || child.signalCode !== null) setImmediate(onExit);
        else child.once('close', onExit);
        check();
      });
    },
    send(line) {
      child.stdin?.write(`${line}\n`);
    },
    otherLines: () => lines.slice(-1_000),
    stderr: () => stderr,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

const CLOCK_TICKS = (() => {
  const probe = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const ticks = Number(probe.stdout?.trim());
  return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
})();

/**
 * CPU time (user + system, all threads) a process has used so far, in ms, and that of its children
 * it has waited for (for Redis: the AOF rewrite forks); undefined if it is gone.
 */
export function cpuTimeMs(pid: number | undefined): { own: number; children: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)", from field 3 (state): utime, stime, cutime, cstime are fields 14-17.
    const fields = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    const ms = (ticks: number) => (ticks * 1000) / CLOCK_TICKS;
    return { own: ms(fields[11]! + fields[12]!), children: ms(fields[13]! + fields[14]!) };
  } catch {
    return undefined;
  }
}

/** Whole-machine CPU time so far (/proc/stat), in ms summed over all cores. */
export function machineCpuMs(): { busy: number; steal: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is counted in user)
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const ms = (ticks: number) => (ticks * 1000) / CLOCK_TICKS;
  return {
    busy: ms(user + nice + system + irq + softirq),
    steal: ms(steal),
    total: ms(user + nice + system + idle + iowait + irq + softirq + steal),
  };
}

/**
 * Waits until the machine is quiet: over one second, the CPU in use (in cores) is below `cores`.
 * Returns the last measurement; gives up after `maxWaitMs` (the caller records the load it saw).
 */
export async function waitForQuietMachine(
  cores: number,
  maxWaitMs: number,
  onWait: (busyCores: number) => void,
): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  for (let attempt = 0; ; attempt++) {
    const before = machineCpuMs();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const after = machineCpuMs();
    const busyCores = (after.busy - before.busy) / 1_000;
    if (busyCores < cores || Date.now() >= deadline) return busyCores;
    if (attempt % 10 === 0) onWait(busyCores);
  }
}

/** Read and write system calls a process has made so far (/proc/PID/io syscr, syscw). */
export function syscallsOf(pid: number | undefined): { reads: number; writes: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (name: string) => Number(io.match(new RegExp(`^${name}:\\s+(\\d+)`, 'm'))?.[1]);
    return { reads: field('syscr'), writes: field('syscw') };
  } catch {
    return undefined;
  }
}

/** VmRSS (now) and VmHWM (peak since start) of a process, in bytes. */
export function memoryOf(pid: number | undefined): { rss: number; peak: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) =>
      Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))?.[1]) * 1024;
    return { rss: field('VmRSS'), peak: field('VmHWM') };
  } catch {
    return undefined;
  }
}

/** Samples a process's RSS every `intervalMs`; `stop()` returns the largest sample and VmHWM. */
export function sampleMemory(
  pid: number,
  intervalMs = 100,
): { stop(): { sampledMax: number; peak: number } } {
  let sampledMax = 0;
  let peak = 0;
  const sample = () => {
    const memory = memoryOf(pid);
    if (!memory) return;
    sampledMax = Math.max(sampledMax, memory.rss);
    peak = Math.max(peak, memory.peak);
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { sampledMax, peak };
    },
  };
}

/**
 * How fast one core of the machine is right now, in rounds per second of a fixed single-threaded
 * workload (hashing, JSON): on a shared or virtual machine this moves, and every figure moves with it.
 */
export function cpuSpeedIndex(durationMs = 300): number {
  const data = Buffer.alloc(16 * 1024, 7);
  const record = {
    id: 'x'.repeat(36),
    recipients: ['a@example.com', 'b@example.net'],
    body: 'y'.repeat(2_048),
  };
  const start = performance.now();
  let rounds = 0;
  while (performance.now() - start < durationMs) {
    createHash('sha256').update(data).digest();
    JSON.parse(JSON.stringify(record));
    rounds++;
  }
  return Math.round(rounds / ((performance.now() - start) / 1_000));
}
