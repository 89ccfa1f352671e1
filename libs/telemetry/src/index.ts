export * from './attributes.ts';
export * from './logger.ts';
export * from './tracing.ts';
