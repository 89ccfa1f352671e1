/**
 * DNS outcomes that decide a delivery: a name that does not exist is permanent (RFC 5321 §5.1), a
 * server failure or timeout is temporary, and "exists but has no such record" is no error at all
 * for MX (implicit MX) but means "no address" for A/AAAA.
 */
export type DnsFailure = 'nxdomain' | 'nodata' | 'temporary';

export class DnsError extends Error {
  readonly failure: DnsFailure;
  readonly code: string;
  constructor(failure: DnsFailure, code: string, name: string, type: string) {
    super(`${type} lookup of ${name} failed: ${code}`);
    this.name = 'DnsError';
    this.failure = failure;
    this.code = code;
  }
}

/** node:dns error codes -> our three outcomes. */
export function toDnsError(error: unknown, name: string, type: string): DnsError {
  const code = (error as { code?: string }).code ?? 'UNKNOWN';
  if (code === 'ENOTFOUND') return new DnsError('nxdomain', code, name, type);
  if (code === 'ENODATA') return new DnsError('nodata', code, name, type);
  return new DnsError('temporary', code, name, type);
}
