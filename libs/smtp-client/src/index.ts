export * from './reply-watchdog.ts';
export * from './smtp-channel.ts';
export * from './smtp-error.ts';
export * from './smtp-transaction.ts';
export * from './tls-identity.ts';
export * from './transcript.ts';
