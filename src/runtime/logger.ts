import { Logger } from '@aws-lambda-powertools/logger';

export { Logger };

/** The `service` of every record: what the handlers belong to (a deployed service is `deployedService`). */
export const LOG_SERVICE = 'blue-green-lambda-pipeline';

/** The handler that wrote a record (its `handler` key). */
export type HandlerName = 'deploy-blue' | 'switch-traffic' | 'smoke-test-hook' | 'bake';

/**
 * What an invocation is about: top-level keys of each of its records, for Logs Insights
 * (`filter jobId = "..."`). Keys without a value are left out.
 */
export interface CorrelationKeys {
  readonly handler?: HandlerName;
  /** The CodePipeline job. */
  readonly jobId?: string;
  /** The pipeline execution. */
  readonly executionId?: string;
  /** The service being deployed (`service` is the logger's own key). */
  readonly deployedService?: string;
  /** The history item (`<executionId>/<service>`). */
  readonly deploymentId?: string;
  readonly codeDeployDeploymentId?: string;
  readonly lifecycleEventHookExecutionId?: string;
}

/**
 * Keys whose values are secrets: a CodePipeline job event's `data.artifactCredentials`. Whatever a
 * record carries under these names is written as "[redacted]" (a second line of defence: the
 * handlers never log the event, and never call the logger's logEvent).
 */
const SECRET_KEYS = new Set(['artifactCredentials', 'accessKeyId', 'secretAccessKey', 'sessionToken']);

/**
 * A Powertools logger: one JSON object per line with `level`, `message`, `timestamp`, `service`
 * and the invocation's correlation keys at the top level. It writes to stdout and stderr itself
 * (not through the console Lambda's runtime rewrites), so with the JSON log format CloudWatch Logs
 * keeps each record as it is; its level follows the function's application log level
 * (AWS_LAMBDA_LOG_LEVEL).
 */
export function createLogger(): Logger {
  return new Logger({
    serviceName: LOG_SERVICE,
    jsonReplacerFn: (key, value) => (SECRET_KEYS.has(key) ? '[redacted]' : value),
  });
}

let processLogger: Logger | undefined;

/** The logger a handler and its helpers share unless they are given another. */
export function defaultLogger(): Logger {
  return processLogger ??= createLogger();
}

/** Adds the keys that have a value to every later record of this invocation. */
export function appendCorrelation(logger: Logger, keys: CorrelationKeys): void {
  const defined = Object.fromEntries(Object.entries(keys).filter(([, value]) => value !== undefined && value !== ''));
  if (Object.keys(defined).length > 0) logger.appendKeys(defined);
}

/** The fields of Lambda's context object the logger reads (function name, request id, cold start). */
type LambdaContext = Parameters<Logger['addContext']>[0];

function isLambdaContext(context: unknown): context is LambdaContext {
  return typeof (context as LambdaContext | undefined)?.awsRequestId === 'string';
}

/**
 * Runs one invocation with its correlation keys. Lambda reuses the process (and the logger) for
 * the next invocation, so the keys are dropped before and after; the logger keeps them apart
 * itself where Lambda runs invocations concurrently in one process.
 */
export async function withInvocation<T>(logger: Logger, keys: CorrelationKeys, context: unknown, run: () => Promise<T>): Promise<T> {
  logger.resetKeys();
  if (isLambdaContext(context)) logger.addContext(context);
  appendCorrelation(logger, keys);
  try {
    return await run();
  } finally {
    logger.resetKeys();
  }
}
