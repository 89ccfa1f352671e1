import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { generateDkimKey } from '@outpost/ingest';
import { reverseName, startDnsServer, type TestDnsServer } from '@outpost/testing';

const CLI = fileURLToPath(new URL('../bin/outpost.ts', import.meta.url));
const run = promisify(execFile);

let dns: TestDnsServer;
before(async () => {
  dns = await startDnsServer();
});
after(async () => {
  await dns.close();
});

async function doctor(ips: string, env: Record<string, string> = {}) {
  const result = await run(process.execPath, [CLI, 'doctor', '--json', '--ip', ips], {
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
