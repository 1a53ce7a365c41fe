import { Attributes, DeploymentHistoryStore, HistoryConflictError } from '../../src/runtime/deployment-history-store';
import { HistoryTableFixture, startHistoryTable } from '../helpers/dynalite-history-table';

let fixture: HistoryTableFixture;
let store: DeploymentHistoryStore;
let clock = 0;
const at = () => new Date(Date.UTC(2026, 10, 22, 0, 0, clock));
beforeAll(async () => {
  fixture = await startHistoryTable();
  store = new DeploymentHistoryStore(fixture.doc, fixture.tableName, () => { clock++; return at(); });
});
afterAll(() => fixture.stop());

const stageClaim = (id: string, jobId: string, holdMs = 600_000) => store.claim(id, {
  state: 'STAGING', jobId, jobSet: 'deployBlueJobIds', from: ['NEW', 'FAILED', 'STAGING'], absent: ['switchTrafficJobIds'], holdMs, attributes: { service: 'orders-api' },
});
const startClaim = (id: string, jobId: string, targetVersion: string, holdMs = 120_000) => store.claim(id, {
  state: 'STARTING', jobId, jobSet: 'switchTrafficJobIds', from: ['STAGED', 'FAILED', 'ROLLED_BACK', 'NOT_STARTED', 'STARTING'], matching: { targetVersion }, holdMs,
});

test('walks STAGING -> STAGED -> STARTING -> SHIFTING -> SUCCEEDED, keeping startedAt, stamping finishedAt and clearing claims', async () => {
  const claimed = await stageClaim('exec-a', 'job-1');
  expect(claimed).toMatchObject({ claimed: true, record: { state: 'STAGING', claimJobId: 'job-1', service: 'orders-api', deployBlueJobIds: new Set(['job-1']) } });
  await store.transition('exec-a', 'STAGED', { currentVersion: '1', targetVersion: '2' }, { claimJobId: 'job-1' });
  await startClaim('exec-a', 'job-2', '2');
  await store.transition('exec-a', 'SHIFTING', { codeDeployDeploymentId: 'd-1' }, { claimJobId: 'job-2' });
  const done = await store.transition('exec-a', 'SUCCEEDED', {}, { matching: { codeDeployDeploymentId: 'd-1' } });
  expect(done.record).toMatchObject({ state: 'SUCCEEDED', service: 'orders-api', codeDeployDeploymentId: 'd-1', startedAt: claimed.record!.startedAt });
  expect(done.record.claimJobId).toBeUndefined();
  expect(done.record.claimExpiresAt).toBeUndefined();
  expect(done.record.finishedAt! > done.record.startedAt!).toBe(true);
});

test('SHIFTING stamps shiftStartedAt, which the final state keeps and a new attempt clears; it cannot be written as an attribute', async () => {
  await stageClaim('exec-shift', 'job-1');
  await store.transition('exec-shift', 'STAGED', { targetVersion: '2', commitTime: '2026-11-21T23:00:00.000Z' }, { claimJobId: 'job-1' });
  await startClaim('exec-shift', 'job-2', '2');
  const shifting = await store.transition('exec-shift', 'SHIFTING', { codeDeployDeploymentId: 'd-1' }, { claimJobId: 'job-2' });
  expect(shifting.record.shiftStartedAt).toBe(shifting.record.updatedAt);
  expect(shifting.record.finishedAt).toBeUndefined();
  const rolledBack = await store.transition('exec-shift', 'ROLLED_BACK', {}, { matching: { codeDeployDeploymentId: 'd-1' } });
  expect(rolledBack.record).toMatchObject({ shiftStartedAt: shifting.record.shiftStartedAt, commitTime: '2026-11-21T23:00:00.000Z' });
  expect(rolledBack.record.finishedAt! > rolledBack.record.shiftStartedAt!).toBe(true);

  const retried = await startClaim('exec-shift', 'job-3', '2');
  expect(retried.record).toMatchObject({ state: 'STARTING', commitTime: '2026-11-21T23:00:00.000Z' });
  expect(retried.record?.shiftStartedAt).toBeUndefined();
  expect(retried.record?.finishedAt).toBeUndefined();
  // @ts-expect-error the store alone stamps it
  const attributes: Attributes = { shiftStartedAt: 'x' };
  expect(attributes).toBeDefined();
});

test('a claim is taken once: a second claim by the same job, or by another job, is refused while it holds', async () => {
  expect((await stageClaim('exec-b', 'job-1')).claimed).toBe(true);
  const [same, other] = await Promise.all([stageClaim('exec-b', 'job-1'), stageClaim('exec-b', 'job-9')]);
  expect(same).toMatchObject({ claimed: false, record: { state: 'STAGING', claimJobId: 'job-1' } });
  expect(other.claimed).toBe(false);
});

