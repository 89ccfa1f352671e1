import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { generateDkimKey } from '@outpost/ingest';
import {
  freePort,
  reverseName,
  startDnsServer,
  startSmtpReceiver,
  type TestDnsServer,
} from '@outpost/testing';

const CLI = fileURLToPath(new URL('../bin/outpost.ts', import.meta.url));
const run = promisify(execFile);

let dns: TestDnsServer;
before(async () => {
  dns = await startDnsServer();
});
after(async () => {
  await dns.close();
});

async function doctor(ips: string, env: Record<string, string> = {}, args: string[] = []) {
  const result = await run(process.execPath, [CLI, 'doctor', '--json', '--ip', ips, ...args], {
    env: {
      ...process.env,
      OUTPOST_ENV: 'development',
      OUTPOST_HOSTNAME: 'mail.good.test',
      OUTPOST_DNS_SERVERS: dns.address,
      OUTPOST_DNS_TIMEOUT: '500ms',
      ...env,
    },
  }).catch((error: { stdout: string; code: number }) => ({ stdout: error.stdout, code: error.code }));
  const checks = result.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { check: string; status: string });
  return { checks, failed: 'code' in result && result.code === 1 };
}

test('a well set-up sender: the HELO name resolves, PTR forward-confirmed, DKIM record matches', async () => {
  const key = generateDkimKey('good.test', 's1', 'ed25519');
  dns.set('mail.good.test', [{ type: 'A', address: '192.0.2.10' }]);
  dns.set(reverseName('192.0.2.10'), [{ type: 'PTR', target: 'mail.good.test' }]);
  dns.set(key.dnsName, [{ type: 'TXT', data: key.txt }]);
  dns.set('good.test', [{ type: 'TXT', data: 'v=spf1 ip4:192.0.2.10 -all' }]);
  const { checks, failed } = await doctor('192.0.2.10', {
    OUTPOST_DKIM_KEYS: `good.test:s1:${Buffer.from(key.privateKeyPem).toString('base64')}`,
  });
  assert.equal(failed, false);
  assert.deepEqual(
    checks.map((check) => `${check.status} ${check.check}`),
    [
      'ok hostname mail.good.test resolves',
      'ok PTR of 192.0.2.10',
      'ok forward-confirmed reverse DNS of 192.0.2.10',
      'ok DKIM key s1._domainkey.good.test',
      'ok SPF of good.test authorises 192.0.2.10',
    ],
  );
});

test('the FAQ cause 6: no PTR, a dynamic PTR that does not resolve back, a stale DKIM record', async () => {
  const key = generateDkimKey('good.test', 's2', 'rsa');
  const other = generateDkimKey('good.test', 's2', 'rsa');
  dns.set(key.dnsName, [{ type: 'TXT', data: other.txt }]);
  dns.set(reverseName('192.0.2.11'), [{ type: 'PTR', target: 'ppp-192-0-2-11.dsl.isp.test' }]);
  dns.set('ppp-192-0-2-11.dsl.isp.test', [{ type: 'A', address: '198.51.100.99' }]);
  dns.nxdomain(reverseName('192.0.2.12'));
  const { checks, failed } = await doctor('192.0.2.11,192.0.2.12', {
    OUTPOST_DKIM_KEYS: `good.test:s2:${Buffer.from(key.privateKeyPem).toString('base64')}`,
  });
  assert.equal(failed, true, 'exit code 1');
  const byCheck = Object.fromEntries(checks.map((check) => [check.check, check.status]));
  assert.equal(byCheck['forward-confirmed reverse DNS of 192.0.2.11'], 'fail');
  assert.equal(byCheck['PTR of 192.0.2.11 looks like a mail server'], 'warn');
  assert.equal(byCheck['PTR of 192.0.2.12'], 'fail');
  assert.equal(byCheck['DKIM key s2._domainkey.good.test'], 'fail');
});

test('SPF that does not list us, no SPF at all, a HELO name pointing elsewhere', async () => {
  dns.set('mail.good.test', [{ type: 'A', address: '192.0.2.10' }]);
  dns.set(reverseName('192.0.2.20'), [{ type: 'PTR', target: 'mail.good.test' }]);
  dns.set('spf-other.test', [{ type: 'TXT', data: 'v=spf1 ip4:198.51.100.1 -all' }]);
  dns.set('spf-soft.test', [{ type: 'TXT', data: 'v=spf1 ip4:198.51.100.1 ~all' }]);
  dns.set('spf-none.test', [{ type: 'A', address: '198.51.100.2' }]);
  const { checks, failed } = await doctor('192.0.2.20', {}, [
    '--spf',
    'spf-other.test,spf-soft.test,spf-none.test',
  ]);
  assert.equal(failed, true);
  const byCheck = Object.fromEntries(checks.map((check) => [check.check, check.status]));
  assert.equal(byCheck['SPF of spf-other.test authorises 192.0.2.20'], 'fail');
  assert.equal(byCheck['SPF of spf-soft.test authorises 192.0.2.20'], 'warn');
  assert.equal(byCheck['SPF of spf-none.test authorises 192.0.2.20'], 'warn');
  assert.equal(byCheck['hostname mail.good.test resolves'], 'warn', 'resolves, but not to 192.0.2.20');
});

test('outbound SMTP: an MX that greets is reachable; one that refuses the connection is not', async () => {
  const port = await freePort('127.0.0.2');
  const receiver = await startSmtpReceiver({ host: '127.0.0.2', port, name: 'mx.reach.test' });
  try {
    dns.set('reach.test', [{ type: 'MX', exchange: 'mx.reach.test', priority: 10 }]);
    dns.set('mx.reach.test', [{ type: 'A', address: '127.0.0.2' }]);
    dns.set('dead.test', [{ type: 'MX', exchange: 'mx.dead.test', priority: 10 }]);
    dns.set('mx.dead.test', [{ type: 'A', address: '127.0.0.3' }]);
    const env = { OUTPOST_DELIVERY_PORT: String(port) };
    const reached = await doctor('192.0.2.10', env, ['--mx', 'reach.test']);
    const ok = reached.checks.find((check) => check.check === 'outbound SMTP reaches an MX of reach.test');
    assert.equal(ok?.status, 'ok');
    assert.match((ok as { detail?: string }).detail ?? '', /^mx\.reach\.test \[127\.0\.0\.2\]:\d+: 220 /);
    const dead = await doctor('192.0.2.10', env, ['--mx', 'dead.test']);
    const refused = dead.checks.find((check) => check.check === 'outbound SMTP reaches an MX of dead.test');
    assert.equal(refused?.status, 'fail');
    assert.match((refused as { detail?: string }).detail ?? '', /ECONNREFUSED/);
    assert.equal(dead.failed, true);
  } finally {
    await receiver.close();
  }
});
