export * from './explain-reply.ts';