test('of two concurrent claims exactly one wins', async () => {
  const results = await Promise.all([stageClaim('exec-c', 'job-1'), stageClaim('exec-c', 'job-1')]);
  expect(results.filter((r) => r.claimed)).toHaveLength(1);
});

test('only the claiming job may leave a claim state', async () => {
  await stageClaim('exec-d', 'job-1');
  await expect(store.transition('exec-d', 'FAILED', { failureReason: 'x' }, { from: ['STAGING'], claimJobId: 'job-9' }))
    .rejects.toThrow(/exec-d is STAGING \(claimed by job job-1\); it cannot become FAILED/);
  await expect(store.transition('exec-d', 'STAGED', {})).rejects.toThrow(/only be entered from a claim here; pass the claiming job id/);
});

test('a lapsed claim can be taken over by the job that held it (Lambda retrying its event) or by a new job, not by a stale one', async () => {
  await stageClaim('exec-e', 'job-0');
  await store.transition('exec-e', 'FAILED', { failureReason: 'boom' }, { from: ['STAGING'], claimJobId: 'job-0' });
  await stageClaim('exec-e', 'job-1', 1); // lapses at once
  expect((await stageClaim('exec-e', 'job-0')).claimed).toBe(false); // stale: claimed before, not the holder
  expect(await stageClaim('exec-e', 'job-1')).toMatchObject({ claimed: true, record: { claimJobId: 'job-1' } });
});

test('a retried stage (new job) may claim again after FAILED or ROLLED_BACK; a job that claimed before may not', async () => {
  await stageClaim('exec-f', 'job-1');
  await store.transition('exec-f', 'FAILED', { failureReason: 'zip' }, { from: ['STAGING'], claimJobId: 'job-1' });
  expect((await stageClaim('exec-f', 'job-1')).claimed).toBe(false);
  const retried = await stageClaim('exec-f', 'job-2');
  expect(retried).toMatchObject({ claimed: true, record: { state: 'STAGING', deployBlueJobIds: new Set(['job-1', 'job-2']) } });
  expect(retried.record!.failureReason).toBeUndefined();
  await store.transition('exec-f', 'STAGED', { targetVersion: '9' }, { claimJobId: 'job-2' });
  await startClaim('exec-f', 'job-3', '9');
  await store.transition('exec-f', 'SHIFTING', { codeDeployDeploymentId: 'd-4' }, { claimJobId: 'job-3' });
  await store.transition('exec-f', 'ROLLED_BACK', { failureReason: 'alarm' }, { matching: { codeDeployDeploymentId: 'd-4' } });
  expect((await startClaim('exec-f', 'job-3', '9')).claimed).toBe(false);
  expect((await startClaim('exec-f', 'job-4', '9')).claimed).toBe(true);
  // once Switch-Traffic has claimed the item, Deploy-Blue can never claim it again
  await store.transition('exec-f', 'FAILED', { failureReason: 'x' }, { from: ['STARTING'], claimJobId: 'job-4' });
  expect((await stageClaim('exec-f', 'job-5')).claimed).toBe(false);
});

test('a claim can insist on attribute values', async () => {
  await stageClaim('exec-g', 'job-1');
  await store.transition('exec-g', 'STAGED', { targetVersion: '5' }, { claimJobId: 'job-1' });
  expect((await startClaim('exec-g', 'job-2', '6')).claimed).toBe(false);
  expect((await startClaim('exec-g', 'job-2', '5')).claimed).toBe(true);
});

test('a replayed write is a no-op, not a second change', async () => {
  await stageClaim('exec-h', 'job-1');
  await store.transition('exec-h', 'STAGED', { targetVersion: '5' }, { claimJobId: 'job-1' });
  await startClaim('exec-h', 'job-2', '5');
  await store.transition('exec-h', 'SHIFTING', { codeDeployDeploymentId: 'd-2' }, { claimJobId: 'job-2' });
  await store.transition('exec-h', 'SUCCEEDED', {}, { matching: { codeDeployDeploymentId: 'd-2' } });
  const replay = await store.transition('exec-h', 'SUCCEEDED', {}, { matching: { codeDeployDeploymentId: 'd-2' } });
  expect(replay.changed).toBe(false);
});

