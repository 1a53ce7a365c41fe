/**
 * The three bundled stage handlers (assets/*.lambda/index.js, as `npx projen bundle` writes them)
 * against local AWS: moto's server for Lambda, S3, DynamoDB, SNS and SQS, a Lambda proxy that
 * answers Invoke, and fakes for CodePipeline job results and CodeDeploy shifts and hooks. The
 * test plays CodePipeline (jobs, continuation tokens, duplicate deliveries) and CodeDeploy's
 * clock. Run with `npx projen test:local-aws` (see README.md in this folder).
 */
import * as path from 'path';
import { CreateAliasCommand } from '@aws-sdk/client-lambda';
import { registerAccountScenarios } from './accounts-scenarios';
import { constructModel, ConstructModel } from './construct-model';
import { registerCrashScenarios } from './crash-scenarios';
import { registerEnvironmentScenarios } from './environments-scenarios';
import {
  codeDeployDeploymentOf, counts, delta, expectAlias, expectDeploymentMetrics, expectMetricsKeepContract, expectNoCredentialsLeaked,
  expectNoHandlerThrew, expectOneResultPerJob, expectStructuredLogs, failed, succeeded,
} from './expectations';
import { JobResult } from './fake-codepipeline';
import { MotoServer } from './moto-server';
import { registerOverlapScenarios } from './overlap-scenarios';
import { MetricsReport, ScenarioReport } from './scenario-report';
import { registerServiceScenarios } from './services-scenarios';
import { registerUnchangedScenarios } from './unchanged-scenarios';
import { ACCOUNT, actionRun, ASSETS_DIR, brokenSource, goodSource, REGION, SharedAws, startSharedAws, World, WorldOptions } from './world';
import { BlueGreenLambdaPipelineProps, TrafficHook } from '../../src';

jest.setTimeout(60_000);

const LINEAR = 'CodeDeployDefault.LambdaLinear10PercentEvery10Minutes';
const ALL_AT_ONCE = 'CodeDeployDefault.LambdaAllAtOnce';
const SMOKE_EVENT = { path: '/health', source: 'local-aws' };

const report = new ScenarioReport();
const metricsReport = new MetricsReport();
let shared: (SharedAws & { moto: MotoServer }) | undefined;
const worlds: World[] = [];

let startError: Error | undefined;

beforeAll(async () => {
  try {
    shared = await startSharedAws(path.resolve(__dirname, '..', '..', 'cdk.out', 'local-aws'));
  } catch (error) {
    startError = error as Error;
    throw error;
  }
}, 60_000);

afterEach(async () => {
  const name = expect.getState().currentTestName ?? '?';
  for (const w of worlds) {
    metricsReport.add(name, w.tag, w.metrics());
    // Where the handlers acted (a world of several accounts): every call the proxies, fakes and gateway recorded, with its caller's placement.
    if (w.gateway) {
      report.notePlacements(name, [...w.proxy.calls, ...w.codeDeploy.calls.map((c) => c.caller), ...w.gateway.calls.map((c) => c.caller)]
        .filter((c) => w.identities.issued(c.accessKeyId))
        .map((c) => ({ account: c.account, region: c.region })));
    }
  }
  await Promise.all(worlds.splice(0).map((w) => w.stop()));
});

afterAll(async () => {
  await shared?.moto.stop();
  const bundles = `${path.relative(process.cwd(), ASSETS_DIR) || '.'}/*.lambda/index.js`;
  report.print(`local AWS integration: bundled handlers from ${bundles} on moto ${shared?.moto.version ?? '?'}; handler logs in cdk.out/local-aws/`,
    startError ? `not run: ${startError.message.split('.')[0]}` : undefined, '17');
  metricsReport.print('12b.', 'exec-12b-B');
});

/**
 * A scenario; once its body passed, the metrics its handlers wrote must keep the contract too
 * (expectMetricsKeepContract), every other line must be a structured record (expectStructuredLogs), and
 * no part of the job events' credentials may have left the events (expectNoCredentialsLeaked).
 */
function scenario(name: string, body: () => Promise<void>, timeout = 60_000) {
  report.register(name);
  test(name, () => report.run(name, async () => {
    await body();
    for (const w of worlds) {
      await expectMetricsKeepContract(w);
      expectStructuredLogs(w);
      await expectNoCredentialsLeaked(w);
    }
  }), timeout);
}

