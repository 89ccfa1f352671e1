/**
 * RFC 5321 §4.5.3.2 per-command reply timeouts. nodemailer only has one inactivity timeout, so this
 * watches the commands and replies as they pass (pipelined commands queue up, RFC 2920) and ends
 * the session when the reply to the command at the head of the queue is overdue.
 */
export interface ReplyTimeouts {
  /** EHLO/HELO: not in §4.5.3.2, but a trickling reply must not hold a session forever (Postfix: 300 s). */
  heloMs: number;
  /** STARTTLS (RFC 3207), likewise. */
  starttlsMs: number;
  /** MAIL (§4.5.3.2.2) */
  mailMs: number;
  /** RCPT (§4.5.3.2.3) */
  rcptMs: number;
  /** DATA initiation, waiting for the 354 (§4.5.3.2.4) */
  dataMs: number;
  /** After the final dot, waiting for the reply (§4.5.3.2.6) */
  endOfDataMs: number;
}

export const RFC5321_REPLY_TIMEOUTS: ReplyTimeouts = {
  heloMs: 300_000,
  starttlsMs: 300_000,
  mailMs: 300_000,
  rcptMs: 300_000,
  dataMs: 120_000,
  endOfDataMs: 600_000,
};

/** Which timeout a command line (as nodemailer logs it) waits under; undefined: the inactivity one. */
export function replyTimeoutFor(
  command: string,
  timeouts: ReplyTimeouts,
): { name: string; ms: number } | undefined {
  const verb = command.slice(0, 4).toUpperCase();
  if (verb === 'EHLO' || verb === 'HELO') return { name: verb, ms: timeouts.heloMs };
  if (verb === 'STAR' && command.toUpperCase().startsWith('STARTTLS'))
    return { name: 'STARTTLS', ms: timeouts.starttlsMs };
  if (verb === 'MAIL') return { name: 'MAIL', ms: timeouts.mailMs };
  if (verb === 'RCPT') return { name: 'RCPT', ms: timeouts.rcptMs };
  if (verb === 'DATA') return { name: 'DATA', ms: timeouts.dataMs };
  if (command.startsWith('<')) return { name: 'end of data', ms: timeouts.endOfDataMs };
  return undefined;
}

export function createReplyWatchdog(timeouts: ReplyTimeouts, onOverdue: (what: string, ms: number) => void) {
  const waiting: Array<{ name: string; ms: number } | undefined> = [];
  let timer: NodeJS.Timeout | undefined;
  let fired = false;
  const arm = () => {
    clearTimeout(timer);
    timer = undefined;
    const head = waiting[0];
    if (!head || fired) return;
    timer = setTimeout(() => {
      fired = true;
      onOverdue(head.name, head.ms);
    }, head.ms);
    timer.unref();
  };
  return {
    exchange(direction: 'C' | 'S', text: string): void {
      if (direction === 'C') {
        waiting.push(replyTimeoutFor(text, timeouts));
        if (waiting.length === 1) arm();
      } else {
        waiting.shift();
        arm();
      }
    },
    get fired(): boolean {
      return fired;
    },
    stop(): void {
      clearTimeout(timer);
      waiting.length = 0;
    },
  };
}
