/**
 * Issue #16, the gate that remembers: a build goes to an environment only after every service of
 * its execution went live, and passed its bake, in every environment before it, and only as the
 * very code the first environment received. The gate on dynalite, then Deploy-Blue with it, on a
 * Lambda fake that answers as the Lambda API reference documents.
 */
import { createHash } from 'crypto';
import {
  GetAliasCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  PublishVersionCommand,
  ResourceNotFoundException,
  UpdateFunctionCodeCommand,
} from '@aws-sdk/client-lambda';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { BakeState, DeploymentHistoryStore, DeploymentRecord } from '../../src/runtime/deployment-history-store';
import { checkPromotion, PromotionRequest } from '../../src/runtime/promotion-gate';
import { historyKey } from '../../src/runtime/service-parameters';
import { deployBlueInEnvironment, deployBlueParameters, EnvironmentOptions, functionIn } from '../helpers/action-parameters';
import { HistoryTableFixture, startHistoryTable } from '../helpers/dynalite-history-table';
import { aliasAnswer, ARTIFACT_BUCKET, functionConfiguration, handlerHarness, stagedRecord, versionedBucket } from '../helpers/handler-harness';
import { pipelineJobEvent } from '../helpers/pipeline-job-event';
import { artifactZip } from '../helpers/zip-fixtures';

let fixture: HistoryTableFixture;
let h: ReturnType<typeof handlerHarness>;
let history: DeploymentHistoryStore;
let executions = 0;
let executionId: string;

beforeAll(async () => {
  fixture = await startHistoryTable();
  h = handlerHarness(fixture);
  history = h.history;
});
afterAll(() => fixture.stop());

/** How an item of an earlier environment ended. */
interface Ending {
  readonly state: 'SUCCEEDED' | 'SKIPPED' | 'ROLLED_BACK' | 'FAILED' | 'NOT_STARTED' | 'STAGED';
  /** The bake after the shift; ROLLED_BACK with a bake means the bake rolled the environment back. */
  readonly bake?: BakeState;
  readonly failureReason?: string;
  readonly bakeFailureReason?: string;
  readonly codeSha256?: string;
}

/**
 * Writes `service`'s item of the execution in `environment` as the stages leave it, through the
 * store's own transitions: STAGED by Deploy-Blue, then Switch-Traffic's claim and outcome, the bake's
 * outcome recorded with it (the Bake handler's own writes are not this file's subject).
 */
async function itemIn(environment: string, service: string, ending: Ending): Promise<DeploymentRecord> {
  const key = historyKey(executionId, service, environment);
  const { record: staged } = await stagedRecord(history, key, {
    executionId,
    service,
    environment,
    wave: 1,
    functionName: `${service}-${environment}`,
    aliasName: 'live',
    currentVersion: '3',
    targetVersion: '4',
    codeSha256: ending.codeSha256 ?? 'sha-of-the-build',
  });
  if (ending.state === 'STAGED') return staged;
  if (ending.state === 'NOT_STARTED') {
    return (await history.transition(key, 'NOT_STARTED', { failureReason: ending.failureReason ?? 'wave 1: orders rolled back' })).record;
  }
  const jobId = `switch-${key}`;
  await history.claim(key, { state: 'STARTING', jobId, jobSet: 'switchTrafficJobIds', from: ['STAGED'], holdMs: 120_000 });
  const bake = {
    ...(ending.bake ? { bakeState: ending.bake } : {}),
    ...(ending.bakeFailureReason ? { bakeFailureReason: ending.bakeFailureReason } : {}),
  };
  if (ending.state === 'SKIPPED') return (await history.transition(key, 'SKIPPED', bake, { claimJobId: jobId })).record;
  if (ending.state === 'FAILED') {
    return (await history.transition(key, 'FAILED', { failureReason: ending.failureReason ?? 'CodeDeploy deployment d-1 failed' }, { claimJobId: jobId })).record;
  }
  await history.transition(key, 'SHIFTING', { codeDeployDeploymentId: `d-${environment}-${service}` }, { claimJobId: jobId });
  if (ending.state === 'ROLLED_BACK' && !ending.bake) {
    return (await history.transition(key, 'ROLLED_BACK', { failureReason: ending.failureReason ?? 'CodeDeploy deployment stopped on alarm' })).record;
  }
  const { record } = await history.transition(key, 'SUCCEEDED', ending.state === 'ROLLED_BACK' ? { bakeState: 'BAKING' } : bake);
  if (ending.state === 'SUCCEEDED') return record;
  return (await history.transition(key, 'ROLLED_BACK', { ...bake, failureReason: ending.bakeFailureReason }, { from: ['SUCCEEDED'] })).record;
}

