import { CreateDeploymentCommand, DeploymentLimitExceededException, DeploymentStatus, GetDeploymentCommand } from '@aws-sdk/client-codedeploy';
import { GetAliasCommand, ServiceException, UpdateFunctionCodeCommand } from '@aws-sdk/client-lambda';
import { DeployBlueParameters } from '../../src/contract/handler-contract';
import { DeploymentHistoryStore } from '../../src/runtime/deployment-history-store';
import { DeploymentMetricsRecorder, writeToStdout } from '../../src/runtime/metrics-recorder';
import { deployBlueParameters, SHOP_COMMIT, switchTrafficParameters } from '../helpers/action-parameters';
import { HistoryTableFixture, startHistoryTable } from '../helpers/dynalite-history-table';
import { emfProblems } from '../helpers/emf-validation';
import { aliasAnswer, answerOneRelease, deploymentInfo, handlerHarness } from '../helpers/handler-harness';
import { pipelineJobEvent } from '../helpers/pipeline-job-event';

/**
 * The metrics lines the stage handlers write to stdout (EMF; captured by the harness as a Lambda
 * would hand them to CloudWatch Logs), read back exactly, for each way a deployment ends.
 */

let fixture: HistoryTableFixture;
let h: ReturnType<typeof handlerHarness>;
/** One clock for the history table and the handlers, moved by the tests. */
let clock: number;
const at = (iso: string) => {
  clock = Date.parse(iso);
};
let history: DeploymentHistoryStore;
let executions = 0;
let executionId: string;

const PIPELINE = 'shop-pipeline-dev';
// Deploy-Blue's pipeline name also has it settle earlier executions' items, which would add their
// metrics here: its recorder gets the name directly. Switch-Traffic's comes through its dependencies.
const deployBlue = () => h.deployBlue({
  history, now: () => new Date(clock), metrics: new DeploymentMetricsRecorder(writeToStdout, undefined, undefined, PIPELINE),
});
const switchTraffic = () => h.switchTraffic({ history, now: () => new Date(clock), pipelineName: PIPELINE });

beforeAll(async () => {
  fixture = await startHistoryTable();
  h = handlerHarness(fixture);
  history = new DeploymentHistoryStore(fixture.doc, fixture.tableName, () => new Date(clock));
});
afterAll(() => fixture.stop());

beforeEach(() => {
  h.reset();
  executionId = `exec-${++executions}`;
  at('2026-11-22T10:00:00Z');
  answerOneRelease(h);
});

afterEach(() => {
  // whatever a test wrote, CloudWatch could read
  for (const document of h.metrics()) expect(emfProblems(document)).toEqual([]);
});

const deployParameters = (service: string, overrides: Partial<DeployBlueParameters> = {}) =>
  deployBlueParameters(executionId, { service, functionName: `${service}-dev`, ...SHOP_COMMIT, ...overrides });
const switchParameters = (service: string) =>
  switchTrafficParameters(executionId, { service, functionName: `${service}-dev`, deploymentGroupName: `${service}-live-dev` });
const stage = (service = 'orders-api', jobId = `deploy-${service}`, overrides: Partial<DeployBlueParameters> = {}) =>
  deployBlue()(pipelineJobEvent({ jobId, userParameters: deployParameters(service, overrides) }));
const start = (service = 'orders-api', jobId = `start-${service}`) =>
  switchTraffic()(pipelineJobEvent({ jobId, artifact: null, userParameters: switchParameters(service) }));
const poll = (service = 'orders-api', jobId = `poll-${service}`) =>
  switchTraffic()(pipelineJobEvent({ jobId, artifact: null, userParameters: switchParameters(service), continuationToken: `d-${service}-live-dev` }));

