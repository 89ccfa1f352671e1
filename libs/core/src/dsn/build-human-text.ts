import { formatRfc5322Date } from '../rfc5322-date.ts';
import type { DsnRecipient, DsnReport } from './dsn-report.ts';
import { explainCategory } from './explain-category.ts';
import { wrapText } from './wrap-text.ts';

const INDENT = '    ';

/**
 * The human-readable first part of the report (RFC 3462 §1: it "should explain the report to a
 * human reader"): which recipients, what the remote server said, what it means and what to do.
 * Lines end in CRLF.
 */
export function buildHumanText(report: DsnReport): string {
  const lines: string[] = [`This is the mail system at ${report.reportingMta}.`, ''];
  lines.push(...wrapText(`${introduction(report)} ${attachmentSentence(report)}`), '');
  lines.push(...originalSummary(report), '');
  for (const recipient of report.recipients) lines.push(...recipientSection(report, recipient), '');
  lines.push(
    ...wrapText(
      'The same information is attached in the standard format that mail programs read (RFC 3464). ' +
        `Reference for your mail administrator: message ${report.messageId} at ${report.reportingMta}.`,
    ),
  );
  return `${lines.join('\r\n')}\r\n`;
}

function introduction(report: DsnReport): string {
  const count = plural(report.recipients.length, 'recipient');
  if (report.audience === 'postmaster') {
    return (
      `This is a copy for the postmaster. A message with an empty envelope sender (<>), such as a ` +
      `delivery report or an automatic reply, could not be delivered to ${count}. It has no sender ` +
      'to tell, so this copy is the only report.'
    );
  }
  if (report.event === 'delayed') {
    return (
      `Your message has not been delivered yet to ${count}. This is only a warning: we are still ` +
      'trying, and you do not need to send the message again.'
    );
  }
  if (report.event === 'delivered') {
    return `Your message was delivered to ${count}; you asked to be told when it was.`;
  }
  return `Your message could not be delivered to ${count}. We have stopped trying; the details are below.`;
}

function attachmentSentence(report: DsnReport): string {
  const whose = report.audience === 'postmaster' ? 'the' : 'your';
  if (report.returned === 'message') return `A copy of ${whose} message is attached.`;
  if (report.returned === 'headers-of-large-message') {
    return `${capitalize(whose)} message was too large to return in full; its headers are attached.`;
  }
  return `The headers of ${whose} message are attached.`;
}

function originalSummary(report: DsnReport): string[] {
  const rows: Array<[string, string | undefined]> = [
    ['Subject', report.original.subject],
    ['Sent to us', formatRfc5322Date(report.arrivalTime)],
    ['Message-ID', report.original.messageId],
  ];
  return rows
    .filter((row): row is [string, string] => row[1] !== undefined && row[1] !== '')
    .map(([label, value]) => `  ${`${label}:`.padEnd(12)}${readable(value)}`);
}

function recipientSection(report: DsnReport, recipient: DsnRecipient): string[] {
  const explanation = explainCategory(recipient.category);
  const cause =
    recipient.category === 'unknown' && !recipient.diagnostic
      ? 'The reason is not known.'
      : explanation.cause;
  const lines = [`<${recipient.address}>: ${headline(report, recipient)}`];
  const say = (label: string, text: string) => lines.push(...wrapText(`${label}: ${text}`, 72, INDENT));
  if (recipient.action === 'delayed') {
    say('What happened', cause);
    const until = recipient.willRetryUntil;
    say(
      'What you can do',
      until === undefined
        ? 'Nothing for now. We will keep trying and write to you again only if we give up.'
        : `Nothing for now. We will keep trying until ${formatRfc5322Date(until)} and write to you again only if we give up.`,
    );
  } else if (recipient.action === 'failed' && recipient.reason === 'suppressed') {
    // Automatic entries come from a permanent failure of a known category; others were added by hand.
    const known = recipient.category !== 'unknown';
    say(
      'What happened',
      known
        ? 'We did not try to deliver the message: an earlier message to this address failed permanently, ' +
            `so the address is on our suppression list for a while. That failure: ${cause}`
        : 'We did not try to deliver the message: the address is on our suppression list for a while.',
    );
    say(
      'What you can do',
      `${known ? `${explanation.advice} ` : ''}If the address works again, ask your mail administrator to take it off the suppression list.`,
    );
  } else if (recipient.action === 'failed' && recipient.status === 'expired') {
    say(
      'What happened',
      `We tried to deliver the message for ${describeDuration(recipient.at - report.arrivalTime)} ` +
        `without success and have given up. The last problem: ${cause}`,
    );
    say('What you can do', explanation.advice);
  } else if (recipient.action === 'failed') {
    say('What happened', cause);
    say('What you can do', explanation.advice);
  }
  if (recipient.diagnostic) {
    const server = recipient.remoteHost
      ? `${recipient.remoteHost}${recipient.remoteAddress ? ` [${recipient.remoteAddress}]` : ''}`
      : undefined;
    const isReply = /^[2-5]\d\d(?:[ -]|$)/.test(recipient.diagnostic);
    lines.push(`${INDENT}${isReply && server ? `The server ${server} answered:` : 'Details:'}`);
    lines.push(...wrapText(readable(recipient.diagnostic), 72, `${INDENT}  `));
  }
  return lines;
}

function headline(report: DsnReport, recipient: DsnRecipient): string {
  if (recipient.action === 'delivered') return 'delivered';
  if (recipient.action === 'delayed') return 'not delivered yet, still trying';
  if (recipient.reason === 'suppressed') return 'not delivered (not attempted: the address is suppressed)';
  if (recipient.status === 'expired') {
    return `not delivered (gave up after ${describeDuration(recipient.at - report.arrivalTime)})`;
  }
  return 'not delivered';
}

/** "5 days", "4 hours", "2 seconds": the largest unit that fits, rounded. */
export function describeDuration(ms: number): string {
  const units: Array<[number, string]> = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
  ];
  for (const [size, name] of units) if (ms >= size) return plural(Math.round(ms / size), name);
  return plural(Math.max(1, Math.round(ms / 1_000)), 'second');
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Header summaries are stored one char per byte (latin1); shown as UTF-8 when they are, and
 * without control characters either way.
 */
function readable(value: string): string {
  const bytes = Buffer.from(value, 'latin1');
  const utf8 = bytes.toString('utf8');
  const text = /[^\x00-\xff]/.test(value) || utf8.includes('\ufffd') ? value : utf8;
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
}
