import { CreateDeploymentCommand, GetDeploymentCommand } from '@aws-sdk/client-codedeploy';
import { GetAliasCommand } from '@aws-sdk/client-lambda';
import { HistoryTableFixture, startHistoryTable } from './dynalite-history-table';
import { handlerHarness } from './handler-harness';
import { pipelineJobEvent } from './pipeline-job-event';
import { createSwitchTrafficHandler } from '../src/switch-traffic.lambda';

let fixture: HistoryTableFixture;
let h: ReturnType<typeof handlerHarness>;
let handler: ReturnType<typeof createSwitchTrafficHandler>;
let executions = 0;
let deploymentId: string;

beforeAll(async () => {
  fixture = await startHistoryTable();
  h = handlerHarness(fixture);
  handler = createSwitchTrafficHandler({
    lambda: h.clients.lambda,
    codeDeploy: h.clients.codeDeploy,
    codePipeline: h.clients.codePipeline,
    history: h.history,
    notifier: h.notifier,
    functionName: 'orders-api-dev',
    aliasName: 'live',
    applicationName: 'orders-api-dev',
    deploymentGroupName: 'orders-api-live-dev',
    deploymentConfigName: 'CodeDeployDefault.LambdaLinear10PercentEvery10Minutes',
    beforeAllowTrafficHook: 'orders-api-smoke-test-dev',
  });
});
afterAll(() => fixture.stop());

beforeEach(async () => {
  h.reset();
  deploymentId = `exec-${++executions}`;
  await h.history.transition(deploymentId, 'STAGED', { service: 'orders-api', currentVersion: '3', targetVersion: '4' });
  h.mocks.lambda.on(GetAliasCommand).resolves({ Name: 'live', FunctionVersion: '3' });
  h.mocks.codeDeploy.on(CreateDeploymentCommand).resolves({ deploymentId: 'd-ABC' });
});

const start = (jobId = 'job-1') => handler(pipelineJobEvent({ jobId, artifact: null, userParameters: { deploymentId, targetVersion: '4' } }));
const poll = (jobId = 'job-2') => handler(pipelineJobEvent({ jobId, artifact: null, userParameters: { deploymentId, targetVersion: '4' }, continuationToken: 'd-ABC' }));
const codeDeployReports = (deploymentInfo: object) => h.mocks.codeDeploy.on(GetDeploymentCommand).resolves({ deploymentInfo });

test('starts a CodeDeploy deployment of the live alias, current -> target, and continues with its id', async () => {
  await expect(start()).resolves.toEqual({ kind: 'continue', codeDeployDeploymentId: 'd-ABC' });

  const input = h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)[0].args[0].input;
  expect(input).toMatchObject({ applicationName: 'orders-api-dev', deploymentGroupName: 'orders-api-live-dev' });
  expect(input.revision?.revisionType).toBe('AppSpecContent');
  const content = input.revision!.appSpecContent!.content!;
  expect(content).toMatch(/^\{"version":0\.0,/);
  expect(JSON.parse(content)).toEqual({
    version: 0,
    Resources: [{ 'orders-api-dev': { Type: 'AWS::Lambda::Function', Properties: { Name: 'orders-api-dev', Alias: 'live', CurrentVersion: '3', TargetVersion: '4' } } }],
    Hooks: [{ BeforeAllowTraffic: 'orders-api-smoke-test-dev' }],
  });
  expect(h.jobResults()).toEqual({ successes: [{ jobId: 'job-1', continuationToken: 'd-ABC' }], failures: [] });
  expect(await h.history.get(deploymentId)).toMatchObject({
    state: 'SHIFTING', codeDeployDeploymentId: 'd-ABC', deploymentConfig: 'CodeDeployDefault.LambdaLinear10PercentEvery10Minutes',
  });
  expect(h.announced()).toEqual(['STARTED']);
});

test.each(['Created', 'Queued', 'InProgress', 'Baking', 'Ready'])('keeps polling while the deployment is %s', async (status) => {
  await start();
  h.reset();
  codeDeployReports({ status });
  await expect(poll()).resolves.toEqual({ kind: 'continue', codeDeployDeploymentId: 'd-ABC' });
  expect(h.jobResults().successes).toEqual([{ jobId: 'job-2', continuationToken: 'd-ABC' }]);
  expect((await h.history.get(deploymentId))?.state).toBe('SHIFTING');
});

test('a succeeded deployment succeeds the job, records SUCCEEDED and announces it once', async () => {
  await start();
  h.reset();
  codeDeployReports({ status: 'Succeeded' });
  await expect(poll()).resolves.toMatchObject({ kind: 'succeeded' });
  expect(h.jobResults()).toEqual({ successes: [{ jobId: 'job-2' }], failures: [] });
  expect(await h.history.get(deploymentId)).toMatchObject({ state: 'SUCCEEDED', finishedAt: expect.any(String) });
  expect(h.announced()).toEqual(['SUCCEEDED']);

  // the same poll delivered again: same answer, no second announcement
  await poll('job-3');
  expect(h.jobResults().successes).toEqual([{ jobId: 'job-2' }, { jobId: 'job-3' }]);
  expect(h.announced()).toEqual(['SUCCEEDED']);
});

