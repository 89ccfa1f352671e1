export * from './accept-message.ts';
export * from './create-ingest.ts';
export * from './dkim/index.ts';
export * from './http/index.ts';
export * from './ingest-refusal.ts';
export * from './password-hash.ts';
export * from './smtp-listener.ts';
export * from './users.ts';
