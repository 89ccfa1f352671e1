import { createHmac, timingSafeEqual } from 'node:crypto';

/** The request header carrying the timestamp and the signature. */
export const SIGNATURE_HEADER = 'Outpost-Signature';

/** How far a signature's timestamp may be from the receiver's clock before it is refused (replays). */
export const DEFAULT_TOLERANCE_SEC = 300;

function hmac(secret: string, timestamp: number, body: string | Buffer): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
}

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. The timestamp is signed with the body,
 * so a captured request cannot be replayed later with a fresh `t`.
 */
export function signWebhookPayload(secret: string, body: string | Buffer, timestamp: number): string {
  return `t=${timestamp},v1=${hmac(secret, timestamp, body).toString('hex')}`;
}

/**
 * For receivers: true when `header` (the Outpost-Signature value) signs `body` (the raw request
 * bytes, before any JSON parsing) with `secret`, and its timestamp is within `toleranceSec` of now.
 * Several `v1=` values are accepted, any one of which may match.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | undefined,
  body: string | Buffer,
  toleranceSec = DEFAULT_TOLERANCE_SEC,
  nowSec = Math.floor(Date.now() / 1000),
): boolean {
  if (!header) return false;
  const fields = header.split(',').map((part) => part.trim().split('=', 2) as [string, string?]);
  const timestamp = Number(fields.find(([key]) => key === 't')?.[1]);
  if (!Number.isSafeInteger(timestamp) || Math.abs(nowSec - timestamp) > toleranceSec) return false;
  const expected = hmac(secret, timestamp, body);
  let valid = false;
  for (const [key, value = ''] of fields) {
    if (key !== 'v1' || !/^[0-9a-f]{64}$/i.test(value)) continue;
    // Constant time, and without stopping at a match.
    if (timingSafeEqual(Buffer.from(value, 'hex'), expected)) valid = true;
  }
  return valid;
}
