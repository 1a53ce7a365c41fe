import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CodeDeployClient, CreateDeploymentCommand, GetDeploymentCommand } from '@aws-sdk/client-codedeploy';
import { CodePipelineClient } from '@aws-sdk/client-codepipeline';
import { ALL_AT_ONCE_CONFIG, BAKE_PARAMETERS, BakeParameters, HANDLER_ENVIRONMENT, MAX_BAKE_MINUTES } from '../contract/handler-contract';
import { activeDeploymentOf, pipelineDeploymentDescription } from '../runtime/active-deployment';
import { aliasInvocations } from '../runtime/alias-invocations';
import { renderAppSpec } from '../runtime/appspec';
import { describeError, InvalidJobError, jobHandler, JobReporter, parseJob, PipelineJob } from '../runtime/codepipeline-job';
import { alarmStatesOf } from '../runtime/deployment-group-alarms';
import { DeploymentHistoryStore, DeploymentRecord } from '../runtime/deployment-history-store';
import { newerRelease } from '../runtime/execution-order';
import { CLAIM_MARGIN_MS, CLIENT_CONFIG, InvocationContext, lazyEntryPoint, remainingMs, requireEnv } from '../runtime/handler-environment';
import { LifecycleNotifier } from '../runtime/lifecycle-notifier';
import { aliasRepairCommand } from '../runtime/live-alias';
import { appendCorrelation, defaultLogger, Logger } from '../runtime/logger';
import { DeploymentMetricsRecorder, writeToStdout } from '../runtime/metrics-recorder';
import { optionalName, ServiceInExecution, serviceInExecution } from '../runtime/service-parameters';
import { sharedDependenciesFromEnvironment } from '../runtime/shared-dependencies';
import { TargetSession, TargetSessions } from '../runtime/target-session';
import { isTransientError } from '../runtime/transient-error';

/**
 * What the Bake handler talks to. One function serves every service and environment of a
 * pipeline: the service, its alias, deployment group, bake time and hooks come with each job
 * (UserParameters), see {@link BAKE_PARAMETERS}.
 */
export interface BakeDependencies {
  /** The handler's own clients; a job of an environment in another account or region uses its deployer role's. */
  readonly codeDeploy: CodeDeployClient;
  readonly cloudWatch: CloudWatchClient;
  readonly codePipeline: CodePipelineClient;
  readonly history: DeploymentHistoryStore;
  readonly notifier: LifecycleNotifier;
  /** Publishes Deployments when a bake rolls a deployment back. @default EMF lines on stdout */
  readonly metrics?: DeploymentMetricsRecorder;
  /** Writes the structured log records. @default the process's Powertools logger */
  readonly logger?: Logger;
  /** The pipeline's CodeDeploy application (CODEDEPLOY_APPLICATION_NAME). */
  readonly applicationName: string;
  /** The pipeline's name: the Pipeline dimension of its metrics. */
  readonly pipelineName?: string;
  /** The pipeline's ARN (PIPELINE_ARN), the external id of the deployer roles. @default - a job naming a deployer role fails */
  readonly pipelineArn?: string;
  /** The handler's own region (AWS_REGION), where STS is called. */
  readonly region?: string;
  /** Where each job acts. @default sessions on the handler's own clients, and deployer roles assumed with STS */
  readonly targets?: TargetSessions<'codeDeploy' | 'cloudWatch'>;
  /**
   * The function's timeout, for how long the start of a rollback is held when no Lambda context tells.
   * @default 2 minutes
   */
  readonly invocationTimeoutMs?: number;
  readonly now?: () => Date;
}

/** One job's service, environment and bake. */
export interface BakeRequest extends ServiceInExecution {
  readonly jobId: string;
  readonly environment: string;
  readonly functionName: string;
  readonly aliasName: string;
  readonly deploymentGroupName: string;
  readonly bakeMinutes: number;
  readonly minInvocations: number;
  readonly beforeAllowTrafficHook?: string;
  readonly afterAllowTrafficHook?: string;
  /** Where the service is deployed, and the clients that reach it. */
  readonly target: TargetSession<'codeDeploy' | 'cloudWatch'>;
}

