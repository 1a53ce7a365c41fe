import {
  CodePipelineClient,
  InvalidJobStateException,
  PutJobFailureResultCommand,
  PutJobSuccessResultCommand,
} from '@aws-sdk/client-codepipeline';
import { defaultLogger, HandlerName, Logger, withInvocation } from './logger';
import { ParameterKeys, Parameters } from '../contract/handler-contract';

/** An input artifact's S3 location, as CodePipeline hands it to a Lambda invoke action. */
export interface ArtifactLocation {
  readonly bucketName: string;
  readonly objectKey: string;
}

/** The parts of a CodePipeline job event our handlers use; `P` types its UserParameters. */
export interface PipelineJob<P = Readonly<Record<string, string>>> {
  readonly id: string;
  readonly userParameters: P;
  readonly inputArtifacts: ArtifactLocation[];
  readonly continuationToken?: string;
}

/**
 * An error whose message is already the sentence a failed job reports (what failed, where, what to
 * check): {@link describeError} gives it as it is, without the error's name.
 */
export class ReadableJobError extends Error {}

/** A job event that cannot be used; its message is reported to CodePipeline as the failure reason. */
export class InvalidJobError extends ReadableJobError {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidJobError';
  }
}

/** Returns the job id, or undefined when the event is not a CodePipeline job at all. */
export function jobIdOf(event: unknown): string | undefined {
  const job = (event as any)?.['CodePipeline.job'];
  return typeof job?.id === 'string' && job.id.length > 0 ? job.id : undefined;
}

/**
 * A stage handler's entry: every invocation is logged with the handler's name and the job id. An
 * event without a job id has no job to report to, so the invocation itself fails, loudly.
 */
export function jobHandler<C, T>(logger: Logger, handler: HandlerName, invoke: (jobId: string, event: unknown, context?: C) => Promise<T>) {
  return async (event: unknown, context?: C): Promise<T> => {
    const jobId = jobIdOf(event);
    if (!jobId) throw new InvalidJobError('event is not a CodePipeline job: "CodePipeline.job.id" is missing');
    return withInvocation(logger, { handler, jobId }, context, () => invoke(jobId, event, context));
  };
}

/**
 * Parses a CodePipeline job event against the action's keys (see the handler contract): the
 * required UserParameters must be present and non-empty, and any key but those and the optional
 * ones is refused (a misspelt key would otherwise be ignored in silence).
 */
export function parseJob<R extends string, O extends string>(
  event: unknown, keys: ParameterKeys<R, O>,
): PipelineJob<Parameters<ParameterKeys<R, O>>> {
  const requiredParameters: readonly string[] = keys.required;
  const optionalParameters: readonly string[] = keys.optional;
  const id = jobIdOf(event);
  if (!id) {
    throw new InvalidJobError('event is not a CodePipeline job: "CodePipeline.job.id" is missing');
  }
  const data = (event as any)['CodePipeline.job'].data;
  if (!data || typeof data !== 'object') {
    throw new InvalidJobError(`job ${id}: "data" is missing`);
  }
  const raw = data.actionConfiguration?.configuration?.UserParameters;
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw new InvalidJobError(`job ${id}: UserParameters is missing; expected a JSON object with ${requiredParameters.join(', ')}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new InvalidJobError(`job ${id}: UserParameters is not valid JSON: ${raw.slice(0, 200)}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InvalidJobError(`job ${id}: UserParameters must be a JSON object`);
  }
  const userParameters: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (value !== null && typeof value === 'object') {
      throw new InvalidJobError(`job ${id}: UserParameters ${key} must be a string or a number, got ${JSON.stringify(value).slice(0, 100)}`);
    }
    if (value !== undefined && value !== null) userParameters[key] = String(value);
  }
  const known = [...requiredParameters, ...optionalParameters];
  const unknown = Object.keys(userParameters).filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    throw new InvalidJobError(`job ${id}: UserParameters has unknown ${unknown.length === 1 ? 'key' : 'keys'} ${unknown.join(', ')}; expected ${known.join(', ')}`);
  }
  const missing = requiredParameters.filter((key) => !userParameters[key]);
  if (missing.length > 0) {
    throw new InvalidJobError(`job ${id}: UserParameters lacks ${missing.join(', ')}`);
  }
  const inputArtifacts: ArtifactLocation[] = [];
  for (const artifact of Array.isArray(data.inputArtifacts) ? data.inputArtifacts : []) {
    const s3 = artifact?.location?.s3Location;
    if (typeof s3?.bucketName === 'string' && typeof s3?.objectKey === 'string') {
      inputArtifacts.push({ bucketName: s3.bucketName, objectKey: s3.objectKey });
    }
  }
  const token = data.continuationToken;
  return {
    id,
    // Checked above: every required key is present, and no key the action does not know.
    userParameters: userParameters as Parameters<ParameterKeys<R, O>>,
    inputArtifacts,
    continuationToken: typeof token === 'string' && token.length > 0 ? token : undefined,
  };
}

/**
 * Reports a job's outcome to CodePipeline. A job takes one result: a second one answers
 * InvalidJobStateException (PutJobSuccessResultCommand / PutJobFailureResultCommand in
 * @aws-sdk/client-codepipeline), which for a duplicate delivery means "already reported".
 */
export class JobReporter {
  constructor(private readonly client: CodePipelineClient, private readonly logger: Logger = defaultLogger()) {}

  /** @returns false when the job already had a result */
  async succeed(jobId: string, options: { outputVariables?: Record<string, string>; continuationToken?: string } = {}): Promise<boolean> {
    return this.report(jobId, 'success', () => this.client.send(new PutJobSuccessResultCommand({
      jobId,
      outputVariables: options.outputVariables,
      continuationToken: options.continuationToken,
    })));
  }

  /** @returns false when the job already had a result */
  async fail(jobId: string, message: string): Promise<boolean> {
    // CodePipeline caps the message at 5000 characters.
    return this.report(jobId, 'failure', () => this.client.send(new PutJobFailureResultCommand({
      jobId,
      failureDetails: { type: 'JobFailed', message: message.slice(0, 5000) },
    })));
  }

  private async report(jobId: string, result: string, send: () => Promise<unknown>): Promise<boolean> {
    try {
      await send();
      return true;
    } catch (error) {
      if (!(error instanceof InvalidJobStateException) && (error as Error)?.name !== 'InvalidJobStateException') throw error;
      this.logger.info('job already has a result; this one is dropped', { jobId, result, detail: (error as Error).message });
      return false;
    }
  }
}

/** A readable one-line description of any thrown value. */
export function describeError(error: unknown): string {
  if (error instanceof ReadableJobError) return error.message;
  if (error instanceof Error) {
    return error.name && error.name !== 'Error' && !error.message.startsWith(error.name)
      ? `${error.name}: ${error.message}`
      : error.message;
  }
  return String(error);
}
