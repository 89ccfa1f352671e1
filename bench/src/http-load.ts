/**
 * The HTTP load generator: `concurrency` keep-alive connections (node:http Agent), each sending its
 * share of the messages one request after the other to POST /v1/messages with a Bearer key, so
 * `concurrency` requests are in flight at any time. Same recipients as the SMTP workload (1-3 at 4
 * domains); the body is either the parts of a message (`composed`: {from, to, subject, text}, ingest
 * builds the MIME) or the SMTP workload's message as `raw`.
 *
 * Every request body is built before the clock starts, and the connections are opened beforehand
 * (one GET /healthz on each), as the SMTP generator has its EHLOs answered before its clock starts.
 * Run as a script it is the benchmark's child process: options as JSON in argv[2], "STARTED {}" when
 * the clock starts, then the result as one "RESULT {...}" line on stdout.
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { fillerLines, type LoadResult, messageText, SENDER, workloadRecipients } from './smtp-load.ts';
import { latencyOf } from './stats.ts';

export const HTTP_BODIES = ['composed', 'raw'] as const;
export type HttpBody = (typeof HTTP_BODIES)[number];

export interface HttpLoadOptions {
  host: string;
  port: number;
  messages: number;
  /** Requests in flight at once, each on its own keep-alive connection. */
  concurrency: number;
  /** Request body size in bytes (JSON), about. */
  messageSize: number;
  body: HttpBody;
  apiKey: string;
  /** A request without an answer for this long fails. */
  timeoutMs?: number;
}

export interface HttpRequestBody {
  json: Buffer;
  recipients: number;
  /** Distinct recipient domains: the delivery jobs ingest should create. */
  domains: number;
}

/**
 * Request `index`: `composed` is {from, to, subject, text} with the text filled up so that the JSON is
 * `size` bytes; `raw` carries the SMTP workload's `size`-byte message (the JSON is a little larger:
 * CR and LF are escaped).
 */
export function buildHttpBody(index: number, size: number, body: HttpBody): HttpRequestBody {
  const recipients = workloadRecipients(index);
  let json: string;
  if (body === 'raw') {
    json = JSON.stringify({ from: SENDER, to: recipients, raw: messageText(index, size).message });
  } else {
    const request = {
      from: `Outpost Bench <${SENDER}>`,
      to: recipients,
      subject: `Outpost ingest benchmark, message ${index}`,
      text: '',
    };
    // The text's CRLFs are escaped in JSON (4 bytes each): shrink the text until the JSON fits.
    const jsonBytes = (text: string) => Buffer.byteLength(JSON.stringify({ ...request, text }));
    let textBytes = size - jsonBytes('');
    let text = fillerLines(index, textBytes).join('');
    for (let excess = jsonBytes(text) - size; excess > 0 && textBytes > 0; excess = jsonBytes(text) - size) {
      textBytes -= excess;
      text = fillerLines(index, textBytes).join('');
    }
    json = JSON.stringify({ ...request, text });
  }
  return {
    json: Buffer.from(json, 'utf8'),
    recipients: recipients.length,
    domains: new Set(recipients.map((address) => address.slice(address.indexOf('@') + 1))).size,
  };
}

interface Answer {
  status: number;
  body: string;
}

function send(
  agent: Agent,
  options: HttpLoadOptions,
  method: 'GET' | 'POST',
  path: string,
  payload?: Buffer,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: options.host,
        port: options.port,
        method,
        path,
        headers: payload
          ? {
              authorization: `Bearer ${options.apiKey}`,
              'content-type': 'application/json',
              'content-length': payload.length,
            }
          : {},
        timeout: options.timeoutMs ?? 30_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs ?? 30_000} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Runs the workload against ingest's HTTP API; never throws for refusals, only counts them. */
export async function runHttpLoad(options: HttpLoadOptions, hooks: { onStart?: () => void } = {}) {
  const { messages, concurrency } = options;
  const workload = Array.from({ length: messages }, (_, index) =>
    buildHttpBody(index, options.messageSize, options.body),
  );
  const latencies = new Float64Array(messages).fill(Number.NaN);
  const failures: Record<string, number> = {};
  const fail = (reason: string) => {
    const key = reason.split('\n')[0]!.slice(0, 160);
    failures[key] = (failures[key] ?? 0) + 1;
  };
  let accepted = 0;
  let expectedDeliveryJobs = 0;
  let lastReply = 0;
  // One socket per concurrent request; lifo hands the warmed-up sockets out again.
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });

  const cpuBefore = process.cpuUsage();
  const setupStart = performance.now();
  const probes = await Promise.all(
    Array.from({ length: concurrency }, () => send(agent, options, 'GET', '/healthz')),
  );
  const bad = probes.find((probe) => probe.status !== 200);
  if (bad) throw new Error(`GET /healthz: ${bad.status} ${bad.body}`);
  const start = performance.now();
  hooks.onStart?.();

  const session = async (first: number) => {
    for (let index = first; index < messages; index += concurrency) {
      const item = workload[index]!;
      const sent = performance.now();
      try {
        const answer = await send(agent, options, 'POST', '/v1/messages', item.json);
        const now = performance.now();
        latencies[index] = now - sent;
        lastReply = Math.max(lastReply, now);
        if (answer.status === 202) {
          accepted++;
          expectedDeliveryJobs += item.domains;
        } else fail(`HTTP ${answer.status} ${answer.body}`);
      } catch (error) {
        fail(`request error: ${(error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, worker) => session(worker)));
  const cpu = process.cpuUsage(cpuBefore);
  agent.destroy();

  const measured = Array.from(latencies.filter((value) => !Number.isNaN(value))).sort((a, b) => a - b);
  const elapsedMs = (lastReply || performance.now()) - start;
  const result: LoadResult = {
    messages,
    accepted,
    failed: messages - accepted,
    failures,
    recipients: workload.reduce((sum, item) => sum + item.recipients, 0),
    expectedDeliveryJobs,
    elapsedMs,
    acceptedPerSecond: accepted / (elapsedMs / 1000),
    latencyMs: latencyOf(measured),
    setupMs: start - setupStart,
    cpuMs: { user: cpu.user / 1000, system: cpu.system / 1000 },
    requestBytes: Math.round(workload.reduce((sum, item) => sum + item.json.length, 0) / (messages || 1)),
  };
  return result;
}

// As the benchmark's child process: options in, "STARTED {}" when the clock starts, then
// "RESULT {...}"; exits with its parent.
if (import.meta.main) {
  process.stdin.on('end', () => process.exit(1));
  process.stdin.resume();
  try {
    const options = JSON.parse(process.argv[2] ?? '{}') as HttpLoadOptions;
    const result = await runHttpLoad(options, { onStart: () => process.stdout.write('STARTED {}\n') });
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`, () => process.exit(0));
  } catch (error) {
    process.stderr.write(`HTTP load generator failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  }
}
