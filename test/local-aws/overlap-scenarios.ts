import { failed, succeeded } from './expectations';
import { monorepoBuild, ScenarioKit, SHOP } from './services-scenarios';
import { goodSource, World } from './world';

/** Thrown from a `between` hook: the test stops playing CodePipeline for this execution (stopped and abandoned); CodeDeploy goes on. */
class Abandoned extends Error {}
const abandonAfter = (polls: number) => async (poll: number) => {
  if (poll >= polls) throw new Abandoned(`abandoned after ${poll} polls`);
};
async function abandoned(run: Promise<unknown>) {
  await run.then(() => { throw new Error('the execution was to be abandoned, but it finished'); }, (error) => {
    if (!(error instanceof Abandoned)) throw error;
  });
}

const aliasOf = async (w: World, service?: string) => {
  const alias = await w.alias(service);
  return { version: alias.FunctionVersion, weights: alias.RoutingConfig?.AdditionalVersionWeights ?? {} };
};

/**
 * Issue 14: executions that overlap. CodePipeline locks stages, not pipelines: a later execution
 * runs Deploy-Blue while an earlier one shifts; an execution stopped and abandoned leaves its
 * CodeDeploy deployment going on; an older execution's stage can be retried after a newer one
 * went live; a failed Deploy-Blue leaves its peers STAGED.
 */
