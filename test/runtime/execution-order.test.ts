/**
 * Which execution is newer, in a pipeline that promotes through environments: an item's own
 * `startedAt` says when its stage ran; `executionStartedAt` says when its execution reached its
 * first environment. Switch-Traffic on dynalite, with CodeDeploy and Lambda answering as their SDKs document.
 */
import { CreateDeploymentCommand, ListDeploymentsCommand } from '@aws-sdk/client-codedeploy';
import { GetAliasCommand } from '@aws-sdk/client-lambda';
import { DeploymentHistoryStore, DeploymentRecord } from '../../src/runtime/deployment-history-store';
import { isNewer, newerRelease } from '../../src/runtime/execution-order';
import { historyKey } from '../../src/runtime/service-parameters';
import { functionIn, switchTrafficInEnvironment, switchTrafficParameters } from '../helpers/action-parameters';
import { HistoryTableFixture, startHistoryTable } from '../helpers/dynalite-history-table';
import { aliasAnswer, handlerHarness, stagedRecord } from '../helpers/handler-harness';
import { pipelineJobEvent } from '../helpers/pipeline-job-event';

let fixture: HistoryTableFixture;
let h: ReturnType<typeof handlerHarness>;
/** The table, written at the test's clock. */
let history: DeploymentHistoryStore;
let clock: string;
let runs = 0;
/** This test's executions: A started first, B after it. */
let a: string;
let b: string;

beforeAll(async () => {
  fixture = await startHistoryTable();
  h = handlerHarness(fixture);
  history = new DeploymentHistoryStore(fixture.doc, fixture.tableName, () => new Date(clock));
});
afterAll(() => fixture.stop());
beforeEach(() => {
  h.reset();
  runs++;
  a = `exec-a${runs}`;
  b = `exec-b${runs}`;
});

const SERVICE = 'orders-api';
/** The first environment's start of each execution, and when each later stage ran. */
const T = (minute: number) => `2026-11-${String(10 + runs).padStart(2, '0')}T10:${String(minute).padStart(2, '0')}:00.000Z`;

/** The item Deploy-Blue leaves in `environment` at `minute`: STAGED, with the execution's start. */
async function staged(executionId: string, environment: string, minute: number, executionStartedAt: string, targetVersion: string) {
  clock = T(minute);
  const { record } = await stagedRecord(history, historyKey(executionId, SERVICE, environment), {
    executionId,
    service: SERVICE,
    environment,
    wave: 1,
    functionName: functionIn(environment),
    aliasName: 'live',
    currentVersion: '3',
    targetVersion,
    executionStartedAt,
  });
  return record;
}

/** Switch-Traffic's shift of that item, to the end (SUCCEEDED). */
async function wentLive(record: DeploymentRecord, minute: number) {
  clock = T(minute);
  const jobId = `switch-${record.deploymentId}`;
  await history.claim(record.deploymentId, { state: 'STARTING', jobId, jobSet: 'switchTrafficJobIds', from: ['STAGED'], holdMs: 120_000 });
  await history.transition(record.deploymentId, 'SHIFTING', { codeDeployDeploymentId: `d-${record.deploymentId.replace(/\//g, '-')}` }, { claimJobId: jobId });
  return (await history.transition(record.deploymentId, 'SUCCEEDED')).record;
}

test('isNewer compares when the executions started, not when their items were created', () => {
  const item = (executionId: string, startedAt: string, executionStartedAt?: string): DeploymentRecord =>
    ({ deploymentId: `${executionId}/prod/x`, state: 'STAGED', executionId, startedAt, ...(executionStartedAt ? { executionStartedAt } : {}) });
  // A's prod item was created last (a retried stage), but A started first.
  const aProd = item('A', '2026-11-22T12:00:00Z', '2026-11-22T10:00:00Z');
  const bProd = item('B', '2026-11-22T11:00:00Z', '2026-11-22T10:05:00Z');
  expect(isNewer(bProd, aProd)).toBe(true);
  expect(isNewer(aProd, bProd)).toBe(false);
  // items without it (a pipeline without environments before it was recorded) compare their own start
  expect(isNewer(item('B', '2026-11-22T11:00:00Z'), item('A', '2026-11-22T10:00:00Z'))).toBe(true);
});

