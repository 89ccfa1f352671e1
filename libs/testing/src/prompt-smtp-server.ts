import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { SMTPServer } from 'smtp-server';
import { SMTPConnection, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';

/*
 * smtp-server (3.21.x) holds every greeting back 100 ms to catch clients that talk first, as
 * Postfix's postscreen can. The receivers here stand in for fast MX hosts (the benchmark compares
 * with Postfix delivering to smtp-sink, which greets at once), so they greet at once too.
 * When upgrading smtp-server, compare SMTPServer.connect and SMTPConnection.init with these.
 */
class PromptSmtpConnection extends SMTPConnection {
  /** SMTPConnection.init without the early-talker pause. */
  override init(): void {
    this._setListeners(() => {
      const { maxClients } = this._server.options;
      if (maxClients && this._server.connections.size > maxClients) {
        this.send(421, `${this.name} Too many connected clients, try again in a moment`, false);
        return;
      }
      this.connectionReady();
    });
  }
}

export class PromptSmtpServer extends SMTPServer {
  /** SMTPServer.connect, with the prompt connection class. */
  override connect(socket: Socket | TLSSocket, socketOptions?: SMTPConnectionOptions | null): void {
    const connection = new PromptSmtpConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on('error', (error: Error) => this._onError(error));
    connection.on('connect', (data) => this._onClientConnect(data));
    connection.init();
  }
}
