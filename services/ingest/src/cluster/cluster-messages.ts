/** What the ingest primary and its worker processes say to each other over the cluster IPC channel. */
export const METRICS_REQUEST = 'outpost:ingest-metrics-request';
export const METRICS_RESPONSE = 'outpost:ingest-metrics-response';

export interface MetricsRequest {
  type: typeof METRICS_REQUEST;
  id: number;
}

export interface MetricsResponse {
  type: typeof METRICS_RESPONSE;
  id: number;
  text?: string;
  contentType?: string;
  error?: string;
}

export const isMetricsRequest = (message: unknown): message is MetricsRequest =>
  (message as MetricsRequest | undefined)?.type === METRICS_REQUEST;

export const isMetricsResponse = (message: unknown): message is MetricsResponse =>
  (message as MetricsResponse | undefined)?.type === METRICS_RESPONSE;
