import { CodeDeployClient, CreateDeploymentCommand, GetDeploymentCommand } from '@aws-sdk/client-codedeploy';
import { CodePipelineClient } from '@aws-sdk/client-codepipeline';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { renderAppSpec } from './runtime/appspec';
import { describeError, InvalidJobError, JobReporter, jobIdOf, parseJob, PipelineJob } from './runtime/codepipeline-job';
import { DeploymentHistoryStore, DeploymentRecord } from './runtime/deployment-history-store';
import { CLIENT_CONFIG, requireEnv } from './runtime/handler-environment';
import { LifecycleNotifier } from './runtime/lifecycle-notifier';
import { liveVersionOf } from './runtime/live-alias';

/** What the Switch-Traffic orchestrator talks to. */
export interface SwitchTrafficDependencies {
  readonly lambda: LambdaClient;
  readonly codeDeploy: CodeDeployClient;
  readonly codePipeline: CodePipelineClient;
  readonly history: DeploymentHistoryStore;
  readonly notifier: LifecycleNotifier;
  readonly functionName: string;
  readonly aliasName: string;
  readonly applicationName: string;
  readonly deploymentGroupName: string;
  readonly deploymentConfigName?: string;
  readonly beforeAllowTrafficHook?: string;
  readonly afterAllowTrafficHook?: string;
}

/** How one invocation ended. */
export type SwitchOutcome =
  | { readonly kind: 'continue'; readonly codeDeployDeploymentId: string }
  | { readonly kind: 'succeeded' | 'skipped'; readonly record?: DeploymentRecord }
  | { readonly kind: 'failed'; readonly reason: string };

const IN_PROGRESS = new Set(['Created', 'Queued', 'InProgress', 'Baking', 'Ready']);

