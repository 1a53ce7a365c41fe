import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { DeploymentHistoryStore } from '../../src/runtime/deployment-history-store';
import { stopLaterWaves, stopReason } from '../../src/runtime/wave-gate';
import { HistoryTableFixture, startHistoryTable } from '../helpers/dynalite-history-table';
import { stagedRecord } from '../helpers/handler-harness';

let fixture: HistoryTableFixture;
beforeAll(async () => { fixture = await startHistoryTable(); });
afterAll(() => fixture.stop());

const stage = (history: DeploymentHistoryStore, service: string, wave?: number) =>
  stagedRecord(history, `exec-1/${service}`, { executionId: 'exec-1', service, ...(wave !== undefined ? { wave } : {}), targetVersion: '2' });

test('says which wave and service stopped the rest', () => {
  expect(stopReason({ executionId: 'e', service: 'orders', wave: 1, state: 'ROLLED_BACK' })).toBe('wave 1: orders rolled back');
  expect(stopReason({ executionId: 'e', service: 'billing', wave: 2, state: 'FAILED' })).toBe('wave 2: billing failed');
});

test('with an index that projects keys only, each candidate is read from the table; an item without a wave is left alone', async () => {
  const tableName = 'keys-only-index';
  await fixture.doc.send(new CreateTableCommand({
    TableName: tableName,
    KeySchema: [{ AttributeName: 'deploymentId', KeyType: 'HASH' }],
    AttributeDefinitions: ['deploymentId', 'executionId', 'service'].map((name) => ({ AttributeName: name, AttributeType: 'S' as const })),
    BillingMode: 'PAY_PER_REQUEST',
    GlobalSecondaryIndexes: [{
      IndexName: 'byExecution',
      KeySchema: [{ AttributeName: 'executionId', KeyType: 'HASH' }, { AttributeName: 'service', KeyType: 'RANGE' }],
      Projection: { ProjectionType: 'KEYS_ONLY' },
    }],
  }));
  const history = new DeploymentHistoryStore(fixture.doc, tableName);
  await stage(history, 'orders', 1);
  await stage(history, 'billing', 2);
  await stage(history, 'legacy');
  expect((await history.listExecution('exec-1')).map((r) => r.state)).toEqual([undefined, undefined, undefined]);

  const result = await stopLaterWaves(history, { executionId: 'exec-1', service: 'orders', wave: 1, state: 'ROLLED_BACK' });
  expect(result.changed.map((r) => r.deploymentId)).toEqual(['exec-1/billing']);
  expect(result.execution.map((r) => [r.service, r.state]).sort()).toEqual([['billing', 'NOT_STARTED'], ['legacy', 'STAGED'], ['orders', 'STAGED']]);
  expect((await history.get('exec-1/legacy'))?.state).toBe('STAGED');
});

test('in a pipeline with environments, only the failed environment\'s later waves stop, and only its items are listed', async () => {
  const history = new DeploymentHistoryStore(fixture.doc, fixture.tableName);
  const item = (environment: string, service: string, wave: number) => stagedRecord(history, `exec-env/${environment}/${service}`,
    { executionId: 'exec-env', service, environment, wave, targetVersion: '2' });
  await item('staging', 'orders', 1);
  await item('staging', 'billing', 2);
  // another environment's item of a later wave, STAGED: not staging's to stop
  await item('dev', 'billing', 2);

  const result = await stopLaterWaves(history, { executionId: 'exec-env', service: 'orders', wave: 1, state: 'ROLLED_BACK', environment: 'staging' });
  expect(result.changed.map((r) => r.deploymentId)).toEqual(['exec-env/staging/billing']);
  expect(result.execution.map((r) => r.deploymentId).sort()).toEqual(['exec-env/staging/billing', 'exec-env/staging/orders']);
  expect((await history.get('exec-env/dev/billing'))?.state).toBe('STAGED');
});
