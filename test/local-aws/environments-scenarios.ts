/**
 * Issue #16: one build promoted dev -> staging -> prod. Two services in two waves (orders with the
 * smoke test in wave 1, users in wave 2); dev shifts all at once, staging linearly and bakes for 30
 * minutes, prod waits for an approval, shifts by canary and bakes for an hour with at least 3
 * invocations of each live alias. Bake time passes on the handlers' clock (a round of a stage is ten
 * minutes, CodeDeploy's step), never by sleeping; alarms live in moto's CloudWatch, created from the
 * template, and the Lambda proxy publishes the Invocations the bake counts.
 */
import { Duration } from 'aws-cdk-lib';
import { LambdaDeploymentConfig } from 'aws-cdk-lib/aws-codedeploy';
import { deploymentMetrics } from './emf';
import { appSpecFunction, counts, delta, expectAlias, expectDeploymentMetrics, expectNoHandlerThrew, expectOneResultPerJob, failed } from './expectations';
import { ScenarioKit } from './services-scenarios';
import { ActionRun, actionRun, ExecuteOptions, ExecutionRun, World, WorldOptions } from './world';
import { codeSha256 } from './zip';
import { BlueGreenLambdaPipelineProps, TrafficHook } from '../../src';

const ENVIRONMENTS = ['dev', 'staging', 'prod'] as const;
type Environment = typeof ENVIRONMENTS[number];
const SERVICES = ['orders', 'users'] as const;
type Service = typeof SERVICES[number];
const WAVE: Record<Service, number> = { orders: 1, users: 2 };
const CONFIG: Record<Environment, string> = {
  dev: 'CodeDeployDefault.LambdaAllAtOnce',
  staging: 'CodeDeployDefault.LambdaLinear10PercentEvery1Minute',
  prod: 'CodeDeployDefault.LambdaCanary10Percent5Minutes',
};
/** The construct shifts a service's first release (from the bootstrap version) all at once. */
const configFor = (environment: Environment, current: string) => (current === '1' ? CONFIG.dev : CONFIG[environment]);
const BAKE_MINUTES: Partial<Record<Environment, number>> = { staging: 30, prod: 60 };
const MIN_INVOCATIONS = 3;
const SMOKE_EVENT = { rawPath: '/orders' };

