export * from './explain-reply.ts';
export * from './sending-checks.ts';
