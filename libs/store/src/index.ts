export * from './delivery-log.ts';
export * from './keys.ts';
export * from './records.ts';
export * from './relieve-log.ts';
export * from './transcript-cap.ts';
export type { AttemptWriteExtras } from './write-attempt-script.ts';
