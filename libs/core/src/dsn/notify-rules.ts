import type { DsnNotify } from '../message.ts';
import type { DsnAction } from './dsn-report.ts';

const NOTIFY_FOR: Readonly<Record<DsnAction, DsnNotify>> = {
  failed: 'FAILURE',
  delayed: 'DELAY',
  delivered: 'SUCCESS',
};

/**
 * RFC 3461 §4.1: NOTIFY=NEVER asks for no DSN at all; a list asks for exactly those events; without
 * NOTIFY an MTA reports failures and MAY report delays (we do: "FAILURE,DELAY" is the default
 * behaviour of common MTAs), never successes.
 */
export function wantsNotification(notify: readonly DsnNotify[] | undefined, event: DsnAction): boolean {
  if (notify === undefined || notify.length === 0) return event !== 'delivered';
  if (notify.includes('NEVER')) return false;
  return notify.includes(NOTIFY_FOR[event]);
}
