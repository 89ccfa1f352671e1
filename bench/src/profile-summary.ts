/**
 * Top self-time functions of a V8 CPU profile (`node --cpu-prof`), or the functions that allocate
 * most in a sampled allocation profile (`.heapprofile`, the delivery benchmark's `--alloc-prof`), to
 * see the hot path without a browser: `node bench/src/profile-summary.ts FILE [N]`.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  where: string;
  ms: number;
  share: number;
}

/** Self time per function (same name and place summed), largest first. */
export function selfTimes(profile: CpuProfile, root = ''): SelfTime[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, SelfTime>();
  let all = 0;
  profile.samples.forEach((id, index) => {
    const delta = (profile.timeDeltas[index] ?? 0) / 1000;
    all += delta;
    const frame = byId.get(id)?.callFrame;
    if (!frame) return;
    const url = frame.url.replace(/^file:\/\//, '');
    const where = url ? `${root ? relative(root, url) : url}:${frame.lineNumber + 1}` : '';
    const name = frame.functionName || '(anonymous)';
    const key = `${name} ${where}`;
    const entry = totals.get(key) ?? { name, where, ms: 0, share: 0 };
    entry.ms += delta;
    totals.set(key, entry);
  });
  return [...totals.values()]
    .map((entry) => ({ ...entry, share: all > 0 ? entry.ms / all : 0 }))
    .sort((a, b) => b.ms - a.ms);
}

interface HeapProfileNode {
  callFrame: ProfileNode['callFrame'];
  selfSize: number;
  children?: HeapProfileNode[];
}

export interface HeapProfile {
  head: HeapProfileNode;
}

export interface SelfAllocation {
  name: string;
  where: string;
  bytes: number;
  share: number;
}

/** Sampled bytes allocated by each function itself (same name and place summed), largest first. */
export function selfAllocations(profile: HeapProfile, root = ''): SelfAllocation[] {
  const totals = new Map<string, SelfAllocation>();
  let all = 0;
  const visit = (node: HeapProfileNode) => {
    all += node.selfSize;
    if (node.selfSize > 0) {
      const frame = node.callFrame;
      const url = frame.url.replace(/^file:\/\//, '');
      const where = url ? `${root ? relative(root, url) : url}:${frame.lineNumber + 1}` : '';
      const name = frame.functionName || '(anonymous)';
      const key = `${name} ${where}`;
      const entry = totals.get(key) ?? { name, where, bytes: 0, share: 0 };
      entry.bytes += node.selfSize;
      totals.set(key, entry);
    }
    for (const child of node.children ?? []) visit(child);
  };
  visit(profile.head);
  return [...totals.values()]
    .map((entry) => ({ ...entry, share: all > 0 ? entry.bytes / all : 0 }))
    .sort((a, b) => b.bytes - a.bytes);
}

if (import.meta.main) {
  const [file, count = '25'] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node bench/src/profile-summary.ts FILE.cpuprofile|FILE.heapprofile [N]\n');
    process.exit(2);
  }
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile | HeapProfile;
  if ('head' in parsed) {
    for (const entry of selfAllocations(parsed, process.cwd()).slice(0, Number(count))) {
      process.stdout.write(
        `${(entry.share * 100).toFixed(1).padStart(5)}%  ${(entry.bytes / 2 ** 20).toFixed(1).padStart(7)} MiB  ${entry.name}  ${entry.where}\n`,
      );
    }
    process.exit(0);
  }
  const profile = parsed;
  for (const entry of selfTimes(profile, process.cwd()).slice(0, Number(count))) {
    process.stdout.write(
      `${(entry.share * 100).toFixed(1).padStart(5)}%  ${entry.ms.toFixed(0).padStart(7)} ms  ${entry.name}  ${entry.where}\n`,
    );
  }
}
