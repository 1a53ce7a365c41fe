import { endedBeforeSwitchTraffic, settleAbandonedItems } from '../../src/runtime/abandoned-items';
import { DeploymentHistoryStore } from '../../src/runtime/deployment-history-store';
import { HistoryTableFixture, startHistoryTable } from '../helpers/dynalite-history-table';
import { stagedRecord } from '../helpers/handler-harness';

let fixture: HistoryTableFixture;
let clock: string;
let history: DeploymentHistoryStore;
beforeAll(async () => {
  fixture = await startHistoryTable();
  history = new DeploymentHistoryStore(fixture.doc, fixture.tableName, () => new Date(clock));
});
afterAll(() => fixture.stop());

const staged = (executionId: string, environment: string, minute: number, executionStartedAt: string, service = 'payments') => {
  clock = `2026-11-22T10:${String(minute).padStart(2, '0')}:00.000Z`;
  return stagedRecord(history, `${executionId}/${environment}/${service}`, {
    executionId, service, environment, wave: 1, functionName: `${service}-${environment}`, targetVersion: '2', executionStartedAt,
  });
};

test('a later execution\'s shift in one environment settles the earlier execution\'s items of that environment only', async () => {
  // A reached dev at :00 and is in prod now (STAGED at :20, its prod shift next); A's staging item was left STAGED
  // by a failed wave. B reached dev at :05 and shifts staging at :30.
  await staged('exec-a', 'staging', 10, '2026-11-22T10:00:00.000Z');
  await staged('exec-a', 'prod', 20, '2026-11-22T10:00:00.000Z');
  const { record: mine } = await staged('exec-b', 'staging', 30, '2026-11-22T10:05:00.000Z');

  const changed = await settleAbandonedItems(history, mine, endedBeforeSwitchTraffic, new Date(clock));
  expect(changed.map((r) => [r.deploymentId, r.state])).toEqual([['exec-a/staging/payments', 'NOT_STARTED']]);
  expect((await history.get('exec-a/prod/payments'))?.state).toBe('STAGED');
});

test('a newer execution\'s item created before this one (a retried old stage) is not earlier: it is left alone', async () => {
  // C reached dev at :40 and staged prod at :45; D reached dev at :35 (earlier) but its prod stage ran at :50.
  await staged('exec-c', 'prod', 45, '2026-11-22T10:40:00.000Z', 'ledger');
  const { record: mine } = await staged('exec-d', 'prod', 50, '2026-11-22T10:35:00.000Z', 'ledger');
  expect(await settleAbandonedItems(history, mine, endedBeforeSwitchTraffic, new Date(clock))).toEqual([]);
  expect((await history.get('exec-c/prod/ledger'))?.state).toBe('STAGED');
});
