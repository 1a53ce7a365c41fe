import { CodeDeployClient, CreateDeploymentCommand, DeploymentInfo, GetDeploymentCommand } from '@aws-sdk/client-codedeploy';
import { CodePipelineClient } from '@aws-sdk/client-codepipeline';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { ALL_AT_ONCE_CONFIG, HANDLER_ENVIRONMENT, SWITCH_TRAFFIC_PARAMETERS, SwitchTrafficParameters } from '../contract/handler-contract';
import { settleAbandonedItems, endedBeforeSwitchTraffic } from '../runtime/abandoned-items';
import { activeDeploymentOf, foreignDeploymentMessage, pipelineDeploymentDescription } from '../runtime/active-deployment';
import { renderAppSpec } from '../runtime/appspec';
import { describeError, InvalidJobError, jobHandler, JobReporter, parseJob, PipelineJob } from '../runtime/codepipeline-job';
import {
  Attributes,
  BY_SERVICE_INDEX,
  claimedBefore,
  claimLapsed,
  DeploymentHistoryStore,
  DeploymentRecord,
  HistoryConflictError,
  TransitionOptions,
} from '../runtime/deployment-history-store';
import { inEnvironment } from '../runtime/environment-scope';
import { isNewer, newerRelease, olderExecutionMessage } from '../runtime/execution-order';
import { CLAIM_MARGIN_MS, CLIENT_CONFIG, InvocationContext, lazyEntryPoint, remainingMs, requireEnv } from '../runtime/handler-environment';
import { LifecycleNotifier } from '../runtime/lifecycle-notifier';
import { aliasRepairCommand, aliasRoutingOf, splitAliasMessage } from '../runtime/live-alias';
import { appendCorrelation, defaultLogger, Logger } from '../runtime/logger';
import { DeploymentMetricsRecorder, writeToStdout } from '../runtime/metrics-recorder';
import { optionalName, optionalVersion, ServiceInExecution, serviceInExecution } from '../runtime/service-parameters';
import { sharedDependenciesFromEnvironment } from '../runtime/shared-dependencies';
import { DeployerRoleError, TargetSession, TargetSessions } from '../runtime/target-session';
import { pruneVersions, parseKeepVersions } from '../runtime/version-retention';
import { stopLaterWaves } from '../runtime/wave-gate';

/**
 * What the Switch-Traffic orchestrator talks to. One function serves every service of a
 * pipeline: the service, its alias, deployment group and hooks come with each job
 * (UserParameters), see {@link SWITCH_TRAFFIC_PARAMETERS}.
 */
