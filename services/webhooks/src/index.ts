export * from './post-event.ts';
export * from './process-webhook-job.ts';
export * from './signature.ts';
export * from './start-webhook-sender.ts';
