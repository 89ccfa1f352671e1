export * from './api-error.ts';
export * from './api-keys.ts';
export * from './http-deps.ts';
export * from './http-listener.ts';
export * from './metrics.ts';
export * from './rate-limit.ts';
export * from './schemas.ts';