/** A world for the construct synthesized with these props (merged into the test fixture's). */
async function worldFor(tag: string, props: Partial<BlueGreenLambdaPipelineProps>, options: WorldOptions = {}) {
  if (!shared) throw new Error(`local AWS did not start: ${startError?.message ?? 'see beforeAll'}`);
  const w = await World.create(shared, tag, constructModel(props), options);
  worlds.push(w);
  return w;
}

/** A world of an already synthesized model (an app of several stacks). */
async function worldOf(tag: string, model: ConstructModel, options: WorldOptions = {}) {
  if (!shared) throw new Error(`local AWS did not start: ${startError?.message ?? 'see beforeAll'}`);
  const w = await World.create(shared, tag, model, options);
  worlds.push(w);
  return w;
}

/** A single-service world (the shorthand props: one service, its bundle the whole build output). */
async function world(tag: string, options: { hooks?: 'smoke' | 'none'; props?: Partial<BlueGreenLambdaPipelineProps>; updateWindowMs?: number } = {}) {
  return worldFor(tag, {
    ...(options.hooks === 'smoke' ? { preTrafficHook: TrafficHook.smokeTest({ testEvent: SMOKE_EVENT }) } : {}),
    ...options.props,
  }, { updateWindowMs: options.updateWindowMs });
}

async function releaseOk(w: World, source: string, what: string) {
  const r = await w.release(source);
  succeeded(r.deployBlue.result, `${what} Deploy-Blue`);
  succeeded(r.switchTraffic?.final, `${what} Switch-Traffic`);
  return r;
}

// ------------------------------------------------------------------ scenarios

