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

/**
 * The HELO name (OUTPOST_HOSTNAME) exists, and, when our public addresses are known, points at one
 * of them (receivers compare the HELO name with the connecting address).
 */
export function judgeHostname(
  hostname: string,
  addresses: readonly string[] | Error,
  ourAddresses: readonly string[] = [],
): CheckResult {
  const check = `hostname ${hostname} resolves`;
  if (addresses instanceof Error || addresses.length === 0) {
    return {
      check,
      status: 'fail',
      detail: addresses instanceof Error ? addresses.message : 'no A/AAAA record',
      advice: `Publish an A (and AAAA) record for ${hostname}: receivers check that the HELO name exists.`,
    };
  }
  if (ourAddresses.length > 0 && !addresses.some((address) => ourAddresses.includes(address))) {
    return {
      check,
      status: 'warn',
      detail: `${addresses.join(', ')}, not our address ${ourAddresses.join(', ')}`,
      advice: `Point ${hostname} at the address Outpost sends from (OUTPOST_PUBLIC_IPS), or set OUTPOST_HOSTNAME to the name that does.`,
    };
  }
  return { check, status: 'ok', detail: addresses.join(', ') };
}

/** RFC 7208 §2.6 results, as an SPF evaluator returns them. */
export type SpfResult = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'permerror' | 'temperror';

/** Does the sender domain's SPF record authorise our sending address? */
export function judgeSpf(domain: string, ip: string, result: SpfResult | Error): CheckResult {
  const check = `SPF of ${domain} authorises ${ip}`;
  const publish = `Add ip4:/ip6:${ip} (or an include: of a record that lists it) to the SPF record of ${domain}.`;
  if (result instanceof Error) return { check, status: 'warn', detail: result.message };
  switch (result) {
    case 'pass':
      return { check, status: 'ok', detail: 'pass' };
    case 'fail':
      return {
        check,
        status: 'fail',
        detail: `fail: ${domain} says ${ip} may not send its mail`,
        advice: publish,
      };
    case 'softfail':
    case 'neutral':
      return { check, status: 'warn', detail: `${result}: ${ip} is not listed`, advice: publish };
    case 'none':
      return {
        check,
        status: 'warn',
        detail: `${domain} publishes no SPF record`,
        advice: `Publish one: "v=spf1 ip4:${ip} -all" (receivers such as Gmail require SPF or DKIM).`,
      };
    case 'permerror':
      return {
        check,
        status: 'fail',
        detail: `the SPF record of ${domain} is broken (permerror)`,
        advice: 'Fix its syntax, and keep it under 10 DNS lookups (RFC 7208 §4.6.4).',
      };
    case 'temperror':
      return { check, status: 'warn', detail: 'temperror: the DNS lookups failed; try again' };
  }
}

/** What happened when we opened an SMTP connection to a receiver's MX, as the FAQ's port 25 check. */
export type ReachOutcome =
  | { kind: 'banner'; host: string; address: string; port: number; banner: string }
  | { kind: 'error'; host: string; address: string; port: number; error: string }
  | { kind: 'no-mx'; error: string };

export function judgeOutboundSmtp(domain: string, outcome: ReachOutcome): CheckResult {
  const check = `outbound SMTP reaches an MX of ${domain}`;
  if (outcome.kind === 'no-mx') return { check, status: 'fail', detail: outcome.error };
  const where = `${outcome.host} [${outcome.address}]:${outcome.port}`;
  if (outcome.kind === 'error')
    return {
      check,
      status: 'fail',
      detail: `${where}: ${outcome.error}`,
      advice: `Nothing can be delivered if port ${outcome.port} is blocked on the way out: many cloud and home networks block it; ask the provider to open it, or relay through a smarthost (OUTPOST_TRANSPORT_MAP "*=smtp://...").`,
    };
  if (!outcome.banner.startsWith('220'))
    return {
      check,
      status: 'warn',
      detail: `${where} answered "${outcome.banner}"`,
      advice:
        'The connection works, but the server refuses us at the greeting: see `outpost explain` on its answer.',
    };
  return { check, status: 'ok', detail: `${where}: ${outcome.banner}` };
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
