import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { CodeDeployClient, GetDeploymentGroupCommand } from '@aws-sdk/client-codedeploy';

/** The alarms CodeDeploy watches for a deployment group, and which of them are in ALARM now. */
export interface AlarmStates {
  /** The group's alarms (none when its alarm configuration is disabled). */
  readonly watched: string[];
  readonly inAlarm: string[];
  /**
   * Alarms DescribeAlarms did not return (deleted, or not readable), which the group lets pass
   * (`ignorePollAlarmFailure`).
   */
  readonly unreadable: string[];
}

/**
 * Reads the deployment group's alarm configuration (GetDeploymentGroup) and the state of its
 * alarms (DescribeAlarms): the same alarms CodeDeploy stops a shift on. An alarm that cannot be
 * read fails the check, unless the group says to go on without it, as CodeDeploy itself does.
 */
export async function alarmStatesOf(codeDeploy: CodeDeployClient, cloudWatch: CloudWatchClient, group: {
  readonly applicationName: string;
  readonly deploymentGroupName: string;
}): Promise<AlarmStates> {
  const { deploymentGroupInfo } = await codeDeploy.send(new GetDeploymentGroupCommand(group));
  const configuration = deploymentGroupInfo?.alarmConfiguration;
  const watched = configuration?.enabled ? (configuration.alarms ?? []).flatMap((alarm) => alarm.name ? [alarm.name] : []) : [];
  if (watched.length === 0) return { watched, inAlarm: [], unreadable: [] };

  const states = new Map<string, string | undefined>();
  let nextToken: string | undefined;
  do {
    // Without AlarmTypes, DescribeAlarms answers metric alarms only; a group may name composite ones.
    const page = await cloudWatch.send(new DescribeAlarmsCommand({
      AlarmNames: watched, AlarmTypes: ['MetricAlarm', 'CompositeAlarm'], NextToken: nextToken,
    }));
    for (const alarm of [...page.MetricAlarms ?? [], ...page.CompositeAlarms ?? []]) {
      if (alarm.AlarmName) states.set(alarm.AlarmName, alarm.StateValue);
    }
    nextToken = page.NextToken;
  } while (nextToken);

  const unreadable = watched.filter((name) => !states.has(name));
  if (unreadable.length > 0 && !configuration?.ignorePollAlarmFailure) {
    throw new Error(`deployment group ${group.deploymentGroupName} watches ${unreadable.length === 1 ? 'alarm' : 'alarms'} ` +
      `${unreadable.join(', ')}, which CloudWatch DescribeAlarms did not return (deleted, or not readable); ` +
      'restore the alarm or remove it from the deployment group, then retry the stage');
  }
  return { watched, inAlarm: watched.filter((name) => states.get(name) === 'ALARM'), unreadable };
}