/** How one invocation ended. */
export type BakeOutcome =
  /** The bake goes on (watching, or following its rollback): CodePipeline invokes again with the token. */
  | { readonly kind: 'continue'; readonly continuationToken: string }
  | { readonly kind: 'passed' }
  | { readonly kind: 'failed'; readonly reason: string };

/**
 * The continuation token names the job that holds the bake: CodePipeline gives each continuation
 * a job id of its own, and a retried action (a new job) may take the bake over.
 */
const TOKEN_PREFIX = 'bake:';

/** Bake states after which nothing acts again: a retry answers from the record. */
const ENDED = ['PASSED', 'FAILED', 'ROLLED_BACK'];

/** What a bake rolled back because another service of its environment did starts with this. */
const ENVIRONMENT_ROLLS_BACK = 'the environment rolls back: ';

const IN_PROGRESS = new Set(['Created', 'Queued', 'InProgress', 'Baking', 'Ready']);

const DEFAULT_TIMEOUT_MS = 2 * 60_000;

/**
 * How long after the bake time the alarms are still watched before the invocations are counted:
 * Lambda timestamps a metric at the invocation, which "can be several minutes before the metric is
 * emitted" (Lambda developer guide, working with metrics), and an alarm evaluates after that.
 */
const METRICS_SETTLE_MS = 3 * 60_000;


/** Reads and checks a job's UserParameters; a bad one fails the job naming the key. */
function bakeRequest(job: PipelineJob<BakeParameters>, target: BakeRequest['target']): BakeRequest {
  const p = job.userParameters;
  const bakeMinutes = Number(p.bakeMinutes);
  if (!/^\d+(\.\d+)?$/.test(p.bakeMinutes.trim()) || !(bakeMinutes > 0) || bakeMinutes > MAX_BAKE_MINUTES) {
    throw new InvalidJobError(`job ${job.id}: UserParameters bakeMinutes must be a number of minutes above 0 and at most ${MAX_BAKE_MINUTES}, got "${p.bakeMinutes}"`);
  }
  const minInvocations = p.minInvocations?.trim() ? Number(p.minInvocations) : 0;
  if (!Number.isSafeInteger(minInvocations) || minInvocations < 0 || (p.minInvocations?.trim() && !/^\d+$/.test(p.minInvocations.trim()))) {
    throw new InvalidJobError(`job ${job.id}: UserParameters minInvocations must be a whole number from 0, got "${p.minInvocations}"`);
  }
  const service = serviceInExecution(job);
  return {
    ...service,
    environment: service.environment ?? p.environment,
    jobId: job.id,
    functionName: p.functionName,
    aliasName: p.aliasName,
    deploymentGroupName: p.deploymentGroupName,
    bakeMinutes,
    minInvocations,
    beforeAllowTrafficHook: optionalName(job, 'beforeAllowTrafficHook'),
    afterAllowTrafficHook: optionalName(job, 'afterAllowTrafficHook'),
    target,
  };
}

/** `30-minute`, `1.5-minute`. */
const minutes = (value: number) => `${value}-minute`;

/**
 * The job's answer for a bake that has ended, the same for the job that ended it and for any
 * retry: what happened, in which environment, to which service, and why.
 */
export function bakeEndMessage(record: DeploymentRecord, request: { service: string; environment: string }): string {
  const service = record.service ?? request.service;
  const environment = record.environment ?? request.environment;
  const reason = record.bakeFailureReason ?? 'no reason recorded';
  if (record.bakeState === 'ROLLED_BACK') {
    const where = record.rollbackDeploymentId
      ? `traffic is back on version ${record.currentVersion} (CodeDeploy deployment ${record.rollbackDeploymentId})`
      : `version ${record.currentVersion} was live before this execution, so no traffic moved`;
    return `Bake of ${service} in ${environment} rolled back: ${reason}; ${where}. Version ${record.targetVersion} will not be promoted.`;
  }
  return `Bake of ${service} in ${environment} failed: ${reason}`;
}

