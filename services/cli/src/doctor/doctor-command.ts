import { createPublicKey } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import { loadConfig, loadDeliveryConfig } from '@outpost/config';
import {
  type CheckResult,
  judgeDkimRecord,
  judgeHostname,
  judgeOutboundSmtp,
  judgeReverseDns,
  judgeSpf,
  type SpfResult,
} from '@outpost/core';
import { loadDkimKeys } from '@outpost/ingest';
import type { Command } from 'commander';
import { spf } from 'mailauth/lib/spf/index.js';
import { reachMx } from './reach-mx.ts';

export interface DoctorOptions {
  /** Sending addresses to check; default OUTPOST_PUBLIC_IPS, else OUTPOST_SOURCE_ADDRESSES, else this host's. */
  ips?: string[];
  /** Sender domains whose SPF must authorise those addresses; default the DKIM signing domains. */
  spfDomains?: string[];
  /** A domain whose MX we try to reach on the delivery port (outbound port 25). */
  mx?: string;
}

/**
 * `outpost doctor`: the FAQ's checks of the sending side: the HELO name resolves to our address,
 * each sending address has a PTR that resolves back to it and does not look dynamic, the sender
 * domains' SPF authorises those addresses, the published DKIM keys are the ones Outpost signs with,
 * and (with --mx) outbound SMTP reaches a receiver. Exits 1 when a check fails.
 */
export function addDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description(
      'check the sending side: HELO name, reverse DNS of the sending addresses, SPF, DKIM records, outbound port 25',
    )
    .option(
      '--ip <addresses>',
      'sending addresses to check (default: OUTPOST_PUBLIC_IPS, else OUTPOST_SOURCE_ADDRESSES, else this host)',
    )
    .option(
      '--spf <domains>',
      'sender domains whose SPF must list those addresses (default: the DKIM domains)',
    )
    .option('--mx <domain>', 'try to reach an MX of this domain on the delivery port (outbound port 25)')
    .option('--json', 'one JSON object per check')
    .action(async (options: { ip?: string; spf?: string; mx?: string; json?: boolean }) => {
      const list = (text?: string) =>
        text
          ?.split(',')
          .map((item) => item.trim())
          .filter(Boolean);
      const ips = list(options.ip);
      const spfDomains = list(options.spf);
      const results = await runDoctor({
        ...(ips && { ips }),
        ...(spfDomains && { spfDomains }),
        ...(options.mx && { mx: options.mx }),
      });
      for (const result of results) {
        if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
        else {
          process.stdout.write(
            `${result.status.toUpperCase().padEnd(4)} ${result.check}: ${result.detail}\n`,
          );
          if (result.advice && result.status !== 'ok') process.stdout.write(`     ${result.advice}\n`);
        }
      }
      if (results.some((result) => result.status === 'fail')) process.exitCode = 1;
    });
}

export async function runDoctor(options: DoctorOptions = {}): Promise<CheckResult[]> {
  const config = loadConfig(process.env);
  const delivery = loadDeliveryConfig(process.env);
  const resolver = new Resolver({ timeout: delivery.dnsTimeoutMs, tries: 2 });
  if (config.dnsServers.length > 0) resolver.setServers(config.dnsServers);
  const addressesOf = async (name: string): Promise<string[]> => {
    const [v4, v6] = await Promise.all([
      resolver.resolve4(name).catch(() => [] as string[]),
      resolver.resolve6(name).catch(() => [] as string[]),
    ]);
    return [...v4, ...v6];
  };
  const ips =
    options.ips ??
    [delivery.publicIps, delivery.sourceAddresses].find((list) => list.length > 0) ??
    publicAddresses();
  const results: CheckResult[] = [];
  const hostAddresses = await addressesOf(config.hostname);
  // Only addresses we know receivers see: a host's own interface addresses may be private (NAT).
  const known = options.ips ?? (delivery.publicIps.length > 0 ? delivery.publicIps : []);
  results.push(judgeHostname(config.hostname, hostAddresses, known));

  for (const ip of ips) {
    const names = await resolver.reverse(ip).catch((error: Error) => error);
    const forward = new Map<string, string[]>();
    if (!(names instanceof Error)) for (const name of names) forward.set(name, await addressesOf(name));
    results.push(...judgeReverseDns(ip, names, forward, config.hostname));
  }

  const ring = await loadDkimKeys({
    ...(config.dkim.keysDir && { dir: config.dkim.keysDir }),
    ...(config.dkim.keys && { inline: config.dkim.keys }),
  });
  for (const keys of ring.values()) {
    for (const key of keys) {
      const dnsName = `${key.selector}._domainkey.${key.domain}`;
      const published = await resolver
        .resolveTxt(dnsName)
        .then((records) => records.map((chunks) => chunks.join('')))
        .catch((error: Error) => error);
      results.push(judgeDkimRecord(dnsName, published, publicKeyOf(key.privateKey)));
    }
  }

  // RFC 7208: evaluated as a receiver would, through the same resolver (OUTPOST_DNS_SERVERS).
  const spfResolve = (name: string, type: string) => resolver.resolve(name, type as 'TXT');
  for (const domain of options.spfDomains ?? [...ring.keys()]) {
    for (const ip of ips) {
      const outcome = await spf({
        sender: `postmaster@${domain}`,
        ip,
        helo: config.hostname,
        resolver: spfResolve,
      })
        .then((result) => toSpfResult(result.status.result))
        .catch((error: Error) => error);
      results.push(judgeSpf(domain, ip, outcome));
    }
  }

  if (options.mx) {
    const timeoutMs = Math.min(delivery.timeouts.connectMs + delivery.timeouts.greetingMs, 15_000);
    results.push(
      judgeOutboundSmtp(options.mx, await reachMx(resolver, options.mx, config.deliveryPort, timeoutMs)),
    );
  }
  return results;
}

/** The p= value for a private key: SPKI for RSA, the bare 32 bytes for Ed25519 (RFC 8463 §4.2). */
function publicKeyOf(privateKeyPem: string): string {
  const publicKey = createPublicKey(privateKeyPem);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return (publicKey.asymmetricKeyType === 'ed25519' ? spki.subarray(spki.length - 32) : spki).toString(
    'base64',
  );
}

/** mailauth's result names beyond RFC 7208 §2.6 ("temperr", "policy", ...) count as errors. */
function toSpfResult(result: string): SpfResult | Error {
  const known: readonly string[] = ['pass', 'fail', 'softfail', 'neutral', 'none', 'permerror', 'temperror'];
  return known.includes(result) ? (result as SpfResult) : new Error(`SPF evaluation said "${result}"`);
}

function publicAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .filter((entry) => !entry.internal && !entry.address.startsWith('fe80:'))
    .map((entry) => entry.address);
}
