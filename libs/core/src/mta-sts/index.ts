// RFC 8461 MTA-STS: the TXT record, policy caching and what a policy means for delivery.
export * from './apply-policy.ts';
export * from './policy.ts';
export * from './policy-lookup.ts';
export * from './sts-record.ts';
