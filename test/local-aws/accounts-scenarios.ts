/**
 * Issue #17: a pipeline in a tooling account (111111111111, us-east-1) promotes one build through
 * environments in three other accounts, prod in two regions: dev (222222222222), staging
 * (333333333333, with a 30-minute bake), prod (444444444444, us-east-1, behind an approval) and
 * prod-eu (444444444444, eu-west-1). The app is synthesized as users write it: the pipeline's stack
 * and one stack per target with a BlueGreenLambdaTarget; the world creates every stack's resources in
 * its own account and region on moto, gives each handler its execution role's credentials (tooling
 * account), and lets them into a target only through STS AssumeRole of its deployer role, checked
 * against the role's trust policy (moto-gateway.ts).
 */
import { SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { GetFunctionCommand, PublishVersionCommand, UpdateFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { LambdaDeploymentConfig } from 'aws-cdk-lib/aws-codedeploy';
import { placementKey } from './aws-identities';
import { appModel, ConstructModel } from './construct-model';
import { deploymentMetrics } from './emf';
import { counts, delta, expectAlias, expectDeploymentMetrics, expectNoHandlerThrew, expectOneResultPerJob, failed } from './expectations';
import { motoRequest, Placement } from './moto-server';
import { ScenarioKit } from './services-scenarios';
import { ActionRun, actionRun, ExecuteOptions, ExecutionRun, World, WorldOptions } from './world';
import { codeSha256 } from './zip';
import { BlueGreenLambdaPipeline, BlueGreenLambdaTarget, TrafficHook } from '../../src';

export const TOOLING: Placement = { account: '111111111111', region: 'us-east-1' };
const ENVIRONMENTS = ['dev', 'staging', 'prod', 'prod-eu'] as const;
type Environment = typeof ENVIRONMENTS[number];
const PLACEMENT: Record<Environment, Placement> = {
  'dev': { account: '222222222222', region: 'us-east-1' },
  'staging': { account: '333333333333', region: 'us-east-1' },
  'prod': { account: '444444444444', region: 'us-east-1' },
  'prod-eu': { account: '444444444444', region: 'eu-west-1' },
};
const SERVICES = ['orders', 'users'] as const;
type Service = typeof SERVICES[number];
const STAGING_BAKE_MINUTES = 30;
const CONFIG: Record<Environment, string> = {
  'dev': 'CodeDeployDefault.LambdaAllAtOnce',
  'staging': 'CodeDeployDefault.LambdaLinear10PercentEvery1Minute',
  'prod': 'CodeDeployDefault.LambdaCanary10Percent5Minutes',
  'prod-eu': 'CodeDeployDefault.LambdaCanary10Percent5Minutes',
};
/** The construct shifts a service's first release (from the bootstrap version) all at once. */
const configFor = (environment: Environment, current: string) => (current === '1' ? CONFIG.dev : CONFIG[environment]);
const PIPELINE_ARN = `arn:aws:codepipeline:${TOOLING.region}:${TOOLING.account}:shop-pipeline-release`;

/** The app as its users write it: the pipeline in the tooling account's stack, a stack per target. */
export function accountsModel(): ConstructModel {
  return appModel((app: App) => {
    const tooling = new Stack(app, 'ShopTooling', { env: TOOLING });
    const pipeline = new BlueGreenLambdaPipeline(tooling, 'Pipeline', {
      serviceName: 'shop',
      environmentSuffix: 'release',
      source: { owner: 'example-org', repo: 'shop', connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789' },
      services: [
        { serviceName: 'orders', bundleDirectory: 'services/orders/dist', wave: 1, preTrafficHook: TrafficHook.smokeTest({ testEvent: { rawPath: '/orders' } }) },
        { serviceName: 'users', bundleDirectory: 'services/users/dist', wave: 2 },
      ],
      environments: [
        { name: 'dev', ...PLACEMENT.dev, deploymentConfig: LambdaDeploymentConfig.ALL_AT_ONCE },
        { name: 'staging', ...PLACEMENT.staging, deploymentConfig: LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_1MINUTE, bakeTime: Duration.minutes(STAGING_BAKE_MINUTES) },
        { name: 'prod', ...PLACEMENT.prod, approval: {}, deploymentConfig: LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES },
        { name: 'prod-eu', ...PLACEMENT['prod-eu'], deploymentConfig: LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES },
      ],
    });
    for (const environment of pipeline.targetEnvironments) {
      const stack = new Stack(app, `ShopTarget-${environment}`, { env: PLACEMENT[environment as Environment] });
      new BlueGreenLambdaTarget(stack, 'Target', { pipeline, environment });
    }
  }, 'accounts-17');
}

/** A round of a stage is ten minutes of the handlers' clock (the fake CodeDeploy's step). */
const WORLD: WorldOptions = { roundMs: 10 * 60_000 };

const key = (environment: Environment, service: Service) => `${environment}/${service}`;
const functionOf = (environment: Environment, service: Service) => `shop--${service}-${environment}`;
const alarmOf = (environment: Environment, service: Service) => `shop--${service}-error-rate-${environment}`;
const deployerRoleOf = (environment: Environment) => `arn:aws:iam::${PLACEMENT[environment].account}:role/shop-pipeline-release-deployer-${environment}`;

const serviceSource = (service: string, name: string) =>
  `exports.handler = async (event) => ({ statusCode: 200, body: JSON.stringify({ service: ${JSON.stringify(service)}, release: ${JSON.stringify(name)}, path: event && event.rawPath }) });\n`;

/** What the Build stage writes once per execution: every service's dist/. */
function shopBuild(name: string): Record<string, string> {
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
  const artifact = await w.artifact(shopBuild(name), { deflate: true, directoryEntries: true });
  return w.execute(artifact, {
    maxRounds: 60,
    ...options,
    between: async (round) => {
      await clientTraffic(w, round.stageName, round.running);
      await options.between?.(round);
    },
  });
}

function actionNamed(execution: ExecutionRun, stageName: string, actionName: string): ActionRun | undefined {
  return [...execution.stages].reverse().filter((s) => s.stageName === stageName)
    .map((s) => s.actions.find((a) => a.actionName === actionName)).find((a) => a !== undefined);
}

const stageSummary = (execution: ExecutionRun) => execution.stages.map((s) => [s.stageName, s.status, s.runOrdersStarted]);

const FULL_PROMOTION = [
  ['Deploy-Blue-dev', 'Succeeded', [1]], ['Switch-Traffic-dev', 'Succeeded', [1, 2]],
  ['Deploy-Blue-staging', 'Succeeded', [1]], ['Switch-Traffic-staging', 'Succeeded', [1, 2, 3]],
  ['Approve-prod', 'Succeeded', [1]],
  ['Deploy-Blue-prod', 'Succeeded', [1]], ['Switch-Traffic-prod', 'Succeeded', [1, 2]],
  ['Deploy-Blue-prod-eu', 'Succeeded', [1]], ['Switch-Traffic-prod-eu', 'Succeeded', [1, 2]],
];

function lambdaJobs(execution: ExecutionRun): string[] {
  return execution.stages.flatMap((s) => s.actions.filter((a) => !a.actionName.startsWith('Approve')).flatMap((a) => a.jobs));
}

/** The role each tooling handler runs as (its function's execution role), by handler. */
function handlerRoles(w: World): Record<'deployBlue' | 'switchTraffic' | 'bake', string> {
  const of = (name?: string) => w.executionRoles.get(name ?? '')?.roleArn ?? '?';
  return { deployBlue: of(w.names.deployBlue), switchTraffic: of(w.names.switchTraffic), bake: of(w.names.bake) };
}

/** The environment whose resources a name belongs to (functions, groups, alarms, hooks, buckets carry it). */
function environmentNamed(name: string): Environment | undefined {
  const bucket = /^bundles-[0-9a-f]+-(\d{12})-([a-z0-9-]+)$/.exec(name);
  if (bucket) return ENVIRONMENTS.find((e) => PLACEMENT[e].account === bucket[1] && PLACEMENT[e].region === bucket[2]);
  return [...ENVIRONMENTS].sort((a, b) => b.length - a.length).find((e) => name.endsWith(`-${e}`));
}

/**
 * Every call that reached a target (Lambda, CodeDeploy, CloudWatch, S3 on its resources) came in
 * that target's account and region, and with the deployer role's session of that environment,
 * assumed by a tooling handler's role with the pipeline's ARN as external id; or, for the target's
 * own smoke test (invoked by CodeDeploy there), with its execution role in that account. No call
 * with the handlers' own (tooling) credentials reached a target's resource, and every deployer
 * session acted only in its own account and region.
 * @returns how many target calls were checked, by environment
 */
function expectTargetCallsThroughDeployer(w: World): Record<string, number> {
  const roles = handlerRoles(w);
  const problems: string[] = [];
  const checked: Record<string, number> = {};
  /** The environment whose deployer session signed a call, if one did. */
  const sessionOf = (accessKeyId: string) => ENVIRONMENTS.find((e) => w.identities.issued(accessKeyId)?.roleArn === deployerRoleOf(e));
  const check = (what: string, environment: Environment, caller: { accessKeyId: string; account: string; region: string }, smokeTestMay = false) => {
    checked[environment] = (checked[environment] ?? 0) + 1;
    const issued = w.identities.issued(caller.accessKeyId);
    const where = PLACEMENT[environment];
    if (caller.account !== where.account || caller.region !== where.region) {
      problems.push(`${what} of ${environment} in ${caller.account}/${caller.region}, not ${where.account}/${where.region}`);
    }
    const smokeTest = smokeTestMay && issued?.assumedBy === 'lambda' && issued.account === where.account && issued.sessionName === `shop-smoke-test-${environment}`;
    if (smokeTest) return;
    if (!issued || issued.roleArn !== deployerRoleOf(environment)) {
      problems.push(`${what} of ${environment} with ${issued ? `the credentials of ${issued.roleArn}` : `credentials no STS issued (${caller.accessKeyId})`}, not its deployer role's`);
    } else if (issued.externalId !== PIPELINE_ARN || ![roles.deployBlue, roles.switchTraffic, roles.bake].includes(issued.assumedBy)) {
      problems.push(`${what} of ${environment} with a deployer session assumed by ${issued.assumedBy} with external id ${issued.externalId}`);
    }
  };
  for (const c of w.proxy.calls) {
    // Clients' invocations (the test's, with moto's test key) are not the pipeline's.
    if (c.operation === 'Invoke' && c.accessKeyId === 'test') continue;
    const environment = environmentNamed(c.functionName);
    if (environment) check(`Lambda ${c.operation} ${c.functionName}`, environment, c, c.operation === 'Invoke');
    else problems.push(`Lambda ${c.operation} of ${c.functionName}, which no target holds`);
  }
  for (const c of w.codeDeploy.calls) {
    const group = c.input?.deploymentGroupName ?? w.codeDeploy.deployments.get(c.input?.deploymentId)?.deploymentGroupName;
    const environment = (group && environmentNamed(group)) || sessionOf(c.caller.accessKeyId)
      || ENVIRONMENTS.find((e) => w.identities.issued(c.caller.accessKeyId)?.sessionName === `shop-smoke-test-${e}`);
    // The target's smoke test (CodeDeploy invokes it there) reads its deployment and reports its hook with its own role.
    if (environment) check(`CodeDeploy ${c.operation}`, environment, c.caller, true);
    else problems.push(`CodeDeploy ${c.operation} with the credentials of ${w.identities.issued(c.caller.accessKeyId)?.roleArn ?? c.caller.accessKeyId}`);
  }
  for (const c of w.gateway!.calls) {
    if (c.service === 's3') {
      // The artifact bucket is the tooling account's: the handlers read it with their own credentials.
      const bucket = decodeURIComponent(c.path.split('?')[0].split('/')[1] ?? '');
      const environment = environmentNamed(bucket);
      if (environment) check(`S3 ${c.method} ${bucket}`, environment, c.caller);
      else if (bucket !== w.names.bucket) problems.push(`S3 ${c.method} of ${bucket}`);
    }
    if (c.service === 'monitoring') {
      // CloudWatch is only the targets' (the bake's alarms and invocations): a deployer session's, naming only its environment's resources.
      const environment = sessionOf(c.caller.accessKeyId);
      if (!environment) {
        problems.push(`CloudWatch ${c.operation} with the credentials of ${w.identities.issued(c.caller.accessKeyId)?.roleArn ?? c.caller.accessKeyId}`);
        continue;
      }
      check(`CloudWatch ${c.operation}`, environment, c.caller);
      const others = (c.body ?? '').split(`-${environment}`).join('');
      const foreign = ENVIRONMENTS.filter((e) => e !== environment && SERVICES.some((svc) => others.includes(`shop--${svc}-${e}`) || others.includes(`shop--${svc}-error-rate-${e}`)));
      if (foreign.length > 0) problems.push(`CloudWatch ${c.operation} in ${environment}'s session names ${foreign.join(', ')}`);
    }
  }
  // The gateway answered every request (an error of its own is a 500).
  for (const c of w.gateway!.calls.filter((x) => x.status >= 500)) problems.push(`gateway answered ${c.status} to ${c.service} ${c.operation ?? c.method} ${c.path}`);
  // Every deployer session acted only where its role is.
  const deployerCalls = [
    ...w.proxy.calls.map((c) => ({ what: `Lambda ${c.operation}`, ...c })),
    ...w.codeDeploy.calls.map((c) => ({ what: `CodeDeploy ${c.operation}`, ...c.caller })),
    ...w.gateway!.calls.filter((c) => c.service !== 'sts').map((c) => ({ what: `${c.service} ${c.operation ?? c.method}`, ...c.caller })),
  ];
  for (const c of deployerCalls) {
    const environment = sessionOf(c.accessKeyId);
    if (environment && (c.account !== PLACEMENT[environment].account || c.region !== PLACEMENT[environment].region)) {
      problems.push(`${c.what} with ${environment}'s deployer session in ${c.account}/${c.region}`);
    }
  }
  // The deployer roles were assumed only by the tooling handlers' roles, with the pipeline's ARN as external id, per execution.
  for (const a of w.gateway!.assumeRoleCalls.filter((x) => x.allowed)) {
    if (a.externalId !== PIPELINE_ARN) problems.push(`AssumeRole of ${a.roleArn} with external id ${a.externalId}`);
    if (![roles.deployBlue, roles.switchTraffic, roles.bake].includes(a.caller.issued?.roleArn ?? '')) problems.push(`AssumeRole of ${a.roleArn} by ${a.caller.issued?.roleArn ?? a.caller.accessKeyId}`);
    if (!/^(deploy-blue|switch-traffic|bake)-exec-/.test(a.roleSessionName)) problems.push(`AssumeRole of ${a.roleArn} with session name ${a.roleSessionName}`);
  }
  expect(problems).toEqual([]);
  return checked;
}

/** IAM's query API on moto, in an account (what someone with access to that account does). */
async function motoIam(w: World, account: string, parameters: Record<string, string>) {
  const response = await motoRequest(w.motoUrl, 'iam', 'POST', '/', new URLSearchParams({ Version: '2010-05-08', ...parameters }).toString(),
    { 'content-type': 'application/x-www-form-urlencoded' }, { account, region: 'us-east-1' });
  if (response.status !== 200) throw new Error(`IAM ${parameters.Action} answered ${response.status}: ${response.body}`);
}

/** The version numbers Lambda publishes per function, in its own account: a version published outside the pipeline shifts one of them. */
async function publishOutsideThePipeline(w: World, environment: Environment, service: Service) {
  const { functionName, placement } = w.serviceNamed(key(environment, service));
  const lambda = w.lambdaIn(placement);
  await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: functionName, Description: 'a hotfix of the bootstrap, published by hand' }));
  return (await lambda.send(new PublishVersionCommand({ FunctionName: functionName, Description: 'published by hand' }))).Version;
}