/** GetDeployment's deploymentInfo (GetDeploymentCommand.d.ts). */
function codeDeployReports(id: string, status: DeploymentStatus, extra: Partial<Parameters<typeof deploymentInfo>[0]> = {}) {
  h.mocks.codeDeploy.on(GetDeploymentCommand, { deploymentId: id })
    .resolves({ deploymentInfo: deploymentInfo({ deploymentId: id, status, ...extra }) });
}
/** An alarm stopped the service's deployment and CodeDeploy rolled it back (creator codeDeployRollback). */
function rolledBack(service: string) {
  const id = `d-${service}-live-dev`;
  codeDeployReports(id, 'Stopped', {
    errorInformation: { code: 'ALARM_ACTIVE', message: `One or more alarms have been activated: ${service}-error-rate-dev` },
    rollbackInfo: { rollbackDeploymentId: `${id}-rollback`, rollbackMessage: 'Deployment was stopped because an alarm was activated' },
  });
  codeDeployReports(`${id}-rollback`, 'Succeeded', { creator: 'codeDeployRollback', rollbackInfo: { rollbackTriggeringDeploymentId: id } });
}

const NAMESPACE = 'BlueGreenLambdaPipeline';
const DEPLOYMENTS = {
  Namespace: NAMESPACE,
  Dimensions: [['Pipeline', 'Environment', 'Service', 'Outcome'], ['Pipeline', 'Environment', 'Outcome']],
  Metrics: [{ Name: 'Deployments', Unit: 'Count' }],
};
const durations = (...names: string[]) => ({
  Namespace: NAMESPACE,
  Dimensions: [['Pipeline', 'Environment', 'Service'], ['Pipeline', 'Environment']],
  Metrics: names.map((Name) => ({ Name, Unit: 'Seconds' })),
});
/** Exactly the document a deployment that ended writes. */
const ended = (service: string, outcome: string, finishedAt: string, measured: Record<string, number> = {}) => ({
  _aws: {
    Timestamp: Date.parse(finishedAt),
    CloudWatchMetrics: Object.keys(measured).length > 0 ? [DEPLOYMENTS, durations(...Object.keys(measured))] : [DEPLOYMENTS],
  },
  // The pipeline's name, and the environment Deploy-Blue recorded from its UserParameters.
  Pipeline: PIPELINE,
  Environment: 'dev',
  Service: service,
  Outcome: outcome,
  Deployments: 1,
  ...measured,
  deploymentId: `${executionId}/${service}`,
  executionId,
});

test('a deployment that goes live: Deployments Succeeded, ShiftDuration from SHIFTING, LeadTime from the commit', async () => {
  await stage(); // commit authored 09:00, staged 10:00
  expect(await history.get(`${executionId}/orders-api`)).toMatchObject({ state: 'STAGED', commitTime: '2026-11-22T09:00:00.000Z' });
  at('2026-11-22T10:01:00Z');
  await start();
  expect(await history.get(`${executionId}/orders-api`)).toMatchObject({ state: 'SHIFTING', shiftStartedAt: '2026-11-22T10:01:00.000Z' });
  at('2026-11-22T10:31:00Z');
  codeDeployReports('d-orders-api-live-dev', 'InProgress');
  await poll('orders-api', 'poll-1');
  expect(h.metrics()).toEqual([]); // staging, starting and polling end nothing

  at('2026-11-22T10:32:30Z');
  codeDeployReports('d-orders-api-live-dev', 'Succeeded');
  await poll('orders-api', 'poll-2');
  expect(h.metrics()).toEqual([
    ended('orders-api', 'Succeeded', '2026-11-22T10:32:30Z', { ShiftDuration: 1890, LeadTime: 5550 }),
  ]);
  expect(h.jobResults().failures).toEqual([]);
});

test('the same success delivered again, and twice at once, counts once', async () => {
  await stage();
  await start();
  codeDeployReports('d-orders-api-live-dev', 'Succeeded');
  at('2026-11-22T10:10:00Z');
  await Promise.all([poll('orders-api', 'poll-1'), poll('orders-api', 'poll-1'), poll('orders-api', 'poll-1')]);
  await poll('orders-api', 'poll-1');
  expect(h.metrics()).toEqual([ended('orders-api', 'Succeeded', '2026-11-22T10:10:00Z', { ShiftDuration: 600, LeadTime: 4200 })]);
  expect(h.announced().filter((e) => e === 'SUCCEEDED')).toHaveLength(1);
});

