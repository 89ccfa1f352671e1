import { Readable } from 'node:stream';

/**
 * The message as a stream whose end, and so the final dot nodemailer appends at the end
 * (RFC 5321 §4.1.1.4), waits for `beforeDot`. Once the dot is out the receiver may have the message
 * whatever happens to us next (RFC 1047), so the caller records "sent" first. When `beforeDot`
 * fails the stream fails instead of ending: the dot is never written.
 */
export function bodyWithGatedDot(body: Buffer, beforeDot: () => Promise<void>): Readable {
  let bodyPushed = false;
  let gateOpened = false;
  return new Readable({
    read() {
      if (!bodyPushed) {
        bodyPushed = true;
        if (body.length > 0) {
          this.push(body);
          return;
        }
      }
      if (gateOpened) return;
      gateOpened = true;
      beforeDot().then(
        () => this.push(null),
        (error: unknown) => this.destroy(error instanceof Error ? error : new Error(String(error))),
      );
    },
  });
}
