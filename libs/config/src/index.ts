export * from './load-config.ts';
export * from './units.ts';
