import { parseDuration } from '@outpost/config';

/**
 * A `since`/`until` bound: a duration ("1h": that long ago), epoch milliseconds, or an ISO 8601
 * time. Undefined when it is none of these.
 */
export function parseTimeBound(text: string, now = Date.now()): number | undefined {
  const value = text.trim();
  if (/^\d+$/.test(value)) return Number(value);
  if (/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/i.test(value)) {
    const ms = parseDuration(value);
    return ms === undefined ? undefined : now - ms;
  }
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : time;
}
