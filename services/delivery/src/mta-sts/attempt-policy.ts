import type { DeliveryEvent, MtaStsFailure, MtaStsPlan, MxMatcher, PolicyResolution } from '@outpost/core';
import { planMtaStsDelivery, tlsShortfall } from '@outpost/core';
import type { SmtpTransactionResult, TlsMode, TlsSessionInfo } from '@outpost/smtp-client';
import type { MtaStsEntry, SessionTlsEntry } from '@outpost/store';

export interface MtaStsDeps {
  policyFor(domain: string): Promise<PolicyResolution>;
  matches: MxMatcher;
}

/** The words of the refusal, also the category's explanation (libs/core/src/diagnosis). */
export const MTA_STS_REFUSAL = "TLS required by the receiver's MTA-STS policy";

/**
 * The MTA-STS side of one attempt (RFC 8461 §5): which MX hosts may be used, which TLS each session
 * must have, and what failed the policy, for the attempt record.
 *
 * Transport-map routes and relay hosts skip MTA-STS: a policy names the MX hosts of the recipient's
 * domain, and a route the operator configured goes to a host of the operator's choosing, which no
 * policy lists (enforcing would defer all its mail). Whoever takes the mail from that host applies
 * the policy on the hop that reaches the domain's MX.
 */
export class AttemptPolicy {
  readonly plan: MtaStsPlan;
  readonly resolution: PolicyResolution | undefined;
  readonly #failures = new Set<string>();

  private constructor(plan: MtaStsPlan, resolution?: PolicyResolution) {
    this.plan = plan;
    this.resolution = resolution;
  }

  static async lookUp(
    domain: string,
    hosts: ReadonlyArray<{ host: string; configured?: boolean }>,
    deps: MtaStsDeps | undefined,
  ): Promise<AttemptPolicy> {
    const names = hosts.map((host) => host.host);
    if (!deps || hosts.some((host) => host.configured)) {
      return new AttemptPolicy(planMtaStsDelivery(names, undefined, () => true));
    }
    // The source handles DNS, Redis and HTTPS trouble itself; anything else must not stop delivery
    // either: as with a failed fetch and nothing cached, the domain is treated as having no policy.
    const resolution = await deps.policyFor(domain).catch(
      (error: unknown): PolicyResolution => ({
        source: 'none',
        note: `policy lookup failed: ${String(error)}`,
      }),
    );
    return new AttemptPolicy(planMtaStsDelivery(names, resolution.policy, deps.matches), resolution);
  }

  get enforced(): boolean {
    return this.plan.requireVerifiedTls;
  }

  /** Enforce: verified TLS, no plaintext fallback and no TLS-broken memory; otherwise as usual. */
  tlsModeFor(knownBroken: boolean): TlsMode {
    if (this.enforced) return 'verified';
    return knownBroken ? 'none' : 'opportunistic';
  }

  /** Under enforce with no listed MX host left: the event every recipient gets (nothing is tried). */
  nothingListed(): DeliveryEvent | undefined {
    if (!this.enforced || this.plan.hosts.length > 0) return undefined;
    const reason = `none of the MX hosts (${this.plan.unlisted.join(', ')}) is listed in it`;
    this.#failures.add(reason);
    return { kind: 'mta-sts', failure: 'mx-not-listed', detail: this.#refusal(reason) };
  }

  /**
   * After a session: under enforce a TLS failure becomes the policy's refusal (deferred, the next
   * listed host tried); under testing whatever would have failed is noted, and the mail goes as usual.
   */
  judgeSession(host: string, result: SmtpTransactionResult): SmtpTransactionResult {
    if (this.enforced) {
      const tlsFailed = (event: DeliveryEvent) => event.kind === 'network' && event.failure === 'tls-failed';
      if (!result.recipients.some(({ event }) => tlsFailed(event))) return result;
      const reason = tlsShortfall(host, result.tlsInfo) ?? `TLS with ${host} failed`;
      this.#failures.add(reason);
      const refusal: DeliveryEvent = {
        kind: 'mta-sts',
        failure: failureOf(result.tlsInfo),
        detail: this.#refusal(reason),
      };
      return {
        ...result,
        recipients: result.recipients.map((entry) =>
          tlsFailed(entry.event) ? { ...entry, event: refusal } : entry,
        ),
      };
    }
    if (this.plan.policy?.mode === 'testing' && result.greeted) {
      const reason = tlsShortfall(host, result.tlsInfo);
      if (reason) this.#failures.add(reason);
    }
    return result;
  }

  /** The session's TLS outcome for the attempt record and span. */
  tlsOutcomeOf(info: TlsSessionInfo): SessionTlsEntry {
    const policy = this.plan.policy;
    return {
      mode: info.established ? (this.enforced ? 'mta-sts' : 'opportunistic') : 'none',
      ...(info.protocol && { protocol: info.protocol }),
      ...(info.established && { certificateVerified: info.verified === true }),
      ...(info.error && { error: info.error }),
      ...(policy && { mtaSts: { mode: policy.mode, policyId: policy.id } }),
    };
  }

  /** The attempt record's view of the policy; undefined when none applied. */
  entry(): MtaStsEntry | undefined {
    const policy = this.plan.policy;
    if (!policy) return undefined;
    const note = this.resolution?.note;
    return {
      mode: policy.mode,
      policyId: policy.id,
      source: this.resolution?.source === 'fetched' ? 'fetched' : 'cache',
      ...(this.plan.unlisted.length > 0 && { unlistedMx: [...this.plan.unlisted] }),
      ...(this.#failures.size > 0 && { failures: [...this.#failures] }),
      ...(note && { note }),
    };
  }

  #refusal(reason: string): string {
    return `${MTA_STS_REFUSAL} (mode enforce, id ${this.plan.policy?.id ?? '?'}): ${reason}`;
  }
}

function failureOf(info: TlsSessionInfo): MtaStsFailure {
  if (!info.offered) return 'no-starttls';
  return info.verified === false ? 'certificate' : 'tls-failed';
}
