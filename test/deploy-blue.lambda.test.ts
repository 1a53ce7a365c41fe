import { GetAliasCommand, GetFunctionCommand, PublishVersionCommand, UpdateFunctionCodeCommand } from '@aws-sdk/client-lambda';
import { HistoryTableFixture, startHistoryTable } from './dynalite-history-table';
import { handlerHarness } from './handler-harness';
import { pipelineJobEvent } from './pipeline-job-event';
import { createDeployBlueHandler } from '../src/deploy-blue.lambda';

let fixture: HistoryTableFixture;
let h: ReturnType<typeof handlerHarness>;
let handler: ReturnType<typeof createDeployBlueHandler>;
let executions = 0;
let deploymentId: string;

beforeAll(async () => {
  fixture = await startHistoryTable();
  h = handlerHarness(fixture);
  handler = createDeployBlueHandler({
    lambda: h.clients.lambda,
    codePipeline: h.clients.codePipeline,
    history: h.history,
    notifier: h.notifier,
    functionName: 'orders-api-dev',
    aliasName: 'live',
    serviceName: 'orders-api',
    updateTimeoutSeconds: 5,
  });
});
afterAll(() => fixture.stop());

beforeEach(() => {
  h.reset();
  deploymentId = `exec-${++executions}`;
  h.mocks.lambda.on(GetAliasCommand).resolves({ Name: 'live', FunctionVersion: '3' });
  h.mocks.lambda.on(UpdateFunctionCodeCommand).resolves({ CodeSha256: 'sha-new', LastUpdateStatus: 'InProgress' });
  h.mocks.lambda.on(GetFunctionCommand).resolves({ Configuration: { LastUpdateStatus: 'Successful', RevisionId: 'rev-2' } });
  h.mocks.lambda.on(PublishVersionCommand).resolves({ Version: '4' });
});

const event = (overrides: Parameters<typeof pipelineJobEvent>[0] = {}) => pipelineJobEvent({
  userParameters: { deploymentId, commitId: 'c0ffee', repository: 'example-org/orders-api', branch: 'main' },
  ...overrides,
});

test('uploads the artifact, publishes a pinned version, records STAGED and returns both versions', async () => {
  await expect(handler(event())).resolves.toEqual({ currentVersion: '3', targetVersion: '4' });

  expect(h.mocks.lambda.commandCalls(UpdateFunctionCodeCommand)[0].args[0].input).toEqual({
    FunctionName: 'orders-api-dev', S3Bucket: 'artifact-bucket', S3Key: 'orders-api-pipeline/BuildOutpu/abc123',
  });
  expect(h.mocks.lambda.commandCalls(PublishVersionCommand)[0].args[0].input).toMatchObject({
    FunctionName: 'orders-api-dev', CodeSha256: 'sha-new', RevisionId: 'rev-2',
  });
  expect(h.jobResults()).toEqual({
    successes: [{ jobId: 'job-1', outputVariables: { currentVersion: '3', targetVersion: '4' } }],
    failures: [],
  });
  expect(await h.history.get(deploymentId)).toMatchObject({
    state: 'STAGED',
    service: 'orders-api',
    commitId: 'c0ffee',
    repository: 'example-org/orders-api',
    branch: 'main',
    currentVersion: '3',
    targetVersion: '4',
    lastJobId: 'job-1',
  });
  expect(h.announced()).toEqual(['STAGED']);
});

test('publishes only after the code update has finished', async () => {
  h.mocks.lambda.on(GetFunctionCommand)
    .resolvesOnce({ Configuration: { LastUpdateStatus: 'InProgress' } })
    .resolves({ Configuration: { LastUpdateStatus: 'Successful', RevisionId: 'rev-3' } });
  await handler(event());
  expect(h.mocks.lambda.commandCalls(GetFunctionCommand).length).toBe(2);
  expect(h.mocks.lambda.commandCalls(PublishVersionCommand)[0].args[0].input.RevisionId).toBe('rev-3');
});

test('a failed code update fails the job with Lambda\'s reason and records FAILED', async () => {
  h.mocks.lambda.on(GetFunctionCommand).resolves({
    Configuration: { LastUpdateStatus: 'Failed', LastUpdateStatusReasonCode: 'InvalidZipFileException', LastUpdateStatusReason: 'Could not unzip uploaded file' },
  });
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
  const conflict = Object.assign(new Error('CodeSha256 does not match'), { name: 'PreconditionFailedException' });
  h.mocks.lambda.on(PublishVersionCommand).rejects(conflict);
  await handler(event());
  expect(h.jobResults().failures[0].failureDetails?.message).toBe('Deploy-Blue failed: PreconditionFailedException: CodeSha256 does not match');
});

test('an alias left split by an interrupted deployment fails the job and says how to repair it', async () => {
  h.mocks.lambda.on(GetAliasCommand).resolves({ Name: 'live', FunctionVersion: '3', RoutingConfig: { AdditionalVersionWeights: { 4: 0.3 } } });
  await handler(event());
  expect(h.jobResults().failures[0].failureDetails?.message).toMatch(/still routes traffic to \{"4":0.3\}.*update-alias/);
  expect(h.mocks.lambda.commandCalls(UpdateFunctionCodeCommand)).toHaveLength(0);
});

test.each([
  ['UserParameters that are not JSON', { userParameters: 'not json' }, /UserParameters is not valid JSON/],
  ['UserParameters without deploymentId', { userParameters: { commitId: 'c0ffee' } }, /UserParameters lacks deploymentId/],
])('a malformed job (%s) fails the job without touching Lambda', async (_name, overrides, message) => {
  await handler(pipelineJobEvent(overrides as any));
  expect(h.jobResults().failures[0].failureDetails?.message).toMatch(message);
  expect(h.mocks.lambda.calls()).toHaveLength(0);
});

test('an event that is not a CodePipeline job throws (there is no job to fail)', async () => {
  await expect(handler({ hello: 'world' })).rejects.toThrow(/not a CodePipeline job/);
  expect(h.mocks.codePipeline.calls()).toHaveLength(0);
});

test('a duplicate invocation of the same job stages the same version once', async () => {
  await handler(event());
  await handler(event());
  expect(h.jobResults().successes).toHaveLength(2);
  expect(await h.history.get(deploymentId)).toMatchObject({ state: 'STAGED', targetVersion: '4' });
});

test('a failing notification does not fail the deployment', async () => {
  h.mocks.sns.reset();
  h.mocks.sns.rejects(new Error('SNS is down'));
  await handler(event());
  expect(h.jobResults().successes).toHaveLength(1);
  expect((await h.history.get(deploymentId))?.state).toBe('STAGED');
});
