import type { SecureContext } from 'node:tls';
import type { DeliveryConfig } from '@outpost/config';
import { type IpFamilies, interleaveAddresses, isPrivateAddress } from '@outpost/core';
import type { DnsResolver } from '@outpost/dns';
import type { Redis } from 'ioredis';
import type { MtaStsDeps } from './attempt-policy.ts';
import { createPolicyCache } from './policy-cache.ts';
import { fetchPolicyText } from './policy-fetcher.ts';
import { policyListsMx } from './policy-file.ts';
import { createPolicySource } from './policy-source.ts';

export interface MtaStsWiring {
  redis: Redis;
  resolver: DnsResolver;
  config: DeliveryConfig['mtaSts'];
  ipFamilies: IpFamilies;
  /** The same rule as for MX answers: a policy host in private address space is not contacted. */
  allowPrivateDestinations: boolean;
  secureContext?: SecureContext;
}

/** The MTA-STS policy source of a worker, or undefined when OUTPOST_MTA_STS=off. */
export function createMtaSts(wiring: MtaStsWiring): MtaStsDeps | undefined {
  if (!wiring.config.enabled) return undefined;
  const addressesOf = async (host: string): Promise<string[]> => {
    const { ipv4, ipv6 } = await wiring.resolver.resolveAddresses(host);
    const all = interleaveAddresses(ipv4, ipv6, wiring.ipFamilies);
    return wiring.allowPrivateDestinations ? all : all.filter((address) => !isPrivateAddress(address));
  };
  const source = createPolicySource({
    cache: createPolicyCache(wiring.redis),
    resolveTxt: (name) => wiring.resolver.resolveTxt(name),
    fetchText: (domain) =>
      fetchPolicyText(domain, {
        port: wiring.config.port,
        timeoutMs: wiring.config.fetchTimeoutMs,
        addressesOf,
        ...(wiring.secureContext && { secureContext: wiring.secureContext }),
      }),
  });
  return { policyFor: (domain) => source.policyFor(domain), matches: policyListsMx };
}
