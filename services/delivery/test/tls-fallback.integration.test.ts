import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { DeliveryWorld } from './helpers.ts';

/**
 * A receiver whose STARTTLS is broken: it advertises it, says 220 to the command, then answers the
 * TLS ClientHello with garbage. Without STARTTLS it is an ordinary SMTP server.
 */
function brokenTlsServer(host: string, port: number) {
  const messages: Array<{ secureTried: boolean; data: string }> = [];
  let sessions = 0;
  const server: Server = createServer((socket: Socket) => {
    sessions++;
    let buffer = '';
    let inData = false;
    let data = '';
    let secureTried = false;
    const reply = (line: string) => socket.write(`${line}\r\n`);
    socket.on('error', () => {});
    reply('220 broken-tls.test ESMTP');
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      let end = buffer.indexOf('\r\n');
      while (end !== -1) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            messages.push({ secureTried, data });
            reply('250 2.0.0 queued');
          } else data += `${line}\r\n`;
        } else {
          const command = line.slice(0, 4).toUpperCase();
          if (command === 'EHLO') reply('250-broken-tls.test\r\n250-PIPELINING\r\n250 STARTTLS');
          else if (command === 'STAR') {
            secureTried = true;
            reply('220 2.0.0 Ready to start TLS');
            socket.once('data', () => socket.end('this is not a TLS ServerHello\r\n'));
            return;
          } else if (command === 'MAIL' || command === 'RCPT') reply('250 2.1.0 ok');
          else if (command === 'DATA') {
            inData = true;
            reply('354 go ahead');
          } else if (command === 'QUIT') {
            reply('221 bye');
            socket.end();
          } else reply('502 5.5.1 unknown');
        }
        end = buffer.indexOf('\r\n');
      }
    });
  });
  return {
    messages,
    get sessions() {
      return sessions;
    },
    listen: () => new Promise<void>((resolve) => server.listen(port, host, resolve)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let world: DeliveryWorld;
let receiver: ReturnType<typeof brokenTlsServer>;
before(async () => {
  world = await DeliveryWorld.start();
  receiver = brokenTlsServer('127.0.0.2', world.port);
  await receiver.listen();
  await world.startDelivery();
});
after(async () => {
  await world.stop();
  await receiver.close();
});

test('a broken STARTTLS handshake: the next attempt goes in plaintext and the host is remembered', async () => {
  world.mx('brokentls.test', [{ name: 'mx.brokentls.test', priority: 10, a: ['127.0.0.2'] }]);
  const message = await world.enqueue({ recipients: ['bob@brokentls.test'] });
  await world.waitForMessageDone(message.id);
  assert.equal(receiver.messages.length, 1);
  assert.equal(receiver.messages[0]!.secureTried, false, 'delivered in a session that did not try TLS');
  assert.ok(receiver.sessions >= 2, 'after a session whose handshake failed');
  const remembered = await world.redis.client().exists('{outpost}:tls-broken:mx.brokentls.test');
  assert.equal(remembered, 1);
});