/** The three-environment pipeline (as examples/typescript/environments-app.ts, with shorter bakes). */
export const STOREFRONT: Partial<BlueGreenLambdaPipelineProps> = {
  serviceName: 'shop',
  source: { owner: 'example-org', repo: 'shop', connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789' },
  services: [
    { serviceName: 'orders', bundleDirectory: 'services/orders/dist', wave: 1, preTrafficHook: TrafficHook.smokeTest({ testEvent: SMOKE_EVENT }) },
    { serviceName: 'users', bundleDirectory: 'services/users/dist', wave: 2 },
  ],
  environments: [
    { name: 'dev', deploymentConfig: LambdaDeploymentConfig.ALL_AT_ONCE },
    { name: 'staging', deploymentConfig: LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_1MINUTE, bakeTime: Duration.minutes(BAKE_MINUTES.staging!) },
    {
      name: 'prod',
      approval: {},
      deploymentConfig: LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES,
      bakeTime: Duration.minutes(BAKE_MINUTES.prod!),
      bakeMinInvocations: MIN_INVOCATIONS,
    },
  ],
};

/** A round of a stage is ten minutes of the handlers' clock (the fake CodeDeploy's step). */
const WORLD: WorldOptions = { roundMs: 10 * 60_000 };

const key = (environment: Environment, service: Service) => `${environment}/${service}`;
const alarmOf = (environment: Environment, service: Service) => `shop--${service}-error-rate-${environment}`;

const serviceSource = (service: string, name: string) =>
  `exports.handler = async (event) => ({ statusCode: 200, body: JSON.stringify({ service: ${JSON.stringify(service)}, release: ${JSON.stringify(name)}, path: event && event.rawPath }) });\n`;

/** What the Build stage writes once per execution: every service's dist/. */
function storefrontBuild(name: string): Record<string, string> {
  return {
    'package.json': '{"name":"shop","private":true}\n',
    'services/orders/dist/index.js': serviceSource('orders', name),
    'services/users/dist/index.js': serviceSource('users', name),
    'services/users/dist/lib/format.js': `exports.format = String; // ${name}\n`,
  };
}

/** Clients use each live alias of an environment while it bakes: one invocation per round. */
async function clientTraffic(w: World, stageName: string, running: ReadonlyArray<{ actionName: string; service: string }>) {
  if (!stageName.startsWith('Switch-Traffic-')) return;
  for (const run of running.filter((r) => r.actionName.startsWith('Bake'))) await w.invoke(run.service, 'live', { rawPath: '/probe' });
}

/** One execution of the whole pipeline, with clients using what bakes. */
async function release(w: World, name: string, options: ExecuteOptions & { executionId: string }): Promise<ExecutionRun> {
  const artifact = await w.artifact(storefrontBuild(name), { deflate: true, directoryEntries: true });
  return w.execute(artifact, {
    maxRounds: 60,
    ...options,
    between: async (round) => {
      await clientTraffic(w, round.stageName, round.running);
      await options.between?.(round);
    },
  });
}

/** The latest run of an action (by name) in an execution's stage. */
function actionNamed(execution: ExecutionRun, stageName: string, actionName: string): ActionRun | undefined {
  return [...execution.stages].reverse().filter((s) => s.stageName === stageName)
    .map((s) => s.actions.find((a) => a.actionName === actionName)).find((a) => a !== undefined);
}

/** A service's Bake action in an environment. */
const bakeRun = (execution: ExecutionRun, environment: Environment, service: Service) => actionNamed(execution, `Switch-Traffic-${environment}`, `Bake-${service}`);

/** Every Lambda job an execution ran (approvals have none). */
function lambdaJobs(execution: ExecutionRun): string[] {
  return execution.stages.flatMap((s) => s.actions.filter((a) => !a.actionName.startsWith('Approve')).flatMap((a) => a.jobs));
}

/** Stage, status and runOrders of each stage an execution played. */
const stageSummary = (execution: ExecutionRun) => execution.stages.map((s) => [s.stageName, s.status, s.runOrdersStarted]);

const FULL_PROMOTION = [
  ['Deploy-Blue-dev', 'Succeeded', [1]], ['Switch-Traffic-dev', 'Succeeded', [1, 2]],
  ['Deploy-Blue-staging', 'Succeeded', [1]], ['Switch-Traffic-staging', 'Succeeded', [1, 2, 3]],
  ['Approve-prod', 'Succeeded', [1]],
  ['Deploy-Blue-prod', 'Succeeded', [1]], ['Switch-Traffic-prod', 'Succeeded', [1, 2, 3]],
];

/** The lifecycle events announced for one service of one execution in one environment. */
const eventsOf = (w: World, executionId: string, environment: Environment, service: Service) => w.events(executionId, key(environment, service));

/**
 * A release that went live everywhere: the same code hash in every environment's history item and
 * published version, aliases on the target, bakes passed, one notification per event, metrics per
 * environment.
 */
async function expectPromoted(w: World, execution: ExecutionRun, versions: { current: string; target: string }) {
  expect({ status: execution.status, stages: stageSummary(execution) }).toEqual({ status: 'Succeeded', stages: FULL_PROMOTION });
  const { executionId } = execution;
  const dev = await w.history(executionId, key('dev', 'orders'));
  const hashes: Record<string, string[]> = {};
  for (const environment of ENVIRONMENTS) {
    for (const service of SERVICES) {
      const item = await w.history(executionId, key(environment, service));
      const baked = BAKE_MINUTES[environment];
      expect({ environment, service, item: summary(item) }).toEqual({
        environment,
        service,
        item: {
          deploymentId: `${executionId}/${environment}/${service}`,
          environment,
          service,
          state: 'SUCCEEDED',
          currentVersion: versions.current,
          targetVersion: versions.target,
          deploymentConfig: configFor(environment, versions.current),
          bakeState: baked ? 'PASSED' : undefined,
        },
      });
      // The execution started when its first environment's item did: later items carry that start.
      const first = await w.history(executionId, key('dev', service));
      expect({ environment, service, executionStartedAt: item!.executionStartedAt })
        .toEqual({ environment, service, executionStartedAt: first!.startedAt });
      if (baked) {
        // The bake ran its time on the handlers' clock, through continuation tokens.
        const bakeMs = Date.parse(item!.bakeFinishedAt) - Date.parse(item!.bakeStartedAt);
        expect({ environment, service, bakedLongEnough: bakeMs >= baked * 60_000 }).toEqual({ environment, service, bakedLongEnough: true });
        const bake = bakeRun(execution, environment, service)!;
        expect(bake.jobs.length).toBeGreaterThan(baked / 10);
        if (environment === 'prod') expect(item!.bakeInvocations).toBeGreaterThanOrEqual(MIN_INVOCATIONS);
      }
      // The version Lambda published holds the code the history records.
      const code = await w.code(key(environment, service), versions.target);
      (hashes[service] ??= []).push(item!.codeSha256, code.codeSha256);
      await expectAlias(w, versions.target, key(environment, service));
      expect({ environment, service, events: await eventsOf(w, executionId, environment, service) })
        .toEqual({ environment, service, events: ['STAGED', 'STARTED', 'SUCCEEDED', ...(baked ? ['BAKE_PASSED'] : [])] });
    }
    expectDeploymentMetrics(w, executionId, { orders: 'Succeeded', users: 'Succeeded' }, environment);
  }
  // One build: every environment received the same bundle of each service, and it is the bundle Deploy-Blue staged (one object per environment).
  const staged = await w.s3Keys(`bundles/${executionId}/`);
  expect(staged.length).toBe(ENVIRONMENTS.length * SERVICES.length);
  for (const objectKey of staged) {
    const service = SERVICES.find((s) => objectKey.endsWith(`/${s}.zip`))!;
    hashes[service].push(codeSha256((await w.s3Object(objectKey))!));
  }
  for (const service of SERVICES) {
    expect({ service, hashes: new Set(hashes[service]).size }).toEqual({ service, hashes: 1 });
    expect(hashes[service][0]).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  }
  expect(hashes.orders[0]).not.toBe(hashes.users[0]);
  expect(dev?.codeSha256).toBe(hashes.orders[0]);
  const live = await w.invoke(key('prod', 'users'), 'live', { rawPath: '/users' });
  expect(live.executedVersion).toBe(versions.target);
  expectOneResultPerJob(w, lambdaJobs(execution));
}

/** The history fields these scenarios compare. */
function summary(item: Record<string, any> | undefined) {
  if (!item) return undefined;
  const { deploymentId, environment, service, state, currentVersion, targetVersion, deploymentConfig, bakeState, wave } = item;
  expect({ deploymentId, wave }).toEqual({ deploymentId, wave: WAVE[service as Service] });
  return { deploymentId, environment, service, state, currentVersion, targetVersion, deploymentConfig, bakeState };
}

/** The CodeDeploy deployments created for an environment's functions, by service. */
function createsIn(w: World, environment: Environment, from = 0): string[] {
  return w.codeDeploy.calledOperations('CreateDeployment').slice(from).map((c) => appSpecFunction(c.input) ?? '?')
    .filter((fn) => fn.endsWith(`-${environment}`));
}

export function registerEnvironmentScenarios({ scenario, worldFor }: ScenarioKit) {
  scenario('16a+e. three environments: one build promoted dev -> staging -> prod, same code hash everywhere, bakes pass on the played clock; '
    + 'the second release delivered twice (at once and in a row) acts once', async () => {
    const w = await worldFor('e16a', STOREFRONT, WORLD);
    // What the template says CodePipeline runs.
    expect(w.model.pipelineStages.map((s) => [s.name, s.actions.map((a) => `${a.actionName}@${a.runOrder}`)])).toEqual([
      ...ENVIRONMENTS.flatMap((e) => [
        ...(e === 'prod' ? [['Approve-prod', ['ApprovePromotion@1']]] : []),
        [`Deploy-Blue-${e}`, ['Publish-orders@1', 'Publish-users@1']],
        [`Switch-Traffic-${e}`, ['Shift-orders@1', 'Shift-users@2', ...(BAKE_MINUTES[e] ? ['Bake-orders@3', 'Bake-users@3'] : [])]],
      ]),
    ]);
    expect(w.model.services.filter((s) => s.bake).map((s) => [s.key, s.bakeParameters?.bakeMinutes, s.bakeParameters?.minInvocations]))
      .toEqual([['staging/orders', '30', '0'], ['staging/users', '30', '0'], ['prod/orders', '60', '3'], ['prod/users', '60', '3']]);

    const first = await release(w, 'A', { executionId: 'exec-16a-A' });
    await expectPromoted(w, first, { current: '1', target: '2' });
    // 16e. The second release shifts with each environment's own configuration (linear in staging, canary in prod), and
    // CodePipeline delivers every first job of every action twice at once, every second continuation twice in a row.
    const before = Object.fromEntries(w.model.services.map((s) => [s.functionName, counts(w, s.functionName)]));
    const execution = await release(w, 'B', {
      executionId: 'exec-16a-B',
      deliver: ({ poll }) => (poll === 0 ? 'concurrent' : poll === 2 ? 'sequential' : undefined),
    });
    await expectPromoted(w, execution, { current: '2', target: '3' });
    // Duplicates acted once: one code update, one version, one CodeDeploy deployment, one bake per function.
    for (const environment of ENVIRONMENTS) {
      for (const service of SERVICES) {
        const fn = `shop--${service}-${environment}`;
        expect({ fn, changes: delta(before[fn], counts(w, fn)) })
          .toEqual({ fn, changes: { updateFunctionCode: 1, publishVersion: 1, createDeployment: 1 } });
        const item = await w.history(execution.executionId, key(environment, service));
        if (BAKE_MINUTES[environment]) {
          expect({ fn, bakeJobIds: [...item!.bakeJobIds ?? []] }).toEqual({ fn, bakeJobIds: [bakeRun(execution, environment, service)!.jobs[0]] });
        }
      }
    }
    // Each first job really went out twice at once, to two execution environments of its handler.
    for (const fn of [w.deployBlueFn, w.switchTrafficFn, w.bakeFn!]) {
      const byJob = new Map<string, number[]>();
      for (const i of fn.invocations) {
        const job = (i.event as any)['CodePipeline.job'].id;
        byJob.set(job, [...byJob.get(job) ?? [], i.environment]);
      }
      const firstJobs = execution.stages.flatMap((s) => s.actions.map((a) => a.jobs[0])).filter((job) => byJob.has(job));
      const doubled = firstJobs.filter((job) => new Set(byJob.get(job)).size === 2).length;
      expect({ fn: fn.functionName, doubled }).toEqual({ fn: fn.functionName, doubled: firstJobs.length });
      expect(firstJobs.length).toBeGreaterThan(0);
    }
    // One notification per event and deployment, in every environment.
    const keys = (await w.notifications()).filter((n) => n.body?.executionId === execution.executionId).map((n) => `${n.body.deploymentId} ${n.event}`);
    expect(keys.length).toBe(new Set(keys).size);

    // Prod waited for its approval; the request named the execution, on the topic the action names.
    expect(w.approvals.map((a) => [a.executionId, a.stageName, a.status, a.notificationArn])).toEqual([
      ['exec-16a-A', 'Approve-prod', 'Approved', w.names.topicArn], ['exec-16a-B', 'Approve-prod', 'Approved', w.names.topicArn],
    ]);
    expect(w.approvals[1].customData).toContain('exec-16a-B');
    const requests = (await w.notifications()).filter((n) => n.body?.approval?.stageName === 'Approve-prod');
    expect(requests.map((n) => n.body.approval.customData.includes(n === requests[0] ? 'exec-16a-A' : 'exec-16a-B'))).toEqual([true, true]);
    // Each environment shifted with its own configuration; the bakes began only after the last wave.
    for (const environment of ENVIRONMENTS) {
      for (const service of SERVICES) {
        const item = await w.history('exec-16a-B', key(environment, service));
        const deployment = w.codeDeploy.deployments.get(item!.codeDeployDeploymentId)!;
        expect({ environment, service, config: deployment.deploymentConfigName, group: deployment.deploymentGroupName })
          .toEqual({ environment, service, config: CONFIG[environment], group: `shop--${service}-live-${environment}` });
      }
      if (BAKE_MINUTES[environment]) {
        for (const service of SERVICES) {
          expect(bakeRun(execution, environment, service)!.startedAt).toBeGreaterThanOrEqual(actionNamed(execution, `Switch-Traffic-${environment}`, 'Shift-users')!.final!.at);
        }
      }
    }
    // The smoke test ran in every environment on the new orders version (its own function per environment).
    expect(w.proxy.invocations.filter((i) => i.qualifier === '3' && i.functionName.startsWith('shop--orders-')).map((i) => i.functionName).sort())
      .toEqual(['shop--orders-dev', 'shop--orders-prod', 'shop--orders-staging']);
    expectNoHandlerThrew(w);
    // Canary in prod: 10 % first, then all; linear in staging: ten steps.
    for (const [environment, steps] of [['staging', 10], ['prod', 2]] as const) {
      const deployment = (await w.history('exec-16a-B', key(environment, 'users')))!.codeDeployDeploymentId;
      const weights = w.codeDeploy.traffic.filter((t) => t.deploymentId === deployment).length;
      expect({ environment, weights }).toEqual({ environment, weights: steps });
    }
  }, 180_000);

  scenario('16b-c. an alarm during staging\'s bake rolls staging back (CodeDeploy, hooks), prod never starts; a retry of prod\'s Deploy-Blue is refused by the gate', async () => {
    const w = await worldFor('e16b', STOREFRONT, WORLD);
    // A goes live in dev and staging; prod stays on its bootstrap version (the approval is rejected: this keeps the run short).
    const first = await release(w, 'A', { executionId: 'exec-16b-A', approve: () => ({ status: 'Rejected' }) });
    expect(stageSummary(first).slice(-2)).toEqual([['Switch-Traffic-staging', 'Succeeded', [1, 2, 3]], ['Approve-prod', 'Failed', [1]]]);
    const notesBefore = (await w.notifications()).length;
    const prodBefore = Object.fromEntries(await Promise.all(SERVICES.map(async (s) => [s, counts(w, `shop--${s}-prod`)] as const)));

    // Release B: in staging's bake, orders' error-rate alarm goes off; every bake job is delivered twice at once from then on.
    let alarmed = false;
    const b = await release(w, 'B', {
      executionId: 'exec-16b-B',
      between: async ({ stageName, running }) => {
        if (stageName === 'Switch-Traffic-staging' && !alarmed && running.some((r) => r.actionName.startsWith('Bake'))) {
          await w.setAlarmState(alarmOf('staging', 'orders'), 'ALARM', 'Threshold Crossed: 2 datapoints were greater than the threshold (5.0)');
          alarmed = true;
        }
      },
      deliver: ({ actionName }) => (alarmed && actionName.startsWith('Bake') ? 'concurrent' : undefined),
    });
    expect(alarmed).toBe(true);
    expect({ status: b.status, stages: stageSummary(b) }).toEqual({
      status: 'Failed',
      stages: [
        ['Deploy-Blue-dev', 'Succeeded', [1]], ['Switch-Traffic-dev', 'Succeeded', [1, 2]],
        ['Deploy-Blue-staging', 'Succeeded', [1]], ['Switch-Traffic-staging', 'Failed', [1, 2, 3]],
      ],
    });
    // Both bakes failed, saying why; orders for its alarm, users because its environment rolls back.
    const ordersBake = failed(bakeRun(b, 'staging', 'orders')?.final, 'staging orders bake');
    expect(ordersBake).toContain('Bake of orders in staging rolled back');
    expect(ordersBake).toContain(`alarm ${alarmOf('staging', 'orders')} in ALARM`);
    expect(ordersBake).toContain('traffic is back on version 2');
    const usersBake = failed(bakeRun(b, 'staging', 'users')?.final, 'staging users bake');
    expect(usersBake).toContain('the environment rolls back: orders alarmed');

    for (const service of SERVICES) {
      // Staging: back on A's version, through a CodeDeploy deployment the bake created (hooks included), exactly one.
      const item = await w.history(b.executionId, key('staging', service));
      expect({ service, item: summary(item) }).toEqual({
        service,
        item: {
          deploymentId: `${b.executionId}/staging/${service}`,
          environment: 'staging',
          service,
          state: 'ROLLED_BACK',
          currentVersion: '2',
          targetVersion: '3',
          deploymentConfig: CONFIG.staging,
          bakeState: 'ROLLED_BACK',
        },
      });
      expect(item!.bakeFailureReason).toContain(service === 'orders' ? alarmOf('staging', 'orders') : 'the environment rolls back: orders alarmed');
      await expectAlias(w, '2', key('staging', service));
      const rollback = w.codeDeploy.deployments.get(item!.rollbackDeploymentId)!;
      expect({ service, creator: rollback.creator, status: rollback.status, config: rollback.deploymentConfigName, spec: rollback.spec }).toEqual({
        service,
        creator: 'user',
        status: 'Succeeded',
        config: 'CodeDeployDefault.LambdaAllAtOnce',
        spec: {
          functionName: `shop--${service}-staging`,
          alias: 'live',
          currentVersion: '3',
          targetVersion: '2',
          before: service === 'orders' ? w.names.smokeTest : undefined,
          after: undefined,
        },
      });
      expect(rollback.hooks.map((h) => [h.hook, h.status])).toEqual(service === 'orders' ? [['BeforeAllowTraffic', 'Succeeded']] : []);
      const stagingCreates = createsIn(w, 'staging').filter((fn) => fn === `shop--${service}-staging`);
      expect({ service, creates: stagingCreates.length }).toEqual({ service, creates: 3 }); // A's shift, B's shift, B's rollback
      expect({ service, events: await eventsOf(w, b.executionId, 'staging', service) })
        .toEqual({ service, events: ['STAGED', 'STARTED', 'SUCCEEDED', 'BAKE_ROLLING_BACK', 'ROLLED_BACK'] });
      // Dev kept B (no bake there); prod never started: no item, no notification, nothing published, still on A.
      expect((await w.history(b.executionId, key('dev', service)))?.state).toBe('SUCCEEDED');
      expect(await w.history(b.executionId, key('prod', service))).toBeUndefined();
      expect(await eventsOf(w, b.executionId, 'prod', service)).toEqual([]);
      expect({ service, prod: delta(prodBefore[service], counts(w, `shop--${service}-prod`)) })
        .toEqual({ service, prod: { updateFunctionCode: 0, publishVersion: 0, createDeployment: 0 } });
      await expectAlias(w, '1', key('prod', service));
    }
    // The smoke test checked the version staging rolled back to.
    const rollbackOfOrders = w.codeDeploy.deployments.get((await w.history(b.executionId, key('staging', 'orders')))!.rollbackDeploymentId)!;
    expect(w.smokeTestFn!.invocations.filter((i) => (i.event as any).DeploymentId === rollbackOfOrders.id).length).toBeGreaterThanOrEqual(1);
    expect(w.approvals.filter((a) => a.executionId === b.executionId)).toEqual([]);
    // Subscribers can tell (and filter) the environment: the subject names it, and so does a message attribute.
    for (const n of (await w.notifications()).filter((x) => x.body?.executionId === b.executionId)) {
      expect({ event: n.event, environment: n.attributes.environment?.Value, subject: n.subject?.includes(`in ${n.body.environment}`) })
        .toEqual({ event: n.event, environment: n.body.environment, subject: true });
    }
    const notes = (await w.notifications()).slice(notesBefore).filter((n) => n.body?.executionId === b.executionId);
    expect(notes.filter((n) => n.body?.environment === 'prod')).toEqual([]);
    expect(notes.find((n) => n.event === 'ROLLED_BACK' && n.body?.service === 'orders')?.subject).toContain('[orders in staging] rolled back to version 2');
    // Metrics: staging counted each service's shift (Succeeded) and then its rollback (RolledBack), once each.
    expect(deploymentMetrics(w.metrics(), b.executionId).filter((m) => m.record.document?.Environment === 'staging').map((m) => `${m.service} ${m.outcome}`).sort())
      .toEqual(['orders RolledBack', 'orders Succeeded', 'users RolledBack', 'users Succeeded']);
    expectDeploymentMetrics(w, b.executionId, { orders: 'Succeeded', users: 'Succeeded' }, 'dev');
    expectOneResultPerJob(w, lambdaJobs(b));

    // 16c. Someone runs B's prod stage anyway (Deploy-Blue-prod jobs of that execution): the gate remembers.
    await w.setAlarmState(alarmOf('staging', 'orders'), 'OK');
    for (const attempt of [1, 2]) {
      const before = Object.fromEntries(await Promise.all(SERVICES.map(async (s) => [s, counts(w, `shop--${s}-prod`)] as const)));
      const retry = await w.runStages(b, w.stagesFrom('Deploy-Blue-prod').slice(0, 1));
      expect(retry.status).toBe('Failed');
      for (const service of SERVICES) {
        const message = failed(actionRun(retry, 'Deploy-Blue-prod', key('prod', service))?.final, `prod Deploy-Blue of ${service}, attempt ${attempt}`);
        expect(message).toContain('Deploy-Blue refused: this build did not pass staging');
        expect(message).toContain('orders rolled back during its bake');
        expect(message).toContain(alarmOf('staging', 'orders'));
        expect(message).toContain('it will not be promoted to prod');
        expect({ service, attempt, prod: delta(before[service], counts(w, `shop--${service}-prod`)) })
          .toEqual({ service, attempt, prod: { updateFunctionCode: 0, publishVersion: 0, createDeployment: 0 } });
        expect(await w.versions(key('prod', service))).toEqual(['1']);
        await expectAlias(w, '1', key('prod', service));
        const item = await w.history(b.executionId, key('prod', service));
        expect({ service, state: item?.state, environment: item?.environment }).toEqual({ service, state: 'FAILED', environment: 'prod' });
        expect(item?.failureReason).toContain('did not pass staging');
        // Each refused retry is a new attempt (a retry may start again after a Deploy-Blue failure): one FAILED each.
        expect(await eventsOf(w, b.executionId, 'prod', service)).toEqual(Array(attempt).fill('FAILED'));
      }
    }
    expect(await w.s3Keys(`bundles/${b.executionId}/prod`)).toEqual([]);
    expect(deploymentMetrics(w.metrics(), b.executionId).filter((m) => m.record.document?.Environment === 'prod').map((m) => `${m.service} ${m.outcome}`).sort())
      .toEqual(['orders Failed', 'orders Failed', 'users Failed', 'users Failed']);
    expectNoHandlerThrew(w);
  }, 180_000);

  scenario('16d. a rejected approval stops the promotion: prod untouched', async () => {
    const w = await worldFor('e16d', STOREFRONT, WORLD);
    const execution = await release(w, 'A', {
      executionId: 'exec-16d-A',
      approve: ({ stageName }) => ({ status: stageName === 'Approve-prod' ? 'Rejected' : 'Approved', summary: 'not this week' }),
    });
    expect({ status: execution.status, stages: stageSummary(execution) }).toEqual({
      status: 'Failed',
      stages: [...FULL_PROMOTION.slice(0, 4), ['Approve-prod', 'Failed', [1]]],
    });
    expect(w.approvals.map((a) => [a.stageName, a.status])).toEqual([['Approve-prod', 'Rejected']]);
    for (const service of SERVICES) {
      for (const environment of ['dev', 'staging'] as const) {
        expect((await w.history(execution.executionId, key(environment, service)))?.state).toBe('SUCCEEDED');
        await expectAlias(w, '2', key(environment, service));
      }
      expect((await w.history(execution.executionId, key('staging', service)))?.bakeState).toBe('PASSED');
      expect(await w.history(execution.executionId, key('prod', service))).toBeUndefined();
      expect(await eventsOf(w, execution.executionId, 'prod', service)).toEqual([]);
      expect(counts(w, `shop--${service}-prod`)).toEqual({ updateFunctionCode: 0, publishVersion: 0, createDeployment: 0 });
      expect(await w.versions(key('prod', service))).toEqual(['1']);
      await expectAlias(w, '1', key('prod', service));
    }
    expect(deploymentMetrics(w.metrics(), execution.executionId).filter((m) => m.record.document?.Environment === 'prod')).toEqual([]);
    expectOneResultPerJob(w, lambdaJobs(execution));
    expectNoHandlerThrew(w);
  }, 120_000);

  scenario('16f. an older execution\'s prod stage retried after a newer one went live in prod never moves prod\'s traffic back', async () => {
    const w = await worldFor('e16f', STOREFRONT, WORLD);
    // O passes dev and staging; its prod approval is rejected.
    const older = await release(w, 'O', { executionId: 'exec-16f-O', approve: () => ({ status: 'Rejected', summary: 'wait for N' }) });
    expect(stageSummary(older).slice(-1)).toEqual([['Approve-prod', 'Failed', [1]]]);
    // N goes live everywhere.
    const newer = await release(w, 'N', { executionId: 'exec-16f-N' });
    expect({ status: newer.status, stages: stageSummary(newer) }).toEqual({ status: 'Succeeded', stages: FULL_PROMOTION });
    const prodVersions = Object.fromEntries(await Promise.all(SERVICES.map(async (s) => [s, (await w.history(newer.executionId, key('prod', s)))!.targetVersion] as const)));
    expect(prodVersions).toEqual({ orders: '2', users: '2' });

    // Someone retries O's approval stage and approves: its prod items are created after N's.
    const createsBefore = w.codeDeploy.calledOperations('CreateDeployment').length;
    await w.retryFailedActions(older, 'Approve-prod', { maxRounds: 60 });
    expect(older.status).toBe('Failed');
    for (const service of SERVICES) {
      await expectAlias(w, prodVersions[service], key('prod', service));
      const item = await w.history(older.executionId, key('prod', service));
      expect({ service, state: ['FAILED', 'SKIPPED', 'NOT_STARTED'].includes(item?.state) }).toEqual({ service, state: true });
      expect(item?.executionStartedAt).toBe((await w.history(older.executionId, key('dev', service)))!.startedAt);
    }
    const refusal = older.stages.flatMap((s) => s.actions).filter((a) => a.final?.kind === 'failure' && a.stageName.endsWith('-prod') && a.actionName !== 'ApprovePromotion')
      .map((a) => a.final!.failureDetails!.message);
    expect(refusal.length).toBeGreaterThan(0);
    expect(refusal.join('\n')).toContain(newer.executionId);
    expect(createsIn(w, 'prod', createsBefore)).toEqual([]);
    expectNoHandlerThrew(w);
  }, 180_000);
}
