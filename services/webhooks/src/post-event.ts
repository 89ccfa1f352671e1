import { SIGNATURE_HEADER, signWebhookPayload } from './signature.ts';

export interface PostOptions {
  secret: string;
  timeoutMs: number;
  /** Unique per event (the job id): receivers use it to drop a retried event they already have. */
  eventId: string;
  event: string;
  now?: () => number;
}

/** A URL for logs and errors: its origin only, since a path or query may carry a token. */
export const redactUrl = (url: string): string => new URL(url).origin;

/**
 * POSTs one signed event; resolves on a 2xx answer, rejects on anything else (redirects included: a
 * signed event is not sent on to wherever a 3xx points), on a network error, or after the timeout.
 */
export async function postEvent(url: string, body: string, options: PostOptions): Promise<void> {
  const timestamp = Math.floor((options.now ?? Date.now)() / 1000);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Outpost-Webhooks/1',
        [SIGNATURE_HEADER]: signWebhookPayload(options.secret, body, timestamp),
        'outpost-event': options.event,
        'outpost-event-id': options.eventId,
      },
      body,
    });
  } catch (error) {
    const reason =
      (error as Error).name === 'TimeoutError'
        ? `no answer within ${options.timeoutMs} ms`
        : String((error as Error).cause ?? error);
    // Some errors quote the whole URL: only its origin goes into logs and the job's failure.
    throw new Error(`${redactUrl(url)}: ${reason.split(url).join(redactUrl(url))}`);
  }
  await response.body?.cancel().catch(() => {});
  if (response.status < 200 || response.status > 299)
    throw new Error(`${redactUrl(url)}: HTTP ${response.status}`);
}
