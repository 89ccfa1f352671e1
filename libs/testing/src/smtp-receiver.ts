import { createServer, type Server, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { SMTPServerSession } from 'smtp-server';
import { assertLoopback } from './dns-server.ts';
import { listenOn } from './listen.ts';
import { PromptSmtpServer } from './prompt-smtp-server.ts';

/**
 * How the receiver answers one command. `reply` is a full reply line such as '550 5.1.1 no such user'
 * (2xx keeps the default acceptance); `delayMs` waits before acting; `action` replaces the reply.
 */
export interface SmtpRuleSpec<Action extends string> {
  reply?: string;
  delayMs?: number;
  action?: Action;
}

/** A reply line, a spec, or a function deciding per call (undefined = default behaviour). */
export type SmtpRule<Action extends string> =
  | string
  | SmtpRuleSpec<Action>
  | ((ctx: SmtpRuleContext) => string | SmtpRuleSpec<Action> | undefined);

export type SmtpStage = 'connect' | 'mail' | 'rcpt' | 'data';

export interface SmtpRuleContext {
  stage: SmtpStage;
  /** 1-based connection number on this receiver. */
  session: number;
  /**
   * 1-based: connect counts connections, mail/rcpt count commands naming the same address (case-insensitive),
   * data counts DATA commands, all across sessions. Lets a script say "451 the first time, then accept".
   */
  attempt: number;
  /** The sender (mail) or recipient (rcpt); '' for connect and data. */
  address: string;
  /** Sender of the current transaction ('' for the null sender or before MAIL). */
  from: string;
  /** Recipients accepted so far in the current transaction. */
  recipients: string[];
  remoteAddress: string;
  heloName: string;
}

export interface SmtpScript {
  /** 'close-before-banner' drops the socket at once; 'hang' never sends a banner. A 2xx reply is ignored. */
  connect?: SmtpRule<'close-before-banner' | 'hang'>;
  /** 'disconnect' drops the socket instead of replying; 'hang' never replies. */
  mail?: SmtpRule<'disconnect' | 'hang'>;
  rcpt?: SmtpRule<'disconnect' | 'hang'>;
  /**
   * The reply (after `delayMs`) is the final one, after the message; the 354 always goes out.
   * 'disconnect' drops the socket at the DATA command (after the 354 if there is a delay);
   * 'hang' takes the message but never replies;
   * 'accept-then-disconnect' records the message and drops the socket instead of sending the 250.
   */
  data?: SmtpRule<'disconnect' | 'hang' | 'accept-then-disconnect'>;
}

export interface SmtpReceiverOptions {
  /** Loopback address to bind; default '127.0.0.1'. */
  host?: string;
  /** Default 0 = free port. The same port may be bound on several 127.0.0.x hosts. */
  port?: number;
  /** Host name in the banner and EHLO reply; default 'localhost'. */
  name?: string;
  script?: SmtpScript;
  /** When given, STARTTLS is offered. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  maxClients?: number;
  /**
   * Speak LMTP (RFC 2033): LHLO, and one reply per recipient after the message. `replyTo` gives a
   * recipient's reply ("452 4.2.2 full"); the default is 250. The `data` rule still applies first.
   */
  lmtp?: { replyTo?: (recipient: string) => string | undefined };
}

export interface ReceivedMessage {
  session: number;
  /** '' for the null sender. */
  from: string;
  to: string[];
  data: Buffer;
  remoteAddress: string;
  secure: boolean;
  heloName: string;
  /** False when the script stored the message but dropped the connection instead of sending the 250. */
  acknowledged: boolean;
}

export interface ReceiverEvent {
  session: number;
  stage: SmtpStage | 'tls' | 'close';
  /** Sender or recipient for mail/rcpt. */
  address?: string;
  /** 'accept', the reply line sent, or the action taken ('disconnect', 'hang', ...); 'closed' for close. */
  outcome: string;
}

export interface SmtpReceiver {
  readonly host: string;
  readonly port: number;
  /** Replaceable between deliveries; read at every command. */
  script: SmtpScript;
  /** Messages the receiver took responsibility for, in order. */
  readonly messages: ReceivedMessage[];
  /** What happened, in order: one entry per scripted decision, TLS upgrade and closed connection. */
  readonly events: ReceiverEvent[];
  /** Connections accepted so far. */
  readonly sessions: number;
  /** Resolves with all messages once at least `count` were recorded; rejects after `timeoutMs` (5000). */
  waitForMessages(count: number, timeoutMs?: number): Promise<ReceivedMessage[]>;
  /** Stops listening and drops every open connection. */
  close(): Promise<void>;
}

type AnySpec = SmtpRuleSpec<string>;

type Decision = AnySpec & { parsed?: Reply | undefined };

interface Reply {
  code: number;
  text: string;
}

interface Waiter {
  count: number;
  resolve: (messages: ReceivedMessage[]) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export async function startSmtpReceiver(options: SmtpReceiverOptions = {}): Promise<SmtpReceiver> {
  const host = options.host ?? '127.0.0.1';
  assertLoopback(host);
  const events: ReceiverEvent[] = [];
  const log = messageLog(events);
  const timers = timerSet();
  const connections = connectionTable();
  const attempts = new Map<string, number>();
  let script = validateScript(options.script ?? {});
  let sessions = 0;

  const countAttempt = (key: string) => {
    const attempt = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, attempt);
    return attempt;
  };

  /** A bug in the receiver must not crash the test run: note it and drop that connection. */
  const fail = (id: string) => (error: unknown) => {
    events.push({ session: Number(id), stage: 'close', outcome: `receiver error: ${String(error)}` });
    connections.drop(id);
  };

  /** MAIL and RCPT: reply, delay, disconnect or hang, then hand the verdict to smtp-server. */
  const onCommand = async (
    stage: 'mail' | 'rcpt',
    address: string,
    session: SMTPServerSession,
    callback: (err?: Error | null) => void,
  ) => {
    const attempt = countAttempt(`${stage}:${address.toLowerCase()}`);
    const spec = decide(script[stage], contextFor(stage, session, address, attempt));
    const note = (outcome: string) => events.push({ session: Number(session.id), stage, address, outcome });
    if (spec.delayMs) await timers.sleep(spec.delayMs);
    if (!connections.alive(session.id)) return;
    if (spec.action === 'disconnect') {
      note('disconnect');
      connections.drop(session.id);
    } else if (spec.action === 'hang') {
      note('hang');
    } else if (spec.parsed && spec.parsed.code >= 400) {
      note(formatReply(spec.parsed));
      callback(replyError(spec.parsed));
    } else {
      note('accept');
      callback();
    }
  };

  const onData = async (
    stream: Readable,
    session: SMTPServerSession,
    callback: (err?: Error | null, message?: string) => void,
  ) => {
    const spec = decide(script.data, contextFor('data', session, '', countAttempt('data')));
    const note = (outcome: string) => events.push({ session: Number(session.id), stage: 'data', outcome });
    // smtp-server waits for the stream to end before it replies, so it is always read in full.
    const body = readAll(stream);
    if (spec.action === 'disconnect') {
      // Without a delay this runs before smtp-server writes the 354, so the client never gets it.
      if (spec.delayMs) await timers.sleep(spec.delayMs);
      note('disconnect');
      connections.drop(session.id);
      return;
    }
    const data = await body;
    if (data === undefined) return; // connection lost mid-message
    if (spec.delayMs) await timers.sleep(spec.delayMs);
    if (!connections.alive(session.id)) return;
    if (spec.action === 'hang') {
      note('hang');
    } else if (spec.action === 'accept-then-disconnect') {
      log.record(receivedMessage(session, data, false));
      note('accept-then-disconnect');
      connections.drop(session.id);
    } else if (spec.parsed && spec.parsed.code >= 400) {
      note(formatReply(spec.parsed));
      callback(replyError(spec.parsed));
    } else if (options.lmtp) {
      log.record(receivedMessage(session, data, true));
      note('accept');
      const replies = session.envelope.rcptTo.map(({ address }) => {
        const reply = parseReply(options.lmtp?.replyTo?.(address));
        return reply && reply.code >= 400 ? replyError(reply) : (reply?.text ?? 'OK');
      });
      // smtp-server sends one reply per element (an Error's responseCode, else 250 and the text).
      (callback as unknown as (err: null, replies: Array<string | Error>) => void)(null, replies);
    } else {
      log.record(receivedMessage(session, data, true));
      note('accept');
      callback(null, spec.parsed?.text);
    }
  };

  const smtp = new PromptSmtpServer({
    name: options.name ?? 'localhost',
    logger: false,
    // The default reverse lookup would ask the system resolver about the client.
    disableReverseLookup: true,
    authOptional: true,
    disabledCommands: options.tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    hideSTARTTLS: !options.tls,
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : {}),
    ...(options.maxClients ? { maxClients: options.maxClients } : {}),
    ...(options.lmtp ? { lmtp: true } : {}),
    onMailFrom: (address, session, callback) =>
      void onCommand('mail', address.address, session, callback).catch(fail(session.id)),
    onRcptTo: (address, session, callback) =>
      void onCommand('rcpt', address.address, session, callback).catch(fail(session.id)),
    onData: (stream, session, callback) => void onData(stream, session, callback).catch(fail(session.id)),
    onSecure: (socket, session, callback) => {
      connections.upgrade(session.id, socket);
      events.push({ session: Number(session.id), stage: 'tls', outcome: 'secure' });
      callback();
    },
  });
  // Client resets mid-transaction surface here; the events log already says what happened.
  smtp.on('error', () => {});

  /** Applies the connect rule, then hands the socket to smtp-server (which sends the banner). */
  const onSocket = async (socket: Socket, session: number) => {
    const id = String(session);
    connections.add(id, socket, () => events.push({ session, stage: 'close', outcome: 'closed' }));
    const spec = decide(script.connect, connectContext(session, socket.remoteAddress ?? ''));
    const note = (outcome: string) => events.push({ session, stage: 'connect', outcome });
    if (spec.delayMs) await timers.sleep(spec.delayMs);
    if (!connections.alive(id)) return;
    if (spec.action === 'close-before-banner') {
      note('close-before-banner');
      socket.destroy();
    } else if (spec.action === 'hang') {
      note('hang');
      socket.resume(); // swallow whatever the client sends
    } else if (spec.parsed && spec.parsed.code >= 400) {
      note(formatReply(spec.parsed));
      socket.end(`${formatReply(spec.parsed)}\r\n`);
    } else {
      note('accept');
      smtp.connect(socket, { id });
    }
  };

  const front: Server = createServer((socket) => {
    const session = ++sessions;
    void onSocket(socket, session).catch(fail(String(session)));
  });
  const port = await listenOn(front, host, options.port ?? 0);
  let closing: Promise<void> | undefined;

  return {
    host,
    port,
    get script() {
      return script;
    },
    set script(next) {
      script = validateScript(next);
    },
    messages: log.messages,
    events,
    get sessions() {
      return sessions;
    },
    waitForMessages: (count, timeoutMs = 5000) => log.waitFor(count, timeoutMs),
    close: () => {
      closing ??= (async () => {
        timers.clearAll();
        connections.closeAll();
        await new Promise<void>((resolve) => front.close(() => resolve()));
        log.rejectWaiters(new Error('SMTP receiver closed'));
      })();
      return closing;
    },
  };
}

