export * from './explain-reply.ts';
export * from './mta-sts-explanation.ts';
export * from './sending-checks.ts';
