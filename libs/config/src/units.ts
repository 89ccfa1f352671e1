/** Parses "30s", "4h", "5d", "250ms" or a bare number of milliseconds. */
export function parseDuration(text: string): number | undefined {
  const match = text.trim().match(/^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i);
  if (!match) return undefined;
  const factor = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    (match[2] ?? 'ms').toLowerCase() as 'ms'
  ];
  return Math.round(Number(match[1]) * factor);
}

/** Parses "25MB", "512k", "1g" (powers of 1024) or a bare number of bytes. */
export function parseByteSize(text: string): number | undefined {
  const match = text.trim().match(/^(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?$/i);
  if (!match) return undefined;
  const unit = (match[2] ?? 'b').toLowerCase()[0] as 'b' | 'k' | 'm' | 'g';
  const factor = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit];
  return Math.round(Number(match[1]) * factor);
}

/** "host:port", "[v6]:port" or ":port" -> parts; undefined when malformed. */
export function parseListenAddress(text: string): { host: string; port: number } | undefined {
  const match = text.trim().match(/^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}
