/**
 * One pipeline, three services, two waves (issue #9): orders and billing shift in wave 1 (both
 * Switch-Traffic actions at runOrder 1), users in wave 2 (runOrder 2). Each service's code is a
 * directory of one build artifact, which Deploy-Blue cuts out, re-zips and stages under bundles/.
 */
import { ConstructModel } from './construct-model';
import { deploymentMetrics } from './emf';
import {
  appSpecFunction, codeDeployDeploymentOf, counts, delta, expectAlias, expectDeploymentMetrics, expectNoHandlerThrew, expectOneResultPerJob, failed,
  succeeded,
} from './expectations';
import { ACCOUNT, actionRun, Delivery, ExecutionRun, REGION, World, WorldOptions } from './world';
import { codeSha256 } from './zip';
import { BlueGreenLambdaPipelineProps, TrafficHook } from '../../src';

export interface ScenarioKit {
  readonly scenario: (name: string, body: () => Promise<void>, timeout?: number) => void;
  readonly worldFor: (tag: string, props: Partial<BlueGreenLambdaPipelineProps>, options?: WorldOptions) => Promise<World>;
  /** A world of an already synthesized model (an app of several stacks, see construct-model's appModel). */
  readonly worldOf?: (tag: string, model: ConstructModel, options?: WorldOptions) => Promise<World>;
}

const SERVICES = ['orders', 'billing', 'users'] as const;
type Service = typeof SERVICES[number];
const WAVE: Record<Service, number> = { orders: 1, billing: 1, users: 2 };
const SMOKE_EVENTS: Partial<Record<Service, object>> = { orders: { rawPath: '/orders' }, users: { rawPath: '/users' } };
const ALL_AT_ONCE = 'CodeDeployDefault.LambdaAllAtOnce';
const LINEAR = 'CodeDeployDefault.LambdaLinear10PercentEvery10Minutes';

