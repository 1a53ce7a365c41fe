/**
 * Issue #14 items 5 and 7 against local AWS: an unchanged service (of a monorepo, or a single
 * service whose whole build output is the bundle) is recognised by its code hash and SKIPPED
 * without a publish or a deployment; version retention never deletes the version the stack's
 * AWS::Lambda::Version references.
 */
import { createHash } from 'crypto';
import { GetFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { counts, delta, expectAlias, expectDeploymentMetrics, expectNoHandlerThrew, expectOneResultPerJob, succeeded } from './expectations';
import type { ScenarioKit } from './services-scenarios';
import { actionRun, ExecutionRun, goodSource, World } from './world';
import { BlueGreenLambdaPipelineProps } from '../../src';

const SERVICES = ['orders', 'billing', 'users'] as const;

/** Three services of one repository, all in wave 1. */
const SHOP: Partial<BlueGreenLambdaPipelineProps> = {
  serviceName: 'shop',
  source: { owner: 'example-org', repo: 'shop', connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789' },
  services: SERVICES.map((service) => ({ serviceName: service, bundleDirectory: `services/${service}/dist` })),
};

/** The monorepo's build output; `order` is the order the build wrote the files in. */
function build(releases: Record<string, string>, order: readonly string[]): Record<string, string> {
  const files: Record<string, string> = { 'package.json': '{"name":"shop","private":true}\n' };
  for (const service of order) {
    files[`services/${service}/dist/index.js`] = `exports.handler = async () => ({ statusCode: 200, body: ${JSON.stringify(`${service} ${releases[service]}`)} });\n`;
    files[`services/${service}/dist/lib/util.js`] = `module.exports = ${JSON.stringify(service)};\n`;
  }
  return files;
}

const jobsOf = (execution: ExecutionRun) => execution.stages.flatMap((s) => s.actions.flatMap((a) => a.jobs));

/** Plays one release of the single-service pipeline with its actions one by one, Switch-Traffic given `switchParameters`. */
async function releaseWith(w: World, executionId: string, source: string, switchParameters: (p: Record<string, string>) => Record<string, string>) {
  const artifact = await w.artifact(source);
  const deploy = await w.deployBlue({ executionId, artifact });
  succeeded(deploy.result, `${executionId} Deploy-Blue`);
  const shift = await w.switchTraffic({ executionId, targetVersion: deploy.result.outputVariables!.targetVersion, userParameters: switchParameters });
  succeeded(shift.final, `${executionId} Switch-Traffic`);
  return deploy.result.outputVariables!;
}

export function registerUnchangedScenarios({ scenario, worldFor }: ScenarioKit) {
  scenario('14a. monorepo rebuilt with one of three services changed: one deployment, two SKIPPED', async () => {
    const w = await worldFor('u14a', SHOP);
    const first = await w.execute(await w.artifact(build({ orders: 'A', billing: 'A', users: 'A' }, SERVICES),
      { deflate: true, modified: new Date('2026-11-23T08:00:00Z') }), { executionId: 'exec-14a-A' });
    expect(first.status).toBe('Succeeded');
    for (const service of SERVICES) await expectAlias(w, '2', service);

    // Rebuilt an hour later, files written in another order; only billing's code changed.
    const before = counts(w);
    const second = await w.execute(await w.artifact(build({ orders: 'A', billing: 'B', users: 'A' }, [...SERVICES].reverse()),
      { deflate: true, modified: new Date('2026-11-23T09:12:34Z') }), { executionId: 'exec-14a-B' });
    expect(second.status).toBe('Succeeded');
    expect(delta(before, counts(w))).toEqual({ updateFunctionCode: 1, publishVersion: 1, createDeployment: 1 });
    expect(counts(w, w.serviceNamed('billing').functionName)).toMatchObject({ updateFunctionCode: 2, publishVersion: 2, createDeployment: 2 });

    const outputs = Object.fromEntries(SERVICES.map((s) => [s, actionRun(second, 'Deploy-Blue', s)!.final!.outputVariables]));
    expect(outputs).toEqual({
      orders: { currentVersion: '2', targetVersion: '2' },
      billing: { currentVersion: '2', targetVersion: '3' },
      users: { currentVersion: '2', targetVersion: '2' },
    });
    const states = (await w.historyByExecution('exec-14a-B')).map((h) => [h.service, h.state, h.currentVersion, h.targetVersion]);
    expect(states).toEqual([['billing', 'SUCCEEDED', '2', '3'], ['orders', 'SKIPPED', '2', '2'], ['users', 'SKIPPED', '2', '2']]);
    for (const [service, version] of [['orders', '2'], ['billing', '3'], ['users', '2']] as const) await expectAlias(w, version, service);
    expect(await w.versions('orders')).toEqual(['1', '2']);
    // The staged bundle of an unchanged service is byte for byte the live version's code (Lambda's CodeSha256).
    const live = await w.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: w.serviceNamed('orders').functionName, Qualifier: '2' }));
    const staged = await w.s3Object('bundles/exec-14a-B/orders.zip');
    expect(createHash('sha256').update(staged!).digest('base64')).toBe(live.CodeSha256);
    const events: Record<string, string[]> = {};
    for (const service of SERVICES) events[service] = await w.events('exec-14a-B', service);
    expect(events).toEqual({ orders: ['SKIPPED'], billing: ['STAGED', 'STARTED', 'SUCCEEDED'], users: ['SKIPPED'] });
    expectDeploymentMetrics(w, 'exec-14a-B', { orders: 'Skipped', billing: 'Succeeded', users: 'Skipped' });
    expectOneResultPerJob(w, [...jobsOf(first), ...jobsOf(second)]);
    expectNoHandlerThrew(w);
  });

  scenario('14b. a user function with keepVersions 2 over four releases keeps its bootstrap version', async () => {
    const w = await worldFor('u14b', { keepVersions: 2 });
    // For a user's own function (serviceFunction) the construct passes bootstrapVersion "" today; the
    // stack's AWS::Lambda::Version (version 1, which the alias resource names) must survive anyway.
    const asForAUserFunction = (p: Record<string, string>) => ({ ...p, bootstrapVersion: '' });
    for (const [i, release] of ['A', 'B', 'C', 'D'].entries()) {
      expect(await releaseWith(w, `exec-14b-${release}`, goodSource(release), asForAUserFunction)).toEqual({ currentVersion: String(i + 1), targetVersion: String(i + 2) });
    }
    await expectAlias(w, '5');
    expect(await w.versions()).toEqual(['1', '4', '5']);
    // A stack update that touches the alias sets it to the template's version: that version still exists.
    const bootstrap = await w.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: w.service.functionName, Qualifier: '1' }));
    expect(bootstrap.Description).toBe('Bootstrap version');
    expectNoHandlerThrew(w);
  });

  scenario('14c. one service rebuilt unchanged at another time: SKIPPED, nothing published; changed code still ships', async () => {
    const w = await worldFor('u14c', {});
    const files = (release: string) => ({ 'index.js': goodSource(release), 'lib/util.js': 'module.exports = "orders";\n' });
    const monday = await w.artifact(files('A'), { deflate: true, modified: new Date('2026-11-23T08:00:00Z') });
    const first = await w.execute(monday, { executionId: 'exec-14c-A' });
    expect(first.status).toBe('Succeeded');
    await expectAlias(w, '2');

    // The same code built a day later: CodeBuild's zip has other file times (and directory entries), so another hash.
    const tuesday = await w.artifact(files('A'), { deflate: true, directoryEntries: true, modified: new Date('2026-11-24T17:31:06Z') });
    expect(tuesday.codeSha256).not.toBe(monday.codeSha256);
    const before = counts(w);
    const second = await w.execute(tuesday, { executionId: 'exec-14c-B' });
    expect(second.status).toBe('Succeeded');
    expect(delta(before, counts(w))).toEqual({ updateFunctionCode: 0, publishVersion: 0, createDeployment: 0 });
    expect(actionRun(second, 'Deploy-Blue', 'orders-api')!.final!.outputVariables).toEqual({ currentVersion: '2', targetVersion: '2' });
    expect(await w.history('exec-14c-B')).toMatchObject({ state: 'SKIPPED', currentVersion: '2', targetVersion: '2' });
    expect(await w.events('exec-14c-B')).toEqual(['SKIPPED']);
    await expectAlias(w, '2');
    expect(await w.versions()).toEqual(['1', '2']);
    // What was staged is byte for byte the live version's code (Lambda's CodeSha256), though the artifact is not.
    const live = await w.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: w.service.functionName, Qualifier: '2' }));
    expect(live.CodeSha256).not.toBe(tuesday.codeSha256);
    expect(createHash('sha256').update((await w.s3Object('bundles/exec-14c-B/orders-api.zip'))!).digest('base64')).toBe(live.CodeSha256);
    expectDeploymentMetrics(w, 'exec-14c-B', { 'orders-api': 'Skipped' });

    // Changed code, same day: published and shifted as ever.
    const third = await w.execute(await w.artifact(files('B'), { deflate: true, modified: new Date('2026-11-24T18:02:00Z') }), { executionId: 'exec-14c-C' });
    expect(third.status).toBe('Succeeded');
    expect(delta(before, counts(w))).toEqual({ updateFunctionCode: 1, publishVersion: 1, createDeployment: 1 });
    expect(await w.history('exec-14c-C')).toMatchObject({ state: 'SUCCEEDED', currentVersion: '2', targetVersion: '3' });
    await expectAlias(w, '3');
    expectOneResultPerJob(w, [...jobsOf(first), ...jobsOf(second), ...jobsOf(third)]);
    expectNoHandlerThrew(w);
  });
}
