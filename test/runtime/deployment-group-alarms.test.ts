import { CloudWatchClient, DescribeAlarmsCommand, DescribeAlarmsCommandInput } from '@aws-sdk/client-cloudwatch';
import { AlarmConfiguration, CodeDeployClient, GetDeploymentGroupCommand } from '@aws-sdk/client-codedeploy';
import { mockClient } from 'aws-sdk-client-mock';
import { alarmStatesOf } from '../../src/runtime/deployment-group-alarms';

const codeDeploy = mockClient(CodeDeployClient);
const cloudWatch = mockClient(CloudWatchClient);
const clients = { codeDeploy: new CodeDeployClient({ region: 'us-east-1' }), cloudWatch: new CloudWatchClient({ region: 'us-east-1' }) };
const GROUP = { applicationName: 'shop', deploymentGroupName: 'orders-live-staging' };

/** GetDeploymentGroup's deploymentGroupInfo (GetDeploymentGroupCommand.d.ts), with this alarm configuration. */
function groupWith(alarmConfiguration: AlarmConfiguration | undefined) {
  codeDeploy.on(GetDeploymentGroupCommand).resolves({
    deploymentGroupInfo: {
      applicationName: 'shop',
      deploymentGroupName: 'orders-live-staging',
      computePlatform: 'Lambda',
      ...(alarmConfiguration ? { alarmConfiguration } : {}),
    },
  });
}

/** DescribeAlarms answers the named alarms that exist, a page at a time (MetricAlarms, CompositeAlarms, NextToken). */
function alarms(states: Record<string, string>, composite: Record<string, string> = {}, pageSize = 100) {
  cloudWatch.on(DescribeAlarmsCommand).callsFake(async (input: DescribeAlarmsCommandInput) => {
    const types = input.AlarmTypes ?? ['MetricAlarm'];
    const names = (input.AlarmNames ?? []).filter((n) => (types.includes('MetricAlarm') && n in states) || (types.includes('CompositeAlarm') && n in composite));
    const start = Number(input.NextToken ?? 0);
    const page = names.slice(start, start + pageSize);
    return {
      MetricAlarms: page.filter((n) => n in states).map((n) => ({ AlarmName: n, StateValue: states[n] as any })),
      CompositeAlarms: page.filter((n) => n in composite).map((n) => ({ AlarmName: n, StateValue: composite[n] as any })),
      ...(start + pageSize < names.length ? { NextToken: String(start + pageSize) } : {}),
    };
  });
}

beforeEach(() => {
  codeDeploy.reset();
  cloudWatch.reset();
});

test('the group\'s alarms in ALARM, metric and composite, across pages', async () => {
  groupWith({ enabled: true, alarms: [{ name: 'rate' }, { name: 'latency' }, { name: 'all' }] });
  alarms({ rate: 'OK', latency: 'ALARM' }, { all: 'ALARM' }, 1);
  await expect(alarmStatesOf(clients.codeDeploy, clients.cloudWatch, GROUP))
    .resolves.toEqual({ watched: ['rate', 'latency', 'all'], inAlarm: ['latency', 'all'], unreadable: [] });
  expect(cloudWatch.commandCalls(DescribeAlarmsCommand)).toHaveLength(3);
});

test.each([
  ['disabled', { enabled: false, alarms: [{ name: 'rate' }] }],
  ['without alarms', { enabled: true, alarms: [] }],
  ['absent', undefined],
])('an alarm configuration %s watches nothing and asks CloudWatch nothing', async (_name, configuration) => {
  groupWith(configuration);
  await expect(alarmStatesOf(clients.codeDeploy, clients.cloudWatch, GROUP)).resolves.toEqual({ watched: [], inAlarm: [], unreadable: [] });
  expect(cloudWatch.calls()).toHaveLength(0);
});

test('an alarm CloudWatch does not return fails, naming it, unless the group ignores alarms it cannot read', async () => {
  groupWith({ enabled: true, alarms: [{ name: 'rate' }, { name: 'gone' }] });
  alarms({ rate: 'OK' });
  await expect(alarmStatesOf(clients.codeDeploy, clients.cloudWatch, GROUP)).rejects.toThrow(
    'deployment group orders-live-staging watches alarm gone, which CloudWatch DescribeAlarms did not return');
  groupWith({ enabled: true, ignorePollAlarmFailure: true, alarms: [{ name: 'rate' }, { name: 'gone' }] });
  await expect(alarmStatesOf(clients.codeDeploy, clients.cloudWatch, GROUP))
    .resolves.toEqual({ watched: ['rate', 'gone'], inAlarm: [], unreadable: ['gone'] });
});
