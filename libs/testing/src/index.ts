export * from './dns-server.ts';
export * from './free-port.ts';
export * from './https-policy-server.ts';
export * from './outpost-process.ts';
export * from './redis-server.ts';
export * from './smtp-client.ts';
export * from './smtp-receiver.ts';
export * from './test-ca.ts';
