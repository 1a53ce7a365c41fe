/** Reads a required environment variable set by the construct. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`environment variable ${name} is not set; this function must be deployed by BlueGreenLambdaPipeline`);
  }
  return value;
}

/** SDK clients retry throttling and 5xx with exponential backoff; this bounds the attempts. */
export const CLIENT_CONFIG = { maxAttempts: 5 };

/** The part of Lambda's context object the handlers use. */
export interface InvocationContext {
  /** The function's ARN, which names the handler's own account. */
  readonly invokedFunctionArn?: string;
  getRemainingTimeInMillis(): number;
}

/**
 * A claim outlives the invocation that took it by this much, so that once it lapses the
 * invocation is certainly over (Lambda ended it at its timeout).
 */
export const CLAIM_MARGIN_MS = 10_000;

/** Milliseconds this invocation has left; `fallbackMs` (the function's timeout) outside Lambda. */
export function remainingMs(context: InvocationContext | undefined, fallbackMs: number): number {
  const remaining = typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : undefined;
  return typeof remaining === 'number' && Number.isFinite(remaining) && remaining > 0 ? remaining : fallbackMs;
}

/**
 * A Lambda entry point that builds its handler from the environment on the first invocation, not
 * when the module loads: tests import the module without the construct's environment.
 */
export function lazyEntryPoint<E, C, T>(build: () => (event: E, context?: C) => Promise<T>): (event: E, context?: C) => Promise<T> {
  let built: ((event: E, context?: C) => Promise<T>) | undefined;
  return (event, context) => (built ??= build())(event, context);
}
