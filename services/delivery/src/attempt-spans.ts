import type { DnsResolver } from '@outpost/dns';
import { ATTR, type Context, contextWith, type Span, SpanStatusCode, type Tracer } from '@outpost/telemetry';
import type { AttemptReport, SessionRecord } from './attempt-delivery.ts';

/** A resolver whose lookups are `dns.resolve` spans under the attempt's span. */
export function tracedResolver(resolver: DnsResolver, tracer: Tracer, parent: Context): DnsResolver {
  const traced = async <T>(type: string, name: string, run: () => Promise<T>): Promise<T> => {
    const span = tracer.startSpan(
      'dns.resolve',
      { attributes: { [ATTR.dnsQuestionName]: name, [ATTR.dnsRecordType]: type } },
      parent,
    );
    try {
      return await run();
    } catch (error) {
      span.setAttribute(ATTR.errorType, (error as { failure?: string }).failure ?? 'error');
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
      throw error;
    } finally {
      span.end();
    }
  };
  return {
    resolveMx: (domain) => traced('MX', domain, () => resolver.resolveMx(domain)),
    resolveAddresses: (host) => traced('A/AAAA', host, () => resolver.resolveAddresses(host)),
    forget: (host) => resolver.forget(host),
  };
}

/**
 * One `smtp.connect` span per address tried (up to the banner) and one `smtp.session` span per
 * session whose events are the transcript lines, both children of the attempt span.
 */
export function recordSessionSpans(
  tracer: Tracer,
  parent: Context,
  sessions: readonly SessionRecord[],
): void {
  for (const session of sessions) {
    const endedAt = session.startedAt + session.durationMs;
    const network = {
      [ATTR.serverAddress]: session.host,
      [ATTR.serverPort]: session.port,
      [ATTR.peerAddress]: session.address,
    };
    const banner = session.transcript.find((line) => line.direction === 'S');
    const connect = tracer.startSpan(
      'smtp.connect',
      { attributes: network, startTime: session.startedAt },
      parent,
    );
    if (!banner)
      connect.setStatus({
        code: SpanStatusCode.ERROR,
        message: session.transcript.at(-1)?.text ?? 'no banner',
      });
    connect.end(banner ? session.startedAt + banner.at : endedAt);
    const smtp: Span = tracer.startSpan(
      'smtp.session',
      { attributes: { ...network, [ATTR.tlsEstablished]: session.tls }, startTime: session.startedAt },
      contextWith(connect, parent),
    );
    for (const line of session.transcript) {
      smtp.addEvent(
        line.direction === 'C' ? 'smtp.command' : line.direction === 'S' ? 'smtp.reply' : 'smtp.note',
        { text: line.text },
        session.startedAt + line.at,
      );
    }
    if (!session.greeted) smtp.setStatus({ code: SpanStatusCode.ERROR });
    smtp.end(endedAt);
  }
}

/** Outcome attributes on the attempt span: counts per verdict, and the decisive category. */
export function annotateAttemptSpan(span: Span, report: Pick<AttemptReport, 'outcomes'>): void {
  const counts = { delivered: 0, deferred: 0, bounced: 0 };
  for (const outcome of report.outcomes) counts[outcome.classification.verdict]++;
  span.setAttribute('outpost.delivered', counts.delivered);
  span.setAttribute('outpost.deferred', counts.deferred);
  span.setAttribute('outpost.bounced', counts.bounced);
  const failure = report.outcomes.find((outcome) => outcome.classification.verdict !== 'delivered');
  if (failure) {
    span.setAttribute(ATTR.category, failure.classification.category);
    span.setAttribute(ATTR.smtpReplyEnhanced, failure.classification.status);
    if (failure.event.kind === 'reply') span.setAttribute(ATTR.smtpReplyCode, failure.event.reply.code);
    span.setAttribute(ATTR.verdict, failure.classification.verdict);
  } else {
    span.setAttribute(ATTR.verdict, 'delivered');
  }
}
