import type { Socket as UdpSocket } from 'node:dgram';
import { isIP, isIPv4, isIPv6, type Server as TcpServer, type Socket as TcpSocket } from 'node:net';
import { createTCPServer, createUDPServer, Packet, type Question, type Resource } from 'dns2';
import { listenOn } from './listen.ts';

/** A record the test zone can serve. `ttl` defaults to 300 seconds. */
export type DnsRecord =
  | { type: 'MX'; exchange: string; priority: number; ttl?: number }
  | { type: 'A'; address: string; ttl?: number }
  | { type: 'AAAA'; address: string; ttl?: number }
  | { type: 'CNAME'; target: string; ttl?: number }
  | { type: 'TXT'; data: string | string[]; ttl?: number }
  | { type: 'PTR'; target: string; ttl?: number };

export interface DnsQuery {
  /** Lower case, without the trailing dot. */
  name: string;
  /** 'MX', 'A', ... or 'TYPE<n>' for types dns2 has no name for. */
  type: string;
  transport: 'udp' | 'tcp';
}

export interface DnsServerOptions {
  /** Loopback address to bind; default '127.0.0.1'. */
  host?: string;
  /** Port for both UDP and TCP; default 0 picks a free one. */
  port?: number;
}

export interface TestDnsServer {
  readonly host: string;
  readonly port: number;
  /** 'host:port' ('[::1]:port' for IPv6), ready for Resolver.setServers(). */
  readonly address: string;
  /** Every question received, in arrival order. */
  readonly queries: DnsQuery[];
  /** Replaces whatever `name` answered before. An empty list gives NOERROR with no answers. */
  set(name: string, records: DnsRecord[]): void;
  /** Answers NXDOMAIN (rcode 3) for every type. */
  nxdomain(name: string): void;
  /** Answers SERVFAIL (rcode 2) for every type. */
  servfail(name: string): void;
  /** Answers any rcode (e.g. 5 REFUSED) for every type. */
  rcode(name: string, rcode: number): void;
  /** Never answers `name`: the client times out. */
  silence(name: string): void;
  /** Forgets `name`, or without a name the whole zone and the query log. */
  clear(name?: string): void;
  close(): Promise<void>;
}

type ZoneEntry =
  | { kind: 'records'; records: DnsRecord[] }
  | { kind: 'rcode'; rcode: number }
  | { kind: 'silence' };

type Zone = Map<string, ZoneEntry>;

type Answer = { rcode: number; answers: Resource[] } | 'silence';

const DEFAULT_TTL = 300;
const MAX_CNAME_HOPS = 8;
const TCP_PORT_ATTEMPTS = 10;