const request = (environment: string, options: EnvironmentOptions = {}): PromotionRequest => ({
  executionId,
  service: 'orders',
  environment,
  environments: options.environments ?? ['dev', 'staging', 'prod'],
  bakedEnvironments: options.bakedEnvironments ?? ['staging', 'prod'],
});

describe('checkPromotion', () => {
  beforeEach(() => { executionId = `gate-${++executions}`; });

  test('the first environment has nothing before it', async () => {
    await expect(checkPromotion(history, request('dev'))).resolves.toEqual({ promoted: true });
  });

  test('passes after every service went live (or was live) in each earlier environment and passed the bakes there; returns the first environment\'s item', async () => {
    const dev = await itemIn('dev', 'orders', { state: 'SUCCEEDED' });
    await itemIn('dev', 'billing', { state: 'SKIPPED' });
    await itemIn('staging', 'orders', { state: 'SUCCEEDED', bake: 'PASSED' });
    await itemIn('staging', 'billing', { state: 'SKIPPED', bake: 'PASSED' });
    // another execution's item, and this execution's prod item, are not this gate's business
    await itemIn('prod', 'billing', { state: 'STAGED' });
    const verdict = await checkPromotion(history, request('prod'));
    expect(verdict).toEqual({ promoted: true, first: expect.objectContaining({ deploymentId: dev.deploymentId, codeSha256: 'sha-of-the-build' }) });
  });

  test.each<[string, string, Ending, string]>([
    ['a rollback during the bake', 'orders', { state: 'ROLLED_BACK', bake: 'ROLLED_BACK', bakeFailureReason: 'alarm orders-error-rate-staging in ALARM' },
      'orders rolled back during its bake (alarm orders-error-rate-staging in ALARM)'],
    ['a rollback during the shift', 'orders', { state: 'ROLLED_BACK', failureReason: 'CodeDeploy deployment d-9 stopped' },
      'orders rolled back (CodeDeploy deployment d-9 stopped)'],
    ['another service\'s failure', 'billing', { state: 'FAILED', failureReason: 'Switch-Traffic failed: AccessDenied' },
      'billing failed (Switch-Traffic failed: AccessDenied)'],
    ['a service a failed wave held back', 'billing', { state: 'NOT_STARTED', failureReason: 'wave 1: orders rolled back' },
      'billing was not started (wave 1: orders rolled back)'],
    ['a failed bake', 'orders', { state: 'SUCCEEDED', bake: 'FAILED', bakeFailureReason: 'idle: 0 invocations of orders-staging:live, 10 required' },
      'orders failed its bake (idle: 0 invocations of orders-staging:live, 10 required)'],
    ['a bake still running', 'orders', { state: 'SUCCEEDED', bake: 'BAKING' }, 'orders is still baking'],
    ['no bake at all in a baked environment', 'orders', { state: 'SUCCEEDED' }, 'orders was not baked'],
    ['a skip that was never baked', 'orders', { state: 'SKIPPED' }, 'orders was not baked'],
    ['a service still staged', 'billing', { state: 'STAGED' }, 'billing has not finished (it is STAGED)'],
  ])('refuses after %s in an earlier environment, naming it and why', async (_name, service, ending, problem) => {
    await itemIn('dev', 'orders', { state: 'SUCCEEDED' });
    await itemIn('dev', 'billing', { state: 'SUCCEEDED' });
    const others = { state: 'SUCCEEDED', bake: 'PASSED' } as const;
    await itemIn('staging', 'orders', service === 'orders' ? ending : others);
    await itemIn('staging', 'billing', service === 'billing' ? ending : others);
    const verdict = await checkPromotion(history, request('prod'));
    expect(verdict).toMatchObject({
      promoted: false,
      reason: `Deploy-Blue refused: this build did not pass staging: ${problem}; it will not be promoted to prod`,
    });
  });

  test('refuses when this service was never deployed in an earlier environment, even though every item there passed', async () => {
    await itemIn('dev', 'orders', { state: 'SUCCEEDED' });
    await itemIn('staging', 'billing', { state: 'SUCCEEDED', bake: 'PASSED' });
    await expect(checkPromotion(history, request('prod'))).resolves.toMatchObject({
      promoted: false,
      reason: 'Deploy-Blue refused: this build did not pass staging: orders was never deployed there; it will not be promoted to prod',
    });
  });

  test('an environment without a bake asks for none; the earliest environment that failed is the one named', async () => {
    await itemIn('dev', 'orders', { state: 'FAILED', failureReason: 'Deploy-Blue failed: boom' });
    await itemIn('staging', 'orders', { state: 'FAILED' });
    await expect(checkPromotion(history, request('prod', { bakedEnvironments: [] }))).resolves.toMatchObject({
      reason: 'Deploy-Blue refused: this build did not pass dev: orders failed (Deploy-Blue failed: boom); it will not be promoted to prod',
    });
    await itemIn('dev', 'billing', { state: 'SUCCEEDED' });
    executionId = `gate-${++executions}`;
    await itemIn('dev', 'orders', { state: 'SUCCEEDED' });
    await expect(checkPromotion(history, request('staging', { bakedEnvironments: [] }))).resolves.toMatchObject({ promoted: true });
  });
});

