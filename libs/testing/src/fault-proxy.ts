import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { assertLoopback } from './dns-server.ts';
import { listenOn } from './listen.ts';

/** `toServer`: what the client sends (commands, data); `toClient`: what the server answers. */
export type FaultDirection = 'toServer' | 'toClient';

/**
 * When a fault starts in its direction. Counting and matching start once the fault is armed: at
 * once, or when the other direction has carried `armedBy` (the client's final dot, "STARTTLS", a
 * 354 ...), so earlier bytes never match. With neither `afterBytes` nor `afterPattern` the fault
 * starts with the first byte after arming.
 */
export interface FaultTrigger {
  armedBy?: string | RegExp;
  /** Let this many bytes through first. */
  afterBytes?: number;
  /** Let everything up to the end of this pattern through first. */
  afterPattern?: string | RegExp;
}

export type FaultAction =
  /** TCP RST to both sides. */
  | { kind: 'reset' }
  /** An orderly close (FIN) of both sides. */
  | { kind: 'close' }
  /** Stop forwarding this direction, keep both connections open: a peer that went silent. */
  | { kind: 'hold' }
  /** Forward each chunk `ms` later. */
  | { kind: 'delay'; ms: number }
  /** Trickle: `bytes` (default 1) every `everyMs`. */
  | { kind: 'tarpit'; everyMs: number; bytes?: number }
  /** Insert these bytes at the trigger point, then forward as usual. */
  | { kind: 'inject'; data: string | Buffer };

export interface DirectionFault {
  trigger?: FaultTrigger;
  action: FaultAction;
}

/** What happens to one proxied connection. */
export interface FaultPlan {
  /** Wait this long before connecting upstream (the client waits for anything at all). */
  connectDelayMs?: number;
  toServer?: DirectionFault;
  toClient?: DirectionFault;
}

export interface FaultProxyEvent {
  /** 1-based connection number. */
  connection: number;
  kind: 'open' | 'fault' | 'held' | 'closed';
  direction?: FaultDirection;
  /** The action taken, or for `held` how many bytes are held so far, or who closed first. */
  detail: string;
}

export interface FaultProxyOptions {
  /** Loopback address to listen on; default '127.0.0.1'. */
  host?: string;
  /** Default 0 = a free port. */
  port?: number;
  upstream: { host: string; port: number };
  /** One plan for every connection, or a plan per connection number (undefined = pass through). */
  plan?: FaultPlan | ((connection: number) => FaultPlan | undefined);
}

export interface FaultProxy {
  readonly host: string;
  readonly port: number;
  /** Replaceable; read when each connection opens. */
  plan: FaultPlan | ((connection: number) => FaultPlan | undefined) | undefined;
  readonly events: FaultProxyEvent[];
  /** Connections accepted so far. */
  readonly connections: number;
  /** Bytes forwarded per connection and direction (held or dropped bytes not counted). */
  forwarded(connection: number, direction: FaultDirection): number;
  /** Resolves with the first event matching `predicate`; rejects after `timeoutMs` (5000). */
  waitForEvent(predicate: (event: FaultProxyEvent) => boolean, timeoutMs?: number): Promise<FaultProxyEvent>;
  /** Stops listening and drops every open connection. */
  close(): Promise<void>;
}

