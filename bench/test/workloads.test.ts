import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  attemptsFromMetrics,
  DOMAINS,
  deliveryMessage,
  domainOf,
  MX_HOSTS,
  mxOf,
  recipientOf,
  waitsFromMetrics,
} from '../src/delivery-bench.ts';
import { buildHttpBody } from '../src/http-load.ts';
import { messageText, workloadRecipients } from '../src/smtp-load.ts';
import { retriedAddress } from '../src/smtp-receivers.ts';

test('HTTP composed requests are JSON of the requested size with the SMTP workload recipients', () => {
  for (let index = 0; index < 300; index++) {
    const body = buildHttpBody(index, 2_048, 'composed');
    const json = JSON.parse(body.json.toString('utf8')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(json).sort(), ['from', 'subject', 'text', 'to']);
    assert.deepEqual(json.to, workloadRecipients(index));
    assert.ok(body.json.length <= 2_048 && body.json.length > 1_950, `size ${body.json.length}`);
    assert.equal(body.recipients, (json.to as string[]).length);
  }
});

test('HTTP raw requests carry the SMTP message unchanged', () => {
  const body = buildHttpBody(7, 2_048, 'raw');
  const json = JSON.parse(body.json.toString('utf8')) as { raw: string; to: string[] };
  assert.equal(json.raw, messageText(7, 2_048).message);
  assert.equal(json.raw.length, 2_048);
  assert.deepEqual(json.to, workloadRecipients(7));
});

test('delivery messages are the requested size and labelled for the receivers', () => {
  for (const seq of [0, 1, 49, 50, 12_345]) {
    const raw = deliveryMessage(seq, 2_048);
    assert.equal(raw.length, 2_048);
    const text = raw.toString('latin1');
    assert.ok(text.includes(`\r\nX-Bench-Seq: ${seq}\r\n`));
    assert.ok(text.includes(`To: <${recipientOf(seq)}>`));
  }
});

test('the delivery world: 50 domains spread evenly over 10 MX hosts on 127.0.0.2-11', () => {
  const domains = new Set(Array.from({ length: 1_000 }, (_, seq) => domainOf(seq)));
  assert.equal(domains.size, DOMAINS);
  const perHost = new Map<string, number>();
  for (let domain = 0; domain < DOMAINS; domain++) {
    const { name, address } = mxOf(domain);
    perHost.set(`${name} ${address}`, (perHost.get(`${name} ${address}`) ?? 0) + 1);
  }
  assert.equal(perHost.size, MX_HOSTS);
  for (const count of perHost.values()) assert.equal(count, DOMAINS / MX_HOSTS);
  assert.equal(mxOf(0).address, '127.0.0.2');
  assert.equal(mxOf(9).address, '127.0.0.11');
});

test('the retry script picks about the requested share of addresses, the same every time', () => {
  const picked = Array.from({ length: 20_000 }, (_, seq) => retriedAddress(recipientOf(seq), 10));
  const share = picked.filter(Boolean).length / picked.length;
  assert.ok(share > 0.09 && share < 0.11, `share ${share}`);
  assert.equal(retriedAddress('User1@D1.bench.test', 10), retriedAddress('user1@d1.bench.test', 10));
});

test('recipient outcomes are read from the worker metrics by verdict', () => {
  const text = [
    '# HELP outpost_delivery_attempts_total Recipient outcomes',
    '# TYPE outpost_delivery_attempts_total counter',
    'outpost_delivery_attempts_total{verdict="delivered",category="none"} 1200',
    'outpost_delivery_attempts_total{verdict="deferred",category="mailbox_busy"} 30',
    'outpost_delivery_attempts_total{verdict="deferred",category="unknown"} 2',
    'outpost_delivery_possible_duplicates_total 0',
  ].join('\n');
  assert.deepEqual(attemptsFromMetrics(text), { delivered: 1_200, deferred: 32 });
});

test('jobs put back without an attempt are read from the worker metrics by reason', () => {
  const text = [
    '# TYPE outpost_delivery_waits_total counter',
    'outpost_delivery_waits_total{reason="paused"} 3694',
    'outpost_delivery_waits_total{reason="busy"} 49',
    'outpost_delivery_attempts_total{verdict="deferred",category="unknown"} 35',
  ].join('\n');
  assert.deepEqual(waitsFromMetrics(text), { paused: 3_694, busy: 49 });
  assert.deepEqual(attemptsFromMetrics(text), { deferred: 35 });
  assert.deepEqual(waitsFromMetrics(''), {});
});
