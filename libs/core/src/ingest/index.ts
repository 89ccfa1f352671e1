// Pure logic of the ingest side (address syntax, smuggling checks, limits).
export * from './auth-throttle.ts';
export * from './client-key.ts';
export * from './command-limits.ts';
export * from './message-lines.ts';
export * from './rate-window.ts';
export * from './relay-policy.ts';
export * from './smtp-path.ts';