/** The description of a bake's rollback deployment: how a later delivery knows it for this bake's own. */
function rollbackDescription(request: BakeRequest, record: DeploymentRecord): string {
  return pipelineDeploymentDescription(request.executionId,
    `bake rollback in ${request.environment}, ${request.functionName}:${request.aliasName} ${record.targetVersion} -> ${record.currentVersion}`);
}

/** Why an older execution's bake stops without rolling back: a newer one has released the service here. */
function supersededReason(mine: DeploymentRecord, newer: DeploymentRecord, environment: string): string {
  const did = newer.state === 'SUCCEEDED' ? `has released version ${newer.targetVersion}`
    : newer.state === 'SKIPPED' ? `found its version ${newer.targetVersion} already live`
      : `is shifting to version ${newer.targetVersion} (${newer.state})`;
  return `superseded: execution ${newer.executionId} is newer and ${did} of ${mine.service} in ${environment}; ` +
    `version ${mine.targetVersion} is not rolled back (traffic never moves back to an older build) and will not be promoted`;
}

/**
 * Builds the Bake handler: for one service in one environment, after its shift, watches the
 * deployment group's alarms for `bakeMinutes` through continuation tokens. The first delivery
 * claims the bake with a conditional write before any AWS call. An alarm in ALARM (or another
 * service of the same execution and environment rolling back) rolls the service back to the
 * version it served before with a CodeDeploy deployment, started by the one delivery whose
 * conditional BAKING -> ROLLING_BACK write succeeded; a newer execution that has released the
 * service ends the bake without rolling back; at the end, too few invocations of the alias fail
 * it (idle), else it passes. A bake that ended answers every later delivery and retry from the
 * record, acting on nothing.
 */
