/** Why a message's DATA cannot be accepted as it stands. */
export type MessageLineViolation = 'bareCarriageReturn' | 'bareLineFeed' | 'nul' | 'lineTooLong';

/** RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets, the CRLF included. */
export const MAX_TEXT_LINE_OCTETS = 1000;

const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;
const MAX_LINE_CONTENT = MAX_TEXT_LINE_OCTETS - 2;

/**
 * Checks DATA as it streams in, one chunk at a time, keeping only two facts across chunk boundaries
 * (a CR waiting for its LF, the length of the current line), so nothing is buffered.
 *
 * SMTP smuggling (the CVE-2023-51764 family) works because receivers disagree on where DATA ends
 * when a bare CR or LF surrounds the dot (`\n.\n`, `\r.\r\n`, ...), or when a NUL hides it
 * (`\r\n\x00.\r\n`). RFC 5321 §2.3.8 allows CR and LF only as a CRLF pair; a message with anything
 * else is refused whole, so it can never reach a next hop that would read a second message in it.
 * The first violation sticks: later chunks are not looked at.
 */
export class MessageLineChecker {
  #pendingCr = false;
  #lineLength = 0;
  #violation: MessageLineViolation | undefined;

  get violation(): MessageLineViolation | undefined {
    return this.#violation;
  }

  push(chunk: Uint8Array): MessageLineViolation | undefined {
    if (this.#violation !== undefined || chunk.length === 0) return this.#violation;
    if (chunk.indexOf(NUL) !== -1) return this.#fail('nul');
    let lineStart = 0;
    if (this.#pendingCr) {
      if (chunk[0] !== LF) return this.#fail('bareCarriageReturn');
      this.#pendingCr = false;
      this.#lineLength = 0;
      lineStart = 1;
    }
    // Searching for the next CR and the next LF separately keeps this linear and native-speed.
    let nextCr = chunk.indexOf(CR, lineStart);
    let nextLf = chunk.indexOf(LF, lineStart);
    while (nextCr !== -1 || nextLf !== -1) {
      // An LF before any CR of this line has no CR in front of it.
      if (nextCr === -1 || (nextLf !== -1 && nextLf < nextCr)) return this.#fail('bareLineFeed');
      this.#lineLength += nextCr - lineStart;
      if (this.#lineLength > MAX_LINE_CONTENT) return this.#fail('lineTooLong');
      if (nextCr === chunk.length - 1) {
        this.#pendingCr = true;
        return undefined;
      }
      if (chunk[nextCr + 1] !== LF) return this.#fail('bareCarriageReturn');
      this.#lineLength = 0;
      lineStart = nextCr + 2;
      nextCr = chunk.indexOf(CR, lineStart);
      nextLf = chunk.indexOf(LF, lineStart);
    }
    this.#lineLength += chunk.length - lineStart;
    if (this.#lineLength > MAX_LINE_CONTENT) return this.#fail('lineTooLong');
    return undefined;
  }

  /** The verdict once DATA is complete: a CR at the very end never met its LF. */
  end(): MessageLineViolation | undefined {
    if (this.#violation === undefined && this.#pendingCr) return this.#fail('bareCarriageReturn');
    return this.#violation;
  }

  #fail(violation: MessageLineViolation): MessageLineViolation {
    this.#violation = violation;
    return violation;
  }
}