export async function startDnsServer(options: DnsServerOptions = {}): Promise<TestDnsServer> {
  const host = options.host ?? '127.0.0.1';
  assertLoopback(host);
  const zone: Zone = new Map();
  const queries: DnsQuery[] = [];
  const handle = (transport: DnsQuery['transport']) => (request: Packet, send: (r: Packet) => unknown) => {
    respond(zone, queries, transport, request, (response) => {
      // UDP send() returns a promise that rejects if the client is gone; nobody is left to tell.
      Promise.resolve(send(response)).catch(() => {});
    });
  };
  const { udp, tcp, port } = await listen(host, options.port ?? 0);
  udp.on('request', handle('udp'));
  tcp.on('request', handle('tcp'));
  const tcpSockets = trackSockets(tcp);

  let closing: Promise<void> | undefined;
  const put = (name: string, entry: ZoneEntry): void => {
    zone.set(normalizeName(name), entry);
  };
  return {
    host,
    port,
    address: isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`,
    queries,
    set: (name, records) => put(name, { kind: 'records', records: records.map(validateRecord) }),
    nxdomain: (name) => put(name, { kind: 'rcode', rcode: Packet.RCODE.NXDOMAIN }),
    servfail: (name) => put(name, { kind: 'rcode', rcode: Packet.RCODE.SERVFAIL }),
    rcode: (name, rcode) => put(name, { kind: 'rcode', rcode: validateRcode(rcode) }),
    silence: (name) => put(name, { kind: 'silence' }),
    clear: (name) => {
      if (name === undefined) {
        zone.clear();
        queries.length = 0;
      } else {
        zone.delete(normalizeName(name));
      }
    },
    close: () => {
      // dns2 keeps idle TCP connections for 10 s; close() would wait for them.
      for (const socket of tcpSockets) socket.destroy();
      closing ??= Promise.all([closeUdp(udp), closeTcp(tcp)]).then(() => {});
      return closing;
    },
  };
}

/** The PTR owner name for an IP address, e.g. '4.3.2.1.in-addr.arpa' for '1.2.3.4'. */
export function reverseName(ip: string): string {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  if (isIPv6(ip)) return `${[...expandIPv6(ip.toLowerCase())].reverse().join('.')}.ip6.arpa`;
  throw new Error(`reverseName: not an IP address: ${ip}`);
}

function respond(
  zone: Zone,
  queries: DnsQuery[],
  transport: DnsQuery['transport'],
  request: Packet,
  send: (response: Packet) => unknown,
): void {
  const question = request.questions[0];
  const response = Packet.createResponseFromRequest(request);
  response.header.aa = 1;
  response.header.ra = 1;
  if (!question) {
    response.header.rcode = Packet.RCODE.FORMERR;
    send(response);
    return;
  }
  queries.push({ name: normalizeName(question.name), type: Packet.typeName(question.type), transport });
  let answer: Answer;
  try {
    answer = lookup(zone, question);
  } catch {
    // A bug here must show up as a DNS failure in the test, not crash the process.
    answer = { rcode: Packet.RCODE.SERVFAIL, answers: [] };
  }
  if (answer === 'silence') return;
  response.header.rcode = answer.rcode;
  response.answers = answer.answers;
  send(response);
}

function lookup(zone: Zone, question: Question): Answer {
  const answers: Resource[] = [];
  let name = question.name;
  // Follow CNAMEs inside the zone, like an authoritative server would.
  for (let hop = 0; hop < MAX_CNAME_HOPS; hop++) {
    const entry = zone.get(normalizeName(name));
    if (entry === undefined) {
      return { rcode: hop === 0 ? Packet.RCODE.NXDOMAIN : Packet.RCODE.NOERROR, answers };
    }
    if (entry.kind === 'silence') return 'silence';
    if (entry.kind === 'rcode') return { rcode: entry.rcode, answers };
    const matching = entry.records.filter((r) => matchesType(r, question.type));
    const cname = entry.records.find((r) => r.type === 'CNAME');
    if (matching.length > 0 || cname === undefined || question.type === Packet.TYPE.CNAME) {
      answers.push(...matching.map((r) => toResource(name, r)));
      return { rcode: Packet.RCODE.NOERROR, answers };
    }
    answers.push(toResource(name, cname));
    name = cname.target;
  }
  return { rcode: Packet.RCODE.SERVFAIL, answers: [] };
}

function matchesType(record: DnsRecord, type: number): boolean {
  return type === Packet.TYPE.ANY || Packet.TYPE[record.type] === type;
}

function toResource(name: string, record: DnsRecord): Resource {
  const base = {
    name,
    type: Packet.TYPE[record.type],
    class: Packet.CLASS.IN,
    ttl: record.ttl ?? DEFAULT_TTL,
  };
  switch (record.type) {
    case 'MX':
      return new Packet.Resource({ ...base, exchange: record.exchange, priority: record.priority });
    case 'A':
    case 'AAAA':
      return new Packet.Resource({ ...base, address: record.address });
    case 'CNAME':
    case 'PTR':
      return new Packet.Resource({ ...base, domain: record.target });
    case 'TXT':
      // dns2 encodes Buffer chunks as they are; its types only mention strings.
      return new Packet.Resource({ ...base, data: txtStrings(record.data) as unknown as string[] });
  }
}

/** A TXT character-string holds at most 255 bytes; longer text is split the way DNS servers do. */
function txtStrings(data: string | string[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (const text of typeof data === 'string' ? [data] : data) {
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length === 0) chunks.push(bytes);
    for (let i = 0; i < bytes.length; i += 255) chunks.push(bytes.subarray(i, i + 255));
  }
  return chunks;
}

/** Fails in set(), where the test can see it, rather than while encoding an answer. */
function validateRecord(record: DnsRecord): DnsRecord {
  const bad = (why: string) => new Error(`Invalid ${record.type} record: ${why}`);
  if (record.type === 'A' && !isIPv4(record.address)) throw bad(record.address);
  if (record.type === 'AAAA' && !isIPv6(record.address)) throw bad(record.address);
  if (record.type === 'MX' && !(Number.isInteger(record.priority) && record.priority >= 0)) {
    throw bad(`priority ${record.priority}`);
  }
  if (record.ttl !== undefined && !(Number.isInteger(record.ttl) && record.ttl >= 0)) {
    throw bad(`ttl ${record.ttl}`);
  }
  return { ...record };
}

function validateRcode(rcode: number): number {
  // The header has 4 bits; larger codes need EDNS, which this server does not speak.
  if (!Number.isInteger(rcode) || rcode < 0 || rcode > 15) throw new Error(`Invalid rcode ${rcode}`);
  return rcode;
}

function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function expandIPv6(ip: string): string {
  const [head = '', tail = ''] = ip.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const known = [...groups(head), ...groups(tail)];
  const zeros = ip.includes('::') ? Array(8 - known.length).fill('0') : [];
  return [...groups(head), ...zeros, ...groups(tail)].map((g) => g.padStart(4, '0')).join('');
}

export function assertLoopback(host: string): void {
  const loopback = (isIP(host) === 4 && host.startsWith('127.')) || (isIP(host) === 6 && host === '::1');
  if (!loopback) throw new Error(`Test servers bind loopback addresses only, got '${host}'`);
}

async function listen(host: string, port: number) {
  const type = isIPv6(host) ? 'udp6' : 'udp4';
  // With port 0 the kernel picks a UDP port; TCP then has to get the same one, which may be taken.
  for (let attempt = 1; ; attempt++) {
    const udp = createUDPServer({ type });
    udp.on('error', () => {});
    await bindUdp(udp, port, host);
    const udpPort = udp.address().port;
    const tcp = createTCPServer();
    tcp.on('error', () => {});
    try {
      await listenOn(tcp, host, udpPort);
      return { udp, tcp, port: udpPort };
    } catch (error) {
      await closeUdp(udp);
      if (port !== 0 || attempt >= TCP_PORT_ATTEMPTS) throw error;
    }
  }
}

function bindUdp(socket: UdpSocket, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

function trackSockets(server: TcpServer): Set<TcpSocket> {
  const sockets = new Set<TcpSocket>();
  server.on('connection', (socket: TcpSocket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
  });
  return sockets;
}

function closeUdp(socket: UdpSocket): Promise<void> {
  return new Promise((resolve) => socket.close(() => resolve()));
}

function closeTcp(server: TcpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