export interface SwitchTrafficDependencies {
  /** The handler's own clients; a job of an environment in another account or region uses its deployer role's. */
  readonly lambda: LambdaClient;
  readonly codeDeploy: CodeDeployClient;
  readonly codePipeline: CodePipelineClient;
  readonly history: DeploymentHistoryStore;
  readonly notifier: LifecycleNotifier;
  /**
   * Publishes Deployments, ShiftDuration and LeadTime when this stage ends a deployment.
   * @default EMF lines on stdout
   */
  readonly metrics?: DeploymentMetricsRecorder;
  /** Writes the structured log records. @default the process's Powertools logger */
  readonly logger?: Logger;
  /** The pipeline's CodeDeploy application (CODEDEPLOY_APPLICATION_NAME). */
  readonly applicationName: string;
  /** The pipeline's name: the Pipeline dimension of its metrics. */
  readonly pipelineName?: string;
  /** The pipeline's ARN (PIPELINE_ARN), the external id of the deployer roles. @default - a job naming a deployer role fails */
  readonly pipelineArn?: string;
  /** The handler's own region (AWS_REGION): recorded for its own jobs, and where STS is called. */
  readonly region?: string;
  /** Where each job acts. @default sessions on the handler's own clients, and deployer roles assumed with STS */
  readonly targets?: TargetSessions<'lambda' | 'codeDeploy'>;
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

/** One job's service and the shift it asks for. */
export interface ShiftRequest extends ServiceInExecution {
  readonly jobId: string;
  readonly targetVersion: string;
  readonly functionName: string;
  readonly aliasName: string;
  readonly deploymentGroupName: string;
  /** The deployment group's configured shift, recorded in history. */
  readonly deploymentConfigName?: string;
  readonly beforeAllowTrafficHook?: string;
  readonly afterAllowTrafficHook?: string;
  /**
   * The construct's placeholder version. While the alias serves it, the first release goes live
   * at once: there is no real traffic to protect by shifting slowly.
   */
  readonly bootstrapVersion?: string;
  /** The version the stack's `AWS::Lambda::Version` names (a user's own function too): never pruned. */
  readonly stackVersion?: string;
  /** How many numbered versions to keep after a successful shift, as text; "" means the default. */
  readonly keepVersions?: string;
  /** Where the service is deployed, and the clients that reach it (the application has the pipeline's name there too). */
  readonly target: TargetSession<'lambda' | 'codeDeploy'>;
}

/** A failure this job's attempt recorded (or recorded before, for a repeated delivery). */
interface SettledFailure {
  readonly state: 'FAILED' | 'ROLLED_BACK';
  readonly record: DeploymentRecord;
  readonly changed: boolean;
}

/** What a CodeDeploy deployment came to. */
type DeploymentOutcome =
  | { readonly kind: 'in-progress' }
  | { readonly kind: 'SUCCEEDED' }
  | { readonly kind: 'FAILED' | 'ROLLED_BACK'; readonly reason: string; readonly rollbackDeploymentId?: string };

/** The continuation token of a job that waits for another execution's deployment (CodeDeploy ids are `d-` and letters). */
const WAIT_PREFIX = 'wait:';
const waitToken = (codeDeployDeploymentId: string) => `${WAIT_PREFIX}${codeDeployDeploymentId}`;

/** How one invocation ended. */
export type SwitchOutcome =
  | { readonly kind: 'continue'; readonly codeDeployDeploymentId: string }
  /** An earlier execution's deployment holds the group: this job polls it through `continuationToken`. */
  | { readonly kind: 'wait'; readonly continuationToken: string; readonly waitingFor?: string }
  | { readonly kind: 'succeeded' | 'skipped'; readonly record?: DeploymentRecord; readonly recorded?: boolean }
  | { readonly kind: 'failed'; readonly reason: string; readonly settled?: SettledFailure }
  /** Another delivery of the job holds the start; this one reports nothing. */
  | { readonly kind: 'left'; readonly reason: string };

const IN_PROGRESS = new Set(['Created', 'Queued', 'InProgress', 'Baking', 'Ready']);

/** Jobs that ever claimed an item for Switch-Traffic. */
const JOB_SET = 'switchTrafficJobIds';

const DEFAULT_TIMEOUT_MS = 2 * 60_000;

/** Time a waiting delivery keeps for itself to poll and report before Lambda ends it. */
const RESERVE_MS = 15_000;

/** Reads and checks a job's UserParameters; a bad one fails the job naming the field. */
function shiftRequest(job: PipelineJob<SwitchTrafficParameters>, target: ShiftRequest['target']): ShiftRequest {
  const p = job.userParameters;
  const keepVersions = optionalName(job, 'keepVersions');
  try {
    parseKeepVersions(keepVersions);
  } catch (error) {
    throw new InvalidJobError(`job ${job.id}: UserParameters ${(error as Error).message}`);
  }
  if (!/^[1-9][0-9]*$/.test(p.targetVersion)) {
    throw new InvalidJobError(`job ${job.id}: UserParameters targetVersion must be a published version number, got "${p.targetVersion}"`);
  }
  return {
    ...serviceInExecution(job),
    jobId: job.id,
    targetVersion: p.targetVersion,
    functionName: p.functionName,
    aliasName: p.aliasName,
    deploymentGroupName: p.deploymentGroupName,
    deploymentConfigName: optionalName(job, 'deploymentConfigName'),
    beforeAllowTrafficHook: optionalName(job, 'beforeAllowTrafficHook'),
    afterAllowTrafficHook: optionalName(job, 'afterAllowTrafficHook'),
    bootstrapVersion: optionalVersion(job, 'bootstrapVersion'),
    stackVersion: optionalVersion(job, 'stackVersion'),
    keepVersions,
    target,
  };
}

/**
 * Builds the Switch-Traffic handler: for one service, starts the CodeDeploy deployment, then
 * polls it through continuation tokens. The start is claimed (STARTING) with a conditional write
 * before CreateDeployment, so of two deliveries of one job only one starts a deployment; the other
 * waits for the winner's deployment id and follows it, without failing the job. A shift that ends
 * rolled back or failed marks the later waves of its execution NOT_STARTED. Each deployment it
 * ends (and each it marks NOT_STARTED) is counted once in the Deployments metric, by the delivery
 * whose conditional write ended it.
 */
export function createSwitchTrafficHandler(deps: SwitchTrafficDependencies) {
  const logger = deps.logger ?? defaultLogger();
  const reporter = new JobReporter(deps.codePipeline, logger);
  const metrics = deps.metrics ?? new DeploymentMetricsRecorder(writeToStdout, undefined, logger, deps.pipelineName);
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  // Each record carries the invocation's correlation keys (jobId, deploymentId, ...); fields about
  // another execution's item are named itemDeploymentId and awaitedCodeDeployDeploymentId.
  const log = (message: string, fields: Record<string, unknown> = {}) => logger.info(message, fields);
  const targets = deps.targets ?? new TargetSessions({
    handler: 'switch-traffic',
    own: { lambda: deps.lambda, codeDeploy: deps.codeDeploy },
    uses: ['lambda', 'codeDeploy'],
    pipelineArn: deps.pipelineArn,
    region: deps.region,
  });

  /** The answer a record already gives this job, if any: nothing is started again. */
  async function answerFromRecord(request: ShiftRequest, record: DeploymentRecord): Promise<SwitchOutcome | undefined> {
    if (record.state === 'SUCCEEDED' || record.state === 'SKIPPED') {
      return { kind: record.state === 'SUCCEEDED' ? 'succeeded' : 'skipped', record };
    }
    if (record.state === 'SHIFTING' && record.codeDeployDeploymentId) {
      return poll(request, record.codeDeployDeploymentId);
    }
    if (record.state === 'STARTING' && record.awaitingDeploymentId) {
      // The start waits for an earlier execution's deployment; this delivery follows the same wait.
      return { kind: 'wait', continuationToken: waitToken(record.awaitingDeploymentId) };
    }
    if ((record.state === 'FAILED' || record.state === 'ROLLED_BACK') && claimedBefore(record, JOB_SET, request.jobId)) {
      // This job's attempt already ended: the same failure again, nothing new started.
      return {
        kind: 'failed',
        reason: record.failureReason ?? `deployment ${record.deploymentId} ${record.state}`,
        settled: { state: record.state, record, changed: false },
      };
    }
    return undefined;
  }

  /** First invocation of a job: claim the start, or follow the delivery that holds it. */
  async function start(request: ShiftRequest, deadline: number): Promise<SwitchOutcome> {
    const { historyKey: deploymentId, targetVersion } = request;
    let record = await deps.history.get(deploymentId);
    for (;;) {
      if (!record) {
        return { kind: 'failed', reason: `deployment ${deploymentId} has no history record; Deploy-Blue must stage it first` };
      }
      const answer = await answerFromRecord(request, record);
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
      if (record.functionName && record.functionName !== request.functionName) {
        return {
          kind: 'failed',
          reason: `deployment ${deploymentId} staged function ${record.functionName}, but Switch-Traffic was asked to shift ${request.functionName}`,
        };
      }
      if (record.environment && request.environment && record.environment !== request.environment) {
        return {
          kind: 'failed',
          reason: `deployment ${deploymentId} was staged for environment ${record.environment}, but Switch-Traffic was asked to shift it in ${request.environment}`,
        };
      }
      const startable = (['STAGED', 'FAILED', 'ROLLED_BACK', 'NOT_STARTED'].includes(record.state) && !claimedBefore(record, JOB_SET, request.jobId))
        || (record.state === 'STARTING' && (record.claimJobId === request.jobId || !claimedBefore(record, JOB_SET, request.jobId)));
      if (!startable) {
        return { kind: 'failed', reason: `deployment ${deploymentId} is ${record.state}; Switch-Traffic job ${request.jobId} cannot start it` };
      }

      const claim = await deps.history.claim(deploymentId, {
        state: 'STARTING',
        jobId: request.jobId,
        jobSet: JOB_SET,
        // NOT_STARTED: a retried stage runs the later waves an earlier failure held back.
        from: ['STAGED', 'FAILED', 'ROLLED_BACK', 'NOT_STARTED', 'STARTING'],
        matching: { targetVersion },
        holdMs: Math.max(deadline - now().getTime(), 0) + CLAIM_MARGIN_MS,
        // The item's environment (Deploy-Blue's already, checked above), account and region: metrics and messages carry them.
        attributes: {
          ...(request.environment ? { environment: request.environment } : {}),
          account: request.target.account,
          region: request.target.region,
        },
      });
      if (claim.claimed) return shift(request, claim.record);
      // Someone else wrote first: look again at what they wrote.
      record = claim.record;
    }
  }

  /** Under this job's claim: wait for an earlier execution's shift, refuse an older build, or start the CodeDeploy deployment. */
  async function shift(request: ShiftRequest, claimed: DeploymentRecord): Promise<SwitchOutcome> {
    const { historyKey: deploymentId, targetVersion, functionName, aliasName } = request;
    const claim = { from: ['STARTING' as const], claimJobId: request.jobId };
    let created: string | undefined;
    const refuse = async (reason: string): Promise<SwitchOutcome> => ({
      kind: 'failed', reason, settled: await recordEnd(deploymentId, 'FAILED', { failureReason: reason, lastJobId: request.jobId }, claim),
    });
    try {
      await settleAbandoned(request, claimed);
      await request.target.ready();
      for (let attempt = 0; ; attempt++) {
        // An older execution (a retried stage, or one whose stage was stopped and abandoned) never moves traffic back.
        const newer = await newerRelease(deps.history, claimed);
        if (newer) return await refuse(olderExecutionMessage(claimed, newer));

        const active = await activeDeploymentOf(request.target.codeDeploy, deps.history, {
          applicationName: deps.applicationName,
          deploymentGroupName: request.deploymentGroupName,
          service: request.service,
          environment: claimed.environment ?? request.environment,
          environments: request.environments,
        });
        if (active.kind === 'foreign') return await refuse(`Switch-Traffic failed: ${foreignDeploymentMessage(active.info, functionName, aliasName)}`);
        if (active.kind === 'pipeline') {
          if (active.record.deploymentId !== deploymentId && isNewer(active.record, claimed)) {
            return await refuse(olderExecutionMessage(claimed, active.record));
          }
          // An earlier execution's shift goes on (its stage was stopped and abandoned): wait for it, then shift from where it ends.
          const holdMs = (deps.invocationTimeoutMs ?? DEFAULT_TIMEOUT_MS) + CLAIM_MARGIN_MS;
          if (!await deps.history.awaitDeployment(deploymentId, request.jobId, active.awaited, holdMs)) {
            return { kind: 'left', reason: `job ${request.jobId} no longer holds the start of deployment ${deploymentId}` };
          }
          log('waiting for an earlier execution\'s deployment', {
            itemDeploymentId: active.record.deploymentId,
            awaitedCodeDeployDeploymentId: active.awaited,
            status: active.info.status,
          });
          return { kind: 'wait', continuationToken: waitToken(active.awaited), waitingFor: active.record.deploymentId };
        }

        const routing = await aliasRoutingOf(request.target.lambda, functionName, aliasName);
        if (Object.keys(routing.weights).length > 0) {
          return await refuse(`Switch-Traffic failed: ${splitAliasMessage(functionName, aliasName, routing, request.deploymentGroupName)}`);
        }
        const currentVersion = routing.version;
        if (currentVersion === targetVersion) {
          const { record, changed } = await deps.history.transition(deploymentId, 'SKIPPED', { currentVersion, lastJobId: request.jobId }, claim);
          if (changed) metrics.deploymentEnded(record, request.service);
          await deps.notifier.announce('SKIPPED', record);
          return { kind: 'skipped', record, recorded: true };
        }
        // The first release replaces the construct's placeholder: nothing real to shift slowly from.
        const firstRelease = !!request.bootstrapVersion && currentVersion === request.bootstrapVersion;
        const deploymentConfigName = firstRelease ? ALL_AT_ONCE_CONFIG : undefined;
        const appSpec = renderAppSpec({
          functionName,
          aliasName,
          currentVersion,
          targetVersion,
          beforeAllowTrafficHook: request.beforeAllowTrafficHook,
          afterAllowTrafficHook: request.afterAllowTrafficHook,
        });
        let response;
        try {
          response = await request.target.codeDeploy.send(new CreateDeploymentCommand({
            applicationName: deps.applicationName,
            deploymentGroupName: request.deploymentGroupName,
            ...(deploymentConfigName ? { deploymentConfigName } : {}),
            description: pipelineDeploymentDescription(request.executionId, `${functionName}:${aliasName} ${currentVersion} -> ${targetVersion}`),
            revision: { revisionType: 'AppSpecContent', appSpecContent: appSpec },
          }));
        } catch (error) {
          // Someone started a deployment since the group was listed: look again at whose it is.
          if ((error as Error)?.name === 'DeploymentLimitExceededException' && attempt < 2) continue;
          throw error;
        }
        if (!response.deploymentId) throw new Error('CodeDeploy CreateDeployment returned no deployment id');
        created = response.deploymentId;
        appendCorrelation(logger, { codeDeployDeploymentId: created });
        const { record } = await deps.history.transition(deploymentId, 'SHIFTING', {
          currentVersion,
          codeDeployDeploymentId: created,
          deploymentConfig: deploymentConfigName ?? request.deploymentConfigName,
          lastJobId: request.jobId,
        }, claim);
        await deps.notifier.announce('STARTED', record);
        return { kind: 'continue', codeDeployDeploymentId: created };
      }
    } catch (error) {
      if (created) {
        // CodeDeploy is shifting: follow it, even though history could not say so.
        logger.error('could not record SHIFTING', { error: describeError(error) });
        return { kind: 'continue', codeDeployDeploymentId: created };
      }
      let reason = `Switch-Traffic failed: ${describeError(error)}`;
      if ((error as Error)?.name === 'DeploymentLimitExceededException') {
        reason += `. Deployment group ${request.deploymentGroupName} already has an active deployment (CodeDeploy runs one at a time); ` +
          'wait for it to finish or stop it, then retry the stage';
      }
      if (!(error instanceof DeployerRoleError) && /AccessDenied|not authorized/i.test(`${(error as Error)?.name} ${(error as Error)?.message}`)) {
        reason += '. Switch-Traffic needs codedeploy:ListDeployments and codedeploy:GetDeployment on the deployment group, and dynamodb:Query on ' +
          `the history table's ${BY_SERVICE_INDEX} index, to tell overlapping executions apart; update the stack to this library's version`;
      }
      // Release the claim as FAILED, so that a retry of the stage can start again.
      const settled = await recordEnd(deploymentId, 'FAILED', { failureReason: reason, lastJobId: request.jobId }, claim);
      return { kind: 'failed', reason, settled };
    }
  }

  /**
   * A continuation of a job that waits for an earlier execution's deployment: when it has ended,
   * records that execution's outcome and starts this shift from where it left the alias. Of
   * concurrent deliveries one resumes (a conditional write); the others follow what it started.
   */
  async function resumeWait(request: ShiftRequest, awaited: string): Promise<SwitchOutcome> {
    const { historyKey: deploymentId } = request;
    const waiting: SwitchOutcome = { kind: 'wait', continuationToken: waitToken(awaited) };
    const record = await deps.history.get(deploymentId);
    if (!record) return { kind: 'failed', reason: `deployment ${deploymentId} has no history record; Deploy-Blue must stage it first` };
    if (record.state === 'SHIFTING' && record.codeDeployDeploymentId) return poll(request, record.codeDeployDeploymentId);
    if (record.state === 'SUCCEEDED' || record.state === 'SKIPPED') return { kind: record.state === 'SUCCEEDED' ? 'succeeded' : 'skipped', record };
    if (record.state === 'FAILED' || record.state === 'ROLLED_BACK') {
      return { kind: 'failed', reason: record.failureReason ?? `deployment ${deploymentId} ${record.state}`, settled: { state: record.state, record, changed: false } };
    }
    if (record.state !== 'STARTING') return { kind: 'failed', reason: `deployment ${deploymentId} is ${record.state}; Switch-Traffic job ${request.jobId} cannot start it` };
    // Another delivery waits for a later deployment now: follow that one.
    if (record.awaitingDeploymentId && record.awaitingDeploymentId !== awaited) return { kind: 'wait', continuationToken: waitToken(record.awaitingDeploymentId) };

    const earlier = (await deps.history.listService(request.service, { limit: 50 }))
      .find((r) => r.codeDeployDeploymentId === awaited && inEnvironment(r, record.environment ?? request.environment));
    const outcome = await outcomeOf(request.target.codeDeploy, awaited, {
      functionName: earlier?.functionName ?? request.functionName,
      aliasName: earlier?.aliasName ?? request.aliasName,
      targetVersion: earlier?.targetVersion ?? '<its target version>',
      historyKey: earlier?.deploymentId,
      jobId: request.jobId,
    });
    if (outcome.kind === 'in-progress') return waiting;
    if (earlier) await recordEarlierOutcome(request, earlier, awaited, outcome);

    const holdMs = (deps.invocationTimeoutMs ?? DEFAULT_TIMEOUT_MS) + CLAIM_MARGIN_MS;
    const resumed = await deps.history.resumeAfterWait(deploymentId, request.jobId, awaited, holdMs);
    if (resumed.claimed) {
      log('earlier deployment ended; starting', { itemDeploymentId: earlier?.deploymentId, awaitedCodeDeployDeploymentId: awaited, outcome: outcome.kind });
      return shift(request, resumed.record);
    }
    if (resumed.record?.state === 'SHIFTING' && resumed.record.codeDeployDeploymentId) return poll(request, resumed.record.codeDeployDeploymentId);
    return waiting;
  }

  /** Settles the earlier execution's item by what its deployment did, as its own poll would have (if nobody has). */
  async function recordEarlierOutcome(request: ShiftRequest, earlier: DeploymentRecord, awaited: string, outcome: Exclude<DeploymentOutcome, { kind: 'in-progress' }>) {
    const ours = { from: ['SHIFTING' as const], matching: { codeDeployDeploymentId: awaited } };
    try {
      const { record, changed } = outcome.kind === 'SUCCEEDED'
        ? await deps.history.transition(earlier.deploymentId, 'SUCCEEDED', {}, ours)
        : await deps.history.transition(earlier.deploymentId, outcome.kind, {
          failureReason: outcome.reason, ...(outcome.rollbackDeploymentId ? { rollbackDeploymentId: outcome.rollbackDeploymentId } : {}),
        }, ours);
      if (!changed) return;
      log('recorded the earlier execution\'s outcome', { itemDeploymentId: earlier.deploymentId, state: record.state });
      metrics.deploymentEnded(record, request.service);
      await deps.notifier.announce(record.state === 'SUCCEEDED' ? 'SUCCEEDED' : outcome.kind, record);
    } catch (error) {
      if (!(error instanceof HistoryConflictError)) {
        logger.error('could not record the earlier execution\'s outcome', { itemDeploymentId: earlier.deploymentId, error: describeError(error) });
      }
    }
  }

  /** Marks earlier executions' items of this service that can no longer move; never fails the shift. */
  async function settleAbandoned(request: ShiftRequest, claimed: DeploymentRecord) {
    try {
      const changed = await settleAbandonedItems(deps.history, claimed, endedBeforeSwitchTraffic, now(), logger);
      for (const record of changed) {
        log('earlier execution\'s item settled', { itemDeploymentId: record.deploymentId, state: record.state, reason: record.failureReason });
        metrics.deploymentEnded(record, request.service);
        await deps.notifier.announce(record.state === 'NOT_STARTED' ? 'NOT_STARTED' : 'FAILED', record);
      }
    } catch (error) {
      logger.error('could not settle earlier executions\' items', { error: describeError(error) });
    }
  }

  /** Writes a failure; a history problem is logged, never allowed to hide the reason. */
  async function recordEnd(deploymentId: string, state: 'FAILED' | 'ROLLED_BACK', attributes: Attributes,
    options: TransitionOptions): Promise<SettledFailure | undefined> {
    try {
      const { record, changed } = await deps.history.transition(deploymentId, state, attributes, options);
      return { state, record, changed };
    } catch (historyError) {
      logger.error(`could not record ${state}`, { error: describeError(historyError) });
      return undefined;
    }
  }

  /** A later invocation: look at the CodeDeploy deployment and settle the job when it ends. */
  async function poll(request: ShiftRequest, codeDeployDeploymentId: string): Promise<SwitchOutcome> {
    const { historyKey: deploymentId, jobId } = request;
    appendCorrelation(logger, { codeDeployDeploymentId });
    const outcome = await outcomeOf(request.target.codeDeploy, codeDeployDeploymentId, { ...request, historyKey: deploymentId, jobId });
    if (outcome.kind === 'in-progress') return { kind: 'continue', codeDeployDeploymentId };
    // Only the shift of this CodeDeploy deployment may be settled by what it did.
    const ours = { from: ['SHIFTING' as const], matching: { codeDeployDeploymentId } };

    if (outcome.kind === 'SUCCEEDED') {
      try {
        const { record, changed } = await deps.history.transition(deploymentId, 'SUCCEEDED', { lastJobId: jobId }, ours);
        if (changed) {
          // Only the delivery whose write moved the item counts it: duplicates see changed false.
          metrics.deploymentEnded(record, request.service);
          await deps.notifier.announce('SUCCEEDED', record);
        }
        return { kind: 'succeeded', record, recorded: changed };
      } catch (error) {
        if (!(error instanceof HistoryConflictError)) throw error;
        // A stale poll of an earlier attempt: its job gets CodeDeploy's answer, history stays.
        log('history belongs to another attempt; not recorded', { error: error.message });
        return { kind: 'succeeded' };
      }
    }
    const { reason, rollbackDeploymentId } = outcome;
    const settled = await recordEnd(deploymentId, outcome.kind,
      { failureReason: reason, ...(rollbackDeploymentId ? { rollbackDeploymentId } : {}), lastJobId: jobId }, ours);
    return { kind: 'failed', reason, settled };
  }

  /** What a CodeDeploy deployment came to, once it and its rollback (if any) have ended. */
  async function outcomeOf(codeDeploy: CodeDeployClient, codeDeployDeploymentId: string, about: {
    functionName: string; aliasName: string; targetVersion: string; historyKey?: string; jobId: string;
  }): Promise<DeploymentOutcome> {
    const deployment = await getDeployment(codeDeploy, codeDeployDeploymentId);
    const status = deployment.status!;
    if (IN_PROGRESS.has(status)) return { kind: 'in-progress' };
    if (status === 'Succeeded') return { kind: 'SUCCEEDED' };

    const error = deployment.errorInformation;
    let reason = [
      `CodeDeploy deployment ${codeDeployDeploymentId} ${status.toLowerCase()}`,
      error?.code || error?.message ? `: ${[error?.code, error?.message].filter(Boolean).join(': ')}` : '',
    ].join('');
    const rollbackId = deployment.rollbackInfo?.rollbackDeploymentId;
    const rollbackMessage = deployment.rollbackInfo?.rollbackMessage ? ` (${deployment.rollbackInfo.rollbackMessage})` : '';
    if (!rollbackId) return { kind: 'FAILED', reason: reason + rollbackMessage };

    // The alias is back on the old version only once the rollback deployment has succeeded.
    const rollback = await getDeployment(codeDeploy, rollbackId);
    if (IN_PROGRESS.has(rollback.status!)) {
      log('rollback in progress', { itemDeploymentId: about.historyKey, itemCodeDeployDeploymentId: codeDeployDeploymentId, rollbackDeploymentId: rollbackId, status: rollback.status });
      return { kind: 'in-progress' };
    }
    if (rollback.status === 'Succeeded') {
      return { kind: 'ROLLED_BACK', reason: `${reason}; traffic rolled back by ${rollbackId}${rollbackMessage}`, rollbackDeploymentId: rollbackId };
    }
    const history = about.historyKey ? await deps.history.get(about.historyKey).catch(() => undefined) : undefined;
    const previous = history?.currentVersion ?? '<the version it served before>';
    const rollbackError = rollback.errorInformation;
    const { functionName, aliasName } = about;
    reason += `${rollbackMessage}; its rollback ${rollbackId} ${rollback.status!.toLowerCase()}` +
      (rollbackError?.code || rollbackError?.message ? `: ${[rollbackError?.code, rollbackError?.message].filter(Boolean).join(': ')}` : '') +
      `. Alias ${functionName}:${aliasName} may still split traffic between versions ${previous} and ${about.targetVersion}. ` +
      `Repair it with "${aliasRepairCommand(functionName, aliasName, previous)}", then retry the stage`;
    return { kind: 'FAILED', reason, rollbackDeploymentId: rollbackId };
  }

  async function getDeployment(codeDeploy: CodeDeployClient, codeDeployDeploymentId: string): Promise<DeploymentInfo> {
    const { deploymentInfo } = await codeDeploy.send(new GetDeploymentCommand({ deploymentId: codeDeployDeploymentId }));
    if (!deploymentInfo?.status) throw new Error(`CodeDeploy deployment ${codeDeployDeploymentId} has no status`);
    return deploymentInfo;
  }

  /**
   * Announces a failure this attempt settled, after marking the later waves NOT_STARTED (each
   * message then lists the whole execution). Repeated deliveries mark and announce nothing twice.
   */
  async function settleFailure(request: ShiftRequest, settled: SettledFailure) {
    if (settled.changed) metrics.deploymentEnded(settled.record, request.service);
    let execution: DeploymentRecord[] | undefined;
    let stopped: DeploymentRecord[] = [];
    try {
      ({ changed: stopped, execution } = await stopLaterWaves(deps.history, {
        executionId: request.executionId,
        service: request.service,
        wave: request.wave,
        state: settled.state,
        environment: settled.record.environment ?? request.environment,
      }, logger));
      if (stopped.length > 0) log('later waves not started', { notStarted: stopped.map((r) => r.deploymentId) });
      // Each item is in `stopped` only for the call whose conditional write marked it.
      for (const record of stopped) metrics.deploymentEnded(record);
    } catch (error) {
      logger.error('could not mark later waves NOT_STARTED', { error: describeError(error) });
    }
    if (settled.changed) await deps.notifier.announce(settled.state, settled.record, execution);
    for (const record of stopped) await deps.notifier.announce('NOT_STARTED', record, execution);
  }

  /** Deletes old versions after a shift this invocation recorded; never fails the job. */
  async function prune(request: ShiftRequest, record: DeploymentRecord) {
    try {
      if (!record.targetVersion) throw new Error(`deployment ${record.deploymentId} has no targetVersion`);
      const result = await pruneVersions(request.target.lambda, {
        functionName: request.functionName,
        keepVersions: request.keepVersions,
        targetVersion: record.targetVersion,
        currentVersion: record.currentVersion,
        bootstrapVersion: request.bootstrapVersion,
        stackVersion: request.stackVersion,
      });
      if (result.failed.length > 0) logger.error('version pruning', { ...result });
      else log('version pruning', { ...result });
    } catch (error) {
      logger.error('version pruning failed; the deployment is unaffected', { error: describeError(error) });
    }
  }

  /** One invocation, its correlation keys set (the event itself is never logged: it carries credentials). */
  async function invoke(jobId: string, event: unknown, context?: InvocationContext): Promise<SwitchOutcome> {
    const deadline = now().getTime() + remainingMs(context, deps.invocationTimeoutMs ?? DEFAULT_TIMEOUT_MS);

    let outcome: SwitchOutcome;
    let request: ShiftRequest | undefined;
    try {
      const job = parseJob(event, SWITCH_TRAFFIC_PARAMETERS);
      const { deploymentId: executionId, environment } = job.userParameters;
      request = shiftRequest(job, targets.sessionFor(job, { jobId, executionId, environment, invokedFunctionArn: context?.invokedFunctionArn }));
      appendCorrelation(logger, { executionId: request.executionId, deployedService: request.service, deploymentId: request.historyKey });
      const token = job.continuationToken;
      outcome = !token ? await start(request, deadline)
        : token.startsWith(WAIT_PREFIX) ? await resumeWait(request, token.slice(WAIT_PREFIX.length))
          : await poll(request, token);
    } catch (error) {
      // History is written only under a claim or for a finished deployment, never from here.
      outcome = { kind: 'failed', reason: `Switch-Traffic failed: ${describeError(error)}` };
    }

    log('switch-traffic', {
      outcome: outcome.kind,
      ...(request?.environment ? { environment: request.environment } : {}),
      ...('reason' in outcome ? { reason: outcome.reason } : {}),
    });
    switch (outcome.kind) {
      case 'continue':
        await reporter.succeed(jobId, { continuationToken: outcome.codeDeployDeploymentId });
        break;
      case 'wait':
        await reporter.succeed(jobId, { continuationToken: outcome.continuationToken });
        break;
      case 'failed':
        // Later waves are marked before the job fails: CodePipeline stops the stage right after.
        if (outcome.settled && request) await settleFailure(request, outcome.settled);
        await reporter.fail(jobId, outcome.reason);
        break;
      case 'left':
        break;
      default:
        await reporter.succeed(jobId);
        if (outcome.kind === 'succeeded' && outcome.recorded && outcome.record && request) await prune(request, outcome.record);
    }
    return outcome;
  }

  return jobHandler(logger, 'switch-traffic', invoke);
}

function fromEnvironment(): SwitchTrafficDependencies {
  return {
    lambda: new LambdaClient(CLIENT_CONFIG),
    codeDeploy: new CodeDeployClient(CLIENT_CONFIG),
    ...sharedDependenciesFromEnvironment(),
    applicationName: requireEnv(HANDLER_ENVIRONMENT.codeDeployApplicationName),
  };
}

/** The Lambda entry point. */
export const handler = lazyEntryPoint(() => createSwitchTrafficHandler(fromEnvironment()));