test('refuses out-of-order, foreign and illegal writes without touching the item', async () => {
  await expect(store.transition('exec-i', 'SUCCEEDED')).rejects.toThrow(/exec-i is not recorded; it cannot become SUCCEEDED \(allowed from: SHIFTING\)/);
  await stageClaim('exec-i', 'job-1');
  await store.transition('exec-i', 'STAGED', { targetVersion: '7' }, { claimJobId: 'job-1' });
  await startClaim('exec-i', 'job-2', '7');
  await store.transition('exec-i', 'SHIFTING', { codeDeployDeploymentId: 'd-3' }, { claimJobId: 'job-2' });
  // a stale poll of another CodeDeploy deployment cannot settle this shift
  await expect(store.transition('exec-i', 'ROLLED_BACK', {}, { matching: { codeDeployDeploymentId: 'd-OLD' } })).rejects.toThrow(HistoryConflictError);
  await expect(store.transition('exec-i', 'FAILED', {}, { from: ['SUCCEEDED' as any] })).rejects.toThrow(/FAILED cannot be entered from SUCCEEDED/);
  await expect(store.transition('exec-i', 'STARTING')).rejects.toThrow(/STARTING is a claim/);
  await store.transition('exec-i', 'SUCCEEDED', {}, { matching: { codeDeployDeploymentId: 'd-3' } });
  await expect(store.transition('exec-i', 'ROLLED_BACK')).rejects.toThrow(/exec-i is SUCCEEDED; it cannot become ROLLED_BACK/);
  expect(await store.get('exec-i')).toMatchObject({ state: 'SUCCEEDED', codeDeployDeploymentId: 'd-3' });
});

describe('executions of many services', () => {
  const stage = async (executionId: string, service: string, wave: number) => {
    const id = `${executionId}/${service}`;
    await store.claim(id, {
      state: 'STAGING', jobId: `deploy-${id}`, jobSet: 'deployBlueJobIds', from: ['NEW'], holdMs: 600_000, attributes: { executionId, service, wave },
    });
    return store.transition(id, 'STAGED', { targetVersion: '2' }, { claimJobId: `deploy-${id}` });
  };

  test('listExecution finds every item of one execution through the byExecution index, page by page, and no other', async () => {
    for (const service of ['orders', 'billing', 'shipping', 'emails', 'payments']) await stage('exec-many', service, 1);
    await stage('exec-other', 'orders', 1);
    const items = await store.listExecution('exec-many', 2);
    expect(items.map((r) => r.service)).toEqual(['billing', 'emails', 'orders', 'payments', 'shipping']); // the index sorts by service
    expect(items.every((r) => r.executionId === 'exec-many' && r.deploymentId === `exec-many/${r.service}`)).toBe(true);
    expect(await store.listExecution('exec-none')).toEqual([]);
  });

  test('services of one execution are separate items: each moves on its own', async () => {
    await stage('exec-pair', 'orders', 1);
    await stage('exec-pair', 'billing', 2);
    await store.transition('exec-pair/orders', 'NOT_STARTED', { failureReason: 'x' }, { from: ['STAGED'] });
    expect((await store.get('exec-pair/orders'))?.state).toBe('NOT_STARTED');
    expect((await store.get('exec-pair/billing'))?.state).toBe('STAGED');
  });

  test('NOT_STARTED is entered from STAGED only, once, and a new Switch-Traffic job may claim it', async () => {
    await stage('exec-ns', 'billing', 2);
    const results = await Promise.all([1, 2].map((n) => store.transition('exec-ns/billing', 'NOT_STARTED', { failureReason: `wave 1: s${n} failed` }, { from: ['STAGED'] })));
    expect(results.filter((r) => r.changed)).toHaveLength(1);
    expect(results.map((r) => r.record.state)).toEqual(['NOT_STARTED', 'NOT_STARTED']);
    expect(await store.get('exec-ns/billing')).toMatchObject({ state: 'NOT_STARTED', finishedAt: expect.any(String), wave: 2 });

    const claimed = await startClaim('exec-ns/billing', 'job-retry', '2');
    expect(claimed).toMatchObject({ claimed: true, record: { state: 'STARTING' } });
    expect(claimed.record!.failureReason).toBeUndefined();
    await expect(store.transition('exec-ns/billing', 'NOT_STARTED', {}, { from: ['STAGED'] })).rejects.toThrow(HistoryConflictError);
    await expect(store.transition('exec-ns/billing', 'NOT_STARTED', {}, { from: ['STARTING' as any] })).rejects.toThrow(/NOT_STARTED cannot be entered from STARTING \(allowed from: STAGED\)/);
  });

  test('NOT_STARTED never creates an item', async () => {
    await expect(store.transition('exec-ghost/billing', 'NOT_STARTED', {}, { from: ['STAGED'] })).rejects.toThrow(/is not recorded/);
    expect(await store.get('exec-ghost/billing')).toBeUndefined();
  });
});
