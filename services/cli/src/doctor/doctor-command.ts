import { createPublicKey } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import { loadConfig, loadDeliveryConfig } from '@outpost/config';
import { type CheckResult, judgeDkimRecord, judgeHostname, judgeReverseDns } from '@outpost/core';
import { loadDkimKeys } from '@outpost/ingest';
import type { Command } from 'commander';

/**
 * `outpost doctor`: the FAQ's checks of the sending side, from DNS: the HELO name resolves, each
 * sending address has a PTR that resolves back to it and does not look dynamic, and the published
 * DKIM keys are the ones Outpost signs with. Exits 1 when a check fails.
 */
export function addDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('check the sending side: HELO name, reverse DNS of the sending addresses, DKIM records')
    .option(
      '--ip <addresses>',
      'sending addresses to check (default: OUTPOST_SOURCE_ADDRESSES, else this host)',
    )
    .option('--json', 'one JSON object per check')
    .action(async (options: { ip?: string; json?: boolean }) => {
      const results = await runDoctor(
        options.ip
          ?.split(',')
          .map((ip) => ip.trim())
          .filter(Boolean),
      );
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

export async function runDoctor(ips?: string[]): Promise<CheckResult[]> {
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
  const results: CheckResult[] = [];
  const hostAddresses = await addressesOf(config.hostname);
  results.push(judgeHostname(config.hostname, hostAddresses));

  for (const ip of ips ??
    (delivery.sourceAddresses.length > 0 ? delivery.sourceAddresses : publicAddresses())) {
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

function publicAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .filter((entry) => !entry.internal && !entry.address.startsWith('fe80:'))
    .map((entry) => entry.address);
}
