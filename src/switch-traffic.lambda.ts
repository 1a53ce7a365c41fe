import { CodeDeployClient, CreateDeploymentCommand, DeploymentInfo, GetDeploymentCommand } from '@aws-sdk/client-codedeploy';
import { CodePipelineClient } from '@aws-sdk/client-codepipeline';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { renderAppSpec } from './runtime/appspec';
import { describeError, InvalidJobError, JobReporter, jobIdOf, parseJob, PipelineJob } from './runtime/codepipeline-job';
import {
  claimedBefore,
  claimLapsed,
  DeploymentHistoryStore,
  DeploymentRecord,
  HistoryConflictError,
} from './runtime/deployment-history-store';
import { CLAIM_MARGIN_MS, CLIENT_CONFIG, InvocationContext, remainingMs, requireEnv } from './runtime/handler-environment';
import { LifecycleNotifier } from './runtime/lifecycle-notifier';
import { liveVersionOf } from './runtime/live-alias';
import { pruneVersions } from './runtime/version-retention';

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
  /** The deployment group's configured shift, recorded in history. */
  readonly deploymentConfigName?: string;
  readonly beforeAllowTrafficHook?: string;
  readonly afterAllowTrafficHook?: string;
  /**
   * The construct's placeholder version (BOOTSTRAP_VERSION). While the alias serves it, the first
   * release goes live at once: there is no real traffic to protect by shifting slowly.
   * @default - every shift uses the group's configuration
   */
  readonly bootstrapVersion?: string;
  /**
   * How many numbered versions to keep after a successful shift (KEEP_VERSIONS, as text).
   * @default '10'
   */
  readonly keepVersions?: string;
  /**
   * The function's timeout, for how long a claim holds when no Lambda context tells.
   * @default 2 minutes (what the construct configures)
   */
  readonly invocationTimeoutMs?: number;
  /** How often a delivery that lost the start re-reads the record. @default 2000 */
  readonly claimPollMs?: number;
  readonly now?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** How one invocation ended. */
export type SwitchOutcome =
  | { readonly kind: 'continue'; readonly codeDeployDeploymentId: string }
  | { readonly kind: 'succeeded' | 'skipped'; readonly record?: DeploymentRecord; readonly recorded?: boolean }
  | { readonly kind: 'failed'; readonly reason: string }
  /** Another delivery of the job holds the start; this one reports nothing. */
  | { readonly kind: 'left'; readonly reason: string };

const IN_PROGRESS = new Set(['Created', 'Queued', 'InProgress', 'Baking', 'Ready']);

/** The predefined configuration that shifts all traffic at once. */
export const ALL_AT_ONCE = 'CodeDeployDefault.LambdaAllAtOnce';

/** Jobs that ever claimed an item for Switch-Traffic. */
const JOB_SET = 'switchTrafficJobIds';

const DEFAULT_TIMEOUT_MS = 2 * 60_000;

/** Time a waiting delivery keeps for itself to poll and report before Lambda ends it. */
const RESERVE_MS = 15_000;

/**
 * Builds the Switch-Traffic handler: starts the CodeDeploy deployment, then polls it through
 * continuation tokens. The start is claimed (STARTING) with a conditional write before
 * CreateDeployment, so of two deliveries of one job only one starts a deployment; the other waits
 * for the winner's deployment id and follows it, without failing the job.
 */
