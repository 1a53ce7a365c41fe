import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { HistoryItem } from '../../src/cli/history-item';

/** Writes items 25 at a time (BatchWriteItem's limit), `parallel` batches at once, retrying unprocessed ones. */
export async function putItems(doc: DynamoDBDocumentClient, tableName: string, items: HistoryItem[], parallel = 8): Promise<void> {
  const batches: HistoryItem[][] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < batches.length) {
      let requests: any[] = batches[next++].map((Item) => ({ PutRequest: { Item } }));
      while (requests.length > 0) {
        const result = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
        requests = result.UnprocessedItems?.[tableName] ?? [];
      }
    }
  }));
}

/**
 * A known history. "Now" is 2025-03-31T00:00:00Z, so `--since 30d` is the window
 * [2025-03-01T00:00:00Z, 2025-03-31T00:00:00Z], 30 days.
 *
 *   id   execution/service  state        started (Mar)  finished     commitTime        note
 *   o1   e01/orders         SUCCEEDED    Feb 20 10:00   Feb 20 10:20 Feb 20 09:00      outside the window
 *   o2   e02/orders         SUCCEEDED    02 10:00       02 10:30     02 08:00          lead 2h30m = 9000 s
 *   p1   e02/payments       SUCCEEDED    02 10:40       02 11:00     02 08:00          lead 3h    = 10800 s
 *   o3   e03/orders         ROLLED_BACK  05 12:00       05 12:20     05 11:00          failure (orders)
 *   p2   e03/payments       NOT_STARTED  05 11:50       05 12:21     -                 wave 2 after o3's rollback
 *   o4   e04/orders         SUCCEEDED    05 14:00       05 14:40     05 13:40          lead 1h = 3600 s; restores o3
 *   o5   e05/orders         SKIPPED      10 09:00       10 09:01     -                 nothing to deploy
 *   o6   e06/orders         SUCCEEDED    12 09:00       12 09:25     (none)            no commit time
 *   p3   e07/payments       FAILED       20 10:00       20 10:05     20 09:00          failure (payments)
 *   p4   e08/payments       ROLLED_BACK  21 10:00       21 10:15     21 09:00          failure, same incident as p3
 *   p5   e09/payments       SUCCEEDED    22 10:00       22 10:05     22 06:05          lead 4h = 14400 s; restores p3
 *   p6   e10/payments       FAILED       28 10:00       28 10:10     28 09:30          never restored
 *   p7   e11/payments       SHIFTING     30 10:00       -            30 09:00          in progress
 */
/** A reason longer than the 100 characters the text table shows. */
export const LONG_REASON = 'CodeDeploy deployment d-PAYMENTS10 failed: the AfterAllowTraffic hook reported Failed: ' +
  'smoke test GET /health returned 503 Service Unavailable after 3 attempts';

export const NOW = new Date('2025-03-31T00:00:00Z');
export const sha = (c: string) => c.repeat(40);
const versions = (current: number) => ({ currentVersion: String(current), targetVersion: String(current + 1) });

function item(execution: string, service: string, state: string, startedAt: string, finishedAt: string | undefined,
  extra: Partial<HistoryItem> = {}): HistoryItem {
  return {
    deploymentId: `${execution}/${service}`,
    executionId: execution,
    service,
    environment: 'prod',
    wave: service === 'orders' ? 1 : 2,
    state,
    startedAt,
    updatedAt: finishedAt ?? startedAt,
    ...(finishedAt ? { finishedAt } : {}),
    repository: 'example-org/shop',
    branch: 'main',
    deploymentConfig: 'CodeDeployDefault.LambdaCanary10Percent5Minutes',
    ...extra,
  };
}

export const HISTORY: HistoryItem[] = [
  item('e01', 'orders', 'SUCCEEDED', '2025-02-20T10:00:00.000Z', '2025-02-20T10:20:00.000Z',
    { commitId: sha('0'), commitTime: '2025-02-20T09:00:00.000Z', ...versions(1) }),
  item('e02', 'orders', 'SUCCEEDED', '2025-03-02T10:00:00.000Z', '2025-03-02T10:30:00.000Z',
    { commitId: sha('a'), commitTime: '2025-03-02T08:00:00.000Z', ...versions(2), codeDeployDeploymentId: 'd-ORDERS0002' }),
  item('e02', 'payments', 'SUCCEEDED', '2025-03-02T10:40:00.000Z', '2025-03-02T11:00:00.000Z',
    { commitId: sha('a'), commitTime: '2025-03-02T08:00:00.000Z', ...versions(7), codeDeployDeploymentId: 'd-PAYMENTS02' }),
  item('e03', 'orders', 'ROLLED_BACK', '2025-03-05T12:00:00.000Z', '2025-03-05T12:20:00.000Z',
    { commitId: sha('b'), commitTime: '2025-03-05T11:00:00.000Z', ...versions(3), failureReason: 'alarm orders-errors went to ALARM;\n  CodeDeploy rolled back' }),
  item('e03', 'payments', 'NOT_STARTED', '2025-03-05T11:50:00.000Z', '2025-03-05T12:21:00.000Z',
    { commitId: sha('b'), ...versions(8), failureReason: 'an earlier wave did not succeed (orders: ROLLED_BACK)' }),
  item('e04', 'orders', 'SUCCEEDED', '2025-03-05T14:00:00.000Z', '2025-03-05T14:40:00.000Z',
    { commitId: sha('c'), commitTime: '2025-03-05T13:40:00.000Z', ...versions(3) }),
  item('e05', 'orders', 'SKIPPED', '2025-03-10T09:00:00.000Z', '2025-03-10T09:01:00.000Z', { commitId: sha('d'), currentVersion: '4' }),
  item('e06', 'orders', 'SUCCEEDED', '2025-03-12T09:00:00.000Z', '2025-03-12T09:25:00.000Z', { commitId: sha('e'), ...versions(4) }),
  item('e07', 'payments', 'FAILED', '2025-03-20T10:00:00.000Z', '2025-03-20T10:05:00.000Z',
    { commitId: sha('f'), commitTime: '2025-03-20T09:00:00.000Z', ...versions(8), failureReason: 'BeforeAllowTraffic hook failed: smoke test returned 500' }),
  item('e08', 'payments', 'ROLLED_BACK', '2025-03-21T10:00:00.000Z', '2025-03-21T10:15:00.000Z',
    { commitId: sha('1'), commitTime: '2025-03-21T09:00:00.000Z', ...versions(8), failureReason: 'alarm payments-errors went to ALARM' }),
  item('e09', 'payments', 'SUCCEEDED', '2025-03-22T10:00:00.000Z', '2025-03-22T10:05:00.000Z',
    { commitId: sha('2'), commitTime: '2025-03-22T06:05:00.000Z', ...versions(8) }),
  item('e10', 'payments', 'FAILED', '2025-03-28T10:00:00.000Z', '2025-03-28T10:10:00.000Z',
    { commitId: sha('3'), commitTime: '2025-03-28T09:30:00.000Z', ...versions(9), failureReason: LONG_REASON }),
  item('e11', 'payments', 'SHIFTING', '2025-03-30T10:00:00.000Z', undefined,
    { commitId: sha('4'), commitTime: '2025-03-30T09:00:00.000Z', ...versions(9), codeDeployDeploymentId: 'd-PAYMENTS11' }),
];
