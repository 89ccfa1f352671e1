export * from './bounce-config.ts';
export * from './delivery-config.ts';
export * from './load-config.ts';
export * from './trace-query-config.ts';
export * from './units.ts';
export * from './webhook-config.ts';
