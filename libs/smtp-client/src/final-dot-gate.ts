import { Readable } from 'node:stream';

/**
 * The message as a stream that gives nothing until `beforeDot` resolves, then the whole body and its
 * end in one turn. Nodemailer appends the final dot at the end (RFC 5321 §4.1.1.4), so the dot waits
 * for `beforeDot`: once the dot is out the receiver may have the message whatever happens to us next
 * (RFC 1047), and the caller records "sent" first. Holding the body too costs no time (the dot
 * waits anyway) and lets body and dot leave in one write: `beforeRelease` runs just before, to
 * batch the socket's writes of that turn. When `beforeDot` fails the stream fails instead of
 * ending: neither body nor dot is written.
 */
export function bodyWithGatedDot(
  body: Buffer,
  beforeDot: () => Promise<void>,
  beforeRelease: () => void = () => {},
): Readable {
  let gateOpened = false;
  return new Readable({
    read() {
      if (gateOpened) return;
      gateOpened = true;
      beforeDot().then(
        () => {
          beforeRelease();
          if (body.length > 0) this.push(body);
          this.push(null);
        },
        (error: unknown) => this.destroy(error instanceof Error ? error : new Error(String(error))),
      );
    },
  });
}
