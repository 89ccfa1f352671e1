/**
 * The comparison's world, as in the reference measurements: 50 domains d1..d50.bench.test, each with
 * one MX, mxJ.bench.test with J = ((K - 1) mod 10) + 1, and mxJ at 127.0.0.(J + 1): ten receiving
 * hosts on 127.0.0.2-11, five domains each. Every message has one recipient, so the MX host mx10
 * (127.0.0.11) gets exactly 10% of the recipients (used by the "10% deferred" workload).
 */
export const ZONE = 'bench.test';
export const DOMAIN_COUNT = 50;
export const MX_COUNT = 10;
export const SENDER = 'sender@bench.test';

export function domainName(k: number): string {
  return `d${k}.${ZONE}`;
}

/** 1-based MX host number of domain k (1-based). */
export function mxNumber(k: number): number {
  return ((k - 1) % MX_COUNT) + 1;
}

export function mxName(j: number): string {
  return `mx${j}.${ZONE}`;
}

export function mxAddress(j: number): string {
  return `127.0.0.${j + 1}`;
}

export const DOMAINS = Array.from({ length: DOMAIN_COUNT }, (_, index) => domainName(index + 1));
export const MX_ADDRESSES = Array.from({ length: MX_COUNT }, (_, index) => mxAddress(index + 1));

/** dnsmasq configuration serving the zone on `address`:53 only, with no upstream (nothing leaves). */
export function dnsmasqConfig(address: string): string {
  const lines = [
    'port=53',
    `listen-address=${address}`,
    'bind-interfaces',
    'no-resolv',
    'no-hosts',
    'no-poll',
    `local=/${ZONE}/`,
    'cache-size=10000',
    'user=root',
  ];
  for (let j = 1; j <= MX_COUNT; j++) lines.push(`host-record=${mxName(j)},${mxAddress(j)}`);
  for (let k = 1; k <= DOMAIN_COUNT; k++) lines.push(`mx-host=${domainName(k)},${mxName(mxNumber(k))},10`);
  return `${lines.join('\n')}\n`;
}

/** Splits `total` messages over the domains as the injectors send them: domain k gets share[k-1]. */
export function perDomain(total: number): number[] {
  return Array.from(
    { length: DOMAIN_COUNT },
    (_, index) => Math.floor(total / DOMAIN_COUNT) + (index < total % DOMAIN_COUNT ? 1 : 0),
  );
}

/** Messages that go to MX host j when `total` are spread with perDomain(). */
export function messagesForMx(total: number, j: number): number {
  return perDomain(total).reduce((sum, count, index) => sum + (mxNumber(index + 1) === j ? count : 0), 0);
}