/** The monorepo pipeline of examples/typescript/monorepo-app.ts and test/services.test.ts. */
export const SHOP: Partial<BlueGreenLambdaPipelineProps> = {
  serviceName: 'shop',
  source: { owner: 'example-org', repo: 'shop', connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789' },
  services: SERVICES.map((service) => ({
    serviceName: service,
    bundleDirectory: `services/${service}/dist`,
    wave: WAVE[service],
    ...(SMOKE_EVENTS[service] ? { preTrafficHook: TrafficHook.smokeTest({ testEvent: SMOKE_EVENTS[service]! }) } : {}),
  })),
};

/** A service's bundled handler: says which service and release answered. */
const serviceSource = (service: string, release: string) =>
  `exports.handler = async (event) => ({ statusCode: 200, body: JSON.stringify({ service: ${JSON.stringify(service)}, release: ${JSON.stringify(release)}, path: event && event.rawPath }) });\n`;

/** The files each service's bundle must hold (its directory of the artifact, paths relative to it). */
const BUNDLE_FILES: Record<Service, string[]> = {
  orders: ['index.js', 'package.json'],
  billing: ['index.js'],
  users: ['index.js', 'lib/format.js'],
};

/** What the Build stage of the monorepo writes: every service's dist/, and things that must not be deployed. */
export function monorepoBuild(release: string, options: { without?: Service } = {}): Record<string, string> {
  const files: Record<string, string> = {
    'README.md': '# shop\n',
    'package.json': '{"name":"shop","private":true}\n',
    'services/orders/src/index.ts': 'export const handler = async () => ({ statusCode: 500 }); // source, never deployed\n',
    'services/orders/dist/index.js': serviceSource('orders', release),
    'services/orders/dist/package.json': '{"name":"orders"}\n',
    'services/billing/dist/index.js': serviceSource('billing', release),
    'services/users/dist/index.js': serviceSource('users', release),
    'services/users/dist/lib/format.js': `exports.format = (x) => String(x); // users ${release}\n`,
  };
  if (options.without) {
    for (const name of Object.keys(files)) if (name.startsWith(`services/${options.without}/dist/`)) delete files[name];
    // Near misses: a sibling with the same prefix, and the service's sources.
    files[`services/${options.without}/dist-old/index.js`] = serviceSource(options.without, 'old');
    files[`services/${options.without}/src/index.ts`] = 'export {};\n';
  }
  return files;
}

const bundleKey = (executionId: string, service: string) => `bundles/${executionId}/${service}.zip`;

function shiftOf(execution: ExecutionRun, service: Service) {
  return actionRun(execution, 'Switch-Traffic', service);
}

function publishOf(execution: ExecutionRun, service: Service) {
  return actionRun(execution, 'Deploy-Blue', service);
}

/** Every job of an execution. */
function jobsOf(execution: ExecutionRun): string[] {
  return execution.stages.flatMap((s) => s.actions.flatMap((a) => a.jobs));
}

/** Each service went live on its own code: bundle, version, alias, history, notifications, CodeDeploy. */
async function expectAllLive(w: World, execution: ExecutionRun, release: string, versions: { current: string; target: string }, config: string,
  options: { hookDeliveries?: number } = {}) {
  expect({ status: execution.status, stages: execution.stages.map((s) => [s.stageName, s.status, s.runOrdersStarted]) })
    .toEqual({ status: 'Succeeded', stages: [['Deploy-Blue', 'Succeeded', [1]], ['Switch-Traffic', 'Succeeded', [1, 2]]] });
  const { executionId } = execution;
  for (const service of SERVICES) {
    const name = w.serviceNamed(service);
    const published = publishOf(execution, service)!;
    succeeded(published.final, `${service} Deploy-Blue`);
    expect({ service, outputs: published.final.outputVariables })
      .toEqual({ service, outputs: { currentVersion: versions.current, targetVersion: versions.target } });
    succeeded(shiftOf(execution, service)?.final, `${service} Switch-Traffic`);

    // The handler staged exactly the service's directory, index.js at the root, and Lambda got that zip.
    const key = bundleKey(executionId, service);
    const bundle = await w.zipAt(key);
    expect({ service, files: Object.keys(bundle ?? {}).sort() }).toEqual({ service, files: BUNDLE_FILES[service] });
    expect(bundle!['index.js']).toBe(serviceSource(service, release));
    const updates = w.proxy.succeeded('UpdateFunctionCode').filter((c) => c.functionName === name.functionName);
    expect(updates[updates.length - 1].body).toEqual({ S3Bucket: w.names.bucket, S3Key: key }); // no S3ObjectVersion, no ZipFile
    const code = await w.code(service, versions.target);
    expect({ service, codeSha256: code.codeSha256 }).toEqual({ service, codeSha256: codeSha256((await w.s3Object(key))!) });
    expect(code.files).toEqual(bundle);
    // A client of the live alias reaches the service's own release.
    const live = await w.invoke(service, 'live', { rawPath: `/${service}/probe` });
    expect({ service, executedVersion: live.executedVersion, functionError: live.functionError, body: JSON.parse(live.payload.body) })
      .toEqual({ service, executedVersion: versions.target, functionError: undefined, body: { service, release, path: `/${service}/probe` } });
    await expectAlias(w, versions.target, service);

    // CodeDeploy shifted the service's own group, with its own hook and test event.
    const history = await w.history(executionId, service);
    const deployment = codeDeployDeploymentOf(w, history);
    expect({ service, group: deployment.deploymentGroupName, config: deployment.deploymentConfigName, spec: deployment.spec }).toEqual({
      service,
      group: name.groupName,
      config,
      spec: {
        functionName: name.functionName,
        alias: 'live',
        currentVersion: versions.current,
        targetVersion: versions.target,
        before: SMOKE_EVENTS[service] ? w.names.smokeTest : undefined,
        after: undefined,
      },
    });
    expect(deployment.hooks.map((h) => [h.hook, h.status])).toEqual(SMOKE_EVENTS[service] ? [['BeforeAllowTraffic', 'Succeeded']] : []);
    // The smoke test invoked the target version itself (not the alias) with this service's event.
    const smoked = w.proxy.invocations.filter((i) => i.functionName === name.functionName && i.qualifier === versions.target);
    const smokePath = (SMOKE_EVENTS[service] as { rawPath?: string } | undefined)?.rawPath;
    expect({ service, smokePaths: smoked.map((i) => JSON.parse(JSON.parse(i.payload).body).path) })
      .toEqual({ service, smokePaths: smokePath ? Array(options.hookDeliveries ?? 1).fill(smokePath) : [] });

    // Notifications: one per event, with the attributes subscribers filter on.
    const notes = await w.notificationsOf(executionId, service);
    expect({ service, events: notes.map((n) => n.event) }).toEqual({ service, events: ['STAGED', 'STARTED', 'SUCCEEDED'] });
    for (const n of notes) {
      expect(n.attributes).toEqual({
        event: { Type: 'String', Value: n.event },
        service: { Type: 'String', Value: service },
        executionId: { Type: 'String', Value: executionId },
        wave: { Type: 'Number', Value: String(WAVE[service]) },
        // The environment a subscription's filter policy can select (0857815): the pipeline's environmentSuffix here.
        environment: { Type: 'String', Value: 'dev' },
        // Where the service runs (#17): the handler's own account (its function ARN) and region here.
        account: { Type: 'String', Value: ACCOUNT },
        region: { Type: 'String', Value: REGION },
      });
    }
    expect(notes[2].subject).toBe(`[${service}] went live: version ${versions.target} (was ${versions.current})`);
  }

  // History: one item per service, found by execution.
  const items = await w.historyByExecution(executionId);
  const summary = (h: Record<string, any>) => ({
    deploymentId: h.deploymentId, service: h.service, wave: h.wave, state: h.state, functionName: h.functionName, aliasName: h.aliasName,
  });
  expect(items.map(summary)).toEqual(
    ['billing', 'orders', 'users'].map((service) => ({
      deploymentId: `${executionId}/${service}`,
      service,
      wave: WAVE[service as Service],
      state: 'SUCCEEDED',
      functionName: w.serviceNamed(service).functionName,
      aliasName: 'live',
    })));
  for (const h of items) {
    expect(h).toMatchObject({
      executionId, currentVersion: versions.current, targetVersion: versions.target, commitId: execution.commitId, deploymentConfig: config,
    });
    // The construct's bucket keeps versions: the staged bundle is named with the version S3 gave it.
    expect(h.codeLocation).toMatch(new RegExp(`^s3://${w.names.bucket}/${bundleKey(executionId, h.service).replace(/[.]/g, '\\.')}\\?versionId=.+$`));
  }
  expectOneResultPerJob(w, jobsOf(execution));
  // Metrics: one Deployments/Succeeded document per service, each with its ShiftDuration and LeadTime.
  const metrics = expectDeploymentMetrics(w, executionId, { orders: 'Succeeded', billing: 'Succeeded', users: 'Succeeded' });
  // Each written by the Switch-Traffic job that saw the service's shift end.
  for (const service of SERVICES) {
    expect({ service, job: metrics[service].record.jobId }).toEqual({ service, job: shiftOf(execution, service)!.jobs.slice(-1)[0] });
  }
}

/** At the moment CodePipeline delivers users' first Switch-Traffic job: what wave 1 looks like. */
interface WaveGate {
  readonly wave1: Array<{ service: string; codeDeploy?: string; history?: string; alias?: string }>;
  readonly users?: string;
}

export function registerServiceScenarios({ scenario, worldFor }: ScenarioKit) {
  scenario('12a. three services, two waves: all go live, wave 2 after wave 1', async () => {
    const w = await worldFor('m12a', SHOP);
    // The template says what CodePipeline runs: publish all at runOrder 1, shift in waves.
    expect(w.model.stages.deployBlue.map((a) => [a.actionName, a.runOrder])).toEqual([['Publish-orders', 1], ['Publish-billing', 1], ['Publish-users', 1]]);
    expect(w.model.stages.switchTraffic.map((a) => [a.actionName, a.runOrder])).toEqual([['Shift-orders', 1], ['Shift-billing', 1], ['Shift-users', 2]]);
    expect(JSON.parse(w.environments[w.names.smokeTest!].SMOKE_TEST_EVENTS)).toEqual({ 'shop--orders-dev': SMOKE_EVENTS.orders, 'shop--users-dev': SMOKE_EVENTS.users });

    for (const [release, versions, config] of [['A', { current: '1', target: '2' }, ALL_AT_ONCE], ['B', { current: '2', target: '3' }, LINEAR]] as const) {
      const executionId = `exec-12a-${release}`;
      const gates: WaveGate[] = [];
      const duringWave1: Array<{ round: number; users?: string; usersDeployments: number }> = [];
      const usersFunction = w.serviceNamed('users').functionName;
      const createsBefore = w.codeDeploy.calledOperations('CreateDeployment').length;
      const execution = await w.execute(await w.artifact(monorepoBuild(release), { deflate: true, directoryEntries: true }), {
        executionId,
        deliver: async ({ stageName, service, poll }) => {
          if (stageName === 'Switch-Traffic' && service === 'users' && poll === 0) {
            gates.push({
              wave1: await Promise.all((['orders', 'billing'] as const).map(async (s) => {
                const history = await w.history(executionId, s);
                return {
                  service: s,
                  codeDeploy: w.codeDeploy.deployments.get(history?.codeDeployDeploymentId)?.status,
                  history: history?.state,
                  alias: (await w.alias(s)).FunctionVersion,
                };
              })),
              users: (await w.history(executionId, 'users'))?.state,
            });
          }
          return undefined;
        },
        between: async ({ stageName, runOrder, round }) => {
          if (stageName !== 'Switch-Traffic' || runOrder !== 1) return;
          duringWave1.push({
            round,
            users: (await w.history(executionId, 'users'))?.state,
            usersDeployments: w.codeDeploy.calledOperations('CreateDeployment').slice(createsBefore).filter((c) => appSpecFunction(c.input) === usersFunction).length,
          });
        },
      });
      await expectAllLive(w, execution, release, versions, config);

      // Wave 2 started only after every wave-1 action succeeded: CodeDeploy done, history SUCCEEDED, alias moved.
      expect(gates).toEqual([{
        wave1: [
          { service: 'orders', codeDeploy: 'Succeeded', history: 'SUCCEEDED', alias: versions.target },
          { service: 'billing', codeDeploy: 'Succeeded', history: 'SUCCEEDED', alias: versions.target },
        ],
        users: 'STAGED',
      }]);
      const wave1End = Math.max(...(['orders', 'billing'] as const).map((s) => shiftOf(execution, s)!.final!.at));
      expect(shiftOf(execution, 'users')!.startedAt).toBeGreaterThanOrEqual(wave1End);
      expect(duringWave1.length).toBeGreaterThan(0);
      expect(duringWave1.filter((s) => s.users !== 'STAGED' || s.usersDeployments > 0)).toEqual([]);
      // Wave 1 shifted in parallel: both groups had deployments in progress at once.
      const creates = w.codeDeploy.calledOperations('CreateDeployment').slice(createsBefore).map((c) => appSpecFunction(c.input));
      expect(creates.slice(0, 2).sort()).toEqual(['shop--billing-dev', 'shop--orders-dev']);
      expect(creates[2]).toBe('shop--users-dev');
      if (config === LINEAR) {
        const [orders, billing, users] = SERVICES.map((s) => w.codeDeploy.traffic.filter((t) => t.deploymentId === codeDeployIdOf(w, s)));
        expect([orders.length, billing.length, users.length]).toEqual([10, 10, 10]);
        expect(billing[0].at).toBeLessThan(orders[orders.length - 1].at);
        expect(users[0].at).toBeGreaterThanOrEqual(Math.max(orders[9].at, billing[9].at));
      }
    }
    // The byService index still answers "last deployments of X" per service.
    expect((await w.historyByService('users')).map((h) => h.deploymentId)).toEqual(['exec-12a-B/users', 'exec-12a-A/users']);
    expectNoHandlerThrew(w);
  }, 90_000);

  scenario('12b. wave-1 rollback: its peer finishes, wave 2 NOT_STARTED', async () => {
    const w = await worldFor('m12b', SHOP);
    const first = await w.execute(await w.artifact(monorepoBuild('A'), { deflate: true }), { executionId: 'exec-12b-A' });
    await expectAllLive(w, first, 'A', { current: '1', target: '2' }, ALL_AT_ONCE);

    const executionId = 'exec-12b-B';
    const billingAlarm = w.serviceNamed('billing').alarms[0];
    const createsBefore = w.codeDeploy.calledOperations('CreateDeployment').length;
    const before = { users: counts(w, w.serviceNamed('users').functionName) };
    const execution = await w.execute(await w.artifact(monorepoBuild('B'), { deflate: true }), {
      executionId,
      // Every continuation of billing is delivered twice at the same time, the failing one too.
      deliver: ({ stageName, service, poll }): Delivery | undefined => (stageName === 'Switch-Traffic' && service === 'billing' && poll > 0 ? 'concurrent' : undefined),
      between: async ({ stageName }) => {
        if (stageName !== 'Switch-Traffic') return;
        const billing = codeDeployIdOf(w, 'billing');
        if (billing && w.codeDeploy.traffic.filter((t) => t.deploymentId === billing).length === 3) w.codeDeploy.raiseAlarm(billingAlarm);
      },
    });

    // CodePipeline: billing failed, orders (same runOrder) still ran to success, runOrder 2 never started.
    expect({ status: execution.status, stages: execution.stages.map((s) => [s.stageName, s.status, s.runOrdersStarted]) })
      .toEqual({ status: 'Failed', stages: [['Deploy-Blue', 'Succeeded', [1]], ['Switch-Traffic', 'Failed', [1]]] });
    const message = failed(shiftOf(execution, 'billing')?.final, 'billing Switch-Traffic after its alarm');
    expect(message).toMatch(/ALARM_ACTIVE/);
    expect(message).toMatch(/rolled back/);
    const orders = shiftOf(execution, 'orders')!;
    succeeded(orders.final, 'orders Switch-Traffic while billing rolled back');
    expect(orders.final.at).toBeGreaterThan(shiftOf(execution, 'billing')!.final!.at);
    expect(shiftOf(execution, 'users')).toBeUndefined();

    // Lambda and CodeDeploy: orders live on 3, billing back on 2, users published 3 but never shifted.
    await expectAlias(w, '3', 'orders');
    await expectAlias(w, '2', 'billing');
    await expectAlias(w, '2', 'users');
    expect(await w.versions('users')).toEqual(['1', '2', '3']);
    expect(delta(before.users, counts(w, w.serviceNamed('users').functionName))).toEqual({ updateFunctionCode: 1, publishVersion: 1, createDeployment: 0 });
    expect(w.codeDeploy.calledOperations('CreateDeployment').slice(createsBefore).map((c) => appSpecFunction(c.input)).sort()).toEqual(['shop--billing-dev', 'shop--orders-dev']);
    const billingDeployment = w.codeDeploy.deployments.get(codeDeployIdOf(w, 'billing')!)!;
    expect([billingDeployment.status, billingDeployment.errorInformation?.code]).toEqual(['Stopped', 'ALARM_ACTIVE']);

    // History: the peer SUCCEEDED, the failed one ROLLED_BACK, the later wave NOT_STARTED with the reason.
    const items = await w.historyByExecution(executionId);
    expect(items.map((h) => [h.service, h.wave, h.state])).toEqual([['billing', 1, 'ROLLED_BACK'], ['orders', 1, 'SUCCEEDED'], ['users', 2, 'NOT_STARTED']]);
    const users = items.find((h) => h.service === 'users')!;
    expect(users).toMatchObject({ failureReason: 'wave 1: billing rolled back', currentVersion: '2', targetVersion: '3' });
    expect(users.codeDeployDeploymentId).toBeUndefined();
    expect(items.find((h) => h.service === 'billing')!.failureReason).toMatch(/ALARM_ACTIVE/);

    // Notifications: exactly what happened, once each.
    const notes = await w.notificationsOf(executionId);
    const byService = (service: Service) => notes.filter((n) => n.body?.service === service).map((n) => n.event);
    expect({ orders: byService('orders'), billing: byService('billing'), users: byService('users') })
      .toEqual({ orders: ['STAGED', 'STARTED', 'SUCCEEDED'], billing: ['STAGED', 'STARTED', 'ROLLED_BACK'], users: ['STAGED', 'NOT_STARTED'] });
    expect(notes).toHaveLength(8);
    const notStarted = notes.find((n) => n.event === 'NOT_STARTED')!;
    expect(notStarted.subject).toBe('[users] never started: wave 1: billing rolled back');
    expect(notStarted.attributes).toEqual({
      event: { Type: 'String', Value: 'NOT_STARTED' },
      service: { Type: 'String', Value: 'users' },
      executionId: { Type: 'String', Value: executionId },
      wave: { Type: 'Number', Value: '2' },
      environment: { Type: 'String', Value: 'dev' },
      account: { Type: 'String', Value: ACCOUNT },
      region: { Type: 'String', Value: REGION },
    });
    const rolledBack = notes.find((n) => n.event === 'ROLLED_BACK')!;
    expect(rolledBack.subject).toBe('[billing] rolled back to version 2 (3 failed)');
    // The failure's message tells the whole execution; users is already NOT_STARTED in it.
    expect(rolledBack.body.execution.map((e: any) => [e.service, e.state])).toEqual([['billing', 'ROLLED_BACK'], ['orders', 'SHIFTING'], ['users', 'NOT_STARTED']]);

    // Every job one result; billing's duplicates were refused as AWS documents.
    expectOneResultPerJob(w, jobsOf(execution));
    const billingJobs = shiftOf(execution, 'billing')!.jobs.slice(1);
    expect(billingJobs.map((job) => w.pipeline.rejectedFor(job).map((c) => c.error))).toEqual(billingJobs.map(() => ['InvalidJobStateException']));
    expectNoHandlerThrew(w);

    // Metrics: billing RolledBack (with its shift's duration, though each of its polls ran twice),
    // its wave peer Succeeded, and users NotStarted, counted by the delivery that marked it.
    const metrics = expectDeploymentMetrics(w, executionId, { billing: 'RolledBack', orders: 'Succeeded', users: 'NotStarted' });
    expect(metrics.billing.shiftDuration).toBeGreaterThan(0);
  }, 90_000);

  scenario('12c. retrying the failed actions ships the wave that did not start', async () => {
    const w = await worldFor('m12c', SHOP);
    await w.execute(await w.artifact(monorepoBuild('A'), { deflate: true }), { executionId: 'exec-12c-A' });
    const executionId = 'exec-12c-B';
    const billingAlarm = w.serviceNamed('billing').alarms[0];
    const execution = await w.execute(await w.artifact(monorepoBuild('B'), { deflate: true }), {
      executionId,
      between: async ({ stageName }) => {
        const billing = codeDeployIdOf(w, 'billing');
        if (stageName === 'Switch-Traffic' && billing && w.codeDeploy.traffic.filter((t) => t.deploymentId === billing).length === 2) {
          w.codeDeploy.raiseAlarm(billingAlarm);
        }
      },
    });
    expect(execution.status).toBe('Failed');
    expect((await w.historyByExecution(executionId)).map((h) => [h.service, h.state])).toEqual([['billing', 'ROLLED_BACK'], ['orders', 'SUCCEEDED'], ['users', 'NOT_STARTED']]);
    const failedJobs = jobsOf(execution);

    // The alarm clears; someone retries the stage's failed actions. Orders is not run again.
    w.codeDeploy.clearAlarm(billingAlarm);
    const ordersJobs = shiftOf(execution, 'orders')!.jobs.length;
    const retryStartedAt = Date.now();
    const retried = await w.retryFailedActions(execution, 'Switch-Traffic');
    expect({ status: execution.status, retried: [retried.status, retried.runOrdersStarted, retried.actions.map((a) => a.service)] })
      .toEqual({ status: 'Succeeded', retried: ['Succeeded', [1, 2], ['billing', 'users']] });
    expect(shiftOf(execution, 'orders')!.jobs).toHaveLength(ordersJobs);
    for (const service of SERVICES) await expectAlias(w, '3', service);
    expect((await w.historyByExecution(executionId)).map((h) => [h.service, h.state, h.failureReason])).toEqual([
      ['billing', 'SUCCEEDED', undefined], ['orders', 'SUCCEEDED', undefined], ['users', 'SUCCEEDED', undefined],
    ]);
    const notes = await w.notificationsOf(executionId);
    const byService = (service: Service) => notes.filter((n) => n.body?.service === service).map((n) => n.event);
    expect({ orders: byService('orders'), billing: byService('billing'), users: byService('users') }).toEqual({
      orders: ['STAGED', 'STARTED', 'SUCCEEDED'],
      billing: ['STAGED', 'STARTED', 'ROLLED_BACK', 'STARTED', 'SUCCEEDED'],
      users: ['STAGED', 'NOT_STARTED', 'STARTED', 'SUCCEEDED'],
    });
    // Each service's code is what it staged in this execution, not re-published.
    for (const service of SERVICES) {
      const live = await w.invoke(service, 'live', {});
      expect({ service, body: JSON.parse(live.payload.body).release, version: live.executedVersion }).toEqual({ service, body: 'B', version: '3' });
    }
    expectOneResultPerJob(w, [...failedJobs, ...retried.actions.flatMap((a) => a.jobs)]);
    expectNoHandlerThrew(w);
    // Metrics: each final state counted once, in order: the retry adds billing Succeeded and users Succeeded.
    expect(deploymentOutcomes(w, executionId)).toEqual([
      'billing RolledBack', 'users NotStarted', 'orders Succeeded', 'billing Succeeded', 'users Succeeded',
    ]);
    // The retried shifts are timed from their own start, not from the attempt that rolled back.
    const retriedShifts = deploymentMetrics(w.metrics(), executionId).slice(3)
      .map((m) => ({ service: m.service, withinRetry: m.shiftDuration! * 1000 <= Date.now() - retryStartedAt }));
    expect(retriedShifts).toEqual([{ service: 'billing', withinRetry: true }, { service: 'users', withinRetry: true }]);
  }, 90_000);

  async function duplicatesMidWave(tag: string, mode: 'sequential' | 'concurrent') {
    const w = await worldFor(tag, SHOP, { updateWindowMs: mode === 'concurrent' ? 300 : 0 });
    const first = await w.execute(await w.artifact(monorepoBuild('A'), { deflate: true }), { executionId: `exec-${tag}-A` });
    await expectAllLive(w, first, 'A', { current: '1', target: '2' }, ALL_AT_ONCE);
    const before = Object.fromEntries(SERVICES.map((s) => [s, counts(w, w.serviceNamed(s).functionName)]));
    const notesBefore = (await w.notifications()).length;
    w.codeDeploy.setHookDelivery(mode === 'concurrent' ? 'twice-concurrent' : 'twice-sequential');
    const executionId = `exec-${tag}-B`;
    const duplicated = (stageName: string, service: string, poll: number) =>
      (stageName === 'Deploy-Blue' && service === 'billing')
      || (stageName === 'Switch-Traffic' && service === 'orders' && (poll === 0 || poll === 3))
      || (stageName === 'Switch-Traffic' && service === 'users' && poll === 2);
    const execution = await w.execute(await w.artifact(monorepoBuild('B'), { deflate: true }), {
      executionId,
      deliver: ({ stageName, service, poll }) => (duplicated(stageName, service, poll) ? mode : undefined),
    });

    expectNoHandlerThrew(w);
    await expectAllLive(w, execution, 'B', { current: '2', target: '3' }, LINEAR, { hookDeliveries: 2 });
    // Nothing uploaded, published or started twice.
    for (const service of SERVICES) {
      expect({ service, ...delta(before[service], counts(w, w.serviceNamed(service).functionName)) })
        .toEqual({ service, updateFunctionCode: 1, publishVersion: 1, createDeployment: 1 });
      expect(await w.versions(service)).toEqual(['1', '2', '3']);
    }
    expect((await w.s3Versions(`bundles/${executionId}/`)).map((v) => v.key)).toEqual(SERVICES.map((s) => bundleKey(executionId, s)).sort());
    // Each duplicated job ran twice; the second result was refused with InvalidJobStateException or not sent.
    const billingPublish = publishOf(execution, 'billing')!;
    expect(billingPublish.invocations).toHaveLength(2);
    const ordersShift = shiftOf(execution, 'orders')!;
    const usersShift = shiftOf(execution, 'users')!;
    for (const job of [billingPublish.jobs[0], ordersShift.jobs[0], ordersShift.jobs[3], usersShift.jobs[2]]) {
      const invocations = w.deployBlueFn.invocations.concat(w.switchTrafficFn.invocations).filter((i) => (i.event as any)['CodePipeline.job'].id === job);
      expect({ job, deliveries: invocations.length }).toEqual({ job, deliveries: 2 });
      if (mode === 'concurrent') expect({ job, environments: new Set(invocations.map((i) => i.environment)).size }).toEqual({ job, environments: 2 });
    }
    // Hooks delivered twice reported once.
    for (const service of ['orders', 'users'] as const) {
      const deployment = codeDeployDeploymentOf(w, await w.history(executionId, service));
      const reports = w.codeDeploy.calledOperations('PutLifecycleEventHookExecutionStatus').filter((c) => c.input.deploymentId === deployment.id);
      expect({ service, reports: reports.map((c) => c.error ?? 'ok') }).toEqual({ service, reports: ['ok', 'LifecycleEventAlreadyCompletedException'] });
    }
    const events = (await w.notifications()).slice(notesBefore).filter((n) => n.body?.executionId === executionId);
    expect(events).toHaveLength(9);
    // Metrics (checked in expectAllLive): exactly one Deployments document per service, despite the duplicates.
    expect(deploymentOutcomes(w, executionId)).toHaveLength(3);
  }

  scenario('12d. duplicate deliveries mid-wave, sequential', () => duplicatesMidWave('m12d', 'sequential'), 90_000);
  scenario('12e. duplicate deliveries mid-wave, concurrent', () => duplicatesMidWave('m12e', 'concurrent'), 90_000);

  scenario('12f. bundleDirectory missing from the artifact: readable failure, nothing published', async () => {
    const w = await worldFor('m12f', SHOP);
    const executionId = 'exec-12f';
    const artifact = await w.artifact(monorepoBuild('A', { without: 'users' }), { deflate: true });
    const execution = await w.execute(artifact, { executionId });

    expect({ status: execution.status, stages: execution.stages.map((s) => [s.stageName, s.status, s.runOrdersStarted]) })
      .toEqual({ status: 'Failed', stages: [['Deploy-Blue', 'Failed', [1]]] });
    const message = failed(publishOf(execution, 'users')?.final, 'users Deploy-Blue without its directory');
    expect(message).toContain('"services/users/dist"');
    expect(message).toContain(`s3://${artifact.bucketName}/${artifact.objectKey}`);
    expect(message).toMatch(/dist-old/); // what is there instead
    expect(message.length).toBeLessThan(1000);
    // The other services of the same runOrder finished; no Switch-Traffic job ran.
    succeeded(publishOf(execution, 'orders')?.final, 'orders Deploy-Blue');
    succeeded(publishOf(execution, 'billing')?.final, 'billing Deploy-Blue');
    expect(w.codeDeploy.calledOperations('CreateDeployment')).toEqual([]);

    // Nothing of users was uploaded, updated or published.
    const usersFunction = w.serviceNamed('users').functionName;
    expect(w.proxy.calls.filter((c) => c.functionName === usersFunction && ['UpdateFunctionCode', 'PublishVersion'].includes(c.operation))).toEqual([]);
    expect(await w.versions('users')).toEqual(['1']);
    await expectAlias(w, '1', 'users');
    expect(await w.s3Keys(`bundles/${executionId}/`)).toEqual([bundleKey(executionId, 'billing'), bundleKey(executionId, 'orders')]);
    const users = await w.history(executionId, 'users');
    expect(users).toMatchObject({ state: 'FAILED', service: 'users', wave: 2 });
    expect(users?.failureReason).toContain('"services/users/dist"');
    expect(users?.targetVersion).toBeUndefined();
    expect(await w.events(executionId, 'users')).toEqual(['FAILED']);
    // The published peers never shifted (today they stay STAGED: no Switch-Traffic job runs to settle them).
    const items = await w.historyByExecution(executionId);
    expect(items.map((h) => h.service)).toEqual(['billing', 'orders', 'users']);
    for (const h of items.filter((i) => i.service !== 'users')) {
      expect({ service: h.service, state: ['STAGED', 'NOT_STARTED'].includes(h.state), shifted: h.codeDeployDeploymentId }).toEqual({ service: h.service, state: true, shifted: undefined });
    }
    expectOneResultPerJob(w, jobsOf(execution));
    expectNoHandlerThrew(w);
    // Metrics: users Failed; the peers count only once something settles them (a NOT_STARTED item would be NotStarted).
    expectDeploymentMetrics(w, executionId, {
      users: 'Failed',
      ...Object.fromEntries(items.filter((h) => h.service !== 'users' && h.state === 'NOT_STARTED').map((h) => [h.service, 'NotStarted'])),
    });
  });
}

/** `<service> <Outcome>` of each Deployments document of an execution, in the order written. */
function deploymentOutcomes(w: World, executionId: string): string[] {
  return deploymentMetrics(w.metrics(), executionId).map((m) => `${m.service} ${m.outcome}`);
}

/** The latest deployment CodeDeploy created for a service (read from the fake, synchronously). */
function codeDeployIdOf(w: World, service: Service): string | undefined {
  const functionName = w.serviceNamed(service).functionName;
  const create = w.codeDeploy.calls.filter((c) => c.operation === 'CreateDeployment' && !c.error && appSpecFunction(c.input) === functionName);
  return create[create.length - 1]?.output?.deploymentId;
}
