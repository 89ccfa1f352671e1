import { asciiDomain } from '@outpost/core';

/**
 * Queue names and the key prefix are a contract between services: changing one orphans queued jobs.
 * The prefix is a Redis Cluster hash tag so every key of every queue lands in one slot (BullMQ's
 * Lua scripts and flows touch several queues' keys atomically).
 */
export const QUEUE_PREFIX = '{outpost}';

export const QUEUE_NAMES = {
  /**
   * Parent of a message's flow when the message goes to several domains: holds the envelope (the
   * body is beside it); runs once every delivery job has finished. A one-domain message has none.
   */
  message: 'message',
  /** One job per (message, destination domain). */
  delivery: 'delivery',
  /** DSN work, issued by delivery. */
  bounce: 'bounce',
  /** Recipient outcomes for the configured webhooks, sent by their own worker so delivery never waits. */
  webhook: 'webhook',
} as const;

export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

/**
 * A queued message's bytes, stored binary beside its message job and written in the same MULTI as
 * its flow (flow-body-transaction.ts); the message job, or a solo delivery job, deletes it when the
 * message is finished.
 */
export const messageBodyKey = (messageId: string): string => `${QUEUE_PREFIX}:body:${messageId}`;

/** The message job's hash, in BullMQ's key layout (`<prefix>:<queue>:<job id>`). */
export const messageJobKey = (messageId: string): string =>
  `${QUEUE_PREFIX}:${QUEUE_NAMES.message}:${messageId}`;

/** A delivery job's hash, in the same layout; BullMQ keeps a running job's lock at `<this>:lock`. */
export const deliveryJobKey = (jobId: string): string => `${QUEUE_PREFIX}:${QUEUE_NAMES.delivery}:${jobId}`;

/** Job ids: the message job is the message id; delivery jobs add their domain's position. */
export const deliveryJobId = (messageId: string, index: number): string => `${messageId}.d${index}`;

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * A domain as keys and delivery jobs name it: lower case, A-labels (RFC 5890). An operator may type
 * the U-label form ("bücher.example"); a key in that form would hold nothing.
 */
export const domainKeyPart = (domain: string): string =>
  // ASCII needs only lower-casing (each delivery job's start builds a key with this).
  NON_ASCII.test(domain) ? (asciiDomain(domain) ?? domain.toLowerCase()) : domain.toLowerCase();

/** Operator holds, shared by the services that set them and the workers that honour them. */
export const controlKeys = {
  heldMessage: (messageId: string) => `${QUEUE_PREFIX}:held-message:${messageId}`,
  pausedDomain: (domain: string) => `${QUEUE_PREFIX}:paused-domain:${domainKeyPart(domain)}`,
};
