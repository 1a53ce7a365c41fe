import { Annotations, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import { IConstruct } from 'constructs';

/**
 * Sends `alarm`'s state changes to `topic`. CloudWatch publishes alarm notifications through the
 * topic's resource policy, which a TopicPolicy (here: the enforceSSL deny) replaces wholesale: the
 * alarm is allowed explicitly, or nothing is delivered. An imported topic's policy cannot be
 * changed here: `scope` gets a warning naming what to add.
 */
export function notifyTopicOfAlarm(scope: IConstruct, alarm: cloudwatch.Alarm, topic: sns.ITopic): void {
  alarm.addAlarmAction(new cloudwatchActions.SnsAction(topic));
  const added = topic.addToResourcePolicy(new iam.PolicyStatement({
    // Unique per alarm: several services and pipelines may share one topic.
    sid: `AllowAlarmNotifications${alarm.node.addr}`,
    principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
    actions: ['sns:Publish'],
    resources: [topic.topicArn],
    conditions: {
      ArnLike: { 'aws:SourceArn': alarm.alarmArn },
      StringEquals: { 'aws:SourceAccount': Stack.of(scope).account },
    },
  }));
  if (!added.statementAdded) {
    Annotations.of(scope).addWarningV2('blue-green-lambda-pipeline:notificationTopicPolicy',
      `notificationTopic is imported, so its resource policy cannot be changed here: add a statement allowing cloudwatch.amazonaws.com to sns:Publish to it (condition aws:SourceArn = the alarm ${alarm.node.path}), or CloudWatch cannot deliver alarm notifications`);
  }
}
