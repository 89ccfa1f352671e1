export * from './delivery-config.ts';
export * from './load-config.ts';
export * from './units.ts';
