/**
 * Reads `smtp-sink -c` output: it rewrites one status line, "sess=N quit=N mesg=N", ending each
 * version with a carriage return, whenever a session ends, a QUIT is answered or a final "." arrives.
 * The last mesg= value is the number of messages that sink has taken.
 */
export class SinkCounter {
  #pending = '';
  #messages = 0;
  #sessions = 0;

  get messages(): number {
    return this.#messages;
  }

  get sessions(): number {
    return this.#sessions;
  }

  /** Feeds a chunk of the sink's stdout; returns the message count after it. */
  feed(chunk: string): number {
    const text = this.#pending + chunk;
    const parts = text.split(/[\r\n]/);
    this.#pending = parts.pop() ?? '';
    for (const part of parts) {
      const messages = part.match(/\bmesg=(\d+)/);
      if (messages) this.#messages = Math.max(this.#messages, Number(messages[1]));
      const sessions = part.match(/\bsess=(\d+)/);
      if (sessions) this.#sessions = Math.max(this.#sessions, Number(sessions[1]));
    }
    return this.#messages;
  }
}
