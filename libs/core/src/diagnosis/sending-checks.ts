/**
 * The FAQ's self-check of the sending side (cause 6: no PTR, a dynamic-looking PTR, or forward and
 * reverse that do not match make receivers refuse us), as pure judgements on what DNS answered.
 */
export interface CheckResult {
  check: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  advice?: string;
}

/** Names ISPs give dial-up, DSL, cable and DHCP pools; receivers treat them as "not a mail server". */
const DYNAMIC_NAME =
  /(^|[.-])(ppp|adsl|dsl|dyn|dynamic|dhcp|cable|pool|dial|dialup|client|broadband|static-ip|ip)([.-]|\d|$)|\d{1,3}[-.]\d{1,3}[-.]\d{1,3}[-.]\d{1,3}/i;

export function looksDynamic(name: string): boolean {
  return DYNAMIC_NAME.test(name);
}

export function judgeHostname(hostname: string, addresses: readonly string[] | Error): CheckResult {
  const check = `hostname ${hostname} resolves`;
  if (addresses instanceof Error || addresses.length === 0) {
    return {
      check,
      status: 'fail',
      detail: addresses instanceof Error ? addresses.message : 'no A/AAAA record',
      advice: `Publish an A (and AAAA) record for ${hostname}: receivers check that the HELO name exists.`,
    };
  }
  return { check, status: 'ok', detail: addresses.join(', ') };
}

/** PTR of a sending address, forward-confirmed (the PTR name resolves back to it), not dynamic. */
export function judgeReverseDns(
  ip: string,
  ptrNames: readonly string[] | Error,
  forward: ReadonlyMap<string, readonly string[]>,
  hostname: string,
): CheckResult[] {
  if (ptrNames instanceof Error || ptrNames.length === 0) {
    return [
      {
        check: `PTR of ${ip}`,
        status: 'fail',
        detail: ptrNames instanceof Error ? ptrNames.message : 'no PTR record',
        advice: `Ask whoever owns ${ip} (your hosting or network provider) to set its PTR record to ${hostname}.`,
      },
    ];
  }
  const results: CheckResult[] = [{ check: `PTR of ${ip}`, status: 'ok', detail: ptrNames.join(', ') }];
  const confirmed = ptrNames.find((name) => forward.get(name)?.includes(ip));
  results.push(
    confirmed
      ? { check: `forward-confirmed reverse DNS of ${ip}`, status: 'ok', detail: `${confirmed} -> ${ip}` }
      : {
          check: `forward-confirmed reverse DNS of ${ip}`,
          status: 'fail',
          detail: `${ptrNames.join(', ')} does not resolve back to ${ip}`,
          advice: `Make the PTR name resolve to ${ip} (an A/AAAA record), or set the PTR to a name that does.`,
        },
  );
  const dynamic = ptrNames.filter(looksDynamic);
  if (dynamic.length > 0) {
    results.push({
      check: `PTR of ${ip} looks like a mail server`,
      status: 'warn',
      detail: `${dynamic.join(', ')} looks like a dynamic or consumer address`,
      advice: `Many receivers refuse such names; set the PTR to a name like ${hostname}.`,
    });
  }
  if (!ptrNames.map((name) => name.toLowerCase()).includes(hostname.toLowerCase())) {
    results.push({
      check: `PTR of ${ip} matches the HELO name`,
      status: 'warn',
      detail: `PTR ${ptrNames.join(', ')}, HELO ${hostname}`,
      advice: 'Some receivers want the HELO name (OUTPOST_HOSTNAME) and the PTR to be the same.',
    });
  }
  return results;
}

/** A published DKIM key record (RFC 6376 §3.6.1) against the key we sign with. */
export function judgeDkimRecord(
  dnsName: string,
  published: readonly string[] | Error,
  expectedPublicKey: string,
): CheckResult {
  const check = `DKIM key ${dnsName}`;
  if (published instanceof Error || published.length === 0) {
    return {
      check,
      status: 'fail',
      detail: published instanceof Error ? published.message : 'no TXT record',
      advice: `Publish the record \`outpost dkim keygen\` printed for ${dnsName}.`,
    };
  }
  const record = published.find((text) => /(^|;)\s*p=/.test(text));
  const key = record?.match(/(?:^|;)\s*p=([^;]*)/)?.[1]?.replace(/\s+/g, '');
  if (key === expectedPublicKey) return { check, status: 'ok', detail: 'matches the signing key' };
  return {
    check,
    status: 'fail',
    detail:
      key === undefined ? 'no p= tag in the record' : 'the published key is not the one Outpost signs with',
    advice: `Publish the public key of the signing key at ${dnsName}, or sign with the published one.`,
  };
}
