import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import SMTPConnection, {
  type SMTPConnectionOptions,
  type SMTPConnectionSendInfo,
  type SMTPEnvelope,
} from 'nodemailer/lib/smtp-connection';
import tlsOptions from 'smtp-server/lib/tls-options.js';
import {
  type SmtpReceiver,
  type SmtpReceiverOptions,
  type SmtpScript,
  startSmtpReceiver,
} from '../src/smtp-receiver.ts';

const MESSAGE = 'From: sender@origin.test\r\nTo: rcpt@dest.test\r\nSubject: hello\r\n\r\nHello there.\r\n';

type SmtpError = Error & { code?: string; responseCode?: number; response?: string };

async function withReceiver(
  options: SmtpReceiverOptions,
  fn: (receiver: SmtpReceiver) => Promise<void>,
): Promise<void> {
  const receiver = await startSmtpReceiver(options);
  try {
    await fn(receiver);
  } finally {
    await receiver.close();
  }
}

/** Connects and finishes the greeting/EHLO; rejects the way a delivery attempt would see it. */
async function openClient(
  target: { host: string; port: number },
  options: Partial<SMTPConnectionOptions> = {},
): Promise<SMTPConnection> {
  const client = new SMTPConnection({
    host: target.host,
    port: target.port,
    name: 'client.test',
    connectionTimeout: 2000,
    greetingTimeout: 2000,
    socketTimeout: 3000,
    tls: { rejectUnauthorized: false },
    ...options,
  });
  await new Promise<void>((resolve, reject) => {
    client.once('error', reject);
    client.connect((error) => (error ? reject(error) : resolve()));
  }).catch((error: unknown) => {
    client.close();
    throw error;
  });
  // Later failures also reach the send() callback, which is what the tests look at.
  client.on('error', () => {});
  return client;
}

function send(
  client: SMTPConnection,
  envelope: SMTPEnvelope,
  message = MESSAGE,
): Promise<SMTPConnectionSendInfo> {
  return new Promise((resolve, reject) => {
    client.send(envelope, message, (error, info) =>
      error ? reject(error) : resolve(info as SMTPConnectionSendInfo),
    );
  });
}

/** One delivery on a fresh connection, like an MTA attempt. */
async function deliver(receiver: SmtpReceiver, envelope: SMTPEnvelope): Promise<SMTPConnectionSendInfo> {
  const client = await openClient(receiver);
  try {
    return await send(client, envelope);
  } finally {
    client.close();
  }
}

async function rejectsWith(promise: Promise<unknown>, expected: Partial<SmtpError>): Promise<SmtpError> {
  let caught: SmtpError | undefined;
  await assert.rejects(promise, (error: SmtpError) => {
    caught = error;
    return true;
  });
  assert.ok(caught);
  for (const [key, value] of Object.entries(expected)) {
    assert.equal(caught[key as keyof SmtpError], value, `error.${key} (${caught.message})`);
  }
  return caught;
}

test('records a delivered message with its envelope and session details', async () => {
  await withReceiver({}, async (receiver) => {
    const info = await deliver(receiver, { from: 'sender@origin.test', to: ['rcpt@dest.test'] });
    assert.deepEqual(info.accepted, ['rcpt@dest.test']);
    const [message] = await receiver.waitForMessages(1, 1000);
    assert.ok(message);
    assert.equal(message.from, 'sender@origin.test');
    assert.deepEqual(message.to, ['rcpt@dest.test']);
    assert.equal(message.data.toString(), MESSAGE);
    assert.equal(message.remoteAddress, '127.0.0.1');
    assert.equal(message.secure, false);
    assert.equal(message.heloName, 'client.test');
    assert.equal(message.acknowledged, true);
    assert.equal(receiver.sessions, 1);
    assert.deepEqual(
      receiver.events.filter((e) => e.stage !== 'close').map((e) => [e.stage, e.address, e.outcome]),
      [
        ['connect', undefined, 'accept'],
        ['mail', 'sender@origin.test', 'accept'],
        ['rcpt', 'rcpt@dest.test', 'accept'],
        ['data', undefined, 'accept'],
      ],
    );
  });
});

test('records the null sender as an empty string', async () => {
  await withReceiver({}, async (receiver) => {
    await deliver(receiver, { from: '', to: ['rcpt@dest.test'] });
    assert.equal(receiver.messages[0]?.from, '');
  });
});

test('answers each recipient separately at RCPT', async () => {
  const script: SmtpScript = {
    rcpt: ({ address }) => (address.startsWith('gone') ? '550 5.1.1 no such user' : undefined),
  };
  await withReceiver({ script }, async (receiver) => {
    const info = await deliver(receiver, {
      from: 'sender@origin.test',
      to: ['here@dest.test', 'gone@dest.test'],
    });
    assert.deepEqual(info.accepted, ['here@dest.test']);
    assert.deepEqual(info.rejected, ['gone@dest.test']);
    assert.equal(info.rejectedErrors?.[0]?.response, '550 5.1.1 no such user');
    assert.deepEqual(
      receiver.messages.map((m) => m.to),
      [['here@dest.test']],
    );
  });
});

