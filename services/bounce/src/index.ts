export * from './bounce-records.ts';
export * from './create-bounce.ts';
export * from './suppression-commands.ts';
