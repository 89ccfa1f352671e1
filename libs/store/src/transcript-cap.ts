import type { TranscriptEntry } from './records.ts';

/**
 * Caps a transcript in bytes, keeping its beginning and its end (where the decisive reply is), with
 * a marker where lines were left out.
 */
export function capTranscript(lines: readonly TranscriptEntry[], maxBytes: number): TranscriptEntry[] {
  const size = (line: TranscriptEntry) => line.text.length + 16;
  const total = lines.reduce((sum, line) => sum + size(line), 0);
  if (total <= maxBytes) return [...lines];
  const head: TranscriptEntry[] = [];
  const tail: TranscriptEntry[] = [];
  let budget = maxBytes - 64;
  let i = 0;
  let j = lines.length - 1;
  while (i <= j && budget > 0) {
    const takeTail = tail.length < head.length;
    const line = takeTail ? lines[j]! : lines[i]!;
    if (size(line) > budget) break;
    budget -= size(line);
    if (takeTail) {
      tail.unshift(line);
      j--;
    } else {
      head.push(line);
      i++;
    }
  }
  const omitted = j - i + 1;
  return [...head, { at: head.at(-1)?.at ?? 0, direction: '*', text: `[${omitted} lines omitted]` }, ...tail];
}
