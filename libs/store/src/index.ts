export * from './delivery-log.ts';
export * from './keys.ts';
export * from './records.ts';
export * from './transcript-cap.ts';