export function registerOverlapScenarios({ scenario, worldFor }: ScenarioKit) {
  scenario('13a. overlap, one service: B publishes during A\'s shift; A abandoned, B waits for A\'s deployment, records it, shifts from A\'s version; A\'s retry is refused', async () => {
    const w = await worldFor('o13a', {});
    const first = await w.release(goodSource('first'));
    succeeded(first.switchTraffic?.final, 'first release');

    const a = 'exec-o13a-0000-0000-00000000000a';
    const aBlue = await w.deployBlue({ executionId: a, artifact: await w.artifact(goodSource('A')) });
    succeeded(aBlue.result, 'A Deploy-Blue');
    const aVersion = aBlue.result.outputVariables!.targetVersion;
    // A shifts; after two polls its execution is stopped and abandoned: CodeDeploy goes on.
    await abandoned(w.switchTraffic({ executionId: a, targetVersion: aVersion, between: abandonAfter(3) }));
    const aHistory = await w.history(a);
    expect(aHistory?.state).toBe('SHIFTING');
    expect(Object.keys((await aliasOf(w)).weights)).toEqual([aVersion]);

    // B's Deploy-Blue while live is split by A's deployment.
    const b = 'exec-o13a-0000-0000-00000000000b';
    const bBlue = await w.deployBlue({ executionId: b, artifact: await w.artifact(goodSource('B')) });
    succeeded(bBlue.result, 'B Deploy-Blue during A\'s shift');
    const bVersion = bBlue.result.outputVariables!.targetVersion;

    // B's Switch-Traffic waits for A's deployment, records A's outcome, then shifts from A's version.
    const creates = w.codeDeploy.calledOperations('CreateDeployment').length;
    const bSwitch = await w.switchTraffic({ executionId: b, targetVersion: bVersion, maxPolls: 60 });
    succeeded(bSwitch.final, 'B Switch-Traffic');
    expect(bSwitch.results[0].continuationToken).toBe(`wait:${aHistory!.codeDeployDeploymentId}`);
    expect(await w.history(a)).toMatchObject({ state: 'SUCCEEDED' });
    const bHistory = await w.history(b);
    expect(bHistory).toMatchObject({ state: 'SUCCEEDED', currentVersion: aVersion, targetVersion: bVersion });
    expect(w.codeDeploy.calledOperations('CreateDeployment').slice(creates).filter((c) => !c.error)).toHaveLength(1);
    expect(await aliasOf(w)).toEqual({ version: bVersion, weights: {} });

    // A's stage retried after B went live: A's item is final (B recorded it), so nothing moves.
    const before = w.codeDeploy.calledOperations('CreateDeployment').length;
    succeeded((await w.switchTraffic({ executionId: a, targetVersion: aVersion })).final, 'A\'s retry after B went live (A already SUCCEEDED)');
    expect(w.codeDeploy.calledOperations('CreateDeployment')).toHaveLength(before);
    expect(await aliasOf(w)).toEqual({ version: bVersion, weights: {} });
  }, 120_000);

  scenario('13d. an older execution\'s failed Switch-Traffic retried after a newer release: refused, naming the newer execution and its version; traffic unchanged', async () => {
    const w = await worldFor('o13d', {});
    succeeded((await w.release(goodSource('first'))).switchTraffic?.final, 'first release');
    const older = 'exec-o13d-0000-0000-0000000000o1';
    const oBlue = await w.deployBlue({ executionId: older, artifact: await w.artifact(goodSource('older')) });
    succeeded(oBlue.result, 'older Deploy-Blue');
    const oVersion = oBlue.result.outputVariables!.targetVersion;
    // Its Switch-Traffic fails: the alias was left split (by hand).
    const live = (await aliasOf(w)).version!;
    await w.splitAlias(live, { [oVersion]: 0.5 });
    failed((await w.switchTraffic({ executionId: older, targetVersion: oVersion })).final, 'older Switch-Traffic on a split alias');
    await w.splitAlias(live, {});
    // A newer execution goes live.
    const newer = await w.release(goodSource('newer'), { executionId: 'exec-o13d-0000-0000-0000000000n2' });
    succeeded(newer.switchTraffic?.final, 'newer release');
    const nVersion = newer.deployBlue.result!.outputVariables!.targetVersion;
    // The older execution's stage is retried: refused, traffic stays on the newer version.
    const before = w.codeDeploy.calledOperations('CreateDeployment').length;
    const message = failed((await w.switchTraffic({ executionId: older, targetVersion: oVersion })).final, 'older retry after the newer release');
    expect(message).toContain(`execution ${newer.executionId} is newer`);
    expect(message).toContain(`has already shifted orders-api to version ${nVersion}`);
    expect(w.codeDeploy.calledOperations('CreateDeployment')).toHaveLength(before);
    expect(await aliasOf(w)).toEqual({ version: nVersion, weights: {} });
    expect((await w.history(older))?.state).toBe('FAILED');
  }, 120_000);

  scenario('13b. overlap, monorepo: A abandoned mid-wave 1, B publishes and shifts every service after A\'s deployments; A\'s users (STAGED) reaches NOT_STARTED', async () => {
    const w = await worldFor('o13b', SHOP);
    const build = async (release: string) => w.artifact(monorepoBuild(release), { deflate: true, directoryEntries: true });
    const first = await w.execute(await build('first'), { executionId: 'exec-o13b-first' });
    expect(first.status).toBe('Succeeded');

    const a = 'exec-o13b-A';
    await w.execute(await build('A'), {
      executionId: a,
      between: async ({ stageName, round }) => {
        if (stageName === 'Switch-Traffic' && round >= 2) throw new Abandoned('A stopped and abandoned in wave 1');
      },
    }).then(() => { throw new Error('A was to be abandoned'); }, (error) => { if (!(error instanceof Abandoned)) throw error; });
    for (const service of ['orders', 'billing']) expect((await w.history(a, service))?.state).toBe('SHIFTING');
    expect((await w.history(a, 'users'))?.state).toBe('STAGED');

    const b = await w.execute(await build('B'), { executionId: 'exec-o13b-B', maxRounds: 60 });
    expect(b.status).toBe('Succeeded');
    for (const service of ['orders', 'billing', 'users']) {
      const item = await w.history(b.executionId, service);
      expect(item?.state).toBe('SUCCEEDED');
      expect(await aliasOf(w, service)).toEqual({ version: item!.targetVersion, weights: {} });
    }
    for (const service of ['orders', 'billing']) {
      const aItem = await w.history(a, service);
      expect(aItem?.state).toBe('SUCCEEDED');
      expect((await w.history(b.executionId, service))?.currentVersion).toBe(aItem!.targetVersion);
    }
    const users = await w.history(a, 'users');
    expect(users).toMatchObject({ state: 'NOT_STARTED' });
    expect(users?.failureReason).toContain(`execution ${a} ended`);
  }, 180_000);

  scenario('13c. a failed Deploy-Blue leaves its peers STAGED; the next execution gives them a final state', async () => {
    const w = await worldFor('o13c', SHOP);
    const build = async (release: string, without?: 'users') => w.artifact(monorepoBuild(release, { without }), { deflate: true, directoryEntries: true });
    const a = await w.execute(await build('A', 'users'), { executionId: 'exec-o13c-A' });
    expect(a.status).toBe('Failed');
    expect((await w.history(a.executionId, 'users'))?.state).toBe('FAILED');
    for (const service of ['orders', 'billing']) expect((await w.history(a.executionId, service))?.state).toBe('STAGED');

    const b = await w.execute(await build('B'), { executionId: 'exec-o13c-B' });
    expect(b.status).toBe('Succeeded');
    for (const service of ['orders', 'billing']) {
      const item = await w.history(a.executionId, service);
      expect(item).toMatchObject({ state: 'NOT_STARTED' });
      expect(item?.failureReason).toContain(`execution ${a.executionId} ended`);
      expect((await w.events(a.executionId, service)).slice(-1)).toEqual(['NOT_STARTED']);
    }
  }, 120_000);
}