test('an older execution\'s prod stage retried after a newer execution went live in prod is refused; traffic is not moved back', async () => {
  // A reaches dev at :00, B at :05; B goes live in prod at :30; A's prod stage is retried and stages at :40.
  const aStart = (await staged(a, 'dev', 0, T(0), '4')).startedAt!;
  const bStart = (await staged(b, 'dev', 5, T(5), '5')).startedAt!;
  const bProd = await wentLive(await staged(b, 'prod', 20, bStart, '5'), 30);
  expect(bProd.state).toBe('SUCCEEDED');
  const aProd = await staged(a, 'prod', 40, aStart, '4');
  expect(aProd.startedAt! > bProd.startedAt!).toBe(true);
  // prod's alias serves B's version 5; no deployment is active (ListDeployments, GetAlias as their .d.ts document).
  h.mocks.codeDeploy.on(ListDeploymentsCommand).resolves({ deployments: [] });
  h.mocks.lambda.on(GetAliasCommand).resolves(aliasAnswer('5', undefined, 'live', functionIn('prod')));
  h.mocks.codeDeploy.on(CreateDeploymentCommand).resolves({ deploymentId: 'd-back-to-4' });

  await h.switchTraffic({ history, now: () => new Date(T(41)) })(pipelineJobEvent({
    jobId: 'shift-a-prod', artifact: null, userParameters: switchTrafficInEnvironment(a, 'prod', {}, { targetVersion: '4' }),
  }));

  const message = h.jobResults().failures[0]?.failureDetails?.message;
  expect(message).toBe(`Switch-Traffic refused: execution ${b} is newer (it reached Deploy-Blue at ${bStart}, execution ${a} at ${aStart}) ` +
    `and has already shifted ${SERVICE} to version 5 in prod; shifting to version 4 would move traffic back to an older build. ` +
    'Traffic was not changed. To ship this build, start a new pipeline execution.');
  expect(h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)).toHaveLength(0);
  expect(await history.get(aProd.deploymentId)).toMatchObject({ state: 'FAILED', environment: 'prod', failureReason: message });
  expect(h.metrics().map((d) => [d.Environment, d.Outcome])).toEqual([['prod', 'Failed']]);
});

test('a newer execution live only in dev does not stop an older execution\'s prod shift', async () => {
  const aStart = (await staged(a, 'dev', 0, T(0), '4')).startedAt!;
  await wentLive(await staged(b, 'dev', 5, T(5), '9'), 6);
  const aProd = await staged(a, 'prod', 10, aStart, '4');
  expect(await newerRelease(history, aProd)).toBeUndefined();

  h.mocks.codeDeploy.on(ListDeploymentsCommand).resolves({ deployments: [] });
  h.mocks.lambda.on(GetAliasCommand).resolves(aliasAnswer('3', undefined, 'live', functionIn('prod')));
  h.mocks.codeDeploy.on(CreateDeploymentCommand).resolves({ deploymentId: 'd-a-prod' });
  await h.switchTraffic({ history, now: () => new Date(T(11)) })(pipelineJobEvent({
    jobId: 'shift-a-prod', artifact: null, userParameters: switchTrafficInEnvironment(a, 'prod', {}, { targetVersion: '4' }),
  }));
  expect(h.jobResults()).toEqual({ successes: [{ jobId: 'shift-a-prod', continuationToken: 'd-a-prod' }], failures: [] });
  expect(h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)[0].args[0].input.deploymentGroupName).toBe('orders-api-live-prod');
  expect(await history.get(aProd.deploymentId)).toMatchObject({ state: 'SHIFTING', environment: 'prod', codeDeployDeploymentId: 'd-a-prod' });
});

test('Switch-Traffic refuses an item Deploy-Blue staged for another environment', async () => {
  // a pipeline without environments keys items by execution and service only: the environment is in the item
  clock = T(0);
  await stagedRecord(history, historyKey(a, SERVICE), { executionId: a, service: SERVICE, environment: 'dev', wave: 1, targetVersion: '4' });
  await h.switchTraffic({ history })(pipelineJobEvent({ jobId: 'shift', artifact: null, userParameters: switchTrafficParameters(a, { environment: 'prod' }) }));
  expect(h.jobResults().failures.map((f) => f.failureDetails?.message)).toEqual([
    `deployment ${a}/${SERVICE} was staged for environment dev, but Switch-Traffic was asked to shift it in prod`,
  ]);
  expect(h.mocks.codeDeploy.calls()).toHaveLength(0);
});