/** The history fields these scenarios compare. */
function summary(item: Record<string, any> | undefined) {
  if (!item) return undefined;
  const { deploymentId, environment, service, state, currentVersion, targetVersion, deploymentConfig, account, region } = item;
  return { deploymentId, environment, service, state, currentVersion, targetVersion, deploymentConfig, account, region };
}

/** A target's bundle bucket: its name and placement, from its stack. */
function bundleBucketOf(w: World, environment: Environment) {
  const stack = w.model.targets.find((t) => w.environmentOf(t) === environment)!;
  const name = Object.values(stack.resources).find((r) => r.Type === 'AWS::S3::Bucket')!.Properties.BucketName as string;
  return { name, placement: PLACEMENT[environment] };
}

/**
 * A release that went live in every target: each function's own version numbers, the same code
 * hash everywhere (history, published versions, the bundles in each target's bucket), history
 * items and notifications central with account and region.
 */
type VersionsOf = (environment: Environment, service: Service) => { current: string; target: string };

async function expectPromoted(w: World, execution: ExecutionRun, versions: VersionsOf) {
  expect({ status: execution.status, stages: stageSummary(execution) }).toEqual({ status: 'Succeeded', stages: FULL_PROMOTION });
  const { executionId } = execution;
  const hashes: Record<string, string[]> = {};
  for (const environment of ENVIRONMENTS) {
    for (const service of SERVICES) {
      const { current, target } = versions(environment, service);
      const item = await w.history(executionId, key(environment, service));
      expect({ environment, service, item: summary(item) }).toEqual({
        environment,
        service,
        item: {
          deploymentId: `${executionId}/${environment}/${service}`,
          environment,
          service,
          state: 'SUCCEEDED',
          currentVersion: current,
          targetVersion: target,
          deploymentConfig: configFor(environment, current),
          ...PLACEMENT[environment],
        },
      });
      if (environment === 'staging') expect(item!.bakeState).toBe('PASSED');
      // The version Lambda published in the target's account holds the code the history records.
      const code = await w.code(key(environment, service), target);
      (hashes[service] ??= []).push(item!.codeSha256, code.codeSha256);
      await expectAlias(w, target, key(environment, service));
      // Deploy-Blue wrote the bundle into the target's own bucket, in its region: the one UpdateFunctionCode read.
      const bucket = bundleBucketOf(w, environment);
      const bundle = await w.s3Object(`bundles/${executionId}/${environment}/${service}.zip`, bucket);
      expect({ environment, service, bundle: bundle && codeSha256(bundle) }).toEqual({ environment, service, bundle: code.codeSha256 });
      expect(item!.codeLocation).toContain(`s3://${bucket.name}/bundles/${executionId}/${environment}/${service}.zip`);
      // Notifications are central: the pipeline's topic, each saying where.
      const notes = (await w.notifications()).filter((n) => n.body?.deploymentId === `${executionId}/${environment}/${service}`);
      expect({ environment, service, events: notes.map((n) => n.event), where: [...new Set(notes.map((n) => `${n.attributes.account?.Value}/${n.attributes.region?.Value}`))] })
        .toEqual({ environment, service, events: ['STAGED', 'STARTED', 'SUCCEEDED', ...(environment === 'staging' ? ['BAKE_PASSED'] : [])], where: [placementKey(PLACEMENT[environment])] });
    }
    // Metrics: one Deployments document per service, with the account and region as properties.
    const documents = expectDeploymentMetrics(w, executionId, { orders: 'Succeeded', users: 'Succeeded' }, environment);
    for (const m of Object.values(documents)) {
      expect({ environment, account: m.record.document?.Account, region: m.record.document?.Region })
        .toEqual({ environment, ...PLACEMENT[environment] });
    }
  }
  for (const service of SERVICES) {
    expect({ service, hashes: new Set(hashes[service]).size }).toEqual({ service, hashes: 1 });
  }
  expect(hashes.orders[0]).not.toBe(hashes.users[0]);
  // The tooling account's artifact bucket keeps the build artifact only: no bundle of a target's service.
  expect(await w.s3Keys('bundles/')).toEqual([]);
  // Every history item of the execution is in the tooling account's table.
  expect((await w.historyByExecution(executionId)).map((i) => `${i.environment}/${i.service} ${i.account}/${i.region}`).sort())
    .toEqual(ENVIRONMENTS.flatMap((e) => SERVICES.map((s) => `${e}/${s} ${placementKey(PLACEMENT[e])}`)).sort());
  expectOneResultPerJob(w, lambdaJobs(execution));
}

