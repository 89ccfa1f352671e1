import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { type OutpostProcess, RawSmtpClient, submitMessage } from '@outpost/testing';
import { ReliabilityWorld, waitFor } from './support/world.ts';

// Hostile clients against `outpost ingest` as a process, whose memory is read from /proc: a 10 MB
// command line without a newline, and 500 connections that say nothing. Already covered elsewhere
// (services/ingest/test/*): smuggling sequences, bare CR/LF, relay probes, AUTH abuse, SIZE and a
// 100 MB undeclared body, long paths and lines, 10,000 RCPTs, invalid UTF-8, pipelined STARTTLS.

/** Resident memory of a process, in bytes (Linux). */
async function rss(process: OutpostProcess): Promise<number> {
  const status = await readFile(`/proc/${process.child.pid}/status`, 'utf8');
  return Number(status.match(/^VmRSS:\s+(\d+) kB/m)![1]) * 1024;
}

const MB = 1024 * 1024;

test('a 10 MB command line without a newline: refused with 500, the connection closed, memory bounded', async (t) => {
  const world = await ReliabilityWorld.start();
  t.after(() => world.stop());
  const ingest = await world.spawn('ingest');
  const port = ReliabilityWorld.smtpPortOf(ingest);
  const before = await rss(ingest);

  const client = await RawSmtpClient.connect(port);
  t.after(() => client.close());
  assert.match(await client.reply(), /^220 /);
  const chunk = Buffer.alloc(64 * 1024, 'A');
  let sent = 0;
  // Written as fast as the server reads it, until the 10 MB are out or the server hangs up.
  while (sent < 10 * MB && !client.closed) {
    if (!client.socket.write(chunk))
      await new Promise((resolve) => client.socket.once('drain', resolve).once('close', resolve));
    sent += chunk.length;
  }
  assert.match(await client.reply(5_000), /^500 5\.5\.2 Line too long/);
  await waitFor(() => client.closed, 5_000, 'the server to close the connection');
  const grown = (await rss(ingest)) - before;
  assert.ok(grown < 32 * MB, `ingest grew by ${Math.round(grown / MB)} MB for a 10 MB line`);
  t.diagnostic(
    `${Math.round(sent / MB)} MB sent before the close; ingest grew by ${(grown / MB).toFixed(1)} MB`,
  );

  // And it still serves others.
  const reply = await submitMessage({
    port,
    from: 'a@origin.test',
    to: ['b@dest.test'],
    message: 'Subject: ok\r\n\r\nok\r\n',
  });
  assert.match(reply.response, /^250 /);
});

test('500 idle connections: each closed with 421 after the idle timeout, memory bounded, others still served', async (t) => {
  const world = await ReliabilityWorld.start();
  t.after(() => world.stop());
  const ingest = await world.spawn('ingest', { OUTPOST_SMTP_IDLE_TIMEOUT: '2s' });
  const port = ReliabilityWorld.smtpPortOf(ingest);
  const before = await rss(ingest);

  const sockets: Array<{ socket: Socket; text: string; closed: boolean }> = [];
  t.after(() => {
    for (const entry of sockets) entry.socket.destroy();
  });
  for (let i = 0; i < 500; i++) {
    const socket = connect({ host: '127.0.0.1', port });
    const entry = { socket, text: '', closed: false };
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      entry.text += text;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      entry.closed = true;
    });
    sockets.push(entry);
  }
  await waitFor(() => sockets.every((entry) => entry.text.startsWith('220 ')), 10_000, 'every banner');
  const atPeak = await rss(ingest);
  // While they idle, a real client is served.
  const reply = await submitMessage({
    port,
    from: 'a@origin.test',
    to: ['b@dest.test'],
    message: 'Subject: ok\r\n\r\nok\r\n',
  });
  assert.match(reply.response, /^250 /);

  await waitFor(() => sockets.every((entry) => entry.closed), 15_000, 'the idle connections to be closed');
  assert.ok(
    sockets.every((entry) => /\r\n421 /.test(entry.text)),
    'each told 421 before the close',
  );
  const grown = atPeak - before;
  assert.ok(grown < 64 * MB, `ingest grew by ${Math.round(grown / MB)} MB for 500 connections`);
  t.diagnostic(
    `500 idle connections: ingest grew by ${(grown / MB).toFixed(1)} MB (${Math.round(grown / 500 / 1024)} KB each)`,
  );
});