test('a rollback: Deployments RolledBack with its ShiftDuration, and NotStarted once for each later-wave service it held back', async () => {
  await stage('orders-api');
  for (const service of ['billing', 'shipping']) await stage(service, `deploy-${service}`, { wave: '2' });
  at('2026-11-22T10:01:00Z');
  await start();
  rolledBack('orders-api');
  at('2026-11-22T10:21:00Z');
  await poll();
  expect(h.metrics()).toEqual([
    ended('orders-api', 'RolledBack', '2026-11-22T10:21:00Z', { ShiftDuration: 1200 }),
    ended('billing', 'NotStarted', '2026-11-22T10:21:00Z'),
    ended('shipping', 'NotStarted', '2026-11-22T10:21:00Z'),
  ]);

  // the failed poll delivered again: the job fails again, nothing is counted again
  at('2026-11-22T10:22:00Z');
  await poll();
  expect(h.metrics()).toHaveLength(3);
  expect(h.jobResults().failures.map((f) => f.jobId)).toEqual(['poll-orders-api', 'poll-orders-api']);
});

test('two rollbacks in one wave at once, each delivered twice: each service counted once, each held-back service marked and counted once', async () => {
  await stage('orders-api');
  await stage('payments');
  for (const service of ['billing', 'shipping', 'emails']) await stage(service, `deploy-${service}`, { wave: '2' });
  await start('orders-api');
  await start('payments');
  rolledBack('orders-api');
  rolledBack('payments');
  at('2026-11-22T10:30:00Z');
  await Promise.all([poll('orders-api'), poll('payments'), poll('orders-api'), poll('payments')]);

  const counted = h.metrics().map((d) => `${d.Service} ${d.Outcome}`).sort();
  expect(counted).toEqual(['billing NotStarted', 'emails NotStarted', 'orders-api RolledBack', 'payments RolledBack', 'shipping NotStarted']);
  expect(h.metrics().filter((d) => d.Outcome === 'NotStarted')).toEqual(expect.arrayContaining([
    ended('billing', 'NotStarted', '2026-11-22T10:30:00Z'),
    ended('emails', 'NotStarted', '2026-11-22T10:30:00Z'),
    ended('shipping', 'NotStarted', '2026-11-22T10:30:00Z'),
  ]));
});

test('nothing to shift: Deployments Skipped, no durations', async () => {
  await stage();
  h.mocks.lambda.on(GetAliasCommand).resolves(aliasAnswer('4')); // the alias already serves the target
  at('2026-11-22T10:05:00Z');
  await Promise.all([start('orders-api', 'start-1'), start('orders-api', 'start-1')]);
  await start('orders-api', 'start-1');
  expect(h.metrics()).toEqual([ended('orders-api', 'Skipped', '2026-11-22T10:05:00Z')]);
  expect(h.jobResults().failures).toEqual([]);
});

test('a Deploy-Blue failure: Deployments Failed, once however often the job is delivered', async () => {
  // UpdateFunctionCode @throws ServiceException: "The Lambda service encountered an internal error."
  h.mocks.lambda.on(UpdateFunctionCodeCommand).rejects(new ServiceException({ message: 'internal error', Type: 'Service', $metadata: { httpStatusCode: 500 } }));
  await stage();
  await stage();
  expect(h.metrics()).toEqual([ended('orders-api', 'Failed', '2026-11-22T10:00:00Z')]);
  expect(h.jobResults().failures).toHaveLength(2);
});

