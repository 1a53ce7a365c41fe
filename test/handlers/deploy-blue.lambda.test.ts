import { GetPipelineExecutionCommand, GetPipelineExecutionCommandInput, InvalidJobStateException, PutJobSuccessResultCommand } from '@aws-sdk/client-codepipeline';
import {
  GetAliasCommand,
  GetFunctionCommand,
  PreconditionFailedException,
  PublishVersionCommand,
  ServiceException,
  UpdateFunctionCodeCommand,
} from '@aws-sdk/client-lambda';
import { GetObjectCommand, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { DeployBlueParameters } from '../../src/contract/handler-contract';
import { createDeployBlueHandler } from '../../src/handlers/deploy-blue.lambda';
import { JobReporter } from '../../src/runtime/codepipeline-job';
import { DeploymentHistoryStore } from '../../src/runtime/deployment-history-store';
import { deployBlueParameters } from '../helpers/action-parameters';
import { HistoryTableFixture, startHistoryTable } from '../helpers/dynalite-history-table';
import { aliasAnswer, ARTIFACT_BUCKET, functionConfiguration, getFunctionAnswer, handlerHarness, shiftingRecord, versionedBucket } from '../helpers/handler-harness';
import { pipelineJobEvent } from '../helpers/pipeline-job-event';
import { fileEntry, readZip, writeZip } from '../helpers/raw-zip';
import { artifactZip, filesOf, HAS_ZIP_CLI, unzipWithCli } from '../helpers/zip-fixtures';

let fixture: HistoryTableFixture;
let h: ReturnType<typeof handlerHarness>;
let handler: ReturnType<typeof createDeployBlueHandler>;
let executions = 0;
/** The pipeline execution of the test. */
let executionId: string;
/** Its history item for orders-api. */
let deploymentId: string;

/** The single-service build output pipelineJobEvent names by default. */
const SINGLE_ARTIFACT = { bucketName: 'artifact-bucket', objectKey: 'orders-api-pipeline/BuildOutpu/abc123' };
const SINGLE_BUILD = { 'index.js': 'exports.handler = async () => "orders";\n', 'lib/util.js': 'module.exports = 1;\n' };
let singleBucket: ReturnType<typeof versionedBucket>;

beforeAll(async () => {
  fixture = await startHistoryTable();
  h = handlerHarness(fixture);
  handler = h.deployBlue();
});
afterAll(() => fixture.stop());

beforeEach(() => {
  h.reset();
  executionId = `exec-${++executions}`;
  deploymentId = `${executionId}/orders-api`;
  singleBucket = versionedBucket(h.mocks.s3);
  singleBucket.put(SINGLE_ARTIFACT.bucketName, SINGLE_ARTIFACT.objectKey, artifactZip(SINGLE_BUILD, { stream: true }));
  // GetAlias: AliasArn/Name/FunctionVersion/RevisionId, no RoutingConfig unless set (GetAliasCommand.d.ts example).
  h.mocks.lambda.on(GetAliasCommand).resolves(aliasAnswer('3'));
  // UpdateFunctionCode answers the $LATEST configuration with the new hash, update still in progress (FunctionConfiguration).
  h.mocks.lambda.on(UpdateFunctionCodeCommand).resolves(functionConfiguration({ codeSha256: 'sha-new', revisionId: 'rev-1', lastUpdateStatus: 'InProgress' }));
  // GetFunction (what the FunctionUpdatedV2 waiter polls) answers Configuration + Code (GetFunctionCommand.d.ts).
  h.mocks.lambda.on(GetFunctionCommand).resolves(getFunctionAnswer({ codeSha256: 'sha-new', revisionId: 'rev-2' }));
  // PublishVersion answers the new version's configuration: Version, its ARN, CodeSha256, RevisionId (FunctionConfiguration).
  h.mocks.lambda.on(PublishVersionCommand).resolves(functionConfiguration({ version: '4', codeSha256: 'sha-new', revisionId: 'rev-3' }));
});

/** The UserParameters the construct gives orders-api's Deploy-Blue action. */
const parameters = (overrides: Partial<DeployBlueParameters> = {}) => deployBlueParameters(executionId, {
  commitId: 'c0ffee', repository: 'example-org/orders-api', branch: 'main', ...overrides,
});
const event = (overrides: Parameters<typeof pipelineJobEvent>[0] = {}) => pipelineJobEvent({ userParameters: parameters(), ...overrides });
const lambdaWrites = () => ({
  updates: h.mocks.lambda.commandCalls(UpdateFunctionCodeCommand).length,
  publishes: h.mocks.lambda.commandCalls(PublishVersionCommand).length,
});

test('stages the artifact normalized, publishes a pinned version, records STAGED and returns both versions', async () => {
  await expect(handler(event())).resolves.toEqual({ currentVersion: '3', targetVersion: '4' });

  // The whole build output is the bundle, re-zipped normalized under bundles/ (an unchanged build is recognised by its hash).
  expect(h.mocks.lambda.commandCalls(UpdateFunctionCodeCommand)[0].args[0].input).toEqual({
    FunctionName: 'orders-api-dev', S3Bucket: ARTIFACT_BUCKET, S3Key: `bundles/${executionId}/orders-api.zip`,
  });
  const staged = singleBucket.get(ARTIFACT_BUCKET, `bundles/${executionId}/orders-api.zip`)!;
  expect(h.mocks.lambda.commandCalls(PublishVersionCommand)[0].args[0].input).toMatchObject({
    FunctionName: 'orders-api-dev', CodeSha256: 'sha-new', RevisionId: 'rev-2',
  });
  expect(h.jobResults()).toEqual({
    successes: [{ jobId: 'job-1', outputVariables: { currentVersion: '3', targetVersion: '4' } }],
    failures: [],
  });
  const record = await h.history.get(deploymentId);
  expect(record).toMatchObject({
    deploymentId: `${executionId}/orders-api`,
    executionId,
    service: 'orders-api',
    // the environment of the action's UserParameters: history and metrics carry it
    environment: 'dev',
    wave: 1,
    functionName: 'orders-api-dev',
    aliasName: 'live',
    codeLocation: `s3://${ARTIFACT_BUCKET}/bundles/${executionId}/orders-api.zip?versionId=${staged.versionId}`,
    state: 'STAGED',
    commitId: 'c0ffee',
    repository: 'example-org/orders-api',
    branch: 'main',
    currentVersion: '3',
    targetVersion: '4',
    lastJobId: 'job-1',
    deployBlueJobIds: new Set(['job-1']),
  });
  expect(record?.claimJobId).toBeUndefined();
  expect(h.announced()).toEqual(['STAGED']);
});

test('publishes only after the code update has finished', async () => {
  h.mocks.lambda.on(GetFunctionCommand)
    .resolvesOnce(getFunctionAnswer({ lastUpdateStatus: 'InProgress', revisionId: 'rev-2' }))
    .resolves(getFunctionAnswer({ lastUpdateStatus: 'Successful', revisionId: 'rev-3' }));
  await handler(event());
  expect(h.mocks.lambda.commandCalls(GetFunctionCommand).length).toBe(2);
  expect(h.mocks.lambda.commandCalls(PublishVersionCommand)[0].args[0].input.RevisionId).toBe('rev-3');
});

test('a failed code update fails the job with Lambda\'s reason and records FAILED', async () => {
  h.mocks.lambda.on(GetFunctionCommand).resolves(getFunctionAnswer({
    lastUpdateStatus: 'Failed', lastUpdateStatusReasonCode: 'InvalidZipFileException', lastUpdateStatusReason: 'Could not unzip uploaded file',
  }));
  await handler(event());
  expect(h.mocks.lambda.commandCalls(PublishVersionCommand)).toHaveLength(0);
  const { failures, successes } = h.jobResults();
  expect(successes).toHaveLength(0);
  expect(failures[0].failureDetails?.message).toBe(
    'Deploy-Blue failed: Lambda could not apply the new code to orders-api-dev: InvalidZipFileException Could not unzip uploaded file');
  expect(await h.history.get(deploymentId)).toMatchObject({ state: 'FAILED', failureReason: expect.stringMatching(/Deploy-Blue failed/) });
  expect(h.announced()).toEqual(['FAILED']);
});

test('a missing artifact fails the job with a readable message', async () => {
  await handler(event({ artifact: null }));
  expect(h.jobResults().failures[0]).toMatchObject({
    jobId: 'job-1',
    failureDetails: { type: 'JobFailed', message: "Deploy-Blue failed: job job-1: no input artifact; Deploy-Blue needs the Build stage's output" },
  });
  expect(h.mocks.lambda.commandCalls(UpdateFunctionCodeCommand)).toHaveLength(0);
  expect((await h.history.get(deploymentId))?.state).toBe('FAILED');
});

test('a code hash changed by someone else between update and publish fails the job', async () => {
  // PublishVersion with a stale RevisionId/CodeSha256 answers PreconditionFailedException (PublishVersionCommand.d.ts @throws).
  h.mocks.lambda.on(PublishVersionCommand).rejects(new PreconditionFailedException({
    message: 'The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id',
    Type: 'User',
    $metadata: { httpStatusCode: 412 },
  }));
  await handler(event());
  expect(h.jobResults().failures[0].failureDetails?.message).toBe(
    'Deploy-Blue failed: PreconditionFailedException: The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id');
});

test('an alias another execution\'s deployment is shifting does not fail Deploy-Blue: it publishes and reports the version shifted from', async () => {
  // CodeDeploy is moving live from 3 to 4 for an earlier execution; this one publishes 5.
  h.mocks.lambda.on(GetAliasCommand).resolves(aliasAnswer('3', { 4: 0.3 }));
  h.mocks.lambda.on(PublishVersionCommand).resolves(functionConfiguration({ version: '5', codeSha256: 'sha-new', revisionId: 'rev-3' }));
  await expect(handler(event())).resolves.toEqual({ currentVersion: '3', targetVersion: '5' });
  expect(h.jobResults()).toEqual({ successes: [{ jobId: 'job-1', outputVariables: { currentVersion: '3', targetVersion: '5' } }], failures: [] });
  expect(await h.history.get(deploymentId)).toMatchObject({ state: 'STAGED', currentVersion: '3', targetVersion: '5' });
});

describe('earlier executions\' items (issue 14, item 6)', () => {
  /** An item an earlier execution's Deploy-Blue left STAGED. */
  async function earlierStaged(earlierExecution: string) {
    await h.history.claim(`${earlierExecution}/orders-api`, {
      state: 'STAGING',
      jobId: `deploy-${earlierExecution}`,
      jobSet: 'deployBlueJobIds',
      from: ['NEW'],
      holdMs: 600_000,
      attributes: { executionId: earlierExecution, service: 'orders-api', functionName: 'orders-api-dev', wave: 1 },
    });
    await h.history.transition(`${earlierExecution}/orders-api`, 'STAGED', { currentVersion: '2', targetVersion: '3' }, { claimJobId: `deploy-${earlierExecution}` });
  }

  test('an item whose execution has ended is marked NOT_STARTED with the reason; one whose execution still runs is left alone', async () => {
    const failed = `exec-failed-${executions}`;
    const running = `exec-running-${executions}`;
    await earlierStaged(failed);
    await earlierStaged(running);
    // GetPipelineExecution answers pipelineExecution with its status (GetPipelineExecutionCommand.d.ts).
    h.mocks.codePipeline.on(GetPipelineExecutionCommand).callsFake(async (input: GetPipelineExecutionCommandInput) => ({
      pipelineExecution: {
        pipelineName: input.pipelineName,
        pipelineVersion: 1,
        pipelineExecutionId: input.pipelineExecutionId,
        status: input.pipelineExecutionId === failed ? 'Failed' : 'InProgress',
        executionMode: 'QUEUED',
        executionType: 'STANDARD',
      },
    }));
    await h.deployBlue({ pipelineName: 'orders-api-pipeline-dev' })(event());
    expect(h.jobResults().successes).toHaveLength(1);
    expect(await h.history.get(`${failed}/orders-api`)).toMatchObject({
      state: 'NOT_STARTED',
      failureReason: `not started: execution ${failed} ended (Failed) before orders-api was shifted; found by execution ${executionId}`,
    });
    expect((await h.history.get(`${running}/orders-api`))?.state).toBe('STAGED');
    expect(h.mocks.codePipeline.commandCalls(GetPipelineExecutionCommand).map((c) => c.args[0].input))
      .toEqual(expect.arrayContaining([{ pipelineName: 'orders-api-pipeline-dev', pipelineExecutionId: failed }]));
    expect(h.messages().filter((m) => m.event === 'NOT_STARTED').map((m) => m.body.executionId)).toEqual([failed]);
  });

  test('without permission to ask CodePipeline, the release goes on and the reason is logged', async () => {
    await earlierStaged(`exec-denied-${executions}`);
    h.mocks.codePipeline.on(GetPipelineExecutionCommand).rejects(Object.assign(new Error('User is not authorized to perform: codepipeline:GetPipelineExecution'), { name: 'AccessDeniedException' }));
    await h.deployBlue({ pipelineName: 'orders-api-pipeline-dev' })(event());
    expect(h.jobResults()).toMatchObject({ successes: [{ jobId: 'job-1' }], failures: [] });
    expect((await h.history.get(`exec-denied-${executions}/orders-api`))?.state).toBe('STAGED');
  });
});

test.each([
  ['UserParameters that are not JSON', () => ({ userParameters: 'not json' }), 'job job-1: UserParameters is not valid JSON: not json'],
  ['UserParameters without deploymentId', () => ({ userParameters: { commitId: 'c0ffee' } }),
    'job job-1: UserParameters lacks deploymentId, service, functionName, aliasName, wave'],
  ['an empty service', () => ({ userParameters: parameters({ service: '' }) }), 'job job-1: UserParameters lacks service'],
  ['a service with "/"', () => ({ userParameters: parameters({ service: 'orders/api' }) }), 'job job-1: UserParameters service "orders/api" must not contain "/"'],
  ['wave 0', () => ({ userParameters: parameters({ wave: '0' }) }), 'job job-1: UserParameters wave must be a whole number from 1 (the action\'s runOrder), got "0"'],
  ['an unknown key', () => ({ userParameters: { ...parameters(), bundleDir: 'dist' } }),
    'job job-1: UserParameters has unknown key bundleDir; expected deploymentId, service, functionName, aliasName, wave, bundleDirectory, commitId, repository, branch, commitTime, environment, environments, bakedEnvironments, deployerRoleArn, region, bundleBucket'],
  ['a bundleDirectory outside the artifact', () => ({ userParameters: parameters({ bundleDirectory: '../dist' }) }),
    'job job-1: UserParameters bundleDirectory "../dist" must be a relative path inside the build artifact, like "services/orders/dist"'],
])('a malformed job (%s) fails the job naming the field, touching nothing', async (_name, overrides, message) => {
  await handler(pipelineJobEvent(overrides() as any));
  expect(h.jobResults().failures[0].failureDetails?.message).toBe(message);
  expect(h.mocks.lambda.calls()).toHaveLength(0);
  expect(h.mocks.s3.calls()).toHaveLength(0);
  expect(await h.history.get(deploymentId)).toBeUndefined();
});

test('an event that is not a CodePipeline job throws (there is no job to fail)', async () => {
  await expect(handler({ hello: 'world' })).rejects.toThrow(/not a CodePipeline job/);
  expect(h.mocks.codePipeline.calls()).toHaveLength(0);
});

describe('at-least-once delivery', () => {
  test('a duplicate delivery of a staged job publishes nothing, announces nothing and does not throw', async () => {
    await handler(event());
    await expect(handler(event())).resolves.toEqual({ currentVersion: '3', targetVersion: '4' });
    expect(lambdaWrites()).toEqual({ updates: 1, publishes: 1 });
    expect(h.announced()).toEqual(['STAGED']);
    expect(await h.history.get(deploymentId)).toMatchObject({ state: 'STAGED', targetVersion: '4' });
  });

  test('two deliveries of the same job at once stage once and report no failure', async () => {
    await Promise.all([handler(event()), handler(event())]);
    expect(lambdaWrites()).toEqual({ updates: 1, publishes: 1 });
    expect(h.jobResults().failures).toEqual([]);
    // the loser either leaves the job to the winner or repeats its answer (which CodePipeline drops)
    for (const success of h.jobResults().successes) {
      expect(success).toMatchObject({ jobId: 'job-1', outputVariables: { currentVersion: '3', targetVersion: '4' } });
    }
    expect(h.announced()).toEqual(['STAGED']);
  });

  test('a duplicate delivered while Switch-Traffic is shifting changes nothing (history stays SHIFTING)', async () => {
    await shiftingRecord(h.history, deploymentId, { service: 'orders-api', currentVersion: '3', targetVersion: '4', codeDeployDeploymentId: 'd-ABC' }, 'switch-job');
    const before = await h.history.get(deploymentId);
    // were the duplicate to run again and fail, the old code moved SHIFTING to FAILED
    h.mocks.lambda.on(UpdateFunctionCodeCommand).rejects(new ServiceException({ message: 'internal error', Type: 'Service', $metadata: { httpStatusCode: 500 } }));
    await expect(handler(event({ jobId: `deploy-${deploymentId}` }))).resolves.toBeUndefined();
    expect(await h.history.get(deploymentId)).toEqual(before);
    expect(lambdaWrites()).toEqual({ updates: 0, publishes: 0 });
    expect(h.announced()).toEqual([]);
    expect(h.jobResults()).toEqual({ successes: [], failures: [] });
  });

  test('a stale job of an earlier failed attempt changes nothing once a retry has staged the deployment', async () => {
    // ServiceException: Lambda's 5xx (UpdateFunctionCodeCommand.d.ts @throws)
    h.mocks.lambda.on(UpdateFunctionCodeCommand)
      .rejectsOnce(new ServiceException({ message: 'internal error', Type: 'Service', $metadata: { httpStatusCode: 500 } }))
      .resolves(functionConfiguration({ lastUpdateStatus: 'InProgress' }));
    await handler(event({ jobId: 'job-1' }));
    expect((await h.history.get(deploymentId))?.state).toBe('FAILED');
    await handler(event({ jobId: 'job-2' })); // the pipeline's retry: a new job id, same execution
    expect(await h.history.get(deploymentId)).toMatchObject({ state: 'STAGED', lastJobId: 'job-2', deployBlueJobIds: new Set(['job-1', 'job-2']) });
    await handler(event({ jobId: 'job-1' })); // job-1 delivered again, late
    expect(lambdaWrites()).toEqual({ updates: 2, publishes: 1 });
    expect(await h.history.get(deploymentId)).toMatchObject({ state: 'STAGED', lastJobId: 'job-2' });
    expect(h.announced()).toEqual(['FAILED', 'STAGED']);
  });

  test('a retry (new job id) after a failed Deploy-Blue starts again from FAILED', async () => {
    h.mocks.lambda.on(PublishVersionCommand)
      .rejectsOnce(new PreconditionFailedException({ message: 'CodeSha256 does not match', Type: 'User', $metadata: { httpStatusCode: 412 } }))
      .resolves(functionConfiguration({ version: '4', codeSha256: 'sha-new', revisionId: 'rev-3' }));
    await handler(event({ jobId: 'job-1' }));
    await expect(handler(event({ jobId: 'job-2' }))).resolves.toEqual({ currentVersion: '3', targetVersion: '4' });
    const record = await h.history.get(deploymentId);
    expect(record).toMatchObject({ state: 'STAGED', targetVersion: '4' });
    expect(record?.failureReason).toBeUndefined();
  });

  test('a duplicate of a failed job reports the same failure and publishes nothing', async () => {
    h.mocks.lambda.on(PublishVersionCommand).rejectsOnce(new PreconditionFailedException({ message: 'CodeSha256 does not match', Type: 'User', $metadata: { httpStatusCode: 412 } }));
    await handler(event());
    await expect(handler(event())).resolves.toBeUndefined();
    expect(lambdaWrites()).toEqual({ updates: 1, publishes: 1 });
    expect(h.jobResults().failures.map((f) => f.failureDetails?.message)).toEqual([
      'Deploy-Blue failed: PreconditionFailedException: CodeSha256 does not match',
      'Deploy-Blue failed: PreconditionFailedException: CodeSha256 does not match',
    ]);
    expect(h.announced()).toEqual(['FAILED']);
  });

  test('a result CodePipeline already has (InvalidJobStateException) is logged, not thrown', async () => {
    // PutJobSuccessResult on a job that has a result answers InvalidJobStateException (PutJobSuccessResultCommand.d.ts @throws).
    h.mocks.codePipeline.on(PutJobSuccessResultCommand).rejects(new InvalidJobStateException({ message: 'Job job-1 is not in state InProgress', $metadata: { httpStatusCode: 400 } }));
    await expect(new JobReporter(h.clients.codePipeline).succeed('job-1')).resolves.toBe(false);
    await expect(handler(event())).resolves.toEqual({ currentVersion: '3', targetVersion: '4' });
  });

  describe('a claim held by an invocation that died', () => {
    let clock: number;
    let history: DeploymentHistoryStore;
    let run: ReturnType<typeof createDeployBlueHandler>;
    const remaining = (ms: number) => ({ getRemainingTimeInMillis: () => ms });
    beforeEach(async () => {
      clock = Date.parse('2026-11-22T10:00:00Z');
      const now = () => new Date(clock);
      history = new DeploymentHistoryStore(fixture.doc, fixture.tableName, now);
      run = h.deployBlue({ history, now, sleep: async (ms) => { clock += ms; }, claimPollMs: 5_000 });
      // job-1's first invocation claimed the item with its whole 10-minute timeout, then died
      await history.claim(deploymentId, { state: 'STAGING', jobId: 'job-1', jobSet: 'deployBlueJobIds', from: ['NEW'], holdMs: 610_000 });
    });

    test('a duplicate that cannot outwait the claim leaves the job to its holder: nothing published, nothing reported', async () => {
      clock += 20_000;
      await expect(run(event({ jobId: 'job-1' }), remaining(60_000))).resolves.toBeUndefined();
      expect(lambdaWrites()).toEqual({ updates: 0, publishes: 0 });
      expect(h.jobResults()).toEqual({ successes: [], failures: [] });
    });

    test('Lambda\'s retry of the same event waits for the claim to lapse, then takes over and stages once', async () => {
      clock += 120_000;
      await expect(run(event({ jobId: 'job-1' }), remaining(600_000))).resolves.toEqual({ currentVersion: '3', targetVersion: '4' });
      expect(clock).toBeGreaterThan(Date.parse('2026-11-22T10:10:10Z'));
      expect(lambdaWrites()).toEqual({ updates: 1, publishes: 1 });
      expect(await history.get(deploymentId)).toMatchObject({ state: 'STAGED', lastJobId: 'job-1' });
    });

    test('a retry job that cannot outwait the claim fails with a readable reason, and nothing is published', async () => {
      clock += 20_000;
      await run(event({ jobId: 'job-2' }), remaining(60_000));
      expect(lambdaWrites()).toEqual({ updates: 0, publishes: 0 });
      expect(h.jobResults().failures[0].failureDetails?.message).toBe(`Deploy-Blue failed: deployment ${deploymentId} is being staged by job job-1 ` +
        '(claim held until 2026-11-22T10:10:10.000Z); retry the stage after that');
    });
  });
});

test('a failing notification does not fail the deployment', async () => {
  h.mocks.sns.reset();
  h.mocks.sns.rejects(new Error('SNS is down'));
  await handler(event());
  expect(h.jobResults().successes).toHaveLength(1);
  expect((await h.history.get(deploymentId))?.state).toBe('STAGED');
});

describe('many services from one artifact (bundleDirectory)', () => {
  const ARTIFACT = { bucketName: 'artifact-bucket', objectKey: 'shop-pipeline/BuildOutpu/Xy12ab' };
  const MONOREPO = {
    'services/orders-api/dist/index.js': 'exports.handler = async () => "orders";\n',
    'services/orders-api/dist/lib/util.js': 'module.exports = 1;\n',
    'services/orders-api/src/index.ts': 'export const handler = async () => "orders";\n',
    'services/billing/dist/index.js': 'exports.handler = async () => "billing";\n',
    'package.json': '{}\n',
  };
  let bucket: ReturnType<typeof versionedBucket>;

  const billing = (overrides: Partial<DeployBlueParameters> = {}) => parameters({
    service: 'billing', functionName: 'billing-dev', bundleDirectory: 'services/billing/dist', ...overrides,
  });
  const orders = (overrides: Partial<DeployBlueParameters> = {}) => parameters({ bundleDirectory: 'services/orders-api/dist', ...overrides });
  const job = (jobId: string, userParameters: Record<string, string>) => pipelineJobEvent({ jobId, userParameters, artifact: ARTIFACT });
  const puts = () => h.mocks.s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);

  beforeEach(() => {
    bucket = versionedBucket(h.mocks.s3);
    // A streamed zip (data descriptors), as a build tool writing to a pipe makes it.
    bucket.put(ARTIFACT.bucketName, ARTIFACT.objectKey, artifactZip(MONOREPO, { stream: true }));
    h.mocks.lambda.on(GetAliasCommand, { FunctionName: 'billing-dev' }).resolves(aliasAnswer('7', undefined, 'live', 'billing-dev'));
    h.mocks.lambda.on(PublishVersionCommand, { FunctionName: 'billing-dev' })
      .resolves(functionConfiguration({ functionName: 'billing-dev', version: '8', codeSha256: 'sha-new', revisionId: 'rev-3' }));
  });

  test('two services staged in parallel from one multi-directory artifact: each gets its own zip, index.js at its root, and its own history item', async () => {
    const [ordersOut, billingOut] = await Promise.all([handler(job('job-o', orders())), handler(job('job-b', billing()))]);
    expect(ordersOut).toEqual({ currentVersion: '3', targetVersion: '4' });
    expect(billingOut).toEqual({ currentVersion: '7', targetVersion: '8' });

    // the artifact is read with the handler's own role, once per service
    expect(h.mocks.s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input)).toEqual([
      { Bucket: ARTIFACT.bucketName, Key: ARTIFACT.objectKey }, { Bucket: ARTIFACT.bucketName, Key: ARTIFACT.objectKey },
    ]);
    const uploads = Object.fromEntries(puts().map((input) => [input.Key, input]));
    expect(Object.keys(uploads).sort()).toEqual([`bundles/${executionId}/billing.zip`, `bundles/${executionId}/orders-api.zip`]);
    for (const input of Object.values(uploads)) expect(input).toMatchObject({ Bucket: ARTIFACT_BUCKET, ContentType: 'application/zip' });
    const unzip = HAS_ZIP_CLI ? unzipWithCli : filesOf;
    expect(unzip(bucket.get(ARTIFACT_BUCKET, `bundles/${executionId}/orders-api.zip`)!.body)).toEqual({
      'index.js': MONOREPO['services/orders-api/dist/index.js'], 'lib/util.js': MONOREPO['services/orders-api/dist/lib/util.js'],
    });
    expect(unzip(bucket.get(ARTIFACT_BUCKET, `bundles/${executionId}/billing.zip`)!.body)).toEqual({ 'index.js': MONOREPO['services/billing/dist/index.js'] });

    // each function's code comes from its own upload; history records the S3 version it got
    const updates = Object.fromEntries(h.mocks.lambda.commandCalls(UpdateFunctionCodeCommand)
      .map((c) => [c.args[0].input.FunctionName, c.args[0].input]));
    for (const [fn, service] of [['orders-api-dev', 'orders-api'], ['billing-dev', 'billing']]) {
      const uploaded = bucket.get(ARTIFACT_BUCKET, `bundles/${executionId}/${service}.zip`)!;
      expect(updates[fn]).toEqual({ FunctionName: fn, S3Bucket: ARTIFACT_BUCKET, S3Key: `bundles/${executionId}/${service}.zip` });
      expect(await h.history.get(`${executionId}/${service}`)).toMatchObject({
        executionId,
        service,
        wave: 1,
        state: 'STAGED',
        functionName: fn,
        codeLocation: `s3://${ARTIFACT_BUCKET}/bundles/${executionId}/${service}.zip?versionId=${uploaded.versionId}`,
      });
    }
    expect(await h.history.get(`${executionId}/orders-api`)).toMatchObject({ currentVersion: '3', targetVersion: '4', deployBlueJobIds: new Set(['job-o']) });
    expect(await h.history.get(`${executionId}/billing`)).toMatchObject({ currentVersion: '7', targetVersion: '8', deployBlueJobIds: new Set(['job-b']) });
    expect(h.messages().map((m) => [m.event, m.service]).sort()).toEqual([['STAGED', 'billing'], ['STAGED', 'orders-api']]);
    expect(h.jobResults().successes.map((s) => [s.jobId, s.outputVariables]).sort()).toEqual([
      ['job-b', { currentVersion: '7', targetVersion: '8' }], ['job-o', { currentVersion: '3', targetVersion: '4' }],
    ]);
  });

  test('duplicate deliveries of a bundled job, at once and later, download, upload and publish once', async () => {
    await Promise.all([handler(job('job-b', billing())), handler(job('job-b', billing()))]);
    await handler(job('job-b', billing()));
    expect(h.mocks.s3.commandCalls(GetObjectCommand)).toHaveLength(1);
    expect(puts()).toHaveLength(1);
    expect(h.mocks.lambda.commandCalls(PublishVersionCommand)).toHaveLength(1);
    expect(h.jobResults().failures).toEqual([]);
    expect(h.announced()).toEqual(['STAGED']);
  });

  test('a bundleDirectory missing from the artifact fails the job naming it and listing what is there; nothing uploaded or published', async () => {
    await handler(job('job-b', billing({ bundleDirectory: 'services/biling/dist' })));
    const message = 'Deploy-Blue failed: bundleDirectory "services/biling/dist" is not in the build artifact; its top-level directories are: services; ' +
      `"services" holds: billing, orders-api (build artifact s3://${ARTIFACT.bucketName}/${ARTIFACT.objectKey})`;
    expect(h.jobResults()).toEqual({ successes: [], failures: [{ jobId: 'job-b', failureDetails: { type: 'JobFailed', message } }] });
    expect(puts()).toEqual([]);
    expect(h.mocks.lambda.commandCalls(UpdateFunctionCodeCommand)).toHaveLength(0);
    expect(await h.history.get(`${executionId}/billing`)).toMatchObject({ state: 'FAILED', failureReason: message });
    expect(h.announced()).toEqual(['FAILED']);
  });

  test('an empty bundleDirectory fails the job saying it holds no files', async () => {
    bucket.put(ARTIFACT.bucketName, ARTIFACT.objectKey, writeZip([
      fileEntry('services/orders-api/dist/index.js', Buffer.from('x')),
      fileEntry('services/billing/dist/', Buffer.alloc(0)), // a directory entry: the name ends with "/"
    ]));
    await handler(job('job-b', billing()));
    expect(h.jobResults().failures[0].failureDetails?.message).toBe(
      `Deploy-Blue failed: bundleDirectory "services/billing/dist" is in the build artifact but holds no files (build artifact s3://${ARTIFACT.bucketName}/${ARTIFACT.objectKey})`);
    expect(puts()).toEqual([]);
  });

  test('an artifact that is not a zip fails the job with the reason', async () => {
    bucket.put(ARTIFACT.bucketName, ARTIFACT.objectKey, Buffer.from('<html>not a zip</html>'.repeat(3)));
    await handler(job('job-b', billing()));
    expect(h.jobResults().failures[0].failureDetails?.message).toBe(
      `Deploy-Blue failed: not a zip archive (no end of central directory record) (build artifact s3://${ARTIFACT.bucketName}/${ARTIFACT.objectKey})`);
  });

  test('an artifact the role may not read fails the job with S3\'s answer', async () => {
    // AccessDenied is not in GetObject's model: the SDK raises S3ServiceException named after S3's error code (403).
    h.mocks.s3.on(GetObjectCommand).rejects(new S3ServiceException({ name: 'AccessDenied', $fault: 'client', message: 'Access Denied', $metadata: { httpStatusCode: 403 } }));
    await handler(job('job-b', billing()));
    expect(h.jobResults().failures[0].failureDetails?.message).toBe(
      `Deploy-Blue failed: could not read the build artifact s3://${ARTIFACT.bucketName}/${ARTIFACT.objectKey}: AccessDenied: Access Denied`);
    expect(h.mocks.lambda.commandCalls(UpdateFunctionCodeCommand)).toHaveLength(0);
  });

  test('an upload S3 refuses fails the job naming the target', async () => {
    h.mocks.s3.on(PutObjectCommand).rejects(new S3ServiceException({ name: 'AccessDenied', $fault: 'client', message: 'Access Denied', $metadata: { httpStatusCode: 403 } }));
    await handler(job('job-b', billing()));
    expect(h.jobResults().failures[0].failureDetails?.message).toBe(
      `Deploy-Blue failed: could not upload the bundle of services/billing/dist/ to s3://${ARTIFACT_BUCKET}/bundles/${executionId}/billing.zip: AccessDenied: Access Denied`);
    expect(h.mocks.lambda.commandCalls(UpdateFunctionCodeCommand)).toHaveLength(0);
  });

  test('an artifact larger than the handler can stage on disk fails before it is read', async () => {
    await h.deployBlue({ maxArtifactBytes: 1024 * 1024 })(job('job-b', billing()));
    expect(h.jobResults().failures).toEqual([]);
    bucket.put(ARTIFACT.bucketName, ARTIFACT.objectKey, Buffer.alloc(3 * 1024 * 1024));
    await h.deployBlue({ maxArtifactBytes: 1024 * 1024 })(job('job-o', orders()));
    expect(h.jobResults().failures[0].failureDetails?.message).toBe(
      `Deploy-Blue failed: could not read the build artifact s3://${ARTIFACT.bucketName}/${ARTIFACT.objectKey}: ` +
      'it is 3 MiB, more than the 1 MiB this handler can stage on disk; raise the Deploy-Blue function\'s ephemeral storage (/tmp)');
  });

  test('without bundleDirectory the whole artifact is re-zipped normalized, staged under bundles/ and deployed from there', async () => {
    await handler(job('job-o', orders({ bundleDirectory: '' })));
    expect(h.mocks.s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input)).toEqual([{ Bucket: ARTIFACT.bucketName, Key: ARTIFACT.objectKey }]);
    const key = `bundles/${executionId}/orders-api.zip`;
    expect(puts()).toEqual([expect.objectContaining({ Bucket: ARTIFACT_BUCKET, Key: key, ContentType: 'application/zip' })]);
    const staged = bucket.get(ARTIFACT_BUCKET, key)!.body;
    // Every file of the artifact, at the same paths, directory entries dropped; written at the fixed 1980 time.
    expect((HAS_ZIP_CLI ? unzipWithCli : filesOf)(staged)).toEqual(MONOREPO);
    expect(readZip(staged).map((e) => e.dosDate)).toEqual(Object.keys(MONOREPO).map(() => 0x21));
    expect(h.mocks.lambda.commandCalls(UpdateFunctionCodeCommand)[0].args[0].input).toEqual({ FunctionName: 'orders-api-dev', S3Bucket: ARTIFACT_BUCKET, S3Key: key });
    expect(h.jobResults().failures).toEqual([]);
  });

  describe('a whole artifact this handler cannot normalize is deployed as built, as before, with a log line saying why', () => {
    const expectDeployedAsBuilt = (reason: string) => {
      expect(h.mocks.lambda.commandCalls(UpdateFunctionCodeCommand)[0].args[0].input).toEqual({
        FunctionName: 'orders-api-dev', S3Bucket: ARTIFACT.bucketName, S3Key: ARTIFACT.objectKey,
      });
      expect(puts()).toEqual([]);
      expect(h.jobResults()).toEqual({ successes: [expect.objectContaining({ jobId: 'job-o' })], failures: [] });
      const line = h.logs().find((l) => String(l.message).startsWith('build artifact deployed as built'));
      expect(line).toMatchObject({ jobId: 'job-o', reason, location: `s3://${ARTIFACT.bucketName}/${ARTIFACT.objectKey}` });
    };

    test('larger than its disk can normalize: half the limit for cutting a directory out, since the new zip is as large as the artifact', async () => {
      bucket.put(ARTIFACT.bucketName, ARTIFACT.objectKey, Buffer.alloc(3 * 1024 * 1024));
      await h.deployBlue({ maxArtifactBytes: 4 * 1024 * 1024 })(job('job-o', orders({ bundleDirectory: '' })));
      expectDeployedAsBuilt('it is 3 MiB, more than the 2 MiB this handler can stage on disk to normalize; ' +
        'raise the Deploy-Blue function\'s ephemeral storage (/tmp) to have unchanged builds recognised');
    });

    test('a zip the normalizer does not read (an entry compressed with bzip2): Lambda judges it', async () => {
      const bzip2 = { ...fileEntry('index.js', Buffer.from('exports.handler = 1;\n'), { store: true }), method: 12 };
      bucket.put(ARTIFACT.bucketName, ARTIFACT.objectKey, writeZip([bzip2]));
      await handler(job('job-o', orders({ bundleDirectory: '' })));
      expectDeployedAsBuilt('it cannot be normalized: entry index.js uses compression method 12; only stored (0) and deflated (8) are supported');
    });
  });
});
