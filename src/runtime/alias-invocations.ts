import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';

const QUERY_ID = 'invocations';

/**
 * Invocations of a function's alias from `from` to `to` (CloudWatch AWS/Lambda Invocations with
 * the FunctionName and Resource `<function>:<alias>` dimensions, what the error-rate alarm reads).
 * One Sum over the whole window: GetMetricData wants a period that is a multiple of 60 seconds
 * and rounds the start down to the minute, so the period is the window rounded up to a minute.
 * Lambda publishes Invocations only when there are some: no data point means none.
 */
export async function aliasInvocations(cloudWatch: CloudWatchClient, query: {
  readonly functionName: string;
  readonly aliasName: string;
  readonly from: Date;
  readonly to: Date;
}): Promise<number> {
  const period = Math.max(60, Math.ceil((query.to.getTime() - query.from.getTime()) / 60_000) * 60);
  let total = 0;
  let nextToken: string | undefined;
  do {
    const page = await cloudWatch.send(new GetMetricDataCommand({
      MetricDataQueries: [{
        Id: QUERY_ID,
        MetricStat: {
          Metric: {
            Namespace: 'AWS/Lambda',
            MetricName: 'Invocations',
            Dimensions: [
              { Name: 'FunctionName', Value: query.functionName },
              { Name: 'Resource', Value: `${query.functionName}:${query.aliasName}` },
            ],
          },
          Period: period,
          Stat: 'Sum',
        },
        ReturnData: true,
      }],
      StartTime: query.from,
      EndTime: query.to,
      NextToken: nextToken,
    }));
    for (const result of page.MetricDataResults ?? []) {
      if (result.Id !== QUERY_ID) continue;
      if (result.StatusCode === 'Forbidden' || result.StatusCode === 'InternalError') {
        const messages = (result.Messages ?? []).map((m) => [m.Code, m.Value].filter(Boolean).join(': ')).join('; ');
        throw new Error(`CloudWatch GetMetricData could not read the Invocations of ${query.functionName}:${query.aliasName}: ` +
          `${result.StatusCode}${messages ? ` (${messages})` : ''}`);
      }
      total += (result.Values ?? []).reduce((sum, value) => sum + value, 0);
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return total;
}
