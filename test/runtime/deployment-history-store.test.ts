import { DeploymentHistoryStore, HistoryConflictError } from '../../src/runtime/deployment-history-store';
import { HistoryTableFixture, startHistoryTable } from '../dynalite-history-table';

let fixture: HistoryTableFixture;
let store: DeploymentHistoryStore;
let clock = 0;
beforeAll(async () => {
  fixture = await startHistoryTable();
  store = new DeploymentHistoryStore(fixture.doc, fixture.tableName, () => new Date(Date.UTC(2026, 10, 22, 0, 0, clock++)));
});
afterAll(() => fixture.stop());

test('walks STAGED -> SHIFTING -> SUCCEEDED, keeping startedAt and stamping finishedAt', async () => {
  const staged = await store.transition('exec-a', 'STAGED', { service: 'orders-api', currentVersion: '1', targetVersion: '2' });
  expect(staged).toMatchObject({ changed: true, record: { state: 'STAGED', targetVersion: '2' } });
  await store.transition('exec-a', 'SHIFTING', { codeDeployDeploymentId: 'd-1' });
  const done = await store.transition('exec-a', 'SUCCEEDED');
  expect(done.record).toMatchObject({ state: 'SUCCEEDED', service: 'orders-api', codeDeployDeploymentId: 'd-1', startedAt: staged.record.startedAt });
  expect(done.record.finishedAt! > done.record.startedAt!).toBe(true);
});

test('a replayed write is a no-op, not a second change', async () => {
  await store.transition('exec-b', 'STAGED', { targetVersion: '5' });
  await store.transition('exec-b', 'SHIFTING', { codeDeployDeploymentId: 'd-2' });
  const replay = await store.transition('exec-b', 'SHIFTING', { codeDeployDeploymentId: 'd-2' });
  expect(replay.changed).toBe(false);
  expect(replay.record.codeDeployDeploymentId).toBe('d-2');
});

test('refuses out-of-order and conflicting writes without touching the item', async () => {
  await expect(store.transition('exec-c', 'SUCCEEDED')).rejects.toThrow(/exec-c is not recorded; it cannot become SUCCEEDED \(allowed from: SHIFTING\)/);
  await store.transition('exec-c', 'STAGED', { targetVersion: '7' });
  await store.transition('exec-c', 'SHIFTING', { codeDeployDeploymentId: 'd-3' });
  await expect(store.transition('exec-c', 'SHIFTING', { codeDeployDeploymentId: 'd-OTHER' })).rejects.toThrow(HistoryConflictError);
  await store.transition('exec-c', 'SUCCEEDED');
  await expect(store.transition('exec-c', 'ROLLED_BACK')).rejects.toThrow(/exec-c is SUCCEEDED; it cannot become ROLLED_BACK/);
  expect(await store.get('exec-c')).toMatchObject({ state: 'SUCCEEDED', codeDeployDeploymentId: 'd-3' });
});

test('a retried stage may start again after FAILED or ROLLED_BACK', async () => {
  await store.transition('exec-d', 'STAGED', { targetVersion: '9' });
  await store.transition('exec-d', 'SHIFTING', { codeDeployDeploymentId: 'd-4' });
  await store.transition('exec-d', 'ROLLED_BACK', { failureReason: 'alarm' });
  const retried = await store.transition('exec-d', 'SHIFTING', { codeDeployDeploymentId: 'd-5' });
  expect(retried).toMatchObject({ changed: true, record: { state: 'SHIFTING', codeDeployDeploymentId: 'd-5' } });
});
