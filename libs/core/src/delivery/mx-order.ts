/** One MX record as DNS returns it. */
export interface MxRecord {
  exchange: string;
  priority: number;
}

export type MxRoute =
  | { kind: 'null-mx' }
  | { kind: 'hosts'; hosts: string[]; implicit: boolean }
  /** This server is the domain's best MX (or ties with every better one): delivering is a loop. */
  | { kind: 'self'; host: string };

/**
 * RFC 5321 §5.1 and RFC 7505: a null MX (a single "MX 0 .") means the domain takes no mail; no MX at
 * all means the domain itself is the implicit MX; otherwise hosts by preference, equal preferences
 * shuffled so that load spreads (§5.1: "SHOULD randomize"). `random` returns [0, 1).
 *
 * `isSelf` names this server's own host names. §5.1: a client that finds itself in the list "MUST
 * discard that and all less-preferred (equal or higher numbered preference) records": a backup MX
 * relays to the better ones; when none is left, the mail would loop.
 */
export function orderMxHosts(
  domain: string,
  records: readonly MxRecord[] | undefined,
  random: () => number,
  isSelf: (host: string) => boolean = () => false,
): MxRoute {
  if (records === undefined || records.length === 0)
    return { kind: 'hosts', hosts: [domain], implicit: true };
  const usable = records.filter((record) => normalizeHost(record.exchange) !== '');
  if (usable.length === 0) return { kind: 'null-mx' };
  const own = usable.filter((record) => isSelf(normalizeHost(record.exchange)));
  const ownBest = Math.min(...own.map((record) => record.priority));
  const better = usable.filter((record) => record.priority < ownBest);
  if (better.length === 0) return { kind: 'self', host: normalizeHost(own[0]!.exchange) };
  const byPriority = new Map<number, string[]>();
  for (const record of better) {
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
