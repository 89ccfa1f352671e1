/** Why a message could not be stored: decides between 451 (try again) and 452 (we are full). */
export class StorageError extends Error {
  readonly kind: 'unavailable' | 'full';
  constructor(kind: 'unavailable' | 'full', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageError';
    this.kind = kind;
  }
}

/** Redis answers "OOM command not allowed when used memory > 'maxmemory'" under noeviction. */
export function toStorageError(error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  const text = error instanceof Error ? error.message : String(error);
  // A refused command inside MULTI surfaces as EXECABORT, with the real reason in previousErrors.
  const previous = (error as { previousErrors?: unknown[] } | undefined)?.previousErrors ?? [];
  const reasons = [
    text,
    ...previous.map((cause) => (cause instanceof Error ? cause.message : String(cause))),
  ];
  if (reasons.some((reason) => /\bOOM\b/.test(reason)))
    return new StorageError('full', `Redis is out of memory: ${text}`, { cause: error });
  return new StorageError('unavailable', `Redis write failed: ${text}`, { cause: error });
}
