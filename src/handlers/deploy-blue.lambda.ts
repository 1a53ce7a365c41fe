import { CodePipelineClient } from '@aws-sdk/client-codepipeline';
import {
  GetFunctionCommand,
  GetFunctionCommandOutput,
  LambdaClient,
  PublishVersionCommand,
  UpdateFunctionCodeCommand,
  waitUntilFunctionUpdatedV2,
} from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { bundleKey, DEPLOY_BLUE_PARAMETERS, DeployBlueParameters, HANDLER_ENVIRONMENT, LIST_SEPARATOR } from '../contract/handler-contract';
import { endedPerCodePipeline, settleAbandonedItems } from '../runtime/abandoned-items';
import { BundleDirectoryError, normalizeBundleDirectory } from '../runtime/bundle-archive';
import { CodeLocation, describeCodeLocation, stageBundle } from '../runtime/bundle-staging';
import { describeError, InvalidJobError, jobHandler, JobReporter, parseJob, PipelineJob } from '../runtime/codepipeline-job';
import { BY_EXECUTION_INDEX, BY_SERVICE_INDEX, ClaimResult, claimLapsed, DeploymentHistoryStore, DeploymentRecord } from '../runtime/deployment-history-store';
import { executionStartOf } from '../runtime/execution-order';
import { CLAIM_MARGIN_MS, CLIENT_CONFIG, InvocationContext, lazyEntryPoint, remainingMs, requireEnv } from '../runtime/handler-environment';
import { LifecycleNotifier } from '../runtime/lifecycle-notifier';
import { servedVersionOf } from '../runtime/live-alias';
import { appendCorrelation, defaultLogger, Logger } from '../runtime/logger';
import { DeploymentMetricsRecorder, writeToStdout } from '../runtime/metrics-recorder';
import { checkPromotion, differentCodeMessage, PromotionVerdict } from '../runtime/promotion-gate';
import { commitTimeOf, ServiceInExecution, serviceInExecution } from '../runtime/service-parameters';
import { sharedDependenciesFromEnvironment } from '../runtime/shared-dependencies';
import { DeployerRoleError, describePlacement, TargetSession, TargetSessions } from '../runtime/target-session';
import { compareWithLive } from '../runtime/unchanged-code';
import { pipelineVersionDescription } from '../runtime/version-retention';

/**
 * What the Deploy-Blue stager talks to. One function serves every service of a pipeline: the
 * service, its function and alias come with each job (UserParameters), see
 * {@link DEPLOY_BLUE_PARAMETERS}.
 */
export interface DeployBlueDependencies {
  /** The handler's own Lambda client; a job of an environment in another account or region uses its deployer role's. */
  readonly lambda: LambdaClient;
  /** The handler's own S3 client: it reads the build artifact (and writes the bundle, unless the job names a `bundleBucket`). */
  readonly s3: S3Client;
  readonly codePipeline: CodePipelineClient;
  readonly history: DeploymentHistoryStore;
  readonly notifier: LifecycleNotifier;
  /** Publishes the Deployments metric of a deployment that fails here. @default EMF lines on stdout */
  readonly metrics?: DeploymentMetricsRecorder;
  /** Writes the structured log records. @default the process's Powertools logger */
  readonly logger?: Logger;
  /**
   * The pipeline's name (PIPELINE_NAME), to ask CodePipeline whether an earlier execution has ended.
   * @default - earlier executions' items are left to Switch-Traffic
   */
  readonly pipelineName?: string;
  /** The pipeline's artifact bucket, where each service's bundle is uploaded (ARTIFACT_BUCKET_NAME). */
  readonly artifactBucketName: string;
  /** The pipeline's ARN (PIPELINE_ARN), the external id of the deployer roles. @default - a job naming a deployer role fails */
  readonly pipelineArn?: string;
  /** The handler's own region (AWS_REGION): recorded for its own jobs, and where STS is called. */
  readonly region?: string;
  /** Where each job acts. @default sessions on the handler's own clients, and deployer roles assumed with STS */
  readonly targets?: TargetSessions<'lambda' | 's3'>;
  /**
   * Largest build artifact staged on disk to cut a bundle out of it.
   * @default - what the temp directory (Lambda's /tmp, the function's ephemeral storage) has free
   */
  readonly maxArtifactBytes?: number;
  /** Longest wait for the code update to finish. */
  readonly updateTimeoutSeconds?: number;
  /**
   * The function's timeout, for how long a claim holds when no Lambda context tells.
   * @default 10 minutes (what the construct configures)
   */
  readonly invocationTimeoutMs?: number;
  /** How often a delivery that finds the item claimed re-reads it. @default 5000 */
  readonly claimPollMs?: number;
  readonly now?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 10 * 60_000;

/** Time a waiting delivery keeps for itself to report before Lambda ends it. */
const RESERVE_MS = 15_000;

/** One job's service and what to publish. */
interface StageRequest extends ServiceInExecution {
  readonly functionName: string;
  readonly aliasName: string;
  /** `services/orders/dist/`; "" when the whole artifact is the bundle. */
  readonly bundleDirectory: string;
  /** When the commit was authored (ISO 8601), if the job says so readably; recorded on STAGED. */
  readonly commitTime?: string;
  /** The environments with a bake (UserParameters `bakedEnvironments`), in a pipeline with several. */
  readonly bakedEnvironments: readonly string[];
  /** Where the service is deployed, and the clients that reach it. */
  readonly target: TargetSession<'lambda' | 's3'>;
  /** A target's bundle bucket (UserParameters `bundleBucket`), in its account and region. */
  readonly bundleBucket?: string;
}

/**
 * What the promotion gate fixed for this job's item: when the execution started, and the code an
 * environment after the first must receive (its first environment's item).
 */
interface Promotion {
  readonly executionStartedAt?: string;
  readonly first?: DeploymentRecord;
}

/** A build the promotion gate (or the code hash check) will not deploy: its message is the job's. */
class PromotionRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PromotionRefusedError';
  }
}

