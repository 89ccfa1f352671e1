import { format } from 'node:util';

/** One line of an SMTP conversation: C = we sent, S = the server replied, * = what happened. */
export interface TranscriptLine {
  /** Milliseconds since the attempt started. */
  at: number;
  direction: 'C' | 'S' | '*';
  text: string;
}

/**
 * Collects nodemailer's transaction log (commands and replies; AUTH secrets masked by nodemailer,
 * message bodies never logged with `transactionLog`) as a transcript, capped in bytes so a chatty
 * or hostile server cannot grow it without bound.
 */
export class TranscriptRecorder {
  readonly lines: TranscriptLine[] = [];
  bodySent = false;
  #bytes = 0;
  #truncated = false;
  readonly #started = Date.now();
  readonly #maxBytes: number;
  /** Called once per command sent (C) and per reply received (S), whole multi-line replies included. */
  onExchange: ((direction: 'C' | 'S', text: string) => void) | undefined;

  constructor(maxBytes = 32 * 1024) {
    this.#maxBytes = maxBytes;
  }

  note(text: string): void {
    this.#push('*', text);
  }

  /** The bunyan-style logger nodemailer expects (made once: every line of a session goes through it). */
  readonly logger = (() => {
    const log = (entry: unknown, message?: unknown, ...args: unknown[]) => this.#onLog(entry, message, args);
    return { trace: log, debug: log, info: log, warn: log, error: log, fatal: log };
  })();

  #onLog(entry: unknown, message: unknown, args: unknown[]): void {
    const tnx = (entry as { tnx?: string } | undefined)?.tnx;
    const text = typeof message === 'string' ? format(message, ...args) : '';
    if (tnx === 'client') this.#exchange('C', text);
    else if (tnx === 'server') this.#exchange('S', text);
    else if (tnx === 'message') {
      // nodemailer logs this once the whole body and the final dot have been written.
      this.bodySent = true;
      this.#exchange('C', text);
    } else if (tnx === 'network' || tnx === 'connection') this.#push('*', text);
  }

  #exchange(direction: 'C' | 'S', text: string): void {
    this.#push(direction, text);
    this.onExchange?.(direction, text);
  }

  #push(direction: TranscriptLine['direction'], text: string): void {
    if (this.#truncated) return;
    for (const line of text.split(/\r?\n/)) {
      if (line === '') continue;
      this.#bytes += line.length + 4;
      if (this.#bytes > this.#maxBytes) {
        this.#truncated = true;
        this.lines.push({ at: Date.now() - this.#started, direction: '*', text: '[transcript truncated]' });
        return;
      }
      this.lines.push({ at: Date.now() - this.#started, direction, text: line });
    }
  }
}
