import { randomUUID } from 'crypto';
import { AwsError, startJsonServer } from './aws-json-server';

/** The one result a CodePipeline job accepted. */
export interface JobResult {
  readonly kind: 'success' | 'failure';
  readonly outputVariables?: Record<string, string>;
  readonly continuationToken?: string;
  readonly failureDetails?: { type: string; message: string; externalExecutionId?: string };
  readonly at: number;
}

const FAILURE_TYPES = ['JobFailed', 'ConfigurationError', 'PermissionError', 'RevisionOutOfSync', 'RevisionUnavailable', 'SystemUnavailable'];
const VARIABLE_KEY = /^[A-Za-z0-9@\-_]+$/;

/**
 * The part of CodePipeline a Lambda invoke action talks to: PutJobSuccessResult and
 * PutJobFailureResult, for jobs the test (playing CodePipeline) issued.
 *
 * Follows the CodePipeline API reference:
 * - https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PutJobSuccessResult.html
 *   (errors InvalidJobStateException, JobNotFoundException, OutputVariablesSizeExceededException,
 *   ValidationException; "outputVariables can be included only when there is no continuation token
 *   on the request"; continuationToken 1-2048 characters)
 * - https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PutJobFailureResult.html
 *   (errors InvalidJobStateException, JobNotFoundException, ValidationException)
 * - https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_FailureDetails.html
 *   (type enum; message 1-5000 characters)
 * - A job takes one result: once it has one it is no longer InProgress, and a second
 *   Put*Result answers InvalidJobStateException ("The job state was specified in an invalid
 *   format", HTTP 400), as CodePipeline does for a job already in a final state.
 */
export async function startFakeCodePipeline() {
  const jobs = new Map<string, { result?: JobResult }>();
  /**
   * While true, every request answers the documented common error ServiceUnavailable (HTTP 503,
   * "The request has failed due to a temporary failure of the server";
   * https://docs.aws.amazon.com/codepipeline/latest/APIReference/CommonErrors.html).
   */
  const state = { unavailable: false };
  const available = () => {
    if (state.unavailable) throw new AwsError('ServiceUnavailable', 'The request has failed due to a temporary failure of the server.', 503);
  };

  function jobFor(jobId: unknown) {
    if (typeof jobId !== 'string' || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(jobId)) {
      throw new AwsError('ValidationException', `1 validation error detected: Value '${String(jobId)}' at 'jobId' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`);
    }
    const job = jobs.get(jobId);
    if (!job) throw new AwsError('JobNotFoundException', `Job ${jobId} not found`);
    if (job.result) throw new AwsError('InvalidJobStateException', `Job ${jobId} is in state ${job.result.kind === 'success' ? 'Succeeded' : 'Failed'} and can no longer accept a result`);
    return job;
  }

  const server = await startJsonServer('CodePipeline_20150709', {
    PutJobSuccessResult: (input) => {
      available();
      const job = jobFor(input.jobId);
      const variables = input.outputVariables as Record<string, string> | undefined;
      if (variables && Object.keys(variables).length > 0 && input.continuationToken) {
        throw new AwsError('ValidationException', 'outputVariables can be included only when there is no continuation token on the request');
      }
      if (input.continuationToken !== undefined && (typeof input.continuationToken !== 'string' || input.continuationToken.length < 1 || input.continuationToken.length > 2048)) {
        throw new AwsError('ValidationException', 'continuationToken must be 1-2048 characters');
      }
      for (const [key, value] of Object.entries(variables ?? {})) {
        if (!VARIABLE_KEY.test(key) || typeof value !== 'string') throw new AwsError('ValidationException', `output variable ${key} is invalid`);
      }
      if (JSON.stringify(variables ?? {}).length > 122880) throw new AwsError('OutputVariablesSizeExceededException', 'output variables exceed 122880 bytes');
      job.result = { kind: 'success', outputVariables: variables, continuationToken: input.continuationToken, at: Date.now() };
      return {};
    },
    PutJobFailureResult: (input) => {
      available();
      const job = jobFor(input.jobId);
      const details = input.failureDetails;
      if (!details || !FAILURE_TYPES.includes(details.type)) {
        throw new AwsError('ValidationException', `failureDetails.type must be one of ${FAILURE_TYPES.join(', ')}`);
      }
      if (typeof details.message !== 'string' || details.message.length < 1 || details.message.length > 5000) {
        throw new AwsError('ValidationException', 'failureDetails.message must be 1-5000 characters');
      }
      job.result = { kind: 'failure', failureDetails: details, at: Date.now() };
      return {};
    },
  });

  return {
    ...server,
    state,
    /**
     * A job that got no result: "If the Lambda function has sent no reply after 20 minutes, the action
     * times out" (https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html); the test
     * plays that time having passed. The message is the test's, not CodePipeline's wording.
     */
    timeOut(jobId: string): JobResult {
      const job = jobs.get(jobId);
      if (!job || job.result) throw new Error(`job ${jobId} is not in progress`);
      job.result = { kind: 'failure', failureDetails: { type: 'JobFailed', message: 'timed out: the Lambda function sent no reply (played by the test)' }, at: Date.now() };
      return job.result;
    },
    /** Issues a new job id, as CodePipeline does for each run of an action (and each continuation). */
    issueJob(): string {
      const id = randomUUID();
      jobs.set(id, {});
      return id;
    },
    resultOf(jobId: string): JobResult | undefined {
      return jobs.get(jobId)?.result;
    },
    /** Put*Result calls the fake refused, by job. */
    rejectedFor(jobId: string) {
      return server.calls.filter((c) => c.input?.jobId === jobId && c.error);
    },
    acceptedFor(jobId: string) {
      return server.calls.filter((c) => c.input?.jobId === jobId && !c.error);
    },
  };
}

export type FakeCodePipeline = Awaited<ReturnType<typeof startFakeCodePipeline>>;
