export * from './bounce-records.ts';
export * from './create-bounce.ts';
