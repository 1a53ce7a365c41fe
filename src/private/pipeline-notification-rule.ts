import { Annotations, Stack } from 'aws-cdk-lib';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as notifications from 'aws-cdk-lib/aws-codestarnotifications';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

/** Properties of {@link PipelineNotificationRule}. */
export interface PipelineNotificationRuleProps {
  readonly pipeline: codepipeline.IPipeline;
  readonly topic: sns.ITopic;
  readonly ruleName: string;
}

/** The pipeline events people must hear of, whatever stage they happen in. */
const EVENTS = [
  codepipeline.PipelineNotificationEvents.PIPELINE_EXECUTION_FAILED,
  codepipeline.PipelineNotificationEvents.MANUAL_APPROVAL_NEEDED,
];

/**
 * A CodeStar notification rule that sends failed executions (a failing build or test included)
 * and pending approvals to the notification topic, where the alarm and lifecycle messages go.
 */
export class PipelineNotificationRule extends Construct {
  public readonly rule: notifications.NotificationRule;

  constructor(scope: Construct, id: string, props: PipelineNotificationRuleProps) {
    super(scope, id);
    const topic = props.topic;
    // The notification service publishes through the topic's resource policy. aws-cdk-lib's own
    // binding grants it without a condition; this one is scoped to this account (confused deputy).
    const added = topic.addToResourcePolicy(new iam.PolicyStatement({
      sid: `AllowPipelineNotifications${this.node.addr}`,
      principals: [new iam.ServicePrincipal('codestar-notifications.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
    }));
    if (!added.statementAdded) {
      Annotations.of(this).addWarningV2('blue-green-lambda-pipeline:notificationTopicPolicyForPipelineEvents',
        'notificationTopic is imported, so its resource policy cannot be changed here: allow codestar-notifications.amazonaws.com to sns:Publish to it (condition aws:SourceAccount = this account), or pipeline failures and approval requests are not delivered');
    }
    const target: notifications.INotificationRuleTarget = {
      bindAsNotificationRuleTarget: () => ({ targetType: 'SNS', targetAddress: topic.topicArn }),
    };
    this.rule = new notifications.NotificationRule(this, 'Rule', {
      notificationRuleName: props.ruleName,
      source: props.pipeline,
      events: EVENTS,
      targets: [target],
      detailType: notifications.DetailType.FULL,
    });
    // CodeStar Notifications checks that it may publish when the rule is created: created in
    // parallel with the policy, the rule fails "Invalid request provided" (aws/aws-cdk#29484).
    if (added.policyDependable) this.rule.node.addDependency(added.policyDependable);
  }
}
