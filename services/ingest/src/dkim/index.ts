export * from './dkim-keygen.ts';
export * from './dkim-keys.ts';
export * from './dkim-signer.ts';