export function createBakeHandler(deps: BakeDependencies) {
  const logger = deps.logger ?? defaultLogger();
  const reporter = new JobReporter(deps.codePipeline, logger);
  const metrics = deps.metrics ?? new DeploymentMetricsRecorder(writeToStdout, undefined, logger, deps.pipelineName);
  const now = deps.now ?? (() => new Date());
  const log = (message: string, fields: Record<string, unknown> = {}) => logger.info(message, fields);
  const targets = deps.targets ?? new TargetSessions({
    handler: 'bake',
    own: { codeDeploy: deps.codeDeploy, cloudWatch: deps.cloudWatch },
    uses: ['codeDeploy', 'cloudWatch'],
    pipelineArn: deps.pipelineArn,
    region: deps.region,
  });

  const go = (holder: string): BakeOutcome => ({ kind: 'continue', continuationToken: `${TOKEN_PREFIX}${holder}` });
  const ended = (request: BakeRequest, record: DeploymentRecord): BakeOutcome =>
    record.bakeState === 'PASSED' ? { kind: 'passed' } : { kind: 'failed', reason: bakeEndMessage(record, request) };
  const takenOver = (request: BakeRequest, record: DeploymentRecord, holder: string): BakeOutcome => ({
    kind: 'failed', reason: `Bake of ${request.service} in ${request.environment}: job ${record.bakeJobId} has taken the bake over; this continuation of job ${holder} stops`,
  });

  /**
   * Reads the item, claims the bake for a first delivery, and goes on as the job that holds it. A
   * transient error (throttling, 5xx, timeout) of a job that holds the bake waits for the next
   * poll: CodePipeline's 20-minute reply window leaves room, and every poll reads afresh.
   */
  async function bake(request: BakeRequest, holder: string, first: boolean, deadline: number): Promise<BakeOutcome> {
    let holding = !first;
    try {
      return await holdBake(request, holder, first, deadline, () => { holding = true; });
    } catch (error) {
      if (!holding || !isTransientError(error)) throw error;
      logger.warn('transient error; the next poll tries again', { error: describeError(error) });
      return go(holder);
    }
  }

  async function holdBake(request: BakeRequest, holder: string, first: boolean, deadline: number, held: () => void): Promise<BakeOutcome> {
    const { historyKey: deploymentId } = request;
    let record = await deps.history.get(deploymentId);
    if (!record) {
      return { kind: 'failed', reason: `Bake failed: deployment ${deploymentId} has no history record; Deploy-Blue and Switch-Traffic record it first` };
    }
    const mismatch = record.functionName && record.functionName !== request.functionName ? `function ${record.functionName}`
      : record.environment && record.environment !== request.environment ? `environment ${record.environment}` : undefined;
    if (mismatch) {
      return { kind: 'failed', reason: `Bake failed: deployment ${deploymentId} deployed ${mismatch}, but Bake was asked to watch ${request.functionName} in ${request.environment}` };
    }
    if (record.bakeState && ENDED.includes(record.bakeState)) return ended(request, record);

    if (record.bakeJobId !== holder) {
      if (!first) return takenOver(request, record, holder);
      if (record.state !== 'SUCCEEDED' && record.state !== 'SKIPPED') {
        return {
          kind: 'failed',
          reason: `Bake failed: deployment ${deploymentId} is ${record.state}; only a service whose shift succeeded (or found its version live) is baked`,
        };
      }
      const claim = await deps.history.claimBake(deploymentId, holder);
      if (!claim.record) return { kind: 'failed', reason: `Bake failed: deployment ${deploymentId} has no history record` };
      record = claim.record;
      if (claim.claimed) {
        log('bake claimed', { bakeState: record.bakeState, bakeStartedAt: record.bakeStartedAt, bakeJobIds: [...record.bakeJobIds ?? []] });
      } else {
        if (record.bakeState && ENDED.includes(record.bakeState)) return ended(request, record);
        if (record.bakeJobId !== holder) {
          return {
            kind: 'failed',
            reason: `Bake failed: job ${holder} cannot take the bake of deployment ${deploymentId} (${record.state}, bake ${record.bakeState ?? 'not started'}, ` +
              `held by job ${record.bakeJobId ?? 'none'})`,
          };
        }
      }
    }
    held();
    // A denied deployer role fails the job here, before anything is watched or rolled back (a retry takes the bake over).
    await request.target.ready();
    return record.bakeState === 'ROLLING_BACK' ? followRollback(request, record, holder, deadline) : watch(request, record, holder, deadline);
  }

  /** One look at a BAKING service: superseded, environment rolling back, alarms, then the clock. */
  async function watch(request: BakeRequest, record: DeploymentRecord, holder: string, deadline: number): Promise<BakeOutcome> {
    // A newer execution released the service here (a retried old stage): traffic never moves back to an older build.
    const newer = await newerRelease(deps.history, record);
    if (newer) return endBake(request, holder, 'FAILED', { from: ['BAKING'], bakeFailureReason: supersededReason(record, newer, request.environment) });

    const rollingBack = (await deps.history.listExecution(request.executionId)).find((item) => item.deploymentId !== record.deploymentId
      && item.environment === request.environment && (item.bakeState === 'ROLLING_BACK' || item.bakeState === 'ROLLED_BACK'));
    if (rollingBack) {
      const cause = rollingBack.bakeFailureReason?.startsWith(ENVIRONMENT_ROLLS_BACK) ? rollingBack.bakeFailureReason
        : `${ENVIRONMENT_ROLLS_BACK}${rollingBack.service} alarmed${rollingBack.bakeFailureReason ? ` (${rollingBack.bakeFailureReason})` : ''}`;
      return rollBack(request, record, holder, cause, deadline);
    }

    const alarms = await alarmStatesOf(request.target.codeDeploy, request.target.cloudWatch, {
      applicationName: deps.applicationName, deploymentGroupName: request.deploymentGroupName,
    });
    if (alarms.unreadable.length > 0) log('alarms not readable; the deployment group ignores that', { unreadable: alarms.unreadable });
    if (alarms.inAlarm.length > 0) {
      return rollBack(request, record, holder, `${alarms.inAlarm.length === 1 ? 'alarm' : 'alarms'} ${alarms.inAlarm.join(', ')} in ALARM`, deadline);
    }

    const startedAt = Date.parse(record.bakeStartedAt ?? '');
    if (!Number.isFinite(startedAt)) throw new Error(`deployment ${record.deploymentId} is BAKING without a readable bakeStartedAt`);
    const endsAt = startedAt + request.bakeMinutes * 60_000;
    if (now().getTime() < endsAt + METRICS_SETTLE_MS) {
      log(now().getTime() < endsAt ? 'baking' : 'bake time over: waiting for the last minutes\' metrics and alarms',
        { watched: alarms.watched, bakeEndsAt: new Date(endsAt).toISOString() });
      return go(holder);
    }

    let bakeInvocations: number | undefined;
    if (request.minInvocations > 0) {
      bakeInvocations = await aliasInvocations(request.target.cloudWatch, {
        functionName: request.functionName, aliasName: request.aliasName, from: new Date(startedAt), to: new Date(endsAt),
      });
      if (bakeInvocations < request.minInvocations) {
        return endBake(request, holder, 'FAILED', {
          from: ['BAKING'],
          bakeInvocations,
          bakeFailureReason: `idle: ${bakeInvocations} invocations of ${request.functionName}:${request.aliasName} during the ` +
            `${minutes(request.bakeMinutes)} bake, at least ${request.minInvocations} required; nothing was rolled back`,
        });
      }
    }
    return endBake(request, holder, 'PASSED', { from: ['BAKING'], bakeInvocations });
  }

  /** Ends the bake this job holds, and announces it once. */
  async function endBake(request: BakeRequest, holder: string, bakeState: 'PASSED' | 'FAILED',
    options: Parameters<DeploymentHistoryStore['endBake']>[3]): Promise<BakeOutcome> {
    const { record, changed } = await deps.history.endBake(request.historyKey, holder, bakeState, options);
    if (changed) await deps.notifier.announce(bakeState === 'PASSED' ? 'BAKE_PASSED' : 'BAKE_FAILED', record);
    log('bake ended', { bakeState: record.bakeState, reason: record.bakeFailureReason, bakeInvocations: record.bakeInvocations, recorded: changed });
    return ended(request, record);
  }

  /** Decides the rollback (BAKING -> ROLLING_BACK): the delivery whose write that is creates the deployment. */
  async function rollBack(request: BakeRequest, record: DeploymentRecord, holder: string, cause: string, deadline: number): Promise<BakeOutcome> {
    if (!record.currentVersion || !record.targetVersion) {
      return endBake(request, holder, 'FAILED', {
        from: ['BAKING'],
        bakeFailureReason: `${cause}, but there is no version to roll back to: history item ${record.deploymentId} records ` +
          `no version ${record.currentVersion ? 'it shifted to' : 'it served before'}. Put alias ${request.functionName}:${request.aliasName} back on ` +
          `the version it served before with "${aliasRepairCommand(request.functionName, request.aliasName)}"`,
      });
    }
    const holdMs = Math.max(deadline - now().getTime(), 0) + CLAIM_MARGIN_MS;
    const started = await deps.history.startBakeRollback(request.historyKey, holder, cause, holdMs);
    if (!started.changed) {
      // Another delivery moved the bake first: follow what it recorded.
      const current = started.record;
      if (current.bakeState && ENDED.includes(current.bakeState)) return ended(request, current);
      if (current.bakeState === 'ROLLING_BACK' && current.bakeJobId === holder) return followRollback(request, current, holder, deadline);
      return { kind: 'failed', reason: `Bake failed: the bake of deployment ${record.deploymentId} is ${current.bakeState} (job ${current.bakeJobId})` };
    }
    log('rolling back', { reason: cause });
    await deps.notifier.announce('BAKE_ROLLING_BACK', started.record);
    return createRollback(request, started.record, holder, false);
  }

  /**
   * Under this delivery's hold on the rollback: starts CodeDeploy's deployment back to the version
   * served before. CreateDeployment takes no idempotency token, so a retake (`retake`: an earlier
   * delivery may have created it and died, or lost its answer) first adopts the group's active
   * deployment when it is this bake's rollback, and so does a refusal because the group is busy.
   */
  async function createRollback(request: BakeRequest, record: DeploymentRecord, holder: string, retake: boolean): Promise<BakeOutcome> {
    const { historyKey: deploymentId, functionName, aliasName } = request;
    const cause = record.bakeFailureReason ?? 'rollback';
    if (retake) {
      const own = await ownRollback(request, record);
      if (own) return recordRollback(request, holder, own, 'adopted');
    }
    const newer = await newerRelease(deps.history, record);
    if (newer) {
      return endBake(request, holder, 'FAILED', { from: ['ROLLING_BACK'], bakeFailureReason: `${cause}; ${supersededReason(record, newer, request.environment)}` });
    }
    if (record.state === 'SKIPPED' || record.currentVersion === record.targetVersion) {
      // Its version was live before this execution: nothing to move back.
      const { record: finished, changed } = await deps.history.finishBakeRollback(deploymentId, holder, {
        failureReason: bakeEndMessage(record, request),
      });
      if (changed) await deps.notifier.announce('BAKE_FAILED', finished);
      return ended(request, finished);
    }
    let created: string | undefined;
    try {
      const appSpec = renderAppSpec({
        functionName,
        aliasName,
        currentVersion: record.targetVersion!,
        targetVersion: record.currentVersion!,
        beforeAllowTrafficHook: request.beforeAllowTrafficHook,
        afterAllowTrafficHook: request.afterAllowTrafficHook,
      });
      const response = await request.target.codeDeploy.send(new CreateDeploymentCommand({
        applicationName: deps.applicationName,
        deploymentGroupName: request.deploymentGroupName,
        deploymentConfigName: ALL_AT_ONCE_CONFIG,
        description: rollbackDescription(request, record),
        revision: { revisionType: 'AppSpecContent', appSpecContent: appSpec },
        // The alarm that triggered the rollback is still in ALARM: polling it would stop the rollback
        // (the override CreateDeployment documents for this case). A failed rollback must not be
        // rolled back onto the version that alarmed.
        overrideAlarmConfiguration: { enabled: false, alarms: [] },
        autoRollbackConfiguration: { enabled: false },
      }));
      created = response.deploymentId;
      if (!created) throw new Error('CodeDeploy CreateDeployment returned no deployment id');
    } catch (error) {
      if ((error as Error)?.name === 'DeploymentLimitExceededException') {
        // The SDK's retry of a call whose answer was lost meets our own deployment: adopt it.
        const own = await ownRollback(request, record);
        if (own) return recordRollback(request, holder, own, 'adopted');
        // Another deployment holds the group (CodeDeploy runs one at a time): the hold lapses, and a later poll tries again.
        log('rollback waits: the deployment group has an active deployment', { error: describeError(error) });
        return go(holder);
      }
      if (isTransientError(error)) {
        // It may have been created all the same (a timeout): the retake after the hold lapses looks first.
        logger.warn('rollback waits: CreateDeployment failed transiently', { error: describeError(error) });
        return go(holder);
      }
      // Validation and permission errors (InvalidRoleException, InvalidRevisionException,
      // DeploymentGroupDoesNotExistException, AccessDeniedException, ...) do not heal by waiting.
      return endBake(request, holder, 'FAILED', {
        from: ['ROLLING_BACK'],
        bakeFailureReason: `${cause}; the rollback could not start: ${describeError(error)}. Alias ${functionName}:${aliasName} still serves ` +
          `version ${record.targetVersion}; put it back on ${record.currentVersion} with "${aliasRepairCommand(functionName, aliasName, record.currentVersion)}"`,
      });
    }
    return recordRollback(request, holder, created, 'created');
  }

  /**
   * The group's active deployment when it is this bake's rollback (our description, this item), or
   * undefined. A failed look is logged and answers undefined: CodeDeploy's one active deployment
   * per group still refuses a second rollback while the first runs.
   */
  async function ownRollback(request: BakeRequest, record: DeploymentRecord): Promise<string | undefined> {
    try {
      const active = await activeDeploymentOf(request.target.codeDeploy, deps.history, {
        applicationName: deps.applicationName,
        deploymentGroupName: request.deploymentGroupName,
        service: request.service,
        environment: request.environment,
        environments: request.environments,
      });
      return active.kind === 'pipeline' && active.record.deploymentId === request.historyKey
        && active.info.description === rollbackDescription(request, record) ? active.info.deploymentId : undefined;
    } catch (error) {
      logger.error('could not look for a rollback deployment an earlier delivery created', { error: describeError(error) });
      return undefined;
    }
  }

  /** Records the rollback deployment this job holds; a write that lost says so and follows what won. */
  async function recordRollback(request: BakeRequest, holder: string, rollbackId: string, how: 'created' | 'adopted'): Promise<BakeOutcome> {
    appendCorrelation(logger, { codeDeployDeploymentId: rollbackId });
    let result: Awaited<ReturnType<DeploymentHistoryStore['recordBakeRollback']>>;
    try {
      result = await deps.history.recordBakeRollback(request.historyKey, holder, rollbackId);
    } catch (error) {
      // Not recorded: the retake after the hold lapses adopts it.
      logger.error('could not record the rollback deployment', { rollbackDeploymentId: rollbackId, error: describeError(error) });
      return go(holder);
    }
    const current = result.record;
    if (!result.changed) {
      logger.warn('rollback deployment not recorded: the bake moved on', {
        rollbackDeploymentId: rollbackId,
        bakeState: current.bakeState,
        bakeJobId: current.bakeJobId,
        recordedRollbackDeploymentId: current.rollbackDeploymentId,
      });
      if (current.bakeState && ENDED.includes(current.bakeState)) return ended(request, current);
      if (current.bakeJobId !== holder) return takenOver(request, current, holder);
      return go(holder);
    }
    log(`rollback deployment ${how}`, { rollbackDeploymentId: rollbackId });
    return go(holder);
  }

  /** A ROLLING_BACK bake: create its deployment if the delivery that was to is over, else poll it. */
  async function followRollback(request: BakeRequest, record: DeploymentRecord, holder: string, deadline: number): Promise<BakeOutcome> {
    const rollbackId = record.rollbackDeploymentId;
    if (!rollbackId) {
      if (record.bakeClaimExpiresAt && record.bakeClaimExpiresAt >= now().toISOString()) return go(holder);
      const holdMs = Math.max(deadline - now().getTime(), 0) + CLAIM_MARGIN_MS;
      const retaken = await deps.history.retakeBakeRollback(request.historyKey, holder, holdMs);
      return retaken.changed ? createRollback(request, retaken.record, holder, true) : go(holder);
    }
    appendCorrelation(logger, { codeDeployDeploymentId: rollbackId });
    const { deploymentInfo: deployment } = await request.target.codeDeploy.send(new GetDeploymentCommand({ deploymentId: rollbackId }));
    const status = deployment?.status;
    if (!status) throw new Error(`CodeDeploy deployment ${rollbackId} has no status`);
    if (IN_PROGRESS.has(status)) {
      log('rollback in progress', { rollbackDeploymentId: rollbackId, status });
      return go(holder);
    }
    if (status === 'Succeeded') {
      const { record: finished, changed } = await deps.history.finishBakeRollback(request.historyKey, holder, {
        rollbackDeploymentId: rollbackId,
        failureReason: bakeEndMessage({ ...record, bakeState: 'ROLLED_BACK' }, request),
      });
      if (changed) {
        // Its shift was counted Succeeded when it ended; this counts the rollback (a second datum, see
        // the metrics contract), its ShiftDuration from the shift's start to the rollback's end.
        metrics.deploymentEnded(finished, request.service);
        await deps.notifier.announce('ROLLED_BACK', finished);
      }
      log('rolled back', { rollbackDeploymentId: rollbackId, recorded: changed });
      return ended(request, finished);
    }
    const error = deployment?.errorInformation;
    const { functionName, aliasName } = request;
    return endBake(request, holder, 'FAILED', {
      from: ['ROLLING_BACK'],
      rollbackDeploymentId: rollbackId,
      bakeFailureReason: `${record.bakeFailureReason ?? 'rollback'}; its rollback ${rollbackId} ${status.toLowerCase()}` +
        (error?.code || error?.message ? `: ${[error?.code, error?.message].filter(Boolean).join(': ')}` : '') +
        `. Alias ${functionName}:${aliasName} may still serve version ${record.targetVersion}; put it back on ${record.currentVersion} with ` +
        `"${aliasRepairCommand(functionName, aliasName, record.currentVersion)}"`,
    });
  }

  /** One invocation, its correlation keys set (the event itself is never logged: it carries credentials). */
  async function invoke(jobId: string, event: unknown, context?: InvocationContext): Promise<BakeOutcome> {
    const deadline = now().getTime() + remainingMs(context, deps.invocationTimeoutMs ?? DEFAULT_TIMEOUT_MS);
    let outcome: BakeOutcome;
    try {
      const job = parseJob(event, BAKE_PARAMETERS);
      const { deploymentId: executionId, environment } = job.userParameters;
      const request = bakeRequest(job, targets.sessionFor(job, { jobId, executionId, environment, invokedFunctionArn: context?.invokedFunctionArn }));
      appendCorrelation(logger, { executionId: request.executionId, deployedService: request.service, deploymentId: request.historyKey });
      const token = job.continuationToken;
      if (token !== undefined && (!token.startsWith(TOKEN_PREFIX) || token.length === TOKEN_PREFIX.length)) {
        throw new InvalidJobError(`job ${jobId}: continuation token "${token.slice(0, 100)}" is not a Bake token`);
      }
      outcome = await bake(request, token ? token.slice(TOKEN_PREFIX.length) : jobId, !token, deadline);
    } catch (error) {
      // History is written only by the job holding the bake, never from here: a retry takes it over.
      outcome = { kind: 'failed', reason: `Bake failed: ${describeError(error)}` };
    }
    log('bake', { outcome: outcome.kind, ...('reason' in outcome ? { reason: outcome.reason } : {}) });
    if (outcome.kind === 'continue') await reporter.succeed(jobId, { continuationToken: outcome.continuationToken });
    else if (outcome.kind === 'passed') await reporter.succeed(jobId);
    else await reporter.fail(jobId, outcome.reason);
    return outcome;
  }

  return jobHandler(logger, 'bake', invoke);
}

function fromEnvironment(): BakeDependencies {
  return {
    codeDeploy: new CodeDeployClient(CLIENT_CONFIG),
    cloudWatch: new CloudWatchClient(CLIENT_CONFIG),
    ...sharedDependenciesFromEnvironment(),
    applicationName: requireEnv(HANDLER_ENVIRONMENT.codeDeployApplicationName),
  };
}

/** The Lambda entry point. */
export const handler = lazyEntryPoint(() => createBakeHandler(fromEnvironment()));
