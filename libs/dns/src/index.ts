export * from './dns-error.ts';
export * from './resolver.ts';
export * from './ttl-cache.ts';
