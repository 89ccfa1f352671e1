/**
 * Fixed routes instead of MX lookups (Postfix's transport map and relayhost):
 *   example.com=smtp://[10.0.0.5]:25, corp.example=lmtp://mailstore:24, *=smtp://user:pass@smarthost:587
 * Entries are separated by commas or newlines; `*` is the default relayhost. The host is used as
 * given (its A/AAAA records), never looked up as MX.
 */
export interface TransportRoute {
  protocol: 'smtp' | 'lmtp';
  host: string;
  port: number;
  auth?: { user: string; pass: string };
}

export type TransportMap = ReadonlyMap<string, TransportRoute>;

const ENTRY =
  /^([^=\s]+)\s*=\s*(smtp|lmtp):\/\/(?:([^:@/]+):([^@/]*)@)?(\[[^\]]+\]|[^:/[\]]+)(?::(\d{1,5}))?\/?$/i;

export function parseTransportMap(text: string): { map: TransportMap; problems: string[] } {
  const map = new Map<string, TransportRoute>();
  const problems: string[] = [];
  for (const raw of text.split(/[\n,]+/)) {
    const entry = raw.trim();
    if (entry === '' || entry.startsWith('#')) continue;
    const match = entry.match(ENTRY);
    if (!match) {
      problems.push(
        `"${entry.replace(/\/\/[^@/]*@/, '//***@')}" is not domain=smtp|lmtp://[user:pass@]host[:port]`,
      );
      continue;
    }
    const [, domain, protocol, user, pass, host, port] = match;
    const lmtp = protocol!.toLowerCase() === 'lmtp';
    map.set(domain!.toLowerCase(), {
      protocol: lmtp ? 'lmtp' : 'smtp',
      host: host!.replace(/^\[|\]$/g, '').toLowerCase(),
      port: port ? Number(port) : lmtp ? 24 : 25,
      ...(user !== undefined && {
        auth: { user: decodeURIComponent(user), pass: decodeURIComponent(pass ?? '') },
      }),
    });
  }
  return { map, problems };
}

/** The route for a domain: exact, then parent domains as `.parent`, then `*`. */
export function lookupTransport(map: TransportMap, domain: string): TransportRoute | undefined {
  const name = domain.toLowerCase();
  if (map.has(name)) return map.get(name);
  const labels = name.split('.');
  for (let i = 1; i < labels.length; i++) {
    const parent = `.${labels.slice(i).join('.')}`;
    if (map.has(parent)) return map.get(parent);
  }
  return map.get('*');
}
