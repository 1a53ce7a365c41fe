/**
 * Error names the AWS SDK retries as throttling or transient (the lists of @smithy/core's retry
 * classification, which the SDK applies before the error reaches us).
 */
const TRANSIENT_NAMES = new Set([
  'BandwidthLimitExceeded', 'EC2ThrottledException', 'LimitExceededException', 'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException', 'RequestLimitExceeded', 'RequestThrottled', 'RequestThrottledException',
  'SlowDown', 'ThrottledException', 'Throttling', 'ThrottlingException', 'TooManyRequestsException',
  'TransactionInProgressException', 'TimeoutError', 'RequestTimeout', 'RequestTimeoutException',
]);

/** Node's codes for a connection that failed or dropped (@smithy/core's retry classification). */
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

interface SdkErrorFields {
  readonly name?: string;
  readonly code?: string;
  readonly $retryable?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly cause?: unknown;
}

/**
 * Whether an AWS call's error may heal by itself: throttling, a 5xx answer, a timeout or a dropped
 * connection, or an error the service model marks retryable (`$retryable`). Validation and
 * permission errors (4xx) are not: waiting changes nothing.
 */
export function isTransientError(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as SdkErrorFields;
  if (e.name === 'AbortError') return false;
  const status = e.$metadata?.httpStatusCode ?? 0;
  return e.$retryable !== undefined
    || TRANSIENT_NAMES.has(e.name ?? '')
    || NETWORK_CODES.has(e.code ?? '')
    || status === 429 || (status >= 500 && status <= 599)
    || (depth < 10 && e.cause !== undefined && isTransientError(e.cause, depth + 1));
}
