import { isIP } from 'node:net';
import type { DeliveryEvent, IpFamilies, TransportMap } from '@outpost/core';
import { interleaveAddresses, isPrivateAddress, lookupTransport, orderMxHosts } from '@outpost/core';
import { DnsError, type DnsResolver } from '@outpost/dns';

/** One address to try, with the host name it belongs to (for SNI, records and the TLS memory). */
export interface Candidate {
  host: string;
  address: string;
  port: number;
  lmtp: boolean;
  auth?: { user: string; pass: string };
}

export interface RouteDeps {
  resolver: DnsResolver;
  transportMap: TransportMap;
  deliveryPort: number;
  ipFamilies: IpFamilies;
  allowPrivateDestinations: boolean;
  /** Our own names and addresses: an MX pointing at them is a loop (RFC 5321 §5.1). */
  selfNames: ReadonlySet<string>;
  selfAddresses: ReadonlySet<string>;
  random: () => number;
}

export interface RoutedHost {
  host: string;
  port: number;
  lmtp: boolean;
  auth?: Candidate['auth'];
  /** Try only this address of the host (a kept connection's). */
  pinnedAddress?: string;
  /** Named by the operator's transport map, not by DNS: private addresses are what it means. */
  configured?: boolean;
}

/** The hosts to try for a domain, or the event that ends the attempt before any connection. */
export type Route = { kind: 'hosts'; hosts: RoutedHost[] } | { kind: 'failed'; event: DeliveryEvent };

export async function routeDomain(domain: string, deps: RouteDeps): Promise<Route> {
  const transport = lookupTransport(deps.transportMap, domain);
  if (transport) {
    return {
      kind: 'hosts',
      hosts: [
        {
          host: transport.host,
          port: transport.port,
          lmtp: transport.protocol === 'lmtp',
          configured: true,
          ...(transport.auth && { auth: transport.auth }),
        },
      ],
    };
  }
  let records: Awaited<ReturnType<DnsResolver['resolveMx']>>;
  try {
    records = await deps.resolver.resolveMx(domain);
  } catch (error) {
    return { kind: 'failed', event: dnsEvent(error, `MX lookup of ${domain}`) };
  }
  const route = orderMxHosts(domain, records, deps.random, (host) => deps.selfNames.has(host));
  if (route.kind === 'null-mx')
    return {
      kind: 'failed',
      event: { kind: 'dns', failure: 'null-mx', detail: `${domain} publishes a null MX` },
    };
  // This server as the best MX, or the domain itself as the implicit one: the mail would loop. As
  // a backup MX it relays to the better ones (orderMxHosts).
  const loop = route.kind === 'self' ? route.host : route.hosts.find((host) => deps.selfNames.has(host));
  if (loop || route.kind === 'self')
    return {
      kind: 'failed',
      event: { kind: 'loop', detail: `MX ${loop} of ${domain} is this server, and no better MX is listed` },
    };
  return {
    kind: 'hosts',
    hosts: route.hosts.map((host) => ({ host, port: deps.deliveryPort, lmtp: false })),
  };
}

export function dnsEvent(error: unknown, what: string): DeliveryEvent {
  if (error instanceof DnsError) {
    return {
      kind: 'dns',
      failure:
        error.failure === 'nxdomain' ? 'nxdomain' : error.failure === 'nodata' ? 'no-address' : 'temporary',
      detail: `${what}: ${error.code}`,
    };
  }
  return { kind: 'dns', failure: 'temporary', detail: `${what}: ${String(error)}` };
}

/**
 * A host's addresses in the order to try, without private ones (unless allowed) and without our
 * own. `rejected` explains an empty list.
 */
export async function addressesOfHost(
  host: string,
  deps: RouteDeps,
  configured = false,
): Promise<{ addresses: string[]; rejected?: DeliveryEvent }> {
  let answer: { ipv4: string[]; ipv6: string[] };
  // A transport map may name an address literal (`[10.0.0.5]`): nothing to look up.
  const literal = isIP(host);
  try {
    answer =
      literal === 4
        ? { ipv4: [host], ipv6: [] }
        : literal === 6
          ? { ipv4: [], ipv6: [host] }
          : await deps.resolver.resolveAddresses(host);
  } catch (error) {
    return { addresses: [], rejected: dnsEvent(error, `address lookup of ${host}`) };
  }
  const all = interleaveAddresses(answer.ipv4, answer.ipv6, deps.ipFamilies);
  if (all.some((address) => deps.selfAddresses.has(address))) {
    return { addresses: [], rejected: { kind: 'loop', detail: `${host} resolves to this server` } };
  }
  // The private-address rule guards against what DNS answers for the world's domains; a smarthost
  // the operator configured on an internal network is meant to be private.
  const usable =
    deps.allowPrivateDestinations || configured ? all : all.filter((address) => !isPrivateAddress(address));
  if (usable.length === 0 && all.length > 0) {
    return {
      addresses: [],
      rejected: {
        kind: 'dns',
        failure: 'private-address',
        detail: `${host} resolves only to private addresses (${all.join(', ')})`,
      },
    };
  }
  if (usable.length === 0)
    return {
      addresses: [],
      rejected: { kind: 'dns', failure: 'no-address', detail: `${host} has no A/AAAA` },
    };
  return { addresses: usable };
}
