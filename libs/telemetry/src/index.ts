export * from './attributes.ts';
export * from './health-server.ts';
export * from './logger.ts';
export * from './tracing.ts';