export function createSwitchTrafficHandler(deps: SwitchTrafficDependencies) {
  const reporter = new JobReporter(deps.codePipeline);
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const log = (message: string, fields: Record<string, unknown>) => console.log(JSON.stringify({ message, ...fields }));

  /** The answer a record already gives this job, if any: nothing is started again. */
  async function answerFromRecord(job: PipelineJob, record: DeploymentRecord): Promise<SwitchOutcome | undefined> {
    if (record.state === 'SUCCEEDED' || record.state === 'SKIPPED') {
      return { kind: record.state === 'SUCCEEDED' ? 'succeeded' : 'skipped', record };
    }
    if (record.state === 'SHIFTING' && record.codeDeployDeploymentId) {
      return poll(job, record.codeDeployDeploymentId);
    }
    if ((record.state === 'FAILED' || record.state === 'ROLLED_BACK') && claimedBefore(record, JOB_SET, job.id)) {
      // This job's attempt already ended: the same failure again, nothing new started.
      return { kind: 'failed', reason: record.failureReason ?? `deployment ${record.deploymentId} ${record.state}` };
    }
    return undefined;
  }

  /** First invocation of a job: claim the start, or follow the delivery that holds it. */
  async function start(job: PipelineJob, deadline: number): Promise<SwitchOutcome> {
    const { deploymentId, targetVersion } = job.userParameters;
    let record = await deps.history.get(deploymentId);
    for (;;) {
      if (!record) {
        return { kind: 'failed', reason: `deployment ${deploymentId} has no history record; Deploy-Blue must stage it first` };
      }
      const answer = await answerFromRecord(job, record);
      if (answer) return answer;

      if (record.state === 'STARTING' && !claimLapsed(record, now())) {
        const pollMs = deps.claimPollMs ?? 2000;
        if (now().getTime() + pollMs > deadline - RESERVE_MS) {
          // The holder either finishes or dies; if it dies, Lambda retries its event and that
          // retry takes over once the claim lapses.
          return {
            kind: 'left',
            reason: `job ${record.claimJobId} is starting the traffic shift of deployment ${deploymentId} (claim held until ${record.claimExpiresAt})`,
          };
        }
        await sleep(pollMs);
        record = await deps.history.get(deploymentId);
        continue;
      }

      if (record.targetVersion !== targetVersion) {
        return {
          kind: 'failed',
          reason: `deployment ${deploymentId} staged version ${record.targetVersion ?? '(none)'}, but Switch-Traffic was asked for ${targetVersion}`,
        };
      }
      const startable = (['STAGED', 'FAILED', 'ROLLED_BACK'].includes(record.state) && !claimedBefore(record, JOB_SET, job.id))
        || (record.state === 'STARTING' && (record.claimJobId === job.id || !claimedBefore(record, JOB_SET, job.id)));
      if (!startable) {
        return { kind: 'failed', reason: `deployment ${deploymentId} is ${record.state}; Switch-Traffic job ${job.id} cannot start it` };
      }

      const claim = await deps.history.claim(deploymentId, {
        state: 'STARTING',
        jobId: job.id,
        jobSet: JOB_SET,
        from: ['STAGED', 'FAILED', 'ROLLED_BACK', 'STARTING'],
        matching: { targetVersion },
        holdMs: Math.max(deadline - now().getTime(), 0) + CLAIM_MARGIN_MS,
      });
      if (claim.claimed) return shift(job, deploymentId, targetVersion);
      // Someone else wrote first: look again at what they wrote.
      record = claim.record;
    }
  }

  /** Under this job's claim: read the live version and start the CodeDeploy deployment. */
  async function shift(job: PipelineJob, deploymentId: string, targetVersion: string): Promise<SwitchOutcome> {
    const claim = { from: ['STARTING' as const], claimJobId: job.id };
    let created: string | undefined;
    try {
      const currentVersion = await liveVersionOf(deps.lambda, deps.functionName, deps.aliasName);
      if (currentVersion === targetVersion) {
        const { record } = await deps.history.transition(deploymentId, 'SKIPPED', { currentVersion, lastJobId: job.id }, claim);
        await deps.notifier.announce('SKIPPED', record);
        return { kind: 'skipped', record, recorded: true };
      }
      // The first release replaces the construct's placeholder: nothing real to shift slowly from.
      const firstRelease = !!deps.bootstrapVersion && currentVersion === deps.bootstrapVersion;
      const deploymentConfigName = firstRelease ? ALL_AT_ONCE : undefined;
      const appSpec = renderAppSpec({
        functionName: deps.functionName,
        aliasName: deps.aliasName,
        currentVersion,
        targetVersion,
        beforeAllowTrafficHook: deps.beforeAllowTrafficHook,
        afterAllowTrafficHook: deps.afterAllowTrafficHook,
      });
      const response = await deps.codeDeploy.send(new CreateDeploymentCommand({
        applicationName: deps.applicationName,
        deploymentGroupName: deps.deploymentGroupName,
        ...(deploymentConfigName ? { deploymentConfigName } : {}),
        description: `pipeline deployment ${deploymentId}: ${deps.functionName}:${deps.aliasName} ${currentVersion} -> ${targetVersion}`.slice(0, 256),
        revision: { revisionType: 'AppSpecContent', appSpecContent: appSpec },
      }));
      if (!response.deploymentId) throw new Error('CodeDeploy CreateDeployment returned no deployment id');
      created = response.deploymentId;
      const { record } = await deps.history.transition(deploymentId, 'SHIFTING', {
        currentVersion,
        codeDeployDeploymentId: created,
        deploymentConfig: deploymentConfigName ?? deps.deploymentConfigName,
        lastJobId: job.id,
      }, claim);
      await deps.notifier.announce('STARTED', record);
      return { kind: 'continue', codeDeployDeploymentId: created };
    } catch (error) {
      if (created) {
        // CodeDeploy is shifting: follow it, even though history could not say so.
        console.error(JSON.stringify({ message: 'could not record SHIFTING', deploymentId, codeDeployDeploymentId: created, error: describeError(error) }));
        return { kind: 'continue', codeDeployDeploymentId: created };
      }
      let reason = `Switch-Traffic failed: ${describeError(error)}`;
      if ((error as Error)?.name === 'DeploymentLimitExceededException') {
        reason += `. Deployment group ${deps.deploymentGroupName} already has an active deployment (CodeDeploy runs one at a time); ` +
          'wait for it to finish or stop it, then retry the stage';
      }
      // Release the claim as FAILED, so that a retry of the stage can start again.
      await recordEnd(deploymentId, 'FAILED', { failureReason: reason, lastJobId: job.id }, claim);
      return { kind: 'failed', reason };
    }
  }

  /** Writes a failure; a history problem is logged, never allowed to hide the reason. */
  async function recordEnd(deploymentId: string, state: 'FAILED' | 'ROLLED_BACK', attributes: Parameters<DeploymentHistoryStore['transition']>[2],
    options: Parameters<DeploymentHistoryStore['transition']>[3]) {
    try {
      const { record: written, changed } = await deps.history.transition(deploymentId, state, attributes, options);
      if (changed) await deps.notifier.announce(state, written);
    } catch (historyError) {
      console.error(JSON.stringify({ message: `could not record ${state}`, deploymentId, error: describeError(historyError) }));
    }
  }

  /** A later invocation: look at the CodeDeploy deployment and settle the job when it ends. */
  async function poll(job: PipelineJob, codeDeployDeploymentId: string): Promise<SwitchOutcome> {
    const { deploymentId } = job.userParameters;
    const deployment = await getDeployment(codeDeployDeploymentId);
    const status = deployment.status!;
    if (IN_PROGRESS.has(status)) return { kind: 'continue', codeDeployDeploymentId };
    // Only the shift of this CodeDeploy deployment may be settled by what it did.
    const ours = { from: ['SHIFTING' as const], matching: { codeDeployDeploymentId } };

    if (status === 'Succeeded') {
      try {
        const { record, changed } = await deps.history.transition(deploymentId, 'SUCCEEDED', { lastJobId: job.id }, ours);
        if (changed) await deps.notifier.announce('SUCCEEDED', record);
        return { kind: 'succeeded', record, recorded: changed };
      } catch (error) {
        if (!(error instanceof HistoryConflictError)) throw error;
        // A stale poll of an earlier attempt: its job gets CodeDeploy's answer, history stays.
        log('history belongs to another attempt; not recorded', { jobId: job.id, deploymentId, error: error.message });
        return { kind: 'succeeded' };
      }
    }

    const error = deployment.errorInformation;
    let reason = [
      `CodeDeploy deployment ${codeDeployDeploymentId} ${status.toLowerCase()}`,
      error?.code || error?.message ? `: ${[error?.code, error?.message].filter(Boolean).join(': ')}` : '',
    ].join('');
    const rollbackId = deployment.rollbackInfo?.rollbackDeploymentId;
    const rollbackMessage = deployment.rollbackInfo?.rollbackMessage ? ` (${deployment.rollbackInfo.rollbackMessage})` : '';
    if (!rollbackId) {
      await recordEnd(deploymentId, 'FAILED', { failureReason: reason + rollbackMessage, lastJobId: job.id }, ours);
      return { kind: 'failed', reason: reason + rollbackMessage };
    }

    // The alias is back on the old version only once the rollback deployment has succeeded.
    const rollback = await getDeployment(rollbackId);
    if (IN_PROGRESS.has(rollback.status!)) {
      log('rollback in progress', { jobId: job.id, deploymentId, codeDeployDeploymentId, rollbackDeploymentId: rollbackId, status: rollback.status });
      return { kind: 'continue', codeDeployDeploymentId };
    }
    if (rollback.status === 'Succeeded') {
      reason += `; traffic rolled back by ${rollbackId}${rollbackMessage}`;
      await recordEnd(deploymentId, 'ROLLED_BACK', { failureReason: reason, rollbackDeploymentId: rollbackId, lastJobId: job.id }, ours);
      return { kind: 'failed', reason };
    }
    const history = await deps.history.get(deploymentId).catch(() => undefined);
    const previous = history?.currentVersion ?? '<the version it served before>';
    const rollbackError = rollback.errorInformation;
    reason += `${rollbackMessage}; its rollback ${rollbackId} ${rollback.status!.toLowerCase()}` +
      (rollbackError?.code || rollbackError?.message ? `: ${[rollbackError?.code, rollbackError?.message].filter(Boolean).join(': ')}` : '') +
      `. Alias ${deps.functionName}:${deps.aliasName} may still split traffic between versions ${previous} and ${job.userParameters.targetVersion}. ` +
      `Repair it with "aws lambda update-alias --function-name ${deps.functionName} --name ${deps.aliasName} --function-version ${previous} ` +
      '--routing-config \'{}\'", then retry the stage';
    await recordEnd(deploymentId, 'FAILED', { failureReason: reason, rollbackDeploymentId: rollbackId, lastJobId: job.id }, ours);
    return { kind: 'failed', reason };
  }

  async function getDeployment(codeDeployDeploymentId: string): Promise<DeploymentInfo> {
    const { deploymentInfo } = await deps.codeDeploy.send(new GetDeploymentCommand({ deploymentId: codeDeployDeploymentId }));
    if (!deploymentInfo?.status) throw new Error(`CodeDeploy deployment ${codeDeployDeploymentId} has no status`);
    return deploymentInfo;
  }

  /** Deletes old versions after a shift this invocation recorded; never fails the job. */
  async function prune(record: DeploymentRecord) {
    try {
      if (!record.targetVersion) throw new Error(`deployment ${record.deploymentId} has no targetVersion`);
      const result = await pruneVersions(deps.lambda, {
        functionName: deps.functionName,
        keepVersions: deps.keepVersions,
        targetVersion: record.targetVersion,
        currentVersion: record.currentVersion,
        bootstrapVersion: deps.bootstrapVersion,
      });
      (result.failed.length > 0 ? console.error : console.log)(JSON.stringify({ message: 'version pruning', deploymentId: record.deploymentId, ...result }));
    } catch (error) {
      console.error(JSON.stringify({ message: 'version pruning failed; the deployment is unaffected', deploymentId: record.deploymentId, error: describeError(error) }));
    }
  }

  return async (event: unknown, context?: InvocationContext): Promise<SwitchOutcome> => {
    const jobId = jobIdOf(event);
    if (!jobId) throw new InvalidJobError('event is not a CodePipeline job: "CodePipeline.job.id" is missing');
    const deadline = now().getTime() + remainingMs(context, deps.invocationTimeoutMs ?? DEFAULT_TIMEOUT_MS);

    let outcome: SwitchOutcome;
    try {
      const job = parseJob(event, ['deploymentId', 'targetVersion']);
      outcome = job.continuationToken ? await poll(job, job.continuationToken) : await start(job, deadline);
    } catch (error) {
      // History is written only under a claim or for a finished deployment, never from here.
      outcome = { kind: 'failed', reason: `Switch-Traffic failed: ${describeError(error)}` };
    }

    log('switch-traffic', { jobId, outcome: outcome.kind, ...('reason' in outcome ? { reason: outcome.reason } : {}) });
    switch (outcome.kind) {
      case 'continue':
        await reporter.succeed(jobId, { continuationToken: outcome.codeDeployDeploymentId });
        break;
      case 'failed':
        await reporter.fail(jobId, outcome.reason);
        break;
      case 'left':
        break;
      default:
        await reporter.succeed(jobId);
        if (outcome.kind === 'succeeded' && outcome.recorded && outcome.record) await prune(outcome.record);
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
    bootstrapVersion: process.env.BOOTSTRAP_VERSION || undefined,
    keepVersions: process.env.KEEP_VERSIONS || undefined,
  };
}

let handlerFromEnvironment: ReturnType<typeof createSwitchTrafficHandler> | undefined;

/** The Lambda entry point. */
export async function handler(event: unknown, context?: InvocationContext) {
  handlerFromEnvironment ??= createSwitchTrafficHandler(fromEnvironment());
  return handlerFromEnvironment(event, context);
}