/** The recorded messages plus waitFor(), which settles as soon as enough have arrived. */
function messageLog(events: ReceiverEvent[]) {
  const messages: ReceivedMessage[] = [];
  const waiters = new Set<Waiter>();
  const settle = (waiter: Waiter) => {
    clearTimeout(waiter.timer);
    waiters.delete(waiter);
    return waiter;
  };
  return {
    messages,
    record(message: ReceivedMessage) {
      messages.push(message);
      for (const waiter of waiters) {
        if (messages.length >= waiter.count) settle(waiter).resolve([...messages]);
      }
    },
    waitFor(count: number, timeoutMs: number) {
      return new Promise<ReceivedMessage[]>((resolve, reject) => {
        if (messages.length >= count) return resolve([...messages]);
        const timer = setTimeout(() => {
          // The event log usually explains why nothing arrived.
          const summary = events.map((e) => `#${e.session} ${e.stage} ${e.address ?? ''} ${e.outcome}`);
          const head = `Expected ${count} message(s) within ${timeoutMs} ms, got ${messages.length}.`;
          settle(waiter).reject(new Error(`${head}\nEvents:\n${summary.join('\n')}`));
        }, timeoutMs);
        const waiter: Waiter = { count, resolve, reject, timer };
        waiters.add(waiter);
      });
    },
    rejectWaiters(error: Error) {
      for (const waiter of waiters) settle(waiter).reject(error);
    },
  };
}

