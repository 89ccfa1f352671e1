import { request } from 'node:https';
import type { SecureContext } from 'node:tls';
import { checkDnsIdentity } from '@outpost/smtp-client';

/** §3.3: "a suggested maximum policy size is 64 kilobytes". */
export const MAX_POLICY_BYTES = 64 * 1024;

export const POLICY_PATH = '/.well-known/mta-sts.txt';

export type PolicyFetchFailure =
  | 'no-address'
  | 'connect'
  | 'tls'
  | 'timeout'
  | 'redirect'
  | 'status'
  | 'content-type'
  | 'too-large'
  | 'invalid';

export class PolicyFetchError extends Error {
  readonly failure: PolicyFetchFailure;
  constructor(failure: PolicyFetchFailure, message: string) {
    super(message);
    this.name = 'PolicyFetchError';
    this.failure = failure;
  }
}

export interface PolicyFetchOptions {
  /** The HTTPS port of policy hosts: 443, other ports only in tests. */
  port: number;
  /** The whole fetch, all addresses included (§3.3 suggests one minute). */
  timeoutMs: number;
  /** Trust store with extra CAs; Node's default CAs when absent. */
  secureContext?: SecureContext;
  /** The addresses of the policy host in the order to try (already resolved and filtered). */
  addressesOf(host: string): Promise<string[]>;
  maxBytes?: number;
}

/**
 * GET https://mta-sts.<domain>/.well-known/mta-sts.txt as RFC 8461 §3.3 asks: a certificate valid for
 * the policy host (a DNS-ID, RFC 6125), HTTP 200 only and no redirects followed, media type
 * text/plain, at most 64 KB, within a deadline. The host is resolved with the project's resolver
 * (so tests can point it at loopback) and each address is tried until one answers.
 */
export async function fetchPolicyText(domain: string, options: PolicyFetchOptions): Promise<string> {
  const policyHost = `mta-sts.${domain}`;
  const deadline = Date.now() + options.timeoutMs;
  const addresses = await options.addressesOf(policyHost);
  if (addresses.length === 0) throw new PolicyFetchError('no-address', `${policyHost} has no usable address`);
  let lastError: PolicyFetchError | undefined;
  for (const address of addresses) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    try {
      return await getOnce(policyHost, address, { ...options, timeoutMs: remaining });
    } catch (error) {
      lastError = error instanceof PolicyFetchError ? error : new PolicyFetchError('connect', String(error));
      // Only a server that could not be reached makes another address worth a try.
      if (lastError.failure !== 'connect') throw lastError;
    }
  }
  throw lastError ?? new PolicyFetchError('timeout', `fetching the policy of ${domain} timed out`);
}

function getOnce(policyHost: string, address: string, options: PolicyFetchOptions): Promise<string> {
  const maxBytes = options.maxBytes ?? MAX_POLICY_BYTES;
  const url = `https://${policyHost}${options.port === 443 ? '' : `:${options.port}`}${POLICY_PATH}`;
  return new Promise<string>((resolve, reject) => {
    let settled = false;
    const finish = (error: PolicyFetchError | undefined, text?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      if (error) reject(error);
      else resolve(text ?? '');
    };
    const req = request(
      {
        host: address,
        port: options.port,
        path: POLICY_PATH,
        method: 'GET',
        servername: policyHost,
        headers: {
          host: options.port === 443 ? policyHost : `${policyHost}:${options.port}`,
          accept: 'text/plain',
        },
        // A fresh connection each time: nothing verified under other options is reused.
        agent: false,
        rejectUnauthorized: true,
        checkServerIdentity: checkDnsIdentity,
        ...(options.secureContext && { secureContext: options.secureContext }),
      },
      (response) => {
        const status = response.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          const where = response.headers.location ? ` to ${response.headers.location}` : '';
          return finish(
            new PolicyFetchError(
              'redirect',
              `${url} answered ${status}${where}: redirects are not followed (RFC 8461 §3.3)`,
            ),
          );
        }
        if (status !== 200) return finish(new PolicyFetchError('status', `${url} answered HTTP ${status}`));
        const mediaType = (response.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (mediaType !== 'text/plain') {
          return finish(
            new PolicyFetchError(
              'content-type',
              `${url} is ${mediaType || 'untyped'}, not text/plain (RFC 8461 §3.3)`,
            ),
          );
        }
        const tooLarge = () => new PolicyFetchError('too-large', `${url} is larger than ${maxBytes} bytes`);
        if (Number(response.headers['content-length'] ?? 0) > maxBytes) return finish(tooLarge());
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) finish(tooLarge());
          else chunks.push(chunk);
        });
        response.on('end', () => finish(undefined, Buffer.concat(chunks).toString('utf8')));
        response.on('error', (error) => finish(new PolicyFetchError('connect', `${url}: ${error.message}`)));
        response.on('close', () => {
          if (!response.complete)
            finish(new PolicyFetchError('connect', `${url}: the response was cut short`));
        });
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      const tls = /CERT|SSL|TLS|certificate/i.test(`${error.code ?? ''} ${error.message}`);
      finish(
        new PolicyFetchError(
          tls ? 'tls' : 'connect',
          `${url} [${address}]: ${error.code ?? ''} ${error.message}`.trim(),
        ),
      );
    });
    const timer = setTimeout(
      () =>
        finish(
          new PolicyFetchError(
            'timeout',
            `${url} [${address}] did not answer within ${options.timeoutMs} ms`,
          ),
        ),
      options.timeoutMs,
    );
    timer.unref();
    req.end();
  });
}
