/**
 * The loopback world the comparison delivers into: a DNS server with the 50 test domains (dnsmasq
 * when the reference tools are installed, so that Postfix and Outpost ask the same server; else the
 * project's own DNS server) and receivers on 127.0.0.2-11 (Postfix's smtp-sink on port 25 when
 * installed, else the project's receivers, `smtp-receivers.ts`, on a free port).
 */
import { join } from 'node:path';
import { freePort, startDnsServer } from '@outpost/testing';
import { DNSMASQ_ADDRESS, startDnsmasq } from './peers/dnsmasq.ts';
import { startSmtpSinks } from './peers/smtp-sinks.ts';
import type { PeerTools } from './peers/system-tools.ts';
import {
  DOMAIN_COUNT,
  domainName,
  MX_ADDRESSES,
  MX_COUNT,
  mxAddress,
  mxName,
  mxNumber,
} from './peers/zone.ts';
import { spawnNode } from './processes.ts';
import type { ReceiversOptions, ReceiversReport } from './smtp-receivers.ts';

const RECEIVERS_SCRIPT = join('bench', 'src', 'smtp-receivers.ts');

export interface WorldDns {
  kind: 'dnsmasq' | 'node';
  /** For OUTPOST_DNS_SERVERS. */
  server: string;
  /** dnsmasq only: a resolv.conf naming it, for Postfix's mount namespace. */
  resolvConf?: string;
  stop(): Promise<void>;
}

export async function startWorldDns(tools: PeerTools | undefined, scratch: string): Promise<WorldDns> {
  if (tools) {
    const dnsmasq = await startDnsmasq(tools.dnsmasq, scratch);
    return {
      kind: 'dnsmasq',
      server: `${DNSMASQ_ADDRESS}:53`,
      resolvConf: dnsmasq.resolvConf,
      stop: dnsmasq.stop,
    };
  }
  const dns = await startDnsServer();
  for (let k = 1; k <= DOMAIN_COUNT; k++) {
    dns.set(domainName(k), [{ type: 'MX', exchange: mxName(mxNumber(k)), priority: 10 }]);
  }
  for (let j = 1; j <= MX_COUNT; j++) dns.set(mxName(j), [{ type: 'A', address: mxAddress(j) }]);
  return { kind: 'node', server: dns.address, stop: () => dns.close() };
}

export interface WorldReceivers {
  kind: 'smtp-sink' | 'node';
  port: number;
  delivered(): number;
  /** Date.now() when `count` messages have arrived in all, or undefined after `timeoutMs`. */
  waitFor(count: number, timeoutMs: number): Promise<number | undefined>;
  /** smtp-sink only: restart MX host j with these flags. */
  restart?(j: number, flags: string[]): Promise<void>;
  /** node only: every message's X-Bench-Seq and the time of its 250. */
  report?(): Promise<ReceiversReport>;
  pid?: number;
  stop(): Promise<void>;
}

export async function startWorldReceivers(
  kind: 'smtp-sink' | 'node',
  options: { tools?: PeerTools; codeRoot: string; deferring?: number[] },
): Promise<WorldReceivers> {
  if (kind === 'smtp-sink') {
    if (!options.tools) throw new Error('smtp-sink is not installed');
    const sinks = await startSmtpSinks(options.tools.smtpSink, { deferring: options.deferring ?? [] });
    return { kind, ...sinks };
  }
  const port = await freePort('127.0.0.2');
  const receiverOptions: ReceiversOptions = {
    hosts: MX_ADDRESSES,
    port,
    behaviour: 'instant',
    delayMs: 0,
    retryPercent: 0,
  };
  const child = spawnNode(join(options.codeRoot, RECEIVERS_SCRIPT), [JSON.stringify(receiverOptions)], {
    env: { PATH: process.env.PATH ?? '' },
  });
  await child.nextLine('READY ', 30_000);
  let last = 0;
  const count = async () => {
    child.send('count');
    last = (await child.nextLine<{ unique: number }>('COUNT ', 30_000)).unique;
    return last;
  };
  return {
    kind,
    port,
    pid: child.child.pid,
    delivered: () => last,
    async waitFor(target, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if ((await count()) >= target) return Date.now();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return undefined;
    },
    async report() {
      child.send('report');
      return child.nextLine<ReceiversReport>('REPORT ', 60_000);
    },
    stop: () => child.stop(),
  };
}
