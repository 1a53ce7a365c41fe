import { CloudWatchClient, GetMetricDataCommand, GetMetricDataCommandInput } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { aliasInvocations } from '../../src/runtime/alias-invocations';

const cloudWatch = mockClient(CloudWatchClient);
const client = new CloudWatchClient({ region: 'us-east-1' });
const WINDOW = { functionName: 'orders-staging', aliasName: 'live', from: new Date('2026-12-06T10:00:30Z'), to: new Date('2026-12-06T10:30:30Z') };

beforeEach(() => cloudWatch.reset());

test('one Sum over the window, its period the window rounded up to whole minutes, summed across pages', async () => {
  // GetMetricData answers MetricDataResults (Id, Timestamps, Values, StatusCode) and NextToken while
  // more data points remain (GetMetricDataCommand.d.ts); PartialData marks a page with more to come.
  cloudWatch.on(GetMetricDataCommand)
    .resolvesOnce({ MetricDataResults: [{ Id: 'invocations', Label: 'Invocations', Timestamps: [WINDOW.from], Values: [40], StatusCode: 'PartialData' }], NextToken: 't1' })
    .resolvesOnce({ MetricDataResults: [{ Id: 'invocations', Label: 'Invocations', Timestamps: [WINDOW.from], Values: [2], StatusCode: 'Complete' }], Messages: [] });
  await expect(aliasInvocations(client, { ...WINDOW, to: new Date('2026-12-06T10:31:00Z') })).resolves.toBe(42);
  const inputs = cloudWatch.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input as GetMetricDataCommandInput);
  expect(inputs.map((i) => i.NextToken)).toEqual([undefined, 't1']);
  expect(inputs[0].MetricDataQueries![0].MetricStat).toEqual({
    Metric: {
      Namespace: 'AWS/Lambda',
      MetricName: 'Invocations',
      Dimensions: [{ Name: 'FunctionName', Value: 'orders-staging' }, { Name: 'Resource', Value: 'orders-staging:live' }],
    },
    Period: 1860,
    Stat: 'Sum',
  });
});

test('no data points (Lambda publishes none for an idle alias) is 0', async () => {
  cloudWatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'invocations', Label: 'Invocations', Timestamps: [], Values: [], StatusCode: 'Complete' }] });
  await expect(aliasInvocations(client, WINDOW)).resolves.toBe(0);
  expect(cloudWatch.commandCalls(GetMetricDataCommand)[0].args[0].input.MetricDataQueries![0].MetricStat!.Period).toBe(1800);
});

test('a result CloudWatch could not read fails with its status and messages', async () => {
  cloudWatch.on(GetMetricDataCommand).resolves({
    MetricDataResults: [{ Id: 'invocations', Timestamps: [], Values: [], StatusCode: 'Forbidden', Messages: [{ Code: 'Forbidden', Value: 'not authorized' }] }],
  });
  await expect(aliasInvocations(client, WINDOW)).rejects.toThrow(
    'CloudWatch GetMetricData could not read the Invocations of orders-staging:live: Forbidden (Forbidden: not authorized)');
});