/**
 * A TCP proxy on loopback that breaks one connection in a chosen way: between a delivery worker
 * and a receiver (or ingest and Redis), it delays, resets or holds at a byte count or a pattern
 * (mid-DATA, right after the final dot, on the reply to EXEC), trickles bytes (a tarpit), or slips
 * a line into a reply (the STARTTLS injection of CVE-2011-0411).
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const host = options.host ?? '127.0.0.1';
  assertLoopback(host);
  assertLoopback(options.upstream.host);
  const events: FaultProxyEvent[] = [];
  const listeners = new Set<() => void>();
  const open = new Set<Socket>();
  const counts = new Map<string, number>();
  let plan = options.plan;
  let connections = 0;

  const note = (event: FaultProxyEvent) => {
    events.push(event);
    for (const listener of listeners) listener();
  };

  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const id = ++connections;
    const chosen = typeof plan === 'function' ? plan(id) : plan;
    void proxyConnection(client, id, chosen ?? {}).catch(() => client.destroy());
  });

  async function proxyConnection(client: Socket, id: number, chosen: FaultPlan): Promise<void> {
    track(client);
    client.pause();
    note({ connection: id, kind: 'open', detail: 'accepted' });
    if (chosen.connectDelayMs) await sleep(chosen.connectDelayMs);
    if (client.destroyed) return;
    const upstream = tcpConnect({ ...options.upstream, allowHalfOpen: true });
    track(upstream);
    await new Promise<void>((resolve, reject) => {
      upstream.once('connect', resolve);
      upstream.once('error', reject);
    }).catch(() => {
      client.destroy();
      throw new Error('upstream refused');
    });
    const closeBoth = (how: 'reset' | 'close') => {
      for (const socket of [client, upstream]) {
        if (socket.destroyed) continue;
        if (how === 'reset') socket.resetAndDestroy();
        else socket.end();
      }
    };
    const toServer = new Pipe(id, 'toServer', client, upstream, chosen.toServer, closeBoth, note, counts);
    const toClient = new Pipe(id, 'toClient', upstream, client, chosen.toClient, closeBoth, note, counts);
    toServer.other = toClient;
    toClient.other = toServer;
    let closedFirst: string | undefined;
    const onClose = (who: string) => () => {
      if (closedFirst !== undefined) return;
      closedFirst = who;
      note({ connection: id, kind: 'closed', detail: `${who} first` });
      client.destroy();
      upstream.destroy();
    };
    client.once('close', onClose('client'));
    upstream.once('close', onClose('server'));
    client.resume();
  }

  function track(socket: Socket) {
    open.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => open.delete(socket));
  }

  const port = await listenOn(server, host, options.port ?? 0);
  let closing: Promise<void> | undefined;

  return {
    host,
    port,
    get plan() {
      return plan;
    },
    set plan(next) {
      plan = next;
    },
    events,
    get connections() {
      return connections;
    },
    forwarded: (connection, direction) => counts.get(`${connection}:${direction}`) ?? 0,
    waitForEvent(predicate, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = events.find(predicate);
          if (!found) return;
          cleanup();
          resolve(found);
        };
        const timer = setTimeout(() => {
          cleanup();
          const seen = events.map((e) => `#${e.connection} ${e.kind} ${e.direction ?? ''} ${e.detail}`);
          reject(new Error(`no matching proxy event within ${timeoutMs} ms; events:\n${seen.join('\n')}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      });
      return closing;
    },
  };
}

/**
 * One direction of a proxied connection: forwards chunks in order, watching for its fault's
 * trigger, and from then on applies the action to everything that follows.
 */
class Pipe {
  other: Pipe | undefined;
  /** Latin1 tail of what the other direction carried, while waiting for `armedBy`. */
  #otherSeen = '';
  /** Latin1 tail of what this direction carried since its fault was armed. */
  #seen = '';
  #armed: boolean;
  #triggered = false;
  #sinceArmed = 0;
  #chain: Promise<void> = Promise.resolve();
  #held = 0;
  readonly #id: number;
  readonly #direction: FaultDirection;
  readonly #to: Socket;
  readonly #fault: DirectionFault | undefined;
  readonly #closeBoth: (how: 'reset' | 'close') => void;
  readonly #note: (event: FaultProxyEvent) => void;
  readonly #counts: Map<string, number>;

