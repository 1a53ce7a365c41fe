import { historyJson } from '../../src/cli/format';
import { HISTORY_ATTRIBUTES } from '../../src/cli/history-item';

test('history reads and prints where each deployment ran (account, region), and leaves them out on items without them', () => {
  expect(HISTORY_ATTRIBUTES).toEqual(expect.arrayContaining(['account', 'region']));
  expect(historyJson({ deploymentId: 'e1/staging/orders', state: 'SUCCEEDED', account: '222222222222', region: 'eu-west-1' }))
    .toEqual({ deploymentId: 'e1/staging/orders', state: 'SUCCEEDED', account: '222222222222', region: 'eu-west-1' });
  expect(Object.keys(historyJson({ deploymentId: 'e0/orders', state: 'SUCCEEDED' }))).toEqual(['deploymentId', 'state']);
});