test('Switch-Traffic failures: Deployments Failed, with no ShiftDuration', async () => {
  await stage('orders-api');
  await stage('payments');
  // CreateDeployment refused (CreateDeploymentCommand.d.ts @throws DeploymentLimitExceededException)
  h.mocks.codeDeploy.on(CreateDeploymentCommand, { deploymentGroupName: 'payments-live-dev' }).rejects(new DeploymentLimitExceededException({
    message: 'The Deployment Group \'payments-live-dev\' already has an active Deployment', $metadata: { httpStatusCode: 400 },
  }));
  at('2026-11-22T10:02:00Z');
  await start('payments');
  await start('orders-api');
  // a deployment stopped by hand, nothing rolled back
  codeDeployReports('d-orders-api-live-dev', 'Stopped', { errorInformation: { code: 'MANUAL_STOP', message: 'stopped by user' } });
  at('2026-11-22T10:12:00Z');
  await poll();
  expect(h.metrics()).toEqual([
    ended('payments', 'Failed', '2026-11-22T10:02:00Z'),
    ended('orders-api', 'Failed', '2026-11-22T10:12:00Z'),
  ]);
});

test('a retried stage that goes live after a rollback counts the new outcome and the new shift only', async () => {
  await stage();
  await start('orders-api', 'start-1');
  rolledBack('orders-api');
  at('2026-11-22T10:20:00Z');
  await poll('orders-api', 'poll-1');
  at('2026-11-22T11:00:00Z');
  h.mocks.codeDeploy.on(CreateDeploymentCommand).resolves({ deploymentId: 'd-retry' });
  await start('orders-api', 'start-2');
  codeDeployReports('d-retry', 'Succeeded');
  at('2026-11-22T11:15:00Z');
  await switchTraffic()(pipelineJobEvent({ jobId: 'poll-2', artifact: null, userParameters: switchParameters('orders-api'), continuationToken: 'd-retry' }));
  expect(h.metrics()).toEqual([
    ended('orders-api', 'RolledBack', '2026-11-22T10:20:00Z', { ShiftDuration: 1200 }),
    ended('orders-api', 'Succeeded', '2026-11-22T11:15:00Z', { ShiftDuration: 900, LeadTime: 8100 }),
  ]);
});

describe('commitTime', () => {
  test.each([
    ['an offset', '2026-11-22T11:00:00+02:00', '2026-11-22T09:00:00.000Z'],
    ['Unix seconds', String(Date.parse('2026-11-22T09:00:00Z') / 1000), '2026-11-22T09:00:00.000Z'],
  ])('with %s is recorded on STAGED in UTC', async (_name, commitTime, recorded) => {
    await stage('orders-api', 'deploy-1', { commitTime });
    expect((await history.get(`${executionId}/orders-api`))?.commitTime).toBe(recorded);
  });

  test.each([
    ['empty', '', 'commitTime is empty'],
    ['unreadable', 'last Tuesday', 'commitTime "last Tuesday" is not an ISO 8601 date and time with a zone (such as 2019-10-29T03:32:21Z)'],
  ])('%s fails nothing: the deployment goes live without a LeadTime, and the log says why', async (_name, commitTime, problem) => {
    await expect(stage('orders-api', 'deploy-1', { commitTime })).resolves.toEqual({ currentVersion: '3', targetVersion: '4' });
    expect(h.logs()).toContainEqual(expect.objectContaining({
      level: 'INFO', message: 'no lead time will be recorded', jobId: 'deploy-1', deploymentId: `${executionId}/orders-api`, problem,
    }));
    expect((await history.get(`${executionId}/orders-api`))?.commitTime).toBeUndefined();
    await start();
    codeDeployReports('d-orders-api-live-dev', 'Succeeded');
    at('2026-11-22T10:10:00Z');
    await poll();
    expect(h.metrics()).toEqual([ended('orders-api', 'Succeeded', '2026-11-22T10:10:00Z', { ShiftDuration: 600 })]);
    expect(h.jobResults().failures).toEqual([]);
  });

  test('absent (a construct that does not pass it yet): no LeadTime, nothing else changes', async () => {
    const { commitTime: _omitted, ...withoutCommitTime } = deployParameters('orders-api');
    await deployBlue()(pipelineJobEvent({ jobId: 'deploy-1', userParameters: withoutCommitTime }));
    await start();
    codeDeployReports('d-orders-api-live-dev', 'Succeeded');
    await poll();
    expect(h.metrics()).toEqual([ended('orders-api', 'Succeeded', '2026-11-22T10:00:00Z', { ShiftDuration: 0 })]);
  });
});