  constructor(
    id: number,
    direction: FaultDirection,
    from: Socket,
    to: Socket,
    fault: DirectionFault | undefined,
    closeBoth: (how: 'reset' | 'close') => void,
    note: (event: FaultProxyEvent) => void,
    counts: Map<string, number>,
  ) {
    this.#id = id;
    this.#direction = direction;
    this.#to = to;
    this.#fault = fault;
    this.#armed = fault !== undefined && fault.trigger?.armedBy === undefined;
    this.#closeBoth = closeBoth;
    this.#note = note;
    this.#counts = counts;
    from.on('data', (chunk: Buffer) => this.#receive(chunk));
    // SMTP and RESP peers do not half-close: a FIN (a peer that quit or died) closes the whole
    // connection, once what came before it was written (held bytes never are).
    from.once('end', () => {
      this.#then(() => {
        for (const socket of [to, from]) if (!socket.destroyed) socket.end();
      });
    });
  }

  /** Called with each chunk the other direction forwarded: arms a fault waiting for it. */
  observe(text: string): void {
    const armedBy = this.#fault?.trigger?.armedBy;
    if (this.#armed || this.#triggered || armedBy === undefined) return;
    this.#otherSeen = (this.#otherSeen + text).slice(-MAX_TAIL);
    if (matchEnd(this.#otherSeen, armedBy) === undefined) return;
    this.#armed = true;
    this.#otherSeen = '';
  }

  #receive(chunk: Buffer): void {
    if (this.#triggered) {
      this.#apply(chunk);
      return;
    }
    const split = this.#fault && this.#armed ? this.#triggerOffset(chunk) : undefined;
    if (split === undefined) {
      this.#forward(chunk);
      return;
    }
    if (split > 0) this.#forward(chunk.subarray(0, split));
    this.#triggered = true;
    this.#note({
      connection: this.#id,
      kind: 'fault',
      direction: this.#direction,
      detail: describe(this.#fault!.action),
    });
    this.#start(chunk.subarray(split));
  }

  /** Where in `chunk` the fault starts, or undefined when it does not start in this chunk. */
  #triggerOffset(chunk: Buffer): number | undefined {
    const trigger = this.#fault?.trigger ?? {};
    if (trigger.afterBytes !== undefined) {
      const offset = trigger.afterBytes - this.#sinceArmed;
      this.#sinceArmed += chunk.length;
      return offset < chunk.length ? Math.max(offset, 0) : undefined;
    }
    if (trigger.afterPattern !== undefined) {
      const tail = this.#seen;
      const text = tail + chunk.toString('latin1');
      this.#seen = text.slice(-MAX_TAIL);
      const end = matchEnd(text, trigger.afterPattern);
      return end === undefined ? undefined : Math.max(end - tail.length, 0);
    }
    return 0;
  }

  #start(rest: Buffer): void {
    const action = this.#fault!.action;
    if (action.kind === 'reset' || action.kind === 'close') {
      const how = action.kind;
      this.#then(() => this.#closeBoth(how));
    } else if (action.kind === 'inject') {
      this.#forward(typeof action.data === 'string' ? Buffer.from(action.data, 'latin1') : action.data);
      // One-shot: from here on the connection is an ordinary one.
      this.#triggered = false;
      this.#armed = false;
      if (rest.length > 0) this.#forward(rest);
    } else this.#apply(rest);
  }

  /** Everything after the trigger, by action. */
  #apply(chunk: Buffer): void {
    const action = this.#fault!.action;
    if (chunk.length === 0) return;
    if (action.kind === 'hold') {
      this.#held += chunk.length;
      this.#note({
        connection: this.#id,
        kind: 'held',
        direction: this.#direction,
        detail: String(this.#held),
      });
    } else if (action.kind === 'delay') {
      this.#pause(action.ms);
      this.#forward(chunk);
    } else if (action.kind === 'tarpit') {
      const step = Math.max(1, action.bytes ?? 1);
      for (let offset = 0; offset < chunk.length; offset += step) {
        this.#pause(action.everyMs);
        this.#forward(chunk.subarray(offset, offset + step));
      }
    }
    // reset and close: the connection is going away; nothing more is forwarded.
  }

  /** Waits before the next write, unless the connection is gone (no timers outlive a closed proxy). */
  #pause(ms: number): void {
    this.#then(() => (this.#to.destroyed ? undefined : sleep(ms)));
  }

  #then(step: () => unknown): void {
    this.#chain = this.#chain.then(step).then(
      () => {},
      () => {},
    );
  }

  /** Writes in order, each chunk once the previous one was handed to the kernel. */
  #forward(chunk: Buffer): void {
    this.#then(
      () =>
        new Promise<void>((resolve) => {
          if (this.#to.destroyed || this.#to.writableEnded) return resolve();
          const key = `${this.#id}:${this.#direction}`;
          this.#counts.set(key, (this.#counts.get(key) ?? 0) + chunk.length);
          this.other?.observe(chunk.toString('latin1'));
          this.#to.write(chunk, () => resolve());
        }),
    );
  }
}

/** Patterns are looked for in the last 64 KiB carried: enough for any SMTP or RESP marker. */
const MAX_TAIL = 64 * 1024;

/** End offset of the first match of `pattern` in `text`, or undefined. */
function matchEnd(text: string, pattern: string | RegExp): number | undefined {
  if (typeof pattern === 'string') {
    const index = text.indexOf(pattern);
    return index === -1 ? undefined : index + pattern.length;
  }
  const match = new RegExp(pattern.source, pattern.flags.replace('g', '')).exec(text);
  return match ? match.index + match[0].length : undefined;
}

function describe(action: FaultAction): string {
  if (action.kind === 'delay') return `delay ${action.ms} ms`;
  if (action.kind === 'tarpit') return `tarpit ${action.bytes ?? 1} byte(s) every ${action.everyMs} ms`;
  if (action.kind === 'inject') return `inject ${JSON.stringify(String(action.data))}`;
  return action.kind;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