test('rejects MAIL with a scripted 450, and a replaced script applies to the next delivery', async () => {
  await withReceiver({ script: { mail: '450 4.2.1 try later' } }, async (receiver) => {
    await rejectsWith(deliver(receiver, { from: 'sender@origin.test', to: ['rcpt@dest.test'] }), {
      responseCode: 450,
      response: '450 4.2.1 try later',
    });
    assert.equal(receiver.messages.length, 0);
    receiver.script = {};
    await deliver(receiver, { from: 'sender@origin.test', to: ['rcpt@dest.test'] });
    assert.equal(receiver.messages.length, 1);
  });
});

test('a rule function can defer the first attempt and accept the retry', async () => {
  const script: SmtpScript = {
    rcpt: ({ attempt }) => (attempt === 1 ? '451 4.3.0 greylisted' : undefined),
  };
  await withReceiver({ script }, async (receiver) => {
    const envelope = { from: 'sender@origin.test', to: ['rcpt@dest.test'] };
    const first = await rejectsWith(deliver(receiver, envelope), { code: 'EENVELOPE' });
    assert.match(first.message, /451 4\.3\.0 greylisted/);
    assert.equal(receiver.messages.length, 0);
    await deliver(receiver, envelope);
    assert.equal(receiver.messages.length, 1);
    assert.deepEqual(
      receiver.events.filter((e) => e.stage === 'rcpt').map((e) => e.outcome),
      ['451 4.3.0 greylisted', 'accept'],
    );
  });
});

test('delays a reply by delayMs', async () => {
  await withReceiver({ script: { mail: { delayMs: 300 } } }, async (receiver) => {
    const client = await openClient(receiver);
    try {
      const started = Date.now();
      await send(client, { from: 'sender@origin.test', to: ['rcpt@dest.test'] });
      assert.ok(Date.now() - started >= 290, `took ${Date.now() - started} ms`);
    } finally {
      client.close();
    }
    assert.equal(receiver.messages.length, 1);
  });
});

test('disconnects at DATA without recording the message', async () => {
  await withReceiver({ script: { data: { action: 'disconnect' } } }, async (receiver) => {
    await rejectsWith(deliver(receiver, { from: 'sender@origin.test', to: ['rcpt@dest.test'] }), {
      code: 'ECONNECTION',
    });
    assert.equal(receiver.messages.length, 0);
    assert.ok(receiver.events.some((e) => e.stage === 'data' && e.outcome === 'disconnect'));
  });
});

test('disconnects instead of answering MAIL', async () => {
  await withReceiver({ script: { mail: { action: 'disconnect' } } }, async (receiver) => {
    await rejectsWith(deliver(receiver, { from: 'sender@origin.test', to: ['rcpt@dest.test'] }), {
      code: 'ECONNECTION',
    });
    assert.deepEqual(
      receiver.events.map((e) => [e.stage, e.outcome]),
      [
        ['connect', 'accept'],
        ['mail', 'disconnect'],
        ['close', 'closed'],
      ],
    );
  });
});

test('closes the connection before the banner', async () => {
  await withReceiver({ script: { connect: { action: 'close-before-banner' } } }, async (receiver) => {
    await rejectsWith(openClient(receiver), { code: 'ECONNECTION' });
    assert.equal(receiver.sessions, 1);
    assert.equal(receiver.events[0]?.outcome, 'close-before-banner');
  });
});

test('refuses the session with a scripted 421 banner', async () => {
  await withReceiver({ script: { connect: '421 4.3.2 busy' } }, async (receiver) => {
    await rejectsWith(openClient(receiver), { responseCode: 421 });
  });
});

test('hangs without a banner until the client gives up', async () => {
  await withReceiver({ script: { connect: { action: 'hang' } } }, async (receiver) => {
    const started = Date.now();
    await rejectsWith(openClient(receiver, { greetingTimeout: 200 }), { code: 'ETIMEDOUT' });
    assert.ok(Date.now() - started >= 190);
    assert.equal(receiver.events[0]?.outcome, 'hang');
  });
});

test('store-then-reset: records the message but drops the connection instead of the 250', async () => {
  await withReceiver({ script: { data: { action: 'accept-then-disconnect' } } }, async (receiver) => {
    await rejectsWith(deliver(receiver, { from: 'sender@origin.test', to: ['rcpt@dest.test'] }), {
      code: 'ECONNECTION',
    });
    const [message] = await receiver.waitForMessages(1, 1000);
    assert.equal(message?.acknowledged, false);
    assert.equal(message?.data.toString(), MESSAGE);
  });
});

