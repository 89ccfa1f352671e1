import { countHeaders, type HeaderField } from './headers.ts';

/** RFC 5321 §6.3: a message with this many trace fields is looping; Postfix uses 50, we use 30. */
export const MAX_RECEIVED_HEADERS = 30;

/** Ingest refuses such a message and delivery bounces it (5.4.6): it has gone round in a loop. */
export function tooManyHops(fields: readonly HeaderField[]): boolean {
  return countHeaders(fields, 'received') > MAX_RECEIVED_HEADERS;
}
