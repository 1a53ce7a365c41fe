import { Token } from 'aws-cdk-lib';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { acknowledgeFinding } from './acknowledge-finding';
import { ALIAS_NAME, STAGE_NAMES, TARGET_VERSION_VARIABLE } from '../contract/handler-contract';
import { ManualApprovalOptions } from '../manual-approval';
import { ServiceDeployment } from '../service-deployment';

/** What the approval stage is about. */
export interface ApprovalStageProps {
  readonly options: ManualApprovalOptions;
  readonly topic: sns.ITopic;
  readonly services: readonly ServiceDeployment[];
  /** The single service's Deploy-Blue action, whose published version the default text names. */
  readonly deployBlueAction?: actions.LambdaInvokeAction;
}

/**
 * Adds the `Approve` stage right before `Switch-Traffic`, and subscribes the emails to the topic
 * when the construct owns it.
 */
export function addApprovalStage(pipeline: codepipeline.Pipeline, props: ApprovalStageProps): codepipeline.IStage {
  const { options, topic, services, deployBlueAction } = props;
  for (const email of options.notifyEmails ?? []) {
    if (!Token.isUnresolved(email) && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
      throw new Error(`manualApproval.notifyEmails: "${email}" is not an email address`);
    }
    if (topic instanceof sns.Topic) {
      const subscription = topic.addSubscription(new subscriptions.EmailSubscription(email));
      acknowledgeFinding(subscription, 'Serverless-SNSRedrivePolicy',
        'An approval email that cannot be delivered needs no replay: the approval waits in CodePipeline (up to 7 days) and can be given in the console.');
    }
  }
  const waves = new Set(services.map((s) => s.wave)).size;
  return pipeline.addStage({
    stageName: STAGE_NAMES.approval,
    placement: { rightBefore: pipeline.stage(STAGE_NAMES.switchTraffic) },
    actions: [new actions.ManualApprovalAction({
      actionName: 'ApproveTrafficShift',
      notificationTopic: topic,
      additionalInformation: options.additionalInformation ?? (deployBlueAction
        ? `Version ${deployBlueAction.variable(TARGET_VERSION_VARIABLE)} of ${services[0].serviceFunction.functionName} is published and takes no traffic yet. Approve to shift ${ALIAS_NAME} onto it.`
        : `New versions of ${services.length} services are published and take no traffic yet. Approve to shift their ${ALIAS_NAME} aliases in ${waves} wave(s).`),
    })],
  });
}