test('rejects the message after DATA with a scripted reply', async () => {
  await withReceiver({ script: { data: '554 5.7.1 looks like spam' } }, async (receiver) => {
    await rejectsWith(deliver(receiver, { from: 'sender@origin.test', to: ['rcpt@dest.test'] }), {
      responseCode: 554,
      response: '554 5.7.1 looks like spam',
    });
    assert.equal(receiver.messages.length, 0);
  });
});

test('a 421 reply is followed by the receiver closing the connection', async () => {
  await withReceiver({ script: { mail: '421 4.7.0 too busy' } }, async (receiver) => {
    // A raw client, so that it is the receiver, not the client, that ends the session.
    const socket = connect({ host: receiver.host, port: receiver.port });
    let transcript = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      transcript += chunk;
    });
    let ended = false;
    socket.once('end', () => {
      ended = true;
    });
    try {
      await waitUntil(() => transcript.startsWith('220 '));
      socket.write('EHLO client.test\r\n');
      await waitUntil(() => transcript.includes('\r\n250 '));
      socket.write('MAIL FROM:<sender@origin.test>\r\n');
      await waitUntil(() => ended);
      assert.match(transcript, /\r\n421 4\.7\.0 too busy\r\n$/);
    } finally {
      socket.destroy();
    }
  });
});

test('two receivers on 127.0.0.2 and 127.0.0.3 share one port', async () => {
  const first = await startSmtpReceiver({ host: '127.0.0.2', name: 'mx2.test' });
  try {
    await withReceiver({ host: '127.0.0.3', port: first.port, name: 'mx3.test' }, async (second) => {
      assert.equal(second.port, first.port);
      await deliver(first, { from: 'sender@origin.test', to: ['a@dest.test'] });
      await deliver(second, { from: 'sender@origin.test', to: ['b@dest.test'] });
      assert.deepEqual(
        first.messages.map((m) => m.to),
        [['a@dest.test']],
      );
      assert.deepEqual(
        second.messages.map((m) => m.to),
        [['b@dest.test']],
      );
    });
  } finally {
    await first.close();
  }
});

test('offers STARTTLS when given a certificate', async () => {
  const { key, cert } = tlsOptions();
  assert.ok(key && cert);
  await withReceiver({ tls: { key: String(key), cert: String(cert) } }, async (receiver) => {
    await deliver(receiver, { from: 'sender@origin.test', to: ['rcpt@dest.test'] });
    assert.equal(receiver.messages[0]?.secure, true);
    assert.ok(receiver.events.some((e) => e.stage === 'tls'));
  });
});

test('does not offer STARTTLS without a certificate', async () => {
  await withReceiver({}, async (receiver) => {
    await rejectsWith(openClient(receiver, { requireTLS: true }), { code: 'ETLS' });
  });
});

test('maxClients refuses connections over the limit with a 421', async () => {
  await withReceiver({ maxClients: 1 }, async (receiver) => {
    const client = await openClient(receiver);
    try {
      await rejectsWith(openClient(receiver), { responseCode: 421 });
    } finally {
      client.close();
    }
  });
});

test('waitForMessages resolves when a message arrives and rejects on timeout', async () => {
  await withReceiver({}, async (receiver) => {
    await assert.rejects(receiver.waitForMessages(1, 50), /Expected 1 message\(s\) within 50 ms, got 0/);
    const waiting = receiver.waitForMessages(1, 3000);
    await deliver(receiver, { from: 'sender@origin.test', to: ['rcpt@dest.test'] });
    assert.equal((await waiting).length, 1);
  });
});

test('an invalid reply fails at start, a throwing rule answers 451', async () => {
  await assert.rejects(startSmtpReceiver({ script: { mail: 'OK then' } }), /Invalid SMTP reply/);
  const script: SmtpScript = {
    mail: () => {
      throw new Error('boom');
    },
  };
  await withReceiver({ script }, async (receiver) => {
    const error = await rejectsWith(
      deliver(receiver, { from: 'sender@origin.test', to: ['rcpt@dest.test'] }),
      {
        responseCode: 451,
      },
    );
    assert.match(error.message, /receiver script error: boom/);
  });
});

test('refuses to bind a non-loopback address', async () => {
  await assert.rejects(startSmtpReceiver({ host: '0.0.0.0' }), /loopback/);
});

test('close() drops open connections, including hanging ones', async () => {
  const receiver = await startSmtpReceiver({ script: { rcpt: { action: 'hang' } } });
  const client = await openClient(receiver);
  const pending = send(client, { from: 'sender@origin.test', to: ['rcpt@dest.test'] });
  await waitUntil(() => receiver.events.some((e) => e.outcome === 'hang'));
  const started = Date.now();
  await Promise.all([receiver.close(), receiver.close()]);
  await rejectsWith(pending, { code: 'ECONNECTION' });
  assert.ok(Date.now() - started < 1000);
});

async function waitUntil(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