/** Timers that close() can cancel, so a scripted delay never outlives the receiver. */
function timerSet() {
  const timers = new Set<NodeJS.Timeout>();
  return {
    sleep: (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          resolve();
        }, ms);
        timers.add(timer);
      }),
    clearAll: () => {
      for (const timer of timers) clearTimeout(timer);
    },
  };
}

/** Open connections by session id, each with the socket that currently carries it (TLS after STARTTLS). */
function connectionTable() {
  const current = new Map<string, Socket>();
  const raw = new Set<Socket>();
  const table = {
    closed: false,
    add(id: string, socket: Socket, onClose: () => void) {
      current.set(id, socket);
      raw.add(socket);
      socket.on('error', () => {});
      socket.once('close', () => {
        current.delete(id);
        raw.delete(socket);
        onClose();
      });
    },
    upgrade(id: string, socket: Socket) {
      if (current.has(id)) current.set(id, socket);
    },
    alive: (id: string) => !table.closed && current.get(id)?.destroyed === false,
    drop: (id: string) => current.get(id)?.destroy(),
    closeAll() {
      table.closed = true;
      // Topmost sockets first: tearing a TLS socket down from below can crash Node mid-handshake.
      for (const socket of current.values()) socket.destroy();
      for (const socket of raw) socket.destroy();
    },
  };
  return table;
}