/** Builds the Switch-Traffic handler: starts the CodeDeploy deployment, then polls it through continuation tokens. */
export function createSwitchTrafficHandler(deps: SwitchTrafficDependencies) {
  const reporter = new JobReporter(deps.codePipeline);

  async function fail(deploymentId: string, reason: string, state: 'FAILED' | 'ROLLED_BACK', jobId: string, codeDeployDeploymentId?: string): Promise<SwitchOutcome> {
    try {
      const { record, changed } = await deps.history.transition(deploymentId, state, {
        failureReason: reason, lastJobId: jobId, codeDeployDeploymentId,
      });
      if (changed) await deps.notifier.announce(state, record);
    } catch (historyError) {
      console.error(JSON.stringify({ message: 'could not record failure', deploymentId, error: describeError(historyError) }));
    }
    return { kind: 'failed', reason };
  }

  /** First invocation of a job: start (or, for a replay, resume) the traffic shift. */
  async function start(job: PipelineJob): Promise<SwitchOutcome> {
    const { deploymentId, targetVersion } = job.userParameters;
    const existing = await deps.history.get(deploymentId);
    if (!existing) {
      return { kind: 'failed', reason: `deployment ${deploymentId} has no history record; Deploy-Blue must stage it first` };
    }
    if (existing.state === 'SUCCEEDED' || existing.state === 'SKIPPED') {
      return { kind: existing.state === 'SUCCEEDED' ? 'succeeded' : 'skipped', record: existing };
    }
    if (existing.state === 'SHIFTING' && existing.codeDeployDeploymentId) {
      return poll(job, existing.codeDeployDeploymentId);
    }
    if ((existing.state === 'FAILED' || existing.state === 'ROLLED_BACK') && existing.lastJobId === job.id) {
      // The same job delivered twice: report the same failure, start nothing new.
      return { kind: 'failed', reason: existing.failureReason ?? `deployment ${deploymentId} ${existing.state}` };
    }
    if (existing.targetVersion && existing.targetVersion !== targetVersion) {
      return { kind: 'failed', reason: `deployment ${deploymentId} staged version ${existing.targetVersion}, but Switch-Traffic was asked for ${targetVersion}` };
    }

    const currentVersion = await liveVersionOf(deps.lambda, deps.functionName, deps.aliasName);
    if (currentVersion === targetVersion) {
      const { record } = await deps.history.transition(deploymentId, 'SKIPPED', { currentVersion, targetVersion, lastJobId: job.id });
      await deps.notifier.announce('SKIPPED', record);
      return { kind: 'skipped', record };
    }

    const appSpec = renderAppSpec({
      functionName: deps.functionName,
      aliasName: deps.aliasName,
      currentVersion,
      targetVersion,
      beforeAllowTrafficHook: deps.beforeAllowTrafficHook,
      afterAllowTrafficHook: deps.afterAllowTrafficHook,
    });
    const created = await deps.codeDeploy.send(new CreateDeploymentCommand({
      applicationName: deps.applicationName,
      deploymentGroupName: deps.deploymentGroupName,
      description: `pipeline deployment ${deploymentId}: ${deps.functionName}:${deps.aliasName} ${currentVersion} -> ${targetVersion}`.slice(0, 256),
      revision: { revisionType: 'AppSpecContent', appSpecContent: appSpec },
    }));
    if (!created.deploymentId) throw new Error('CodeDeploy CreateDeployment returned no deployment id');
    const { record } = await deps.history.transition(deploymentId, 'SHIFTING', {
      currentVersion,
      targetVersion,
      codeDeployDeploymentId: created.deploymentId,
      deploymentConfig: deps.deploymentConfigName,
      lastJobId: job.id,
    });
    await deps.notifier.announce('STARTED', record);
    return { kind: 'continue', codeDeployDeploymentId: created.deploymentId };
  }

  /** A later invocation: look at the CodeDeploy deployment and settle the job when it ends. */
  async function poll(job: PipelineJob, codeDeployDeploymentId: string): Promise<SwitchOutcome> {
    const { deploymentId } = job.userParameters;
    const { deploymentInfo } = await deps.codeDeploy.send(new GetDeploymentCommand({ deploymentId: codeDeployDeploymentId }));
    const status = deploymentInfo?.status;
    if (!status) throw new Error(`CodeDeploy deployment ${codeDeployDeploymentId} has no status`);
    if (IN_PROGRESS.has(status)) return { kind: 'continue', codeDeployDeploymentId };

    if (status === 'Succeeded') {
      const { record, changed } = await deps.history.transition(deploymentId, 'SUCCEEDED', { codeDeployDeploymentId, lastJobId: job.id });
      if (changed) await deps.notifier.announce('SUCCEEDED', record);
      return { kind: 'succeeded', record };
    }
    const error = deploymentInfo?.errorInformation;
    const rollbackId = deploymentInfo?.rollbackInfo?.rollbackDeploymentId;
    const reason = [
      `CodeDeploy deployment ${codeDeployDeploymentId} ${status.toLowerCase()}`,
      error?.code || error?.message ? `: ${[error?.code, error?.message].filter(Boolean).join(': ')}` : '',
      rollbackId ? `; traffic rolled back by ${rollbackId}` : '',
      deploymentInfo?.rollbackInfo?.rollbackMessage ? ` (${deploymentInfo.rollbackInfo.rollbackMessage})` : '',
    ].join('');
    return fail(deploymentId, reason, rollbackId ? 'ROLLED_BACK' : 'FAILED', job.id, codeDeployDeploymentId);
  }

  return async (event: unknown): Promise<SwitchOutcome> => {
    const jobId = jobIdOf(event);
    if (!jobId) throw new InvalidJobError('event is not a CodePipeline job: "CodePipeline.job.id" is missing');

    let outcome: SwitchOutcome;
    let job: PipelineJob | undefined;
    try {
      job = parseJob(event, ['deploymentId', 'targetVersion']);
      outcome = job.continuationToken ? await poll(job, job.continuationToken) : await start(job);
    } catch (error) {
      const reason = `Switch-Traffic failed: ${describeError(error)}`;
      outcome = job ? await fail(job.userParameters.deploymentId, reason, 'FAILED', jobId) : { kind: 'failed', reason };
    }

    console.log(JSON.stringify({ message: 'switch-traffic', jobId, outcome: outcome.kind, ...('reason' in outcome ? { reason: outcome.reason } : {}) }));
    switch (outcome.kind) {
      case 'continue':
        await reporter.succeed(jobId, { continuationToken: outcome.codeDeployDeploymentId });
        break;
      case 'failed':
        await reporter.fail(jobId, outcome.reason);
        break;
      default:
        await reporter.succeed(jobId);
    }
    return outcome;
  };
}

function fromEnvironment(): SwitchTrafficDependencies {
  return {
    lambda: new LambdaClient(CLIENT_CONFIG),
    codeDeploy: new CodeDeployClient(CLIENT_CONFIG),
    codePipeline: new CodePipelineClient(CLIENT_CONFIG),
    history: new DeploymentHistoryStore(
      DynamoDBDocumentClient.from(new DynamoDBClient(CLIENT_CONFIG)), requireEnv('HISTORY_TABLE_NAME')),
    notifier: new LifecycleNotifier(new SNSClient(CLIENT_CONFIG), process.env.NOTIFICATION_TOPIC_ARN),
    functionName: requireEnv('SERVICE_FUNCTION_NAME'),
    aliasName: requireEnv('SERVICE_ALIAS_NAME'),
    applicationName: requireEnv('CODEDEPLOY_APPLICATION_NAME'),
    deploymentGroupName: requireEnv('CODEDEPLOY_DEPLOYMENT_GROUP_NAME'),
    deploymentConfigName: process.env.CODEDEPLOY_DEPLOYMENT_CONFIG_NAME,
    beforeAllowTrafficHook: process.env.BEFORE_ALLOW_TRAFFIC_HOOK || undefined,
    afterAllowTrafficHook: process.env.AFTER_ALLOW_TRAFFIC_HOOK || undefined,
  };
}

let handlerFromEnvironment: ((event: unknown) => Promise<SwitchOutcome>) | undefined;

/** The Lambda entry point. */
export async function handler(event: unknown) {
  handlerFromEnvironment ??= createSwitchTrafficHandler(fromEnvironment());
  return handlerFromEnvironment(event);
}