/** Reads `bakedEnvironments`: each must be one of the pipeline's environments. */
function bakedEnvironmentsOf(job: PipelineJob<DeployBlueParameters>, environments: readonly string[] | undefined): string[] {
  const baked = (job.userParameters.bakedEnvironments ?? '').split(LIST_SEPARATOR).map((e) => e.trim()).filter(Boolean);
  const unknown = baked.filter((e) => !environments?.includes(e));
  if (unknown.length > 0) {
    throw new InvalidJobError(`job ${job.id}: UserParameters bakedEnvironments names ${unknown.join(', ')}, which ` +
      `${environments ? `environments "${environments.join(LIST_SEPARATOR)}" does not list` : 'needs environments to list'}`);
  }
  return baked;
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

/** Jobs that ever claimed an item for Deploy-Blue. */
const JOB_SET = 'deployBlueJobIds';

/**
 * Builds the Deploy-Blue handler: for one service, uploads its code (the whole build artifact, or
 * the service's directory cut out of it, re-zipped normalized) and publishes it as a new version,
 * unless the version `live` serves has that code already. It claims the
 * service's history item (STAGING) before touching S3 or Lambda, so a duplicate or stale delivery
 * of a job uploads and publishes nothing and never rewrites a record another stage has moved on.
 * STAGED records the commit's author date (`commitTime`), from which LeadTime is measured; a
 * failure here is counted once in the Deployments metric.
 */
export function createDeployBlueHandler(deps: DeployBlueDependencies) {
  const logger = deps.logger ?? defaultLogger();
  const reporter = new JobReporter(deps.codePipeline, logger);
  const metrics = deps.metrics ?? new DeploymentMetricsRecorder(writeToStdout, undefined, logger, deps.pipelineName);
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  // Each record carries the invocation's correlation keys (jobId, deploymentId, ...); another item is itemDeploymentId.
  const log = (message: string, fields: Record<string, unknown> = {}) => logger.info(message, fields);
  const targets = deps.targets ?? new TargetSessions({
    handler: 'deploy-blue', own: { lambda: deps.lambda, s3: deps.s3 }, uses: ['lambda', 's3'], pipelineArn: deps.pipelineArn, region: deps.region,
  });

  /**
   * Where the service's code is (and how history names it): its bundle (the service's directory of
   * the artifact, or all of it) re-zipped normalized and uploaded, with the code hash Lambda will
   * report; or, for a whole artifact that cannot be normalized here, the artifact as built.
   */
  async function codeLocation(job: PipelineJob<DeployBlueParameters>, request: StageRequest):
  Promise<{ location: CodeLocation; described: string; codeSha256?: string }> {
    const artifact = job.inputArtifacts[0];
    if (!artifact) throw new InvalidJobError(`job ${job.id}: no input artifact; Deploy-Blue needs the Build stage's output`);
    const staged = await stageBundle(deps.s3, {
      artifact,
      bundleDirectory: request.bundleDirectory,
      // A target's function reads its code only from its own region: the deployer writes it there.
      bucketName: request.bundleBucket ?? deps.artifactBucketName,
      ...(request.bundleBucket ? { uploadClient: request.target.s3, expectedBucketOwner: request.target.account } : {}),
      // One object per service and execution (and environment): a retried job overwrites its own, nobody else's.
      key: bundleKey(request.executionId, request.service, request.environments ? request.environment : undefined),
      maxArtifactBytes: deps.maxArtifactBytes,
    });
    if ('asBuilt' in staged) {
      const described = describeCodeLocation(staged.location);
      log('build artifact deployed as built, not normalized: unchanged code cannot be recognised', { jobId: job.id, deploymentId: request.historyKey, reason: staged.asBuilt, location: described });
      return { location: staged.location, described };
    }
    const described = describeCodeLocation(staged.location, staged.versionId);
    log('bundle uploaded', { jobId: job.id, deploymentId: request.historyKey, bundleDirectory: request.bundleDirectory || '(the whole artifact)', files: staged.files, size: staged.size, location: described, codeSha256: staged.codeSha256 });
    return { location: staged.location, described, codeSha256: staged.codeSha256 };
  }

  /**
   * When the staged code (and $LATEST's settings) are what `live` serves already, records STAGED
   * with target = current and publishes nothing: Switch-Traffic then finds the alias on the target
   * and records SKIPPED without a deployment. Should another execution move the alias before that,
   * Switch-Traffic shifts to this (identical) version as for any other release.
   */
  async function unchangedVersion(job: PipelineJob<DeployBlueParameters>, request: StageRequest,
    code: { described: string; codeSha256?: string }, promotion: Promotion): Promise<StagedVersions | undefined> {
    if (!code.codeSha256) return undefined;
    const { functionName, aliasName } = request;
    const comparison = await compareWithLive(request.target.lambda, { functionName, aliasName, codeSha256: code.codeSha256 });
    if (!comparison.unchanged) {
      log('code changed: publishing', { jobId: job.id, deploymentId: request.historyKey, reason: comparison.reason });
      return undefined;
    }
    const version = comparison.version;
    await deps.history.transition(request.historyKey, 'STAGED',
      {
        currentVersion: version,
        targetVersion: version,
        codeLocation: code.described,
        commitTime: request.commitTime,
        lastJobId: job.id,
        codeSha256: code.codeSha256,
        executionStartedAt: promotion.executionStartedAt,
      },
      { from: ['STAGING'], claimJobId: job.id });
    log('code unchanged: nothing published; Switch-Traffic will skip', { jobId: job.id, deploymentId: request.historyKey, version, codeSha256: code.codeSha256 });
    return { currentVersion: version, targetVersion: version };
  }

  /**
   * In an environment after the first, refuses code other than the first environment's: checked
   * before publishing (on the staged bundle's hash, or on $LATEST's after the update for an
   * artifact deployed as built).
   */
  function requireFirstEnvironmentsCode(job: PipelineJob<DeployBlueParameters>, request: StageRequest, promotion: Promotion,
    codeSha256: string | undefined) {
    const first = promotion.first;
    if (!first || !codeSha256) return;
    if (!first.codeSha256) {
      log('the first environment\'s item records no code hash: not compared', { jobId: job.id, deploymentId: request.historyKey, itemDeploymentId: first.deploymentId });
      return;
    }
    if (codeSha256 !== first.codeSha256) {
      throw new PromotionRefusedError(differentCodeMessage({ service: request.service, environment: request.environment ?? '' }, codeSha256, first));
    }
  }

  /** Publishes the service's code under this job's claim; returns the versions, or the failure reason. */
  async function stage(job: PipelineJob<DeployBlueParameters>, request: StageRequest,
    promotion: Promotion): Promise<StagedVersions | { reason: string }> {
    const deploymentId = request.historyKey;
    const { functionName } = request;
    const lambda = request.target.lambda;
    try {
      await request.target.ready();
      // Another execution's deployment may be shifting the alias: the version it shifts from is
      // reported here, and Switch-Traffic reads the alias again when its own shift starts.
      const currentVersion = await servedVersionOf(lambda, functionName, request.aliasName);
      const code = await codeLocation(job, request);
      requireFirstEnvironmentsCode(job, request, promotion, code.codeSha256);
      const unchanged = await unchangedVersion(job, request, code, promotion);
      if (unchanged) return unchanged;
      const updated = await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: functionName, ...code.location }));
      if (!code.codeSha256) requireFirstEnvironmentsCode(job, request, promotion, updated.CodeSha256);
      const revisionId = await waitForCodeUpdate(lambda, functionName, deps.updateTimeoutSeconds ?? 300);
      // Pinning the code hash (and revision) makes a concurrent change fail the publish instead of being shipped.
      const published = await lambda.send(new PublishVersionCommand({
        FunctionName: functionName,
        CodeSha256: updated.CodeSha256,
        RevisionId: revisionId,
        Description: pipelineVersionDescription(request.executionId, job.userParameters.commitId),
      }));
      if (!published.Version || published.Version === '$LATEST') {
        throw new Error(`PublishVersion returned no numbered version for ${functionName}`);
      }
      const targetVersion = published.Version;
      const { record } = await deps.history.transition(deploymentId, 'STAGED', {
        currentVersion,
        targetVersion,
        codeLocation: code.described,
        commitTime: request.commitTime,
        lastJobId: job.id,
        // The hash Lambda reports for the version: what every later environment must receive.
        codeSha256: published.CodeSha256 ?? updated.CodeSha256,
        executionStartedAt: promotion.executionStartedAt,
      }, { from: ['STAGING'], claimJobId: job.id });
      await deps.notifier.announce('STAGED', record);
      return { currentVersion, targetVersion };
    } catch (error) {
      // A target's failure says where: its account and region are not the pipeline's.
      const where = request.target.deployerRoleArn ? ` in ${describePlacement(request.target, request.environment)}` : '';
      // A deployer role's error names the role and the place itself.
      const reason = error instanceof PromotionRefusedError ? error.message
        : `Deploy-Blue failed${error instanceof DeployerRoleError ? '' : where}: ${describeError(error)}`;
      await recordFailure(job.id, request, reason, promotion);
      return { reason };
    }
  }

  /** Ends this job's own claim FAILED (only that may become FAILED); a history problem must not hide the reason. */
  async function recordFailure(jobId: string, request: StageRequest, reason: string, promotion: Promotion) {
    try {
      const { record, changed } = await deps.history.transition(request.historyKey, 'FAILED',
        { failureReason: reason, lastJobId: jobId, executionStartedAt: promotion.executionStartedAt }, { from: ['STAGING'], claimJobId: jobId });
      if (changed) metrics.deploymentEnded(record, request.service);
      await deps.notifier.announce('FAILED', record);
    } catch (historyError) {
      logger.error('could not record failure', { error: describeError(historyError) });
    }
  }

  /**
   * Marks earlier executions' items of this service that their ended execution left STAGED (or
   * STAGING, dead) with a final state. Needs PIPELINE_NAME, codepipeline:GetPipelineExecution and a
   * query on the byService index; without them it logs why and leaves it to Switch-Traffic, which
   * marks them too: history housekeeping never fails a release.
   */
  async function settleEarlierItems(jobId: string, claimed: DeploymentRecord) {
    if (!deps.pipelineName) {
      log(`earlier executions' items not checked: ${HANDLER_ENVIRONMENT.pipelineName} is not set`, { jobId, deploymentId: claimed.deploymentId });
      return;
    }
    try {
      const changed = await settleAbandonedItems(deps.history, claimed, endedPerCodePipeline(deps.codePipeline, deps.pipelineName), now(), logger);
      for (const record of changed) {
        log('earlier execution\'s item settled', { itemDeploymentId: record.deploymentId, state: record.state, reason: record.failureReason });
        metrics.deploymentEnded(record, claimed.service);
        await deps.notifier.announce(record.state === 'NOT_STARTED' ? 'NOT_STARTED' : 'FAILED', record);
      }
    } catch (error) {
      logger.error('could not settle earlier executions\' items (Deploy-Blue needs codepipeline:GetPipelineExecution on the pipeline '
        + `and dynamodb:Query on the history table's ${BY_SERVICE_INDEX} index)`, { error: describeError(error) });
    }
  }

  /** Another delivery holds or has settled the item: answer from the record, act on nothing. */
  async function answerFromRecord(jobId: string, deploymentId: string, record: DeploymentRecord | undefined): Promise<StagedVersions | undefined> {
    if (record?.state === 'STAGING') {
      if (record.claimJobId === jobId) {
        // Should the holder have died, Lambda's retry of its event takes over once the claim lapses.
        log('duplicate delivery: this job is already staging; leaving it to that invocation', { jobId, deploymentId, claimExpiresAt: record.claimExpiresAt });
      } else {
        await reporter.fail(jobId, `Deploy-Blue failed: deployment ${deploymentId} is being staged by job ${record.claimJobId} ` +
          `(claim held until ${record.claimExpiresAt}); retry the stage after that`);
      }
      return undefined;
    }
    if (record?.state === 'STAGED' && record.currentVersion && record.targetVersion) {
      // Staged already (by this job, or by one whose result was lost): the same answer, nothing redone.
      const staged = { currentVersion: record.currentVersion, targetVersion: record.targetVersion };
      await reporter.succeed(jobId, { outputVariables: { ...staged } });
      log('already staged', { jobId, deploymentId, ...staged });
      return staged;
    }
    if (record?.state === 'FAILED' && !record.switchTrafficJobIds) {
      await reporter.fail(jobId, record.failureReason ?? `Deploy-Blue failed: deployment ${deploymentId} is FAILED`);
      return undefined;
    }
    // Switch-Traffic has moved the item on: this delivery is stale and its job long settled.
    log('stale delivery: the deployment has moved past Deploy-Blue; nothing to do', { jobId, deploymentId, state: record?.state });
    return undefined;
  }

  /** One invocation, its correlation keys set (the event itself is never logged: it carries credentials). */
  async function invoke(jobId: string, event: unknown, context?: InvocationContext): Promise<StagedVersions | undefined> {
    let job: PipelineJob<DeployBlueParameters>;
    let request: StageRequest;
    try {
      job = parseJob(event, DEPLOY_BLUE_PARAMETERS);
      let bundleDirectory: string;
      try {
        bundleDirectory = normalizeBundleDirectory(job.userParameters.bundleDirectory ?? '');
      } catch (error) {
        if (!(error instanceof BundleDirectoryError)) throw error;
        throw new InvalidJobError(`job ${jobId}: UserParameters ${error.message}`);
      }
      // An unreadable commit time costs the LeadTime metric, never the deployment.
      const commitTime = commitTimeOf(job);
      const service = serviceInExecution(job);
      const target = targets.sessionFor(job, {
        jobId, executionId: service.executionId, environment: service.environment, invokedFunctionArn: context?.invokedFunctionArn,
      });
      const bundleBucket = job.userParameters.bundleBucket?.trim() || undefined;
      if (!!target.deployerRoleArn !== !!bundleBucket) {
        throw new InvalidJobError(`job ${jobId}: UserParameters ${bundleBucket ? 'bundleBucket needs deployerRoleArn' : 'deployerRoleArn needs bundleBucket'}: ` +
          'an environment in another account or region receives its bundle in its own bucket (UpdateFunctionCode reads S3 only in the function\'s region)');
      }
      request = {
        ...service,
        target,
        ...(bundleBucket ? { bundleBucket } : {}),
        bakedEnvironments: bakedEnvironmentsOf(job, service.environments),
        functionName: job.userParameters.functionName,
        aliasName: job.userParameters.aliasName,
        bundleDirectory,
        ...(commitTime && 'commitTime' in commitTime ? { commitTime: commitTime.commitTime } : {}),
      };
      appendCorrelation(logger, { executionId: request.executionId, deployedService: request.service, deploymentId: request.historyKey });
      if (commitTime && 'problem' in commitTime) {
        log('no lead time will be recorded', { jobId, deploymentId: request.historyKey, problem: commitTime.problem });
      }
    } catch (error) {
      const message = describeError(error);
      logger.error('job failed', { reason: message });
      await reporter.fail(jobId, message);
      return undefined;
    }
    const deploymentId = request.historyKey;
    const deadline = now().getTime() + remainingMs(context, deps.invocationTimeoutMs ?? DEFAULT_TIMEOUT_MS);

    // The gate only reads: its verdict is acted on under the claim (a refusal is recorded like any failure).
    let verdict: PromotionVerdict = { promoted: true };
    if (request.environments && request.environment) {
      try {
        verdict = await checkPromotion(deps.history, {
          executionId: request.executionId,
          service: request.service,
          environment: request.environment,
          environments: request.environments,
          bakedEnvironments: request.bakedEnvironments,
        });
      } catch (error) {
        const reason = `Deploy-Blue failed: could not read the earlier environments' deployments of execution ${request.executionId}, so nothing ` +
          `was published (Deploy-Blue needs dynamodb:GetItem on the history table and dynamodb:Query on its ${BY_EXECUTION_INDEX} index): ${describeError(error)}`;
        logger.error('job failed', { reason });
        await reporter.fail(jobId, reason);
        return undefined;
      }
    }
    const isFirstEnvironment = !request.environments || request.environments[0] === request.environment;

    let claimed: DeploymentRecord;
    for (;;) {
      let claim: ClaimResult;
      try {
        claim = await deps.history.claim(deploymentId, {
          state: 'STAGING',
          jobId,
          jobSet: JOB_SET,
          // A retry (new job) may start again after a Deploy-Blue failure, never after Switch-Traffic began.
          from: ['NEW', 'FAILED', 'STAGING'],
          absent: ['switchTrafficJobIds'],
          holdMs: Math.max(deadline - now().getTime(), 0) + CLAIM_MARGIN_MS,
          attributes: {
            executionId: request.executionId,
            service: request.service,
            wave: request.wave,
            functionName: request.functionName,
            aliasName: request.aliasName,
            commitId: job.userParameters.commitId,
            repository: job.userParameters.repository,
            branch: job.userParameters.branch,
            environment: job.userParameters.environment,
            // Where the service runs: every message and metric of the item says so.
            account: request.target.account,
            region: request.target.region,
            // A later environment's item runs in its execution's order, not its stage's (see execution-order).
            executionStartedAt: verdict.first ? executionStartOf(verdict.first) : undefined,
          },
        });
      } catch (error) {
        const reason = `Deploy-Blue failed: could not claim deployment ${deploymentId} in the history table, so nothing was published: ${describeError(error)}`;
        logger.error('job failed', { reason });
        await reporter.fail(jobId, reason);
        return undefined;
      }
      if (claim.claimed) {
        claimed = claim.record;
        await settleEarlierItems(jobId, claimed);
        break;
      }

      // Another invocation is staging: wait for its answer, or for its claim to lapse (it died) and take over.
      let record = claim.record;
      const held = (r: DeploymentRecord | undefined) => r?.state === 'STAGING' && !claimLapsed(r, now());
      const wasHeld = held(record);
      const pollMs = deps.claimPollMs ?? 5000;
      while (held(record) && now().getTime() + pollMs <= deadline - RESERVE_MS) {
        await sleep(pollMs);
        record = await deps.history.get(deploymentId);
      }
      if (wasHeld && record?.state === 'STAGING' && !held(record)) continue;
      return answerFromRecord(jobId, deploymentId, record);
    }

    const promotion: Promotion = {
      executionStartedAt: isFirstEnvironment ? claimed.startedAt : verdict.first && executionStartOf(verdict.first),
      first: verdict.first,
    };
    if (!verdict.promoted) {
      logger.error('job failed', { reason: verdict.reason });
      await recordFailure(jobId, request, verdict.reason, promotion);
      await reporter.fail(jobId, verdict.reason);
      return undefined;
    }
    const staged = await stage(job, request, promotion);
    if ('reason' in staged) {
      logger.error('job failed', { reason: staged.reason });
      await reporter.fail(jobId, staged.reason);
      return undefined;
    }
    await reporter.succeed(jobId, { outputVariables: { ...staged } });
    log('staged', { jobId, deploymentId, ...staged });
    return staged;
  }

  return jobHandler(logger, 'deploy-blue', invoke);
}

function fromEnvironment(): DeployBlueDependencies {
  return {
    lambda: new LambdaClient(CLIENT_CONFIG),
    s3: new S3Client(CLIENT_CONFIG),
    ...sharedDependenciesFromEnvironment(),
    artifactBucketName: requireEnv(HANDLER_ENVIRONMENT.artifactBucketName),
  };
}

/** The Lambda entry point. */
export const handler = lazyEntryPoint(() => createDeployBlueHandler(fromEnvironment()));