function contextFor(
  stage: SmtpStage,
  session: SMTPServerSession,
  address: string,
  attempt: number,
): SmtpRuleContext {
  return {
    stage,
    session: Number(session.id),
    attempt,
    address,
    from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
    recipients: session.envelope.rcptTo.map((r) => r.address),
    remoteAddress: session.remoteAddress,
    heloName: session.hostNameAppearsAs || '',
  };
}

function connectContext(session: number, remoteAddress: string): SmtpRuleContext {
  const base = { session, attempt: session, address: '', from: '', recipients: [], heloName: '' };
  return { ...base, stage: 'connect', remoteAddress };
}

function receivedMessage(session: SMTPServerSession, data: Buffer, acknowledged: boolean): ReceivedMessage {
  const { from, recipients, remoteAddress, heloName } = contextFor('data', session, '', 0);
  return {
    session: Number(session.id),
    from,
    to: recipients,
    data,
    remoteAddress,
    secure: session.secure,
    heloName,
    acknowledged,
  };
}

/** The rule's verdict with its reply parsed; a throwing rule becomes a 451 the test can see, not a crash. */
function decide<Action extends string>(rule: SmtpRule<Action> | undefined, ctx: SmtpRuleContext): Decision {
  try {
    const spec = toSpec(typeof rule === 'function' ? rule(ctx) : rule);
    return { ...spec, parsed: parseReply(spec.reply) };
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return { parsed: { code: 451, text: `4.3.0 receiver script error: ${why}` } };
  }
}

function toSpec(rule: string | AnySpec | undefined): AnySpec {
  if (rule === undefined) return {};
  return typeof rule === 'string' ? { reply: rule } : rule;
}

/** Static replies are checked up front so a typo fails at start, not mid-delivery. */
function validateScript(script: SmtpScript): SmtpScript {
  for (const rule of Object.values(script)) {
    if (typeof rule !== 'function') parseReply(toSpec(rule).reply);
  }
  return script;
}

/** '550 5.1.1 no such user' -> { code: 550, text: '5.1.1 no such user' }. */
function parseReply(line: string | undefined): Reply | undefined {
  if (line === undefined) return undefined;
  const match = /^([2-5]\d\d)(?:[ -](.*))?$/.exec(line.trim());
  if (!match) throw new Error(`Invalid SMTP reply in script: '${line}'`);
  return { code: Number(match[1]), text: match[2] ?? '' };
}

function formatReply(reply: Reply): string {
  return reply.text ? `${reply.code} ${reply.text}` : String(reply.code);
}

/** smtp-server writes `${responseCode} ${message}` and closes the connection itself after a 421. */
function replyError(reply: Reply): Error {
  return Object.assign(new Error(reply.text), { responseCode: reply.code });
}

/** The whole stream, or undefined if it broke (the client went away mid-message). */
function readAll(stream: Readable): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', () => resolve(undefined));
    stream.once('close', () => resolve(undefined)); // no-op after 'end'
  });
}
