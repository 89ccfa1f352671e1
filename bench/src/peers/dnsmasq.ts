/** dnsmasq serving the comparison's zone on 127.0.0.53:53 only, without upstream; ours to stop. */
import { spawn } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { trackChild } from '../processes.ts';
import { dnsmasqConfig, domainName } from './zone.ts';

export const DNSMASQ_ADDRESS = '127.0.0.53';

export interface Dnsmasq {
  address: string;
  /** resolv.conf pointing at it, for Postfix's mount namespace. */
  resolvConf: string;
  stop(): Promise<void>;
}

export async function startDnsmasq(binary: string, scratch: string): Promise<Dnsmasq> {
  const config = join(scratch, 'dnsmasq.conf');
  writeFileSync(config, dnsmasqConfig(DNSMASQ_ADDRESS));
  const resolvConf = join(scratch, 'resolv.conf');
  writeFileSync(resolvConf, `nameserver ${DNSMASQ_ADDRESS}\noptions attempts:2 timeout:1\n`);
  const child = trackChild(spawn(binary, ['-k', '-C', config], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const resolver = new Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([DNSMASQ_ADDRESS]);
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`dnsmasq exited: ${stderr.trim()}`);
    const answer = await resolver.resolveMx(domainName(1)).catch(() => []);
    if (answer.length > 0) break;
    if (attempt > 50) throw new Error(`dnsmasq is not answering on ${DNSMASQ_ADDRESS}:53: ${stderr.trim()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    address: DNSMASQ_ADDRESS,
    resolvConf,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