/** The build both tests deploy: one service, the whole artifact. */
const ARTIFACT = { bucketName: 'artifact-bucket', objectKey: 'orders-api-pipeline/BuildOutpu/abc123' };
const sha256Of = (body: Buffer) => createHash('sha256').update(body).digest('base64');

describe('Deploy-Blue in a pipeline that promotes through environments', () => {
  let bucket: ReturnType<typeof versionedBucket>;
  /** Each environment's copy of orders-api as Lambda keeps it: $LATEST's code hash, the versions' hashes, what `live` serves. */
  let functions: Map<string, { latestSha: string; versions: Map<string, string>; live: string }>;
  const BAKED: EnvironmentOptions = { bakedEnvironments: ['staging', 'prod'] };

  const fn = (name: string) => {
    const found = functions.get(name);
    // Lambda's answer for a function that does not exist (@throws ResourceNotFoundException in each command's .d.ts).
    if (!found) throw new ResourceNotFoundException({ message: `Function not found: ${name}`, Type: 'User', $metadata: { httpStatusCode: 404 } });
    return found;
  };

  /** Clears what the handlers did so far (calls, results, messages, metrics), keeping the bucket's objects and the functions. */
  const forgetCalls = () => {
    const objects = bucket;
    h.reset();
    bucket = versionedBucket(h.mocks.s3);
    const copy = objects.get(ARTIFACT.bucketName, ARTIFACT.objectKey)!;
    bucket.put(ARTIFACT.bucketName, ARTIFACT.objectKey, copy.body);
    answerAsLambda();
  };

  beforeEach(() => {
    h.reset();
    executionId = `exec-${++executions}`;
    bucket = versionedBucket(h.mocks.s3);
    bucket.put(ARTIFACT.bucketName, ARTIFACT.objectKey, artifactZip({ 'index.js': 'exports.handler = async () => "orders";\n' }));
    functions = new Map(['dev', 'staging', 'prod'].map((e) => [functionIn(e), { latestSha: 'sha-live', versions: new Map([['3', 'sha-live']]), live: '3' }]));
    answerAsLambda();
  });

  function answerAsLambda() {
    const m = h.mocks.lambda;
    // GetAlias: FunctionVersion, no RoutingConfig unless split (GetAliasCommand.d.ts).
    m.on(GetAliasCommand).callsFake(async (input) => aliasAnswer(fn(input.FunctionName!).live, undefined, input.Name, input.FunctionName));
    // GetFunctionConfiguration: the version's (or $LATEST's) CodeSha256 (GetFunctionConfigurationCommand.d.ts).
    m.on(GetFunctionConfigurationCommand).callsFake(async (input) => {
      const f = fn(input.FunctionName!);
      const version = input.Qualifier && input.Qualifier !== '$LATEST' ? input.Qualifier : undefined;
      return functionConfiguration({
        functionName: input.FunctionName, ...(version ? { version } : {}), codeSha256: version ? f.versions.get(version) : f.latestSha,
      });
    });
    // UpdateFunctionCode from S3: $LATEST's CodeSha256 becomes the object's base64 SHA-256; the update runs on.
    m.on(UpdateFunctionCodeCommand).callsFake(async (input) => {
      const object = bucket.get(input.S3Bucket!, input.S3Key!);
      if (!object) throw new Error(`no object s3://${input.S3Bucket}/${input.S3Key}`);
      fn(input.FunctionName!).latestSha = sha256Of(object.body);
      return functionConfiguration({ functionName: input.FunctionName, codeSha256: sha256Of(object.body), lastUpdateStatus: 'InProgress' });
    });
    // GetFunction (the FunctionUpdatedV2 waiter): the update has finished.
    m.on(GetFunctionCommand).callsFake(async (input) => ({
      Configuration: functionConfiguration({ functionName: input.FunctionName, codeSha256: fn(input.FunctionName!).latestSha }),
      Code: { RepositoryType: 'S3', Location: 'https://awslambda-us-east-1-tasks.s3.us-east-1.amazonaws.com/snapshots/presigned' },
    }));
    // PublishVersion: the next number, with $LATEST's CodeSha256 (FunctionConfiguration).
    m.on(PublishVersionCommand).callsFake(async (input) => {
      const f = fn(input.FunctionName!);
      const version = String(f.versions.size + 3);
      f.versions.set(version, f.latestSha);
      return functionConfiguration({ functionName: input.FunctionName, version, codeSha256: f.latestSha });
    });
  }

  const deploy = (environment: string, jobId = `deploy-${environment}`, options: EnvironmentOptions = BAKED) =>
    h.deployBlue()(pipelineJobEvent({ jobId, artifact: ARTIFACT, userParameters: deployBlueInEnvironment(executionId, environment, options, { service: 'orders' }) }));
  const published = () => h.mocks.lambda.commandCalls(PublishVersionCommand).map((c) => c.args[0].input.FunctionName);
  const failures = () => h.jobResults().failures.map((f) => [f.jobId, f.failureDetails?.message]);
  /** The dev item, then the shift and bake in dev and staging as Switch-Traffic and Bake leave them (written through the store). */
  const wentLive = async (environment: string, bake?: BakeState) => {
    const key = historyKey(executionId, 'orders', environment);
    const jobId = `switch-${key}`;
    await history.claim(key, { state: 'STARTING', jobId, jobSet: 'switchTrafficJobIds', from: ['STAGED'], holdMs: 120_000 });
    await history.transition(key, 'SHIFTING', { codeDeployDeploymentId: `d-${environment}` }, { claimJobId: jobId });
    return history.transition(key, 'SUCCEEDED', bake ? { bakeState: bake } : {});
  };

  test('each later environment gets the code dev received, in its own bundle, with the execution\'s start and the code hash recorded', async () => {
    await expect(deploy('dev')).resolves.toEqual({ currentVersion: '3', targetVersion: '4' });
    const dev = (await history.get(`${executionId}/dev/orders`))!;
    const devBundle = bucket.get(ARTIFACT_BUCKET, `bundles/${executionId}/dev/orders.zip`)!;
    expect(dev).toMatchObject({ state: 'STAGED', environment: 'dev', codeSha256: sha256Of(devBundle.body), executionStartedAt: dev.startedAt });
    await wentLive('dev');

    await expect(deploy('staging')).resolves.toEqual({ currentVersion: '3', targetVersion: '4' });
    const staging = (await history.get(`${executionId}/staging/orders`))!;
    expect(bucket.get(ARTIFACT_BUCKET, `bundles/${executionId}/staging/orders.zip`)).toBeDefined();
    expect(staging).toMatchObject({ state: 'STAGED', environment: 'staging', codeSha256: dev.codeSha256, executionStartedAt: dev.startedAt });
    expect(staging.startedAt! >= dev.startedAt!).toBe(true);
    await wentLive('staging', 'PASSED');

    await expect(deploy('prod')).resolves.toEqual({ currentVersion: '3', targetVersion: '4' });
    expect(await history.get(`${executionId}/prod/orders`)).toMatchObject({ state: 'STAGED', codeSha256: dev.codeSha256, executionStartedAt: dev.startedAt });
    expect(published()).toEqual(['orders-api-dev', 'orders-api-staging', 'orders-api-prod']);
    expect(h.jobResults().failures).toEqual([]);
  });

  test('after a rollback during staging\'s bake: prod\'s job fails naming staging and the alarm, nothing is uploaded or published, the prod item says FAILED', async () => {
    await deploy('dev');
    await wentLive('dev');
    await deploy('staging');
    await wentLive('staging', 'BAKING');
    await history.transition(`${executionId}/staging/orders`, 'ROLLED_BACK',
      { bakeState: 'ROLLED_BACK', bakeFailureReason: 'alarm orders-error-rate-staging in ALARM' }, { from: ['SUCCEEDED'] });
    forgetCalls();

    await deploy('prod');
    const message = 'Deploy-Blue refused: this build did not pass staging: orders rolled back during its bake (alarm orders-error-rate-staging in ALARM); ' +
      'it will not be promoted to prod';
    expect(failures()).toEqual([['deploy-prod', message]]);
    expect(h.mocks.lambda.commandCalls(UpdateFunctionCodeCommand)).toHaveLength(0);
    expect(published()).toEqual([]);
    expect(h.mocks.s3.commandCalls(PutObjectCommand)).toHaveLength(0);
    const prod = await history.get(`${executionId}/prod/orders`);
    expect(prod).toMatchObject({ state: 'FAILED', environment: 'prod', failureReason: message, deployBlueJobIds: new Set(['deploy-prod']) });
    expect(prod?.executionStartedAt).toBe((await history.get(`${executionId}/dev/orders`))?.startedAt);
    expect(h.messages().map((m) => [m.event, m.body.environment, m.body.failureReason])).toEqual([['FAILED', 'prod', message]]);
    expect(h.metrics().map((d) => [d.Environment, d.Service, d.Outcome])).toEqual([['prod', 'orders', 'Failed']]);
  });

  test('a refused job delivered twice at once and once more later is refused once: one FAILED, one message, one metric, nothing published; a retry is refused again', async () => {
    await deploy('dev');
    await wentLive('dev');
    forgetCalls();

    // staging never ran: orders has no staging item
    await Promise.all([deploy('prod'), deploy('prod')]);
    await deploy('prod');
    const message = 'Deploy-Blue refused: this build did not pass staging: orders was never deployed there; it will not be promoted to prod';
    expect(failures()).toEqual([['deploy-prod', message], ['deploy-prod', message], ['deploy-prod', message]]);
    expect(h.mocks.lambda.commandCalls(UpdateFunctionCodeCommand)).toHaveLength(0);
    expect(published()).toEqual([]);
    expect(h.announced()).toEqual(['FAILED']);
    expect(h.metrics()).toHaveLength(1);
    expect(await history.get(`${executionId}/prod/orders`)).toMatchObject({ state: 'FAILED', failureReason: message, deployBlueJobIds: new Set(['deploy-prod']) });

    // a retried stage (a new job) asks the gate again: nothing has changed below, so it refuses again
    await deploy('prod', 'deploy-prod-retry');
    expect(failures()[3]).toEqual(['deploy-prod-retry', message]);
    expect(published()).toEqual([]);
    expect((await history.get(`${executionId}/prod/orders`))?.deployBlueJobIds).toEqual(new Set(['deploy-prod', 'deploy-prod-retry']));
  });

  test('code other than dev\'s is refused before anything is published, naming both hashes and both environments', async () => {
    await deploy('dev');
    const dev = (await history.get(`${executionId}/dev/orders`))!;
    await wentLive('dev');
    // other code under the execution's artifact key (say, an object overwritten by hand)
    bucket.put(ARTIFACT.bucketName, ARTIFACT.objectKey, artifactZip({ 'index.js': 'exports.handler = async () => "other";\n' }));
    forgetCalls();

    await deploy('staging');
    const staged = bucket.get(ARTIFACT_BUCKET, `bundles/${executionId}/staging/orders.zip`)!;
    const message = `Deploy-Blue refused: the code of orders for staging (CodeSha256 ${sha256Of(staged.body)}) is not the code dev received ` +
      `(CodeSha256 ${dev.codeSha256}, deployment ${executionId}/dev/orders); nothing was published; it will not be promoted to staging`;
    expect(failures()).toEqual([['deploy-staging', message]]);
    expect(h.mocks.lambda.commandCalls(UpdateFunctionCodeCommand)).toHaveLength(0);
    expect(published()).toEqual([]);
    expect(await history.get(`${executionId}/staging/orders`)).toMatchObject({ state: 'FAILED', failureReason: message });
  });

  test('an artifact deployed as built (its hash not known in advance) is compared after the code update, before publishing', async () => {
    const asBuilt = (environment: string) => h.deployBlue({ maxArtifactBytes: 1 })(pipelineJobEvent({
      jobId: `deploy-${environment}`, artifact: ARTIFACT, userParameters: deployBlueInEnvironment(executionId, environment, BAKED, { service: 'orders' }),
    }));
    await asBuilt('dev');
    const dev = (await history.get(`${executionId}/dev/orders`))!;
    expect(dev.codeSha256).toBe(sha256Of(bucket.get(ARTIFACT.bucketName, ARTIFACT.objectKey)!.body));
    await wentLive('dev');
    bucket.put(ARTIFACT.bucketName, ARTIFACT.objectKey, artifactZip({ 'index.js': 'exports.handler = async () => "other";\n' }));
    forgetCalls();

    await asBuilt('staging');
    const other = sha256Of(bucket.get(ARTIFACT.bucketName, ARTIFACT.objectKey)!.body);
    expect(failures()).toEqual([['deploy-staging', `Deploy-Blue refused: the code of orders for staging (CodeSha256 ${other}) is not the code dev received ` +
      `(CodeSha256 ${dev.codeSha256}, deployment ${executionId}/dev/orders); nothing was published; it will not be promoted to staging`]]);
    expect(h.mocks.lambda.commandCalls(UpdateFunctionCodeCommand)).toHaveLength(1);
    expect(published()).toEqual([]);
  });

  test('bakedEnvironments must name environments of the pipeline', async () => {
    await h.deployBlue()(pipelineJobEvent({
      artifact: ARTIFACT, userParameters: deployBlueInEnvironment(executionId, 'prod', { bakedEnvironments: ['stagin'] }),
    }));
    expect(failures()).toEqual([['job-1', 'job job-1: UserParameters bakedEnvironments names stagin, which environments "dev,staging,prod" does not list']]);
    expect(h.mocks.lambda.calls()).toHaveLength(0);
  });

  test('without environments: one item per execution and service, no gate, the start and code hash recorded all the same', async () => {
    await h.deployBlue()(pipelineJobEvent({ artifact: ARTIFACT, userParameters: deployBlueParameters(executionId, { functionName: functionIn('dev') }) }));
    const record = (await history.get(`${executionId}/orders-api`))!;
    expect(record).toMatchObject({ state: 'STAGED', environment: 'dev', executionStartedAt: record.startedAt });
    expect(record.codeSha256).toBe(sha256Of(bucket.get(ARTIFACT_BUCKET, `bundles/${executionId}/orders-api.zip`)!.body));
  });
});
