import { CodePipelineClient } from '@aws-sdk/client-codepipeline';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  GetFunctionCommand,
  GetFunctionCommandOutput,
  LambdaClient,
  PublishVersionCommand,
  UpdateFunctionCodeCommand,
  waitUntilFunctionUpdatedV2,
} from '@aws-sdk/client-lambda';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describeError, InvalidJobError, JobReporter, jobIdOf, parseJob } from './runtime/codepipeline-job';
import { DeploymentHistoryStore } from './runtime/deployment-history-store';
import { CLIENT_CONFIG, requireEnv } from './runtime/handler-environment';
import { LifecycleNotifier } from './runtime/lifecycle-notifier';
import { liveVersionOf } from './runtime/live-alias';

/** What the Deploy-Blue stager talks to. */
export interface DeployBlueDependencies {
  readonly lambda: LambdaClient;
  readonly codePipeline: CodePipelineClient;
  readonly history: DeploymentHistoryStore;
  readonly notifier: LifecycleNotifier;
  readonly functionName: string;
  readonly aliasName: string;
  readonly serviceName: string;
  /** Longest wait for the code update to finish. */
  readonly updateTimeoutSeconds?: number;
}

/** Output variables of the Deploy-Blue action. */
export interface StagedVersions {
  readonly currentVersion: string;
  readonly targetVersion: string;
}

/** Waits until Lambda has finished applying new code; returns the function's revision id. */
async function waitForCodeUpdate(lambda: LambdaClient, functionName: string, timeoutSeconds: number): Promise<string | undefined> {
  try {
    const ready = await waitUntilFunctionUpdatedV2(
      { client: lambda, maxWaitTime: timeoutSeconds, minDelay: 2, maxDelay: 10 },
      { FunctionName: functionName },
    );
    return (ready.reason as GetFunctionCommandOutput | undefined)?.Configuration?.RevisionId;
  } catch (error) {
    // The waiter's error is a JSON dump; read the function's state again for a readable reason.
    const { Configuration: configuration } = await lambda.send(new GetFunctionCommand({ FunctionName: functionName }));
    if (configuration?.LastUpdateStatus === 'Failed') {
      throw new Error(`Lambda could not apply the new code to ${functionName}: ${configuration.LastUpdateStatusReasonCode ?? ''} ${configuration.LastUpdateStatusReason ?? ''}`.trim());
    }
    throw new Error(`the code update of ${functionName} did not finish within ${timeoutSeconds} s (last status ${configuration?.LastUpdateStatus ?? 'unknown'}: ${describeError(error).slice(0, 200)})`);
  }
}

/** Builds the Deploy-Blue handler: uploads the build artifact and publishes it as a new version. */
export function createDeployBlueHandler(deps: DeployBlueDependencies) {
  const reporter = new JobReporter(deps.codePipeline);

  async function stage(jobId: string, event: unknown): Promise<StagedVersions> {
    const job = parseJob(event, ['deploymentId']);
    const { deploymentId } = job.userParameters;
    const context = {
      service: deps.serviceName,
      commitId: job.userParameters.commitId,
      repository: job.userParameters.repository,
      branch: job.userParameters.branch,
      lastJobId: jobId,
    };
    try {
      const artifact = job.inputArtifacts[0];
      if (!artifact) throw new InvalidJobError(`job ${jobId}: no input artifact; Deploy-Blue needs the Build stage's output`);

      const currentVersion = await liveVersionOf(deps.lambda, deps.functionName, deps.aliasName);
      const updated = await deps.lambda.send(new UpdateFunctionCodeCommand({
        FunctionName: deps.functionName,
        S3Bucket: artifact.bucketName,
        S3Key: artifact.objectKey,
      }));
      const revisionId = await waitForCodeUpdate(deps.lambda, deps.functionName, deps.updateTimeoutSeconds ?? 300);
      // Pinning the code hash (and revision) makes a concurrent change fail the publish instead of being shipped.
      const published = await deps.lambda.send(new PublishVersionCommand({
        FunctionName: deps.functionName,
        CodeSha256: updated.CodeSha256,
        RevisionId: revisionId,
        Description: `deployment ${deploymentId}${context.commitId ? ` commit ${context.commitId}` : ''}`.slice(0, 256),
      }));
      if (!published.Version || published.Version === '$LATEST') {
        throw new Error(`PublishVersion returned no numbered version for ${deps.functionName}`);
      }
      const targetVersion = published.Version;
      const { record } = await deps.history.transition(deploymentId, 'STAGED', { ...context, currentVersion, targetVersion });
      await deps.notifier.announce('STAGED', record);
      return { currentVersion, targetVersion };
    } catch (error) {
      const reason = `Deploy-Blue failed: ${describeError(error)}`;
      // Record the failure, but never let a history problem hide the original reason.
      try {
        const { record } = await deps.history.transition(deploymentId, 'FAILED', { ...context, failureReason: reason });
        await deps.notifier.announce('FAILED', record);
      } catch (historyError) {
        console.error(JSON.stringify({ message: 'could not record failure', deploymentId, error: describeError(historyError) }));
      }
      throw new Error(reason);
    }
  }

  return async (event: unknown): Promise<StagedVersions | undefined> => {
    const jobId = jobIdOf(event);
    if (!jobId) {
      // Without a job id there is nothing to report to; fail the invocation loudly instead.
      throw new InvalidJobError('event is not a CodePipeline job: "CodePipeline.job.id" is missing');
    }
    let staged: StagedVersions;
    try {
      staged = await stage(jobId, event);
    } catch (error) {
      const message = describeError(error);
      console.error(JSON.stringify({ message: 'job failed', jobId, reason: message }));
      await reporter.fail(jobId, message);
      return undefined;
    }
    await reporter.succeed(jobId, { outputVariables: { ...staged } });
    console.log(JSON.stringify({ message: 'staged', jobId, ...staged }));
    return staged;
  };
}

function fromEnvironment(): DeployBlueDependencies {
  return {
    lambda: new LambdaClient(CLIENT_CONFIG),
    codePipeline: new CodePipelineClient(CLIENT_CONFIG),
    history: new DeploymentHistoryStore(
      DynamoDBDocumentClient.from(new DynamoDBClient(CLIENT_CONFIG)), requireEnv('HISTORY_TABLE_NAME')),
    notifier: new LifecycleNotifier(new SNSClient(CLIENT_CONFIG), process.env.NOTIFICATION_TOPIC_ARN),
    functionName: requireEnv('SERVICE_FUNCTION_NAME'),
    aliasName: requireEnv('SERVICE_ALIAS_NAME'),
    serviceName: requireEnv('SERVICE_NAME'),
  };
}

let handlerFromEnvironment: ((event: unknown) => Promise<StagedVersions | undefined>) | undefined;

/** The Lambda entry point. */
export async function handler(event: unknown) {
  handlerFromEnvironment ??= createDeployBlueHandler(fromEnvironment());
  return handlerFromEnvironment(event);
}
