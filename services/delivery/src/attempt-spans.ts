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
    resolveTxt: (name) => traced('TXT', name, () => resolver.resolveTxt(name)),
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
      { attributes: { ...network, ...tlsAttributes(session) }, startTime: session.startedAt },
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

/**
 * The session's TLS outcome: OpenTelemetry's tls.* keys where they exist (`tls.protocol.version` is
 * "1.3" for TLSv1.3), ours for the mode, the certificate check and the MTA-STS policy.
 */
function tlsAttributes(session: SessionRecord): Record<string, string | number | boolean> {
  const tls = session.tlsOutcome;
  const version = tls.protocol?.match(/^TLSv(\d(?:\.\d)?)$/)?.[1];
  return {
    [ATTR.tlsEstablished]: session.tls,
    [ATTR.tlsMode]: tls.mode,
    ...(tls.protocol && { [ATTR.tlsProtocolName]: 'tls' }),
    ...(version && { [ATTR.tlsProtocolVersion]: version }),
    ...(tls.certificateVerified !== undefined && { [ATTR.tlsCertificateVerified]: tls.certificateVerified }),
    ...(tls.error && { [ATTR.tlsError]: tls.error }),
    ...(tls.mtaSts && { [ATTR.mtaStsMode]: tls.mtaSts.mode, [ATTR.mtaStsPolicyId]: tls.mtaSts.policyId }),
  };
}

/** Outcome attributes on the attempt span: counts per verdict, and the decisive category. */
export function annotateAttemptSpan(span: Span, report: Pick<AttemptReport, 'outcomes' | 'mtaSts'>): void {
  if (report.mtaSts) {
    span.setAttribute(ATTR.mtaStsMode, report.mtaSts.mode);
    span.setAttribute(ATTR.mtaStsPolicyId, report.mtaSts.policyId);
  }
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
