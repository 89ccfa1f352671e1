/** One MX record as DNS returns it. */
export interface MxRecord {
  exchange: string;
  priority: number;
}

export type MxRoute = { kind: 'null-mx' } | { kind: 'hosts'; hosts: string[]; implicit: boolean };

/**
 * RFC 5321 §5.1 and RFC 7505: a null MX (a single "MX 0 .") means the domain takes no mail; no MX at
 * all means the domain itself is the implicit MX; otherwise hosts by preference, equal preferences
 * shuffled so that load spreads (§5.1: "SHOULD randomize"). `random` returns [0, 1).
 */
export function orderMxHosts(
  domain: string,
  records: readonly MxRecord[] | undefined,
  random: () => number,
): MxRoute {
  if (records === undefined || records.length === 0)
    return { kind: 'hosts', hosts: [domain], implicit: true };
  const usable = records.filter((record) => normalizeHost(record.exchange) !== '');
  if (usable.length === 0) return { kind: 'null-mx' };
  const byPriority = new Map<number, string[]>();
  for (const record of usable) {
    const group = byPriority.get(record.priority) ?? [];
    const host = normalizeHost(record.exchange);
    if (!group.includes(host)) group.push(host);
    byPriority.set(record.priority, group);
  }
  const hosts = [...byPriority.keys()]
    .sort((a, b) => a - b)
    .flatMap((priority) => shuffle(byPriority.get(priority)!, random));
  return { kind: 'hosts', hosts: [...new Set(hosts)], implicit: false };
}

function normalizeHost(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

/** Fisher-Yates on a copy. */
export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