test('an alarm-triggered rollback fails the job with CodeDeploy\'s reason and records ROLLED_BACK', async () => {
  await start();
  h.reset();
  codeDeployReports({
    status: 'Stopped',
    errorInformation: { code: 'ALARM_ACTIVE', message: 'One or more alarms have been activated: orders-api-error-rate-dev' },
    rollbackInfo: { rollbackDeploymentId: 'd-ROLLBACK', rollbackMessage: 'Deployment was stopped because an alarm was activated' },
  });
  await expect(poll()).resolves.toMatchObject({ kind: 'failed' });
  const message = h.jobResults().failures[0].failureDetails?.message;
  expect(message).toBe('CodeDeploy deployment d-ABC stopped: ALARM_ACTIVE: One or more alarms have been activated: orders-api-error-rate-dev; ' +
    'traffic rolled back by d-ROLLBACK (Deployment was stopped because an alarm was activated)');
  expect(await h.history.get(deploymentId)).toMatchObject({ state: 'ROLLED_BACK', failureReason: message });
  expect(h.announced()).toEqual(['ROLLED_BACK']);
});

test('a failed deployment with rollback is ROLLED_BACK; one stopped by a user without rollback is FAILED', async () => {
  await start();
  h.reset();
  codeDeployReports({ status: 'Failed', errorInformation: { code: 'HOOK_EXECUTION_FAILURE', message: 'BeforeAllowTraffic failed' }, rollbackInfo: { rollbackDeploymentId: 'd-RB' } });
  await poll();
  expect((await h.history.get(deploymentId))?.state).toBe('ROLLED_BACK');

  deploymentId = `exec-${++executions}`;
  await h.history.transition(deploymentId, 'STAGED', { currentVersion: '3', targetVersion: '4' });
  h.mocks.lambda.on(GetAliasCommand).resolves({ Name: 'live', FunctionVersion: '3' });
  h.mocks.codeDeploy.on(CreateDeploymentCommand).resolves({ deploymentId: 'd-ABC' });
  await expect(start()).resolves.toEqual({ kind: 'continue', codeDeployDeploymentId: 'd-ABC' });
  h.reset();
  codeDeployReports({ status: 'Stopped', errorInformation: { code: 'MANUAL_STOP', message: 'stopped by user' } });
  await poll();
  expect(h.jobResults().failures[0].failureDetails?.message).toBe('CodeDeploy deployment d-ABC stopped: MANUAL_STOP: stopped by user');
  expect((await h.history.get(deploymentId))?.state).toBe('FAILED');
});

test('the same version already live is SKIPPED: no deployment, job succeeds', async () => {
  h.mocks.lambda.on(GetAliasCommand).resolves({ Name: 'live', FunctionVersion: '4' });
  await expect(start()).resolves.toMatchObject({ kind: 'skipped' });
  expect(h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)).toHaveLength(0);
  expect(h.jobResults()).toEqual({ successes: [{ jobId: 'job-1' }], failures: [] });
  expect((await h.history.get(deploymentId))?.state).toBe('SKIPPED');
  expect(h.announced()).toEqual(['SKIPPED']);
});

test('a CodeDeploy API error fails the job with the error and records FAILED', async () => {
  h.mocks.codeDeploy.on(CreateDeploymentCommand).rejects(Object.assign(new Error('The deployment group is in use'), { name: 'DeploymentLimitExceededException' }));
  await start();
  const message = 'Switch-Traffic failed: DeploymentLimitExceededException: The deployment group is in use';
  expect(h.jobResults()).toEqual({ successes: [], failures: [{ jobId: 'job-1', failureDetails: { type: 'JobFailed', message } }] });
  expect(await h.history.get(deploymentId)).toMatchObject({ state: 'FAILED', failureReason: message });
});

test('a duplicate first invocation resumes the running deployment instead of starting another', async () => {
  await start('job-1');
  codeDeployReports({ status: 'InProgress' });
  await expect(start('job-1')).resolves.toEqual({ kind: 'continue', codeDeployDeploymentId: 'd-ABC' });
  expect(h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)).toHaveLength(1);
});

test('a duplicate of a failed job reports the same failure and starts nothing new', async () => {
  h.mocks.codeDeploy.on(CreateDeploymentCommand).rejectsOnce(new Error('boom'));
  await start('job-1');
  await start('job-1');
  expect(h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)).toHaveLength(1);
  expect(h.jobResults().failures.map((f) => f.failureDetails?.message)).toEqual(['Switch-Traffic failed: boom', 'Switch-Traffic failed: boom']);
});

test('a retried stage (new job) after a rollback starts a new deployment', async () => {
  await start('job-1');
  codeDeployReports({ status: 'Failed', rollbackInfo: { rollbackDeploymentId: 'd-RB' } });
  await poll('job-2');
  h.mocks.codeDeploy.on(CreateDeploymentCommand).resolves({ deploymentId: 'd-RETRY' });
  await expect(start('job-3')).resolves.toEqual({ kind: 'continue', codeDeployDeploymentId: 'd-RETRY' });
  expect((await h.history.get(deploymentId))?.codeDeployDeploymentId).toBe('d-RETRY');
});

test('a deployment Deploy-Blue never staged fails the job', async () => {
  deploymentId = 'exec-never-staged';
  await start();
  expect(h.jobResults().failures[0].failureDetails?.message).toBe('deployment exec-never-staged has no history record; Deploy-Blue must stage it first');
  expect(h.mocks.codeDeploy.calls()).toHaveLength(0);
});

test('an alias left split by an interrupted deployment fails the job before CodeDeploy is called', async () => {
  h.mocks.lambda.on(GetAliasCommand).resolves({ Name: 'live', FunctionVersion: '3', RoutingConfig: { AdditionalVersionWeights: { 2: 0.5 } } });
  await start();
  expect(h.jobResults().failures[0].failureDetails?.message).toMatch(/interrupted deployment/);
  expect(h.mocks.codeDeploy.calls()).toHaveLength(0);
});

test('a job without targetVersion fails with the missing field named', async () => {
  await handler(pipelineJobEvent({ artifact: null, userParameters: { deploymentId } }));
  expect(h.jobResults().failures[0].failureDetails?.message).toBe('Switch-Traffic failed: job job-1: UserParameters lacks targetVersion');
});
