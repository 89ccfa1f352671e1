import type { TestRedis } from '@outpost/testing';
import { generateApiKey, type Ingest } from '../src/index.ts';
import { startTestIngest } from './helpers.ts';

/** Keys for the HTTP tests: generated like an operator would, configured by their hashes only. */
export const KEYS = {
  shop: generateApiKey({ name: 'shop', senders: ['alice@example.com', '@shop.example'], rate: 'unlimited' }),
  limited: generateApiKey({ name: 'limited', senders: ['*'], rate: '3/min' }),
  nullSender: generateApiKey({ name: 'bounces', senders: ['<>'], rate: 'unlimited' }),
};

export const API_KEYS_ENV = Object.values(KEYS)
  .map((key) => key.entry)
  .join('\n');

/** Ingest in this process with the test keys; HTTP on a free loopback port. */
export async function startHttpTestIngest(
  redis: TestRedis,
  env: Record<string, string> = {},
): Promise<Ingest> {
  return startTestIngest(redis, { OUTPOST_API_KEYS: API_KEYS_ENV, ...env });
}

/** Either shape of answer; a test asserts the status first and then reads the part it expects. */
export interface ApiAnswerBody {
  id: string;
  recipients: string[];
  error: { code: string; message: string; field?: string };
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  json: ApiAnswerBody;
}

/** POST /v1/messages over a real socket. `key: null` sends no Authorization header. */
export async function postMessage(
  port: number,
  body: unknown,
  options: { key?: string | null; headers?: Record<string, string> } = {},
): Promise<ApiAnswer> {
  const key = options.key === undefined ? KEYS.shop.key : options.key;
  const response = await fetch(`http://127.0.0.1:${port}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key !== null && { authorization: `Bearer ${key}` }),
      ...options.headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: text === '' ? undefined : JSON.parse(text),
  };
}

export async function getPath(
  port: number,
  path: string,
): Promise<{ status: number; headers: Headers; text: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** The Received: field accept() puts on top of a message that came over HTTP. */
export function receivedPattern(id: string, singleRecipient?: string): string {
  const forClause = singleRecipient ? `\\r\\n\\tfor <${escapeRegExp(singleRecipient)}>` : '';
  return (
    `Received: from unknown \\(\\[127\\.0\\.0\\.1\\]\\)\\r\\n` +
    `\\tby mx\\.outpost\\.test \\(Outpost\\) with HTTP id ${id}${forClause};\\r\\n\\t[^\\r\\n]+\\r\\n`
  );
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
