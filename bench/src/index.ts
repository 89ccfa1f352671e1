export {
  type DeliveryRunResult,
  type DeliverySettings,
  deliveryMessage,
  runDeliveryOnce,
} from './delivery-bench.ts';
export { buildHttpBody, type HttpLoadOptions, runHttpLoad } from './http-load.ts';
export { type RunResult, type RunSettings, runOnce } from './ingest-bench.ts';
export type { IngestStats } from './ingest-process.ts';
export {
  buildMessage,
  dataSection,
  dotStuff,
  type LoadOptions,
  type LoadResult,
  messageText,
  runLoad,
  SmtpPipe,
} from './smtp-load.ts';
export { median, percentile, spread } from './stats.ts';