scenario('1. happy path with the smoke hook', async () => {
  const w = await world('s1', { hooks: 'smoke' });
  expect(JSON.parse(w.environments[w.names.smokeTest!].SMOKE_TEST_EVENTS)).toEqual({ [w.service.functionName]: SMOKE_EVENT });
  await releaseOk(w, goodSource('A'), 'first release');
  const r = await releaseOk(w, goodSource('B'), 'second release');

  expect(r.deployBlue.result?.outputVariables).toEqual({ currentVersion: '2', targetVersion: '3' });
  const history = await w.history(r.executionId);
  expect(history).toMatchObject({
    deploymentId: `${r.executionId}/orders-api`,
    executionId: r.executionId,
    wave: 1,
    functionName: w.service.functionName,
    aliasName: 'live',
    // The whole build output is the bundle (bundleDirectory ""), re-zipped normalized and staged like a
    // monorepo service's, so that a rebuild of unchanged code has the live version's CodeSha256 (14c).
    codeLocation: expect.stringMatching(new RegExp(`^s3://${w.names.bucket}/bundles/${r.executionId}/orders-api\\.zip\\?versionId=.+$`)),
    state: 'SUCCEEDED',
    service: 'orders-api',
    currentVersion: '2',
    targetVersion: '3',
    repository: 'example-org/orders-api',
    branch: 'main',
    deploymentConfig: LINEAR,
  });
  expect(history?.commitId).toMatch(/^[0-9a-f]{32}$/);
  expect(history?.environment).toBe('dev');
  expect(history?.startedAt).toBeDefined();
  expect(history?.finishedAt).toBeDefined();
  const byService = await w.historyByService();
  expect(byService.map((h) => h.state)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
  expect(byService[0].deploymentId).toBe(`${r.executionId}/orders-api`);
  expect((await w.historyByExecution(r.executionId)).map((h) => [h.service, h.state])).toEqual([['orders-api', 'SUCCEEDED']]);

  // CodeDeploy: the hook ran before any traffic, invoked the target version with the configured event, reported once.
  const deployment = codeDeployDeploymentOf(w, history);
  expect(deployment.spec).toMatchObject({ functionName: w.service.functionName, alias: 'live', currentVersion: '2', targetVersion: '3', before: w.names.smokeTest });
  expect(deployment.hooks.map((h) => [h.hook, h.status, h.reports])).toEqual([['BeforeAllowTraffic', 'Succeeded', 1]]);
  const smoke = w.proxy.invocations.filter((i) => i.functionName === w.service.functionName && i.executedVersion === '3');
  expect(smoke).toHaveLength(1);
  expect(smoke[0].functionError).toBeUndefined();
  expect(JSON.parse(smoke[0].payload).body).toContain('/health');
  const shift = w.codeDeploy.traffic.filter((t) => t.deploymentId === deployment.id);
  expect(shift.map((t) => t.weights['3'] ?? (t.functionVersion === '3' ? 1 : 0))).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
  expect(smoke[0].at).toBeLessThanOrEqual(shift[0].at);
  await expectAlias(w, '3');

  // Jobs: one result each, progress through continuation tokens, then plain success.
  expectOneResultPerJob(w, [r.deployBlue.jobId, ...r.switchTraffic!.jobs]);
  expect(r.switchTraffic!.results.slice(0, -1).every((x) => x.kind === 'success' && x.continuationToken)).toBe(true);
  expect(r.switchTraffic!.final.continuationToken).toBeUndefined();
  expect(await w.events(r.executionId)).toEqual(['STAGED', 'STARTED', 'SUCCEEDED']);
  expect(w.codeDeploy.calls.filter((c) => c.error).map((c) => `${c.operation}: ${c.error}`)).toEqual([]);
  expectNoHandlerThrew(w);

  // Metrics: Switch-Traffic's last poll wrote one EMF document per release, exactly as the contract shapes it.
  const { 'orders-api': metric } = expectDeploymentMetrics(w, r.executionId, { 'orders-api': 'Succeeded' });
  expect(metric.record).toMatchObject({ functionName: w.names.switchTraffic, jobId: r.switchTraffic!.jobs[r.switchTraffic!.jobs.length - 1] });
  expect(metric.record.document).toEqual({
    _aws: {
      Timestamp: Date.parse(history!.finishedAt),
      CloudWatchMetrics: [
        {
          Namespace: 'BlueGreenLambdaPipeline',
          Dimensions: [['Pipeline', 'Environment', 'Service', 'Outcome'], ['Pipeline', 'Environment', 'Outcome']],
          Metrics: [{ Name: 'Deployments', Unit: 'Count' }],
        },
        {
          Namespace: 'BlueGreenLambdaPipeline',
          Dimensions: [['Pipeline', 'Environment', 'Service'], ['Pipeline', 'Environment']],
          Metrics: [{ Name: 'ShiftDuration', Unit: 'Seconds' }, { Name: 'LeadTime', Unit: 'Seconds' }],
        },
      ],
    },
    // The pipeline's name (PIPELINE_NAME) and its environmentSuffix (Deploy-Blue's UserParameters), from the template.
    Pipeline: 'orders-api-pipeline-dev',
    Environment: 'dev',
    Service: 'orders-api',
    Outcome: 'Succeeded',
    Deployments: 1,
    ShiftDuration: (Date.parse(history!.finishedAt) - Date.parse(history!.shiftStartedAt)) / 1000,
    LeadTime: (Date.parse(history!.finishedAt) - Date.parse(w.commitOf(r.executionId)!.authorDate)) / 1000,
    deploymentId: `${r.executionId}/orders-api`,
    executionId: r.executionId,
    // Where the service runs (#17), properties rather than dimensions: the handler's own account and region here.
    Account: ACCOUNT,
    Region: REGION,
  });
  // The line is the document itself: no runtime prefix or JSON wrapper around it.
  expect(JSON.parse(metric.record.line)).toEqual(metric.record.document);
  expect(w.metrics()).toHaveLength(2);
});

scenario('2. happy path without hooks', async () => {
  const w = await world('s2');
  const r = await releaseOk(w, goodSource('A'), 'release');
  expect(r.deployBlue.result?.outputVariables).toEqual({ currentVersion: '1', targetVersion: '2' });
  const history = await w.history(r.executionId);
  expect(history).toMatchObject({ state: 'SUCCEEDED', currentVersion: '1', targetVersion: '2' });
  const deployment = codeDeployDeploymentOf(w, history);
  expect(deployment.spec.before).toBeUndefined();
  expect(deployment.spec.after).toBeUndefined();
  expect(deployment.hooks).toEqual([]);
  expect(w.proxy.invocations).toEqual([]);
  await expectAlias(w, '2');
  expect(await w.versions()).toEqual(['1', '2']);
  expectOneResultPerJob(w, [r.deployBlue.jobId, ...r.switchTraffic!.jobs]);
  expect(await w.events(r.executionId)).toEqual(['STAGED', 'STARTED', 'SUCCEEDED']);
  expectNoHandlerThrew(w);
  expectDeploymentMetrics(w, r.executionId, { 'orders-api': 'Succeeded' });
});

scenario('3. first release all-at-once, later release linear', async () => {
  const w = await world('s3');
  const first = await releaseOk(w, goodSource('A'), 'first release');
  // What the template's Switch-Traffic action hands the handler, as CodePipeline resolved it.
  expect(JSON.parse(actionRun(first.execution, 'Switch-Traffic', 'orders-api')!.userParameters[0]))
    .toMatchObject({ bootstrapVersion: '1', deploymentConfigName: LINEAR, targetVersion: '2', service: 'orders-api', wave: '1' });
  const [firstCreate] = w.codeDeploy.calledOperations('CreateDeployment');
  expect(firstCreate.input.deploymentConfigName).toBe(ALL_AT_ONCE);
  const firstHistory = await w.history(first.executionId);
  expect(firstHistory?.deploymentConfig).toBe(ALL_AT_ONCE);
  const firstDeployment = codeDeployDeploymentOf(w, firstHistory);
  expect(firstDeployment.deploymentConfigName).toBe(ALL_AT_ONCE);
  expect(w.codeDeploy.traffic.filter((t) => t.deploymentId === firstDeployment.id).map((t) => [t.functionVersion, t.weights])).toEqual([['2', {}]]);

  const second = await releaseOk(w, goodSource('B'), 'second release');
  const secondCreate = w.codeDeploy.calledOperations('CreateDeployment')[1];
  expect([undefined, LINEAR]).toContain(secondCreate.input.deploymentConfigName);
  const secondHistory = await w.history(second.executionId);
  expect(secondHistory?.deploymentConfig).toBe(LINEAR);
  const secondDeployment = codeDeployDeploymentOf(w, secondHistory);
  expect(secondDeployment.deploymentConfigName).toBe(LINEAR);
  expect(w.codeDeploy.traffic.filter((t) => t.deploymentId === secondDeployment.id)).toHaveLength(10);
  expect(second.switchTraffic!.jobs.length).toBeGreaterThanOrEqual(11);
  await expectAlias(w, '3');
  expectNoHandlerThrew(w);
});

scenario('4. alarm mid-shift rolls back; ROLLED_BACK only once the rollback finished', async () => {
  const w = await world('s4');
  await releaseOk(w, goodSource('A'), 'first release');
  const artifact = await w.artifact(goodSource('B'));
  const executionId = 'exec-s4-0000-0000-000000000002';
  const db = await w.deployBlue({ executionId, commitId: 'b'.repeat(40), artifact });
  succeeded(db.result, 'Deploy-Blue');
  const snapshots: Array<{ poll: number; original: string; rollback?: string; history?: string; events: string[] }> = [];
  let originalId: string | undefined;
  const run = await w.switchTraffic({
    executionId,
    targetVersion: '3',
    between: async (poll) => {
      const history = await w.history(executionId);
      originalId ??= history?.codeDeployDeploymentId;
      const original = originalId ? w.codeDeploy.deployments.get(originalId) : undefined;
      const shifted = w.codeDeploy.traffic.filter((t) => t.deploymentId === originalId);
      if (shifted.length === 3) w.codeDeploy.raiseAlarm(w.service.alarms[0]);
      const rollbackId = original?.rollbackInfo?.rollbackDeploymentId;
      snapshots.push({
        poll,
        original: original?.status ?? '?',
        rollback: rollbackId ? w.codeDeploy.deployments.get(rollbackId)?.status : undefined,
        history: history?.state,
        events: await w.events(executionId),
      });
    },
  });
  const message = failed(run.final, 'Switch-Traffic after the alarm');
  expect(message).toMatch(/alarm/i);

  const original = w.codeDeploy.deployments.get(originalId!)!;
  expect(original.status).toBe('Stopped');
  expect(original.errorInformation?.code).toBe('ALARM_ACTIVE');
  const rollback = w.codeDeploy.deployments.get(original.rollbackInfo!.rollbackDeploymentId!)!;
  // The handler may only settle the job once the rollback deployment is final (no more steps after the last job).
  expect({ rollbackStatusWhenJobFailed: rollback.status }).toEqual({ rollbackStatusWhenJobFailed: 'Succeeded' });
  // While the rollback was in progress, history still said SHIFTING and nobody announced ROLLED_BACK.
  const duringRollback = snapshots.filter((s) => s.rollback === 'InProgress');
  expect(duringRollback.length).toBeGreaterThan(0);
  for (const s of duringRollback) expect({ poll: s.poll, history: s.history, rolledBackAnnounced: s.events.includes('ROLLED_BACK') }).toEqual({ poll: s.poll, history: 'SHIFTING', rolledBackAnnounced: false });

  await expectAlias(w, '2');
  const shift = w.codeDeploy.traffic.filter((t) => t.deploymentId === original.id);
  expect(Math.max(...shift.map((t) => t.weights['3'] ?? 0))).toBeCloseTo(0.3);
  const history = await w.history(executionId);
  expect(history).toMatchObject({ state: 'ROLLED_BACK', currentVersion: '2', targetVersion: '3' });
  expect(history?.failureReason).toMatch(/alarm/i);
  expect(await w.events(executionId)).toEqual(['STAGED', 'STARTED', 'ROLLED_BACK']);
  expectOneResultPerJob(w, run.jobs);
  expectNoHandlerThrew(w);
  // RolledBack, counted by the poll that saw the rollback finish, with the shift's duration; no LeadTime.
  const { 'orders-api': metric } = expectDeploymentMetrics(w, executionId, { 'orders-api': 'RolledBack' });
  expect(metric.record.jobId).toBe(run.jobs[run.jobs.length - 1]);
  expect(metric.shiftDuration).toBeGreaterThan(0);
});

scenario('5. smoke test fails: rollback, the target never got traffic', async () => {
  const w = await world('s5', { hooks: 'smoke' });
  await releaseOk(w, goodSource('A'), 'first release');
  const r = await w.release(brokenSource('B'));
  succeeded(r.deployBlue.result, 'Deploy-Blue of the broken build');
  expect(r.targetVersion).toBe('3');
  const message = failed(r.switchTraffic?.final, 'Switch-Traffic with a failing smoke test');
  expect(message).toMatch(/hook|smoke|BeforeAllowTraffic/i);

  const history = await w.history(r.executionId);
  const deployment = codeDeployDeploymentOf(w, history);
  expect(deployment.status).toBe('Failed');
  expect(deployment.errorInformation?.code).toBe('HOOK_EXECUTION_FAILURE');
  expect(deployment.hooks.map((h) => [h.hook, h.status, h.reports])).toEqual([['BeforeAllowTraffic', 'Failed', 1]]);
  const invoked = w.proxy.invocations.filter((i) => i.executedVersion === '3');
  expect(invoked.map((i) => i.functionError)).toEqual(['Unhandled']);
  // Not one alias change ever routed anything to version 3.
  expect(w.codeDeploy.traffic.filter((t) => t.functionVersion === '3' || t.weights['3'] !== undefined)).toEqual([]);
  await expectAlias(w, '2');
  const rollback = w.codeDeploy.deployments.get(deployment.rollbackInfo!.rollbackDeploymentId!)!;
  expect(rollback.status).toBe('Succeeded');
  expect(['ROLLED_BACK', 'FAILED']).toContain(history?.state);
  expect(history?.failureReason).toMatch(/hook|smoke|BeforeAllowTraffic/i);
  expect(await w.events(r.executionId)).toEqual(['STAGED', 'STARTED', history?.state]);
  expectOneResultPerJob(w, [r.deployBlue.jobId, ...r.switchTraffic!.jobs]);
  expectNoHandlerThrew(w);
  expectDeploymentMetrics(w, r.executionId, { 'orders-api': history?.state === 'ROLLED_BACK' ? 'RolledBack' : 'Failed' });
});

async function duplicateDeliveries(tag: string, mode: 'sequential' | 'concurrent') {
  const w = await world(tag, { hooks: 'smoke', updateWindowMs: mode === 'concurrent' ? 300 : 0 });
  const first = await releaseOk(w, goodSource('A'), 'first release');
  const before = counts(w);
  const notificationsBefore = (await w.notifications()).length;
  w.codeDeploy.setHookDelivery(mode === 'concurrent' ? 'twice-concurrent' : 'twice-sequential');
  const r = await w.release(goodSource('B'), { deployDelivery: mode, switch: { first: mode, duplicatePoll: 2, pollDelivery: mode } });

  expectNoHandlerThrew(w);
  succeeded(r.deployBlue.result, `Deploy-Blue delivered twice (${mode})`);
  expect(r.deployBlue.result.outputVariables).toEqual({ currentVersion: '2', targetVersion: '3' });
  succeeded(r.switchTraffic?.final, `Switch-Traffic with duplicate deliveries (${mode})`);
  expect(delta(before, counts(w))).toEqual({ updateFunctionCode: 1, publishVersion: 1, createDeployment: 1 });
  expectOneResultPerJob(w, [r.deployBlue.jobId, ...r.switchTraffic!.jobs]);
  expect(r.deployBlue.invocations).toHaveLength(2);
  if (mode === 'concurrent') {
    // The two deliveries really overlapped: Lambda gave each its own execution environment.
    expect(new Set(r.deployBlue.invocations.map((i) => i.environment)).size).toBe(2);
    expect(new Set(w.switchTrafficFn.invocations.filter((i) => (i.event as any)['CodePipeline.job'].id === r.switchTraffic!.jobs[0]).map((i) => i.environment)).size).toBe(2);
  }

  const history = await w.history(r.executionId);
  expect(history).toMatchObject({ state: 'SUCCEEDED', currentVersion: '2', targetVersion: '3' });
  const deployment = codeDeployDeploymentOf(w, history);
  const [hook] = deployment.hooks;
  expect(hook.status).toBe('Succeeded');
  const reports = w.codeDeploy.calledOperations('PutLifecycleEventHookExecutionStatus').filter((c) => c.input.deploymentId === deployment.id);
  expect(reports.filter((c) => !c.error)).toHaveLength(1);
  expect(reports.filter((c) => c.error).map((c) => c.error)).toEqual(reports.filter((c) => c.error).map(() => 'LifecycleEventAlreadyCompletedException'));
  expect(w.smokeTestFn!.invocations.filter((i) => (i.event as any).DeploymentId === deployment.id)).toHaveLength(2);
  await expectAlias(w, '3');
  expect(await w.versions()).toEqual(['1', '2', '3']);
  const events = (await w.notifications()).slice(notificationsBefore).map((n) => n.event);
  expect(events).toEqual(['STAGED', 'STARTED', 'SUCCEEDED']);
  // Every job and the hook ran twice; the deployment is counted once, by one invocation.
  expectDeploymentMetrics(w, r.executionId, { 'orders-api': 'Succeeded' });
  expect(w.metrics().map((m) => m.document?.executionId)).toEqual([first.executionId, r.executionId]);
}

scenario('6a. duplicate deliveries, sequential replays', () => duplicateDeliveries('s6a', 'sequential'));
scenario('6b. duplicate deliveries, concurrent (Promise.all)', () => duplicateDeliveries('s6b', 'concurrent'));

scenario('7. Deploy-Blue job redelivered while Switch-Traffic shifts', async () => {
  const w = await world('s7');
  await releaseOk(w, goodSource('A'), 'first release');
  const before = counts(w);
  const artifact = await w.artifact(goodSource('B'));
  const executionId = 'exec-s7-0000-0000-000000000002';
  const db = await w.deployBlue({ executionId, commitId: 'c'.repeat(40), artifact });
  succeeded(db.result, 'Deploy-Blue');
  // Lambda delivers the very same event again.
  const replayEvent = db.invocations[0].event;
  const run = await w.switchTraffic({
    executionId,
    targetVersion: '3',
    between: async (poll) => {
      if (poll === 3) await w.deployBlueFn.invoke(replayEvent);
    },
  });
  expectNoHandlerThrew(w);
  expect(w.deployBlueFn.invocations.filter((i) => (i.event as any)['CodePipeline.job'].id === db.jobId)).toHaveLength(2);
  succeeded(run.final, 'Switch-Traffic after the replayed Deploy-Blue');
  const history = await w.history(executionId);
  expect(history).toMatchObject({ state: 'SUCCEEDED', currentVersion: '2', targetVersion: '3' });
  expect(history?.failureReason).toBeUndefined();
  expect(delta(before, counts(w))).toEqual({ updateFunctionCode: 1, publishVersion: 1, createDeployment: 1 });
  expectOneResultPerJob(w, [db.jobId, ...run.jobs]);
  await expectAlias(w, '3');
  expect(await w.events(executionId)).toEqual(['STAGED', 'STARTED', 'SUCCEEDED']);
  expectNoHandlerThrew(w);
  expectDeploymentMetrics(w, executionId, { 'orders-api': 'Succeeded' });
});

scenario('8. split alias: readable failure, nothing deployed', async () => {
  const w = await world('s8');
  await releaseOk(w, goodSource('A'), 'first release');
  // An interrupted deployment left live on 2 with 50 % on 1.
  await w.splitAlias('2', { 1: 0.5 });
  let before = counts(w);
  const r = await w.release(goodSource('B'));
  // Deploy-Blue only publishes (issue 14: another execution may be shifting); Switch-Traffic refuses, saying no deployment is in progress.
  succeeded(r.deployBlue.result, 'Deploy-Blue on a split alias');
  const message = failed(r.switchTraffic?.final, 'Switch-Traffic on a split alias');
  expect(message).toContain('live');
  expect(message).toMatch(/rout|weight|split/i);
  expect(message).toContain('no CodeDeploy deployment is in progress');
  expect(delta(before, counts(w))).toEqual({ updateFunctionCode: 1, publishVersion: 1, createDeployment: 0 });
  const alias = await w.alias();
  expect(alias.RoutingConfig?.AdditionalVersionWeights).toEqual({ 1: 0.5 });
  const history = await w.history(r.executionId);
  expect(history?.state).toBe('FAILED');
  expect(await w.events(r.executionId)).toEqual(['STAGED', 'FAILED']);

  // The alias split between Deploy-Blue and Switch-Traffic: Switch-Traffic refuses too.
  await w.splitAlias('2', {});
  const artifact = await w.artifact(goodSource('C'));
  const executionId = 'exec-s8-0000-0000-000000000003';
  const db = await w.deployBlue({ executionId, commitId: 'd'.repeat(40), artifact });
  succeeded(db.result, 'Deploy-Blue of C');
  await w.splitAlias('2', { 1: 0.25 });
  before = counts(w);
  const run = await w.switchTraffic({ executionId, targetVersion: db.result.outputVariables!.targetVersion });
  const switchMessage = failed(run.final, 'Switch-Traffic on a split alias');
  expect(switchMessage).toContain('live');
  expect(switchMessage).toMatch(/rout|weight|split/i);
  expect(delta(before, counts(w)).createDeployment).toBe(0);
  expect((await w.history(executionId))?.state).toBe('FAILED');
  expectNoHandlerThrew(w);
  // Both refusals are counted Failed: Deploy-Blue's (when it recorded one) and Switch-Traffic's.
  expectDeploymentMetrics(w, r.executionId, { 'orders-api': 'Failed' });
  const { 'orders-api': refused } = expectDeploymentMetrics(w, executionId, { 'orders-api': 'Failed' });
  expect(refused.record.functionName).toBe(w.names.switchTraffic);
});

scenario('9. target already live: SKIPPED, job succeeds', async () => {
  const w = await world('s9');
  await releaseOk(w, goodSource('A'), 'first release');
  const before = counts(w);
  const r = await w.release(goodSource('A'));
  succeeded(r.deployBlue.result, 'Deploy-Blue of unchanged code');
  expect(r.deployBlue.result.outputVariables).toEqual({ currentVersion: '2', targetVersion: '2' });
  succeeded(r.switchTraffic?.final, 'Switch-Traffic of the live version');
  expect(r.switchTraffic!.jobs).toHaveLength(1);
  expect(r.switchTraffic!.final.continuationToken).toBeUndefined();
  expect(delta(before, counts(w)).createDeployment).toBe(0);
  expect((await w.history(r.executionId))?.state).toBe('SKIPPED');
  // Deploy-Blue recognises the live version's code and publishes nothing (no UpdateFunctionCode, no STAGED announcement).
  expect(delta(before, counts(w))).toEqual({ updateFunctionCode: 0, publishVersion: 0, createDeployment: 0 });
  expect(await w.events(r.executionId)).toEqual(['SKIPPED']);
  await expectAlias(w, '2');
  expect(await w.versions()).toEqual(['1', '2']);
  expectNoHandlerThrew(w);
  expectDeploymentMetrics(w, r.executionId, { 'orders-api': 'Skipped' });
});

scenario('10. malformed jobs fail with a message naming the field', async () => {
  const w = await world('s10');
  const artifact = await w.artifact(goodSource('A'));
  const executionId = 'exec-s10';
  const without = (key: string) => (p: Record<string, string>) => {
    const copy = { ...p };
    delete copy[key];
    return copy;
  };
  const cases: Array<{ name: string; field: RegExp; run: () => Promise<JobResult | undefined> }> = [
    {
      name: 'Deploy-Blue without data',
      field: /data/,
      run: async () => {
        const jobId = w.pipeline.issueJob();
        return (await w.deployBlue({ executionId, jobId, event: { 'CodePipeline.job': { id: jobId, accountId: '123456789012' } } })).result;
      },
    },
    { name: 'Deploy-Blue with UserParameters not JSON', field: /UserParameters/, run: async () => (await w.deployBlue({ executionId, artifact, userParameters: '{deploymentId: oops' })).result },
    { name: 'Deploy-Blue without deploymentId', field: /deploymentId/, run: async () => (await w.deployBlue({ executionId, artifact, userParameters: without('deploymentId') })).result },
    { name: 'Deploy-Blue without an input artifact', field: /artifact/i, run: async () => (await w.deployBlue({ executionId, artifact: null })).result },
    {
      name: 'Deploy-Blue with a bundleDirectory outside the artifact',
      field: /bundleDirectory/,
      run: async () => (await w.deployBlue({ executionId, artifact, userParameters: (p) => ({ ...p, bundleDirectory: '../secrets' }) })).result,
    },
    {
      name: 'Deploy-Blue with wave 0',
      field: /wave/,
      run: async () => (await w.deployBlue({ executionId, artifact, userParameters: (p) => ({ ...p, wave: '0' }) })).result,
    },
    {
      name: 'Switch-Traffic without targetVersion',
      field: /targetVersion/,
      run: async () => (await w.switchTraffic({ executionId: 'exec-s10-b', targetVersion: '7', userParameters: without('targetVersion') })).final,
    },
    {
      name: 'Switch-Traffic for a deployment Deploy-Blue never staged',
      field: /exec-s10-never-staged/,
      run: async () => (await w.switchTraffic({ executionId: 'exec-s10-never-staged', targetVersion: '7' })).final,
    },
  ];
  const outcomes: string[] = [];
  for (const c of cases) {
    const result = await c.run();
    const message = result?.kind === 'failure' ? result.failureDetails?.message ?? '' : '';
    outcomes.push(`${c.name}: ${result?.kind === 'failure' && c.field.test(message) ? 'ok' : `got ${JSON.stringify(result)}`}`);
  }
  expect(outcomes).toEqual(cases.map((c) => `${c.name}: ok`));
  expect(counts(w)).toEqual({ updateFunctionCode: 0, publishVersion: 0, createDeployment: 0 });
  await expectAlias(w, '1');
  expectNoHandlerThrew(w);
  // A job refused before it claims the history item counts nothing; the one that claimed it and
  // then failed (no input artifact) is a Failed deployment, counted once.
  const { 'orders-api': failedMetric } = expectDeploymentMetrics(w, executionId, { 'orders-api': 'Failed' });
  expect(failedMetric.record.functionName).toBe(w.names.deployBlue);
  expect((await w.history(executionId))?.failureReason).toMatch(/no input artifact/);
  expectDeploymentMetrics(w, 'exec-s10-b', {});
  expectDeploymentMetrics(w, 'exec-s10-never-staged', {});
});

scenario('11. version retention (keepVersions 2)', async () => {
  const w = await world('s11', { props: { keepVersions: 2 } });
  expect(w.service.model.switchTrafficParameters.keepVersions).toBe('2');
  const seen: Array<[string, string[]]> = [];
  for (const [release, pin] of [['A', true], ['B', false], ['C', false], ['D', false], ['E', false]] as const) {
    await releaseOk(w, goodSource(release), `release ${release}`);
    // Someone pins version 2 with an alias of their own: it must survive pruning.
    if (pin) await w.lambda.send(new CreateAliasCommand({ FunctionName: w.service.functionName, Name: 'pinned', FunctionVersion: '2' }));
    seen.push([release, await w.versions()]);
  }
  expect(seen).toEqual([
    ['A', ['1', '2']],
    ['B', ['1', '2', '3']],
    ['C', ['1', '2', '3', '4']],
    ['D', ['1', '2', '4', '5']],
    ['E', ['1', '2', '5', '6']],
  ]);
  await expectAlias(w, '6');
  const deletes = w.proxy.calls.filter((c) => c.operation === 'DeleteFunction');
  expect(deletes.filter((c) => !c.qualifier).length).toBe(0);
  expect(deletes.filter((c) => ['1', '2'].includes(c.qualifier ?? '')).map((c) => c.qualifier)).toEqual([]);
  expect(deletes.filter((c) => c.status >= 300).map((c) => `${c.qualifier}: ${c.errorType}`)).toEqual([]);
  expectNoHandlerThrew(w);
}, 90_000);

registerServiceScenarios({ scenario, worldFor });
registerUnchangedScenarios({ scenario, worldFor });
registerOverlapScenarios({ scenario, worldFor });
registerCrashScenarios({ scenario, worldFor });
registerEnvironmentScenarios({ scenario, worldFor });
registerAccountScenarios({ scenario, worldFor, worldOf });