export function registerAccountScenarios({ scenario, worldOf }: ScenarioKit) {
  scenario('17a. four accounts, two regions: one build promoted dev -> staging -> prod -> prod-eu, each target through its deployer role; '
    + 'own version numbers per account, one code hash everywhere, history and notifications central; the second release delivered twice at once', async () => {
    const w = await worldOf!('a17a', accountsModel(), WORLD);
    // What the app holds: the pipeline in the tooling account, each environment's services in its target's stack.
    expect({ account: w.account, region: w.region }).toEqual(TOOLING);
    expect(w.model.targets.map((t) => [w.environmentOf(t), t.account, t.region]).sort())
      .toEqual(ENVIRONMENTS.map((e) => [e, PLACEMENT[e].account, PLACEMENT[e].region]).sort());
    expect([...w.services.values()].map((s) => `${s.key} ${placementKey(s.placement)}`))
      .toEqual(ENVIRONMENTS.flatMap((e) => SERVICES.map((s) => `${e}/${s} ${placementKey(PLACEMENT[e])}`)));
    // A function exists only in its own account and region.
    await expect(w.lambdaIn(PLACEMENT.prod).send(new GetFunctionCommand({ FunctionName: functionOf('prod-eu', 'orders') }))).rejects.toThrow(/not found/i);
    await expect(w.lambda.send(new GetFunctionCommand({ FunctionName: functionOf('dev', 'orders') }))).rejects.toThrow(/not found/i);
    // Someone published a version of orders in prod-eu by hand: Lambda numbers versions per function, in its own account and region.
    expect(await publishOutsideThePipeline(w, 'prod-eu', 'orders')).toBe('2');

    const first = await release(w, 'A', { executionId: 'exec-17a-A' });
    const handPublished = (environment: Environment, service: Service) => (environment === 'prod-eu' && service === 'orders' ? 1 : 0);
    await expectPromoted(w, first, (e, s) => ({ current: '1', target: String(2 + handPublished(e, s)) }));

    // The second release, every first job delivered twice at once: it acts once in every target.
    const before = Object.fromEntries(w.model.services.map((s) => [s.functionName, counts(w, s.functionName)]));
    const second = await release(w, 'B', { executionId: 'exec-17a-B', deliver: ({ poll }) => (poll === 0 ? 'concurrent' : undefined) });
    await expectPromoted(w, second, (e, s) => ({ current: String(2 + handPublished(e, s)), target: String(3 + handPublished(e, s)) }));
    for (const environment of ENVIRONMENTS) {
      for (const service of SERVICES) {
        const fn = functionOf(environment, service);
        expect({ fn, changes: delta(before[fn], counts(w, fn)) })
          .toEqual({ fn, changes: { updateFunctionCode: 1, publishVersion: 1, createDeployment: 1 } });
        // Each environment's CodeDeploy deployment ran in its own account and region, with its own configuration.
        const item = await w.history(second.executionId, key(environment, service));
        const deployment = w.codeDeploy.deployments.get(item!.codeDeployDeploymentId)!;
        expect({ fn, placement: deployment.placement, config: deployment.deploymentConfigName, application: deployment.applicationName })
          .toEqual({ fn, placement: PLACEMENT[environment], config: CONFIG[environment], application: 'shop-release' });
      }
    }
    // Each first job really went out twice at once, to two execution environments of its handler.
    const lambdaActions = second.stages.flatMap((st) => st.actions.filter((a) => !a.actionName.startsWith('Approve')));
    const doubled = lambdaActions.filter((a) => new Set(a.invocations.filter((i) => (i.event as any)['CodePipeline.job'].id === a.jobs[0]).map((i) => i.environment)).size === 2);
    expect({ doubled: doubled.length }).toEqual({ doubled: lambdaActions.length });
    expect(lambdaActions.length).toBe(ENVIRONMENTS.length * SERVICES.length * 2 + SERVICES.length);
    // The smoke test ran in each target's account on the new orders version, by CodeDeploy there.
    expect(w.proxy.invocations.filter((i) => i.functionName.startsWith('shop--orders-') && i.qualifier !== 'live')
      .map((i) => `${i.functionName} ${i.account}/${i.region}`).sort())
      .toEqual(ENVIRONMENTS.flatMap((e) => [1, 2].map(() => `${functionOf(e, 'orders')} ${placementKey(PLACEMENT[e])}`)).sort());

    // Every target-side call came through the target's deployer role, assumed with the pipeline's ARN.
    const checked = expectTargetCallsThroughDeployer(w);
    expect(Object.keys(checked).sort()).toEqual([...ENVIRONMENTS].sort());
    const assumed = w.gateway!.assumeRoleCalls;
    expect(assumed.filter((a) => !a.allowed)).toEqual([]);
    expect([...new Set(assumed.map((a) => a.roleArn))].sort()).toEqual(ENVIRONMENTS.map(deployerRoleOf).sort());
    expectNoHandlerThrew(w);
  }, 300_000);

  scenario('17b. an alarm during staging\'s bake rolls staging back in its account (333333333333); prod and prod-eu (444444444444) untouched; the gate refuses promoting that build', async () => {
    const w = await worldOf!('a17b', accountsModel(), WORLD);
    // A goes live in dev and staging; prod's approval is rejected (prod and prod-eu stay on their bootstrap versions).
    const first = await release(w, 'A', { executionId: 'exec-17b-A', approve: () => ({ status: 'Rejected', summary: 'not this week' }) });
    expect(stageSummary(first)).toEqual([...FULL_PROMOTION.slice(0, 4), ['Approve-prod', 'Failed', [1]]]);
    const prodCounts = () => Object.fromEntries((['prod', 'prod-eu'] as const).flatMap((e) => SERVICES.map((svc) => [functionOf(e, svc), counts(w, functionOf(e, svc))])));
    const prodBefore = prodCounts();
    const mark = {
      proxy: w.proxy.calls.length,
      codeDeploy: w.codeDeploy.calls.length,
      gateway: w.gateway!.calls.length,
      assumed: w.gateway!.assumeRoleCalls.length,
    };

    // Release B: in staging's bake, orders' error-rate alarm goes off in staging's account; bake jobs are delivered twice at once from then on.
    let alarmed = false;
    const b = await release(w, 'B', {
      executionId: 'exec-17b-B',
      between: async ({ stageName, running }) => {
        if (stageName === 'Switch-Traffic-staging' && !alarmed && running.some((r) => r.actionName.startsWith('Bake'))) {
          await w.cloudWatchIn(PLACEMENT.staging).send(new SetAlarmStateCommand({
            AlarmName: alarmOf('staging', 'orders'), StateValue: 'ALARM', StateReason: 'Threshold Crossed: 2 datapoints were greater than the threshold (5.0)',
          }));
          alarmed = true;
        }
      },
      deliver: ({ actionName, poll }) => (poll === 0 || (alarmed && actionName.startsWith('Bake')) ? 'concurrent' : undefined),
    });
    expect(alarmed).toBe(true);
    expect({ status: b.status, stages: stageSummary(b) }).toEqual({ status: 'Failed', stages: [...FULL_PROMOTION.slice(0, 3), ['Switch-Traffic-staging', 'Failed', [1, 2, 3]]] });
    const ordersBake = failed(actionNamed(b, 'Switch-Traffic-staging', 'Bake-orders')?.final, 'staging orders bake');
    expect(ordersBake).toContain('Bake of orders in staging rolled back');
    expect(ordersBake).toContain(`alarm ${alarmOf('staging', 'orders')} in ALARM`);
    expect(ordersBake).toContain('traffic is back on version 2');
    expect(failed(actionNamed(b, 'Switch-Traffic-staging', 'Bake-users')?.final, 'staging users bake')).toContain('the environment rolls back: orders alarmed');

    for (const service of SERVICES) {
      // Staging: back on A's version, through one CodeDeploy deployment the Bake handler created in staging's account and region.
      const item = await w.history(b.executionId, key('staging', service));
      expect({ service, item: summary(item), bakeState: item?.bakeState }).toEqual({
        service,
        item: {
          deploymentId: `${b.executionId}/staging/${service}`,
          environment: 'staging',
          service,
          state: 'ROLLED_BACK',
          currentVersion: '2',
          targetVersion: '3',
          deploymentConfig: CONFIG.staging,
          ...PLACEMENT.staging,
        },
        bakeState: 'ROLLED_BACK',
      });
      await expectAlias(w, '2', key('staging', service));
      const rollback = w.codeDeploy.deployments.get(item!.rollbackDeploymentId)!;
      const { placement, creator, status, spec } = rollback;
      expect({ service, placement, creator, status, to: spec.targetVersion, fn: spec.functionName })
        .toEqual({ service, placement: PLACEMENT.staging, creator: 'user', status: 'Succeeded', to: '2', fn: functionOf('staging', service) });
      const create = w.codeDeploy.calledOperations('CreateDeployment').find((c) => c.output?.deploymentId === rollback.id)!;
      expect(w.identities.issued(create.caller.accessKeyId)).toMatchObject({ roleArn: deployerRoleOf('staging'), externalId: PIPELINE_ARN, assumedBy: handlerRoles(w).bake });
      expect({ service, events: await w.events(b.executionId, key('staging', service)) })
        .toEqual({ service, events: ['STAGED', 'STARTED', 'SUCCEEDED', 'BAKE_ROLLING_BACK', 'ROLLED_BACK'] });
      const rolledBack = (await w.notificationsOf(b.executionId, service)).find((n) => n.event === 'ROLLED_BACK' && n.body?.environment === 'staging');
      expect({ account: rolledBack?.attributes.account?.Value, region: rolledBack?.attributes.region?.Value }).toEqual(PLACEMENT.staging);
      // Prod and prod-eu never started: no item, no notification, and still on their bootstrap versions.
      for (const environment of ['prod', 'prod-eu'] as const) {
        expect(await w.history(b.executionId, key(environment, service))).toBeUndefined();
        expect(await w.events(b.executionId, key(environment, service))).toEqual([]);
        await expectAlias(w, '1', key(environment, service));
      }
    }
    // Nothing at all happened in account 444444444444 during B: no Lambda, CodeDeploy, S3 or CloudWatch call, no deployer session.
    const inProd = (account: string) => account === PLACEMENT.prod.account;
    expect({
      lambda: w.proxy.calls.slice(mark.proxy).filter((c) => inProd(c.account)).map((c) => `${c.operation} ${c.functionName}`),
      codeDeploy: w.codeDeploy.calls.slice(mark.codeDeploy).filter((c) => inProd(c.caller.account)).map((c) => c.operation),
      moto: w.gateway!.calls.slice(mark.gateway).filter((c) => inProd(c.caller.account)).map((c) => `${c.service} ${c.operation ?? c.method}`),
      assumed: w.gateway!.assumeRoleCalls.slice(mark.assumed).filter((a) => a.roleArn.includes(PLACEMENT.prod.account)).map((a) => a.roleArn),
      deployments: [...w.codeDeploy.deployments.values()].filter((d) => inProd(d.placement.account)).map((d) => d.id),
    }).toEqual({ lambda: [], codeDeploy: [], moto: [], assumed: [], deployments: [] });
    expect(prodCounts()).toEqual(prodBefore);
    expect(deploymentMetrics(w.metrics(), b.executionId).filter((m) => m.record.document?.Environment === 'staging').map((m) => `${m.service} ${m.outcome} ${m.record.document?.Account}`).sort())
      .toEqual(['orders RolledBack', 'orders Succeeded', 'users RolledBack', 'users Succeeded'].map((x) => `${x} ${PLACEMENT.staging.account}`).sort());
    expectOneResultPerJob(w, lambdaJobs(b));

    // Someone runs B's prod and prod-eu stages anyway: the gate (central history) refuses, nothing changes in account 444444444444.
    await w.cloudWatchIn(PLACEMENT.staging).send(new SetAlarmStateCommand({ AlarmName: alarmOf('staging', 'orders'), StateValue: 'OK', StateReason: 'recovered' }));
    for (const environment of ['prod', 'prod-eu'] as const) {
      const retry = await w.runStages(b, w.stagesFrom(`Deploy-Blue-${environment}`).slice(0, 1), { deliver: () => 'concurrent' });
      expect(retry.status).toBe('Failed');
      for (const service of SERVICES) {
        const message = failed(actionRun(retry, `Deploy-Blue-${environment}`, key(environment, service))?.final, `${environment} Deploy-Blue of ${service}`);
        expect(message).toContain('Deploy-Blue refused: this build did not pass staging');
        expect(message).toContain('orders rolled back during its bake');
        expect(message).toContain(alarmOf('staging', 'orders'));
        expect(message).toContain(`it will not be promoted to ${environment}`);
        const item = await w.history(b.executionId, key(environment, service));
        expect({ environment, service, state: item?.state, account: item?.account, region: item?.region })
          .toEqual({ environment, service, state: 'FAILED', ...PLACEMENT[environment] });
        expect(await w.versions(key(environment, service))).toEqual(['1']);
        await expectAlias(w, '1', key(environment, service));
        expect(await w.s3Keys(`bundles/${b.executionId}/`, bundleBucketOf(w, environment))).toEqual([]);
      }
    }
    expect(prodCounts()).toEqual(prodBefore);
    expect([...w.codeDeploy.deployments.values()].filter((d) => inProd(d.placement.account))).toEqual([]);
    // The gate answers from the central history: no job entered account 444444444444 (no AssumeRole of prod's or prod-eu's deployer role).
    expect(w.gateway!.assumeRoleCalls.filter((a) => a.roleArn.includes(`::${PLACEMENT.prod.account}:`)).map((a) => a.roleArn)).toEqual([]);
    expectTargetCallsThroughDeployer(w);
    expectNoHandlerThrew(w);
  }, 300_000);

  scenario('17c. AssumeRole refused (a deployer role trusting another pipeline\'s external id in dev, then staging before its shift; prod-eu\'s role missing): '
    + 'the job fails naming the role, environment, account and region; nothing deployed or shifted there', async () => {
    // dev's target was deployed for another pipeline (its role requires that pipeline's ARN as external id); prod-eu's target stack is not deployed yet.
    const otherPipeline = `arn:aws:codepipeline:${TOOLING.region}:${TOOLING.account}:shop-pipeline-old`;
    const templateTrust: Record<string, any> = {};
    const w = await worldOf!('a17c', accountsModel(), {
      ...WORLD,
      deployerRole: (environment, trust) => {
        templateTrust[environment] = trust;
        if (environment === 'prod-eu') return undefined;
        return environment === 'dev' ? JSON.parse(JSON.stringify(trust).split(PIPELINE_ARN).join(otherPipeline)) : trust;
      },
    });
    expect(JSON.stringify(templateTrust.dev)).toContain(`"sts:ExternalId":"${PIPELINE_ARN}"`);

    // Every first job delivered twice at once: both deliveries are refused by STS, the job gets one result.
    const execution = await release(w, 'A', { executionId: 'exec-17c-A', deliver: ({ poll }) => (poll === 0 ? 'concurrent' : undefined) });
    expect({ status: execution.status, stages: stageSummary(execution) }).toEqual({ status: 'Failed', stages: [['Deploy-Blue-dev', 'Failed', [1]]] });
    const refused = (environment: Environment, service: Service, run: ExecutionRun) => {
      const message = failed(actionRun(run, `Deploy-Blue-${environment}`, key(environment, service))?.final, `${environment} Deploy-Blue of ${service}`);
      expect(message).toContain(deployerRoleOf(environment));
      expect(message).toContain(environment);
      expect(message).toContain(PLACEMENT[environment].account);
      expect(message).toContain(PLACEMENT[environment].region);
      expect(message).toContain('AccessDenied');
      return message;
    };
    const nothingDeployedIn = async (environment: Environment, run: ExecutionRun) => {
      for (const service of SERVICES) {
        refused(environment, service, run);
        const item = await w.history(run.executionId, key(environment, service));
        expect({ environment, service, state: item?.state, targetVersion: item?.targetVersion, account: item?.account, region: item?.region })
          .toEqual({ environment, service, state: 'FAILED', targetVersion: undefined, ...PLACEMENT[environment] });
        expect(item?.failureReason).toContain(deployerRoleOf(environment));
        expect(counts(w, functionOf(environment, service))).toEqual({ updateFunctionCode: 0, publishVersion: 0, createDeployment: 0 });
        expect(await w.versions(key(environment, service))).toEqual(['1']);
        await expectAlias(w, '1', key(environment, service));
        expect(await w.events(run.executionId, key(environment, service))).toEqual(['FAILED']);
      }
      expect(await w.s3Keys('bundles/', bundleBucketOf(w, environment))).toEqual([]);
      // Not one call reached the target: STS refused every attempt, and the refusal is what the gateway saw.
      const where = PLACEMENT[environment];
      expect(w.proxy.calls.filter((c) => c.account === where.account && c.region === where.region && c.operation !== 'Invoke')).toEqual([]);
      const attempts = w.gateway!.assumeRoleCalls.filter((a) => a.roleArn === deployerRoleOf(environment));
      expect(attempts.length).toBeGreaterThan(0);
      expect(attempts.filter((a) => a.allowed)).toEqual([]);
      expect([...new Set(attempts.map((a) => a.externalId))]).toEqual([PIPELINE_ARN]);
      return attempts;
    };
    const devAttempts = await nothingDeployedIn('dev', execution);
    expect(devAttempts.every((a) => a.refusal?.includes('ImplicitlyDenied'))).toBe(true);
    expectOneResultPerJob(w, lambdaJobs(execution));

    // dev's target is updated for this pipeline; dev deploys and staging publishes. Then staging's role is switched to the other
    // pipeline's external id before its shift: Switch-Traffic's AssumeRole is refused in turn, and nothing shifts there.
    const setTrust = (environment: Environment, trust: unknown) => motoIam(w, PLACEMENT[environment].account, {
      Action: 'UpdateAssumeRolePolicy', RoleName: deployerRoleOf(environment).split('/').pop()!, PolicyDocument: JSON.stringify(trust),
    });
    await setTrust('dev', templateTrust.dev);
    await w.runStages(execution, w.stagesFrom('Deploy-Blue-dev').slice(0, 3), { maxRounds: 60 });
    expect({ status: execution.status, stages: stageSummary(execution).slice(1) }).toEqual({ status: 'Succeeded', stages: FULL_PROMOTION.slice(0, 3) });
    await setTrust('staging', JSON.parse(JSON.stringify(templateTrust.staging).split(PIPELINE_ARN).join(otherPipeline)));
    const createsBefore = w.codeDeploy.calledOperations('CreateDeployment').length;
    await w.runStages(execution, w.stagesFrom('Switch-Traffic-staging').slice(0, 1), { deliver: ({ poll }) => (poll === 0 ? 'concurrent' : undefined) });
    expect({ status: execution.status, last: stageSummary(execution).pop() }).toEqual({ status: 'Failed', last: ['Switch-Traffic-staging', 'Failed', [1]] });
    const shiftRefusal = failed(actionNamed(execution, 'Switch-Traffic-staging', 'Shift-orders')?.final, 'staging Shift-orders');
    for (const part of [deployerRoleOf('staging'), 'staging', PLACEMENT.staging.account, PLACEMENT.staging.region, 'AccessDenied']) expect(shiftRefusal).toContain(part);
    expect(w.codeDeploy.calledOperations('CreateDeployment').length).toBe(createsBefore);
    const stagingOrders = await w.history(execution.executionId, key('staging', 'orders'));
    expect({ state: stagingOrders?.state, targetVersion: stagingOrders?.targetVersion }).toEqual({ state: 'FAILED', targetVersion: '2' });
    expect(stagingOrders?.failureReason).toContain(deployerRoleOf('staging'));
    await expectAlias(w, '1', key('staging', 'orders'));
    expect(w.gateway!.assumeRoleCalls.filter((a) => a.roleArn === deployerRoleOf('staging') && !a.allowed).map((a) => a.caller.issued?.roleArn))
      .toEqual(expect.arrayContaining([handlerRoles(w).switchTraffic]));

    // Staging's trust restored, the failed actions are retried: A goes through staging and prod, and stops at prod-eu, whose role does not exist.
    await setTrust('staging', templateTrust.staging);
    await w.retryFailedActions(execution, 'Switch-Traffic-staging', { maxRounds: 60 });
    expect({ status: execution.status, stages: stageSummary(execution).slice(5) })
      .toEqual({ status: 'Failed', stages: [...FULL_PROMOTION.slice(3, 7), ['Deploy-Blue-prod-eu', 'Failed', [1]]] });
    for (const environment of ['dev', 'staging', 'prod'] as const) {
      for (const service of SERVICES) {
        expect({ environment, service, state: (await w.history(execution.executionId, key(environment, service)))?.state }).toEqual({ environment, service, state: 'SUCCEEDED' });
        await expectAlias(w, '2', key(environment, service));
      }
    }
    const euAttempts = await nothingDeployedIn('prod-eu', execution);
    expect(euAttempts.every((a) => a.refusal === `role ${deployerRoleOf('prod-eu').split('/').pop()} does not exist in account ${PLACEMENT['prod-eu'].account}`)).toBe(true);
    expectTargetCallsThroughDeployer(w);
    expectNoHandlerThrew(w);
  }, 300_000);
}
