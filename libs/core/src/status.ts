/**
 * One vocabulary for a recipient's state, shared by records, API, CLI, metrics and span attributes.
 * "Failed" in queries means bounced or expired.
 */
export const RECIPIENT_STATUSES = ['queued', 'deferred', 'delivered', 'bounced', 'expired', 'held'] as const;
export type RecipientStatus = (typeof RECIPIENT_STATUSES)[number];

export const FAILED_STATUSES = ['bounced', 'expired'] as const satisfies readonly RecipientStatus[];
export const FINAL_STATUSES = [
  'delivered',
  'bounced',
  'expired',
] as const satisfies readonly RecipientStatus[];

export function isRecipientStatus(value: string): value is RecipientStatus {
  return (RECIPIENT_STATUSES as readonly string[]).includes(value);
}

export function isFinalStatus(status: RecipientStatus): boolean {
  return (FINAL_STATUSES as readonly string[]).includes(status);
}

/** The outcome of one delivery attempt for one recipient. */
export const ATTEMPT_VERDICTS = ['delivered', 'deferred', 'bounced'] as const;
export type AttemptVerdict = (typeof ATTEMPT_VERDICTS)[number];
