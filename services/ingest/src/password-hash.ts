import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Password hashes in a PHC-like string: "$scrypt$ln=15,r=8,p=1$<salt b64>$<hash b64>".
 * scrypt is memory-hard and ships with Node (no native addon to build).
 */
const DEFAULTS = { ln: 15, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, ln: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const N = 2 ** ln;
    scrypt(password, salt, KEY_LENGTH, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

/** `ln` is log2 of scrypt's cost N; the default (15: 32 MiB, ~100 ms) suits stored user passwords. */
export async function hashPassword(password: string, ln: number = DEFAULTS.ln): Promise<string> {
  const salt = randomBytes(16);
  const { r, p } = DEFAULTS;
  const key = await derive(password, salt, ln, r, p);
  return `$scrypt$ln=${ln},r=${r},p=${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

const FORMAT = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

export function isPasswordHash(text: string): boolean {
  return FORMAT.test(text);
}

/** Constant-time comparison of the derived key; a malformed hash never verifies. */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  const match = hash.match(FORMAT);
  if (!match) return false;
  const [, ln, r, p, salt, expected] = match;
  const expectedKey = Buffer.from(expected!, 'base64');
  const key = await derive(password, Buffer.from(salt!, 'base64'), Number(ln), Number(r), Number(p));
  return key.length === expectedKey.length && timingSafeEqual(key, expectedKey);
}
