import { Token } from 'aws-cdk-lib';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { acknowledgeFinding } from './acknowledge-finding';
import { ALIAS_NAME, STAGE_NAMES, TARGET_VERSION_VARIABLE } from '../contract/handler-contract';
import { ManualApprovalOptions } from '../manual-approval';
import { EnvironmentApprovalOptions } from '../pipeline-environment';
import { ServiceDeployment } from '../service-deployment';

/** The action of an environment's approval stage. */
const APPROVAL_ACTION = 'ApprovePromotion';

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
  subscribeApprovers(options, topic, 'manualApproval');
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

/** Subscribes the approvers' emails to the topic when the construct owns it (an imported topic is its owner's). */
function subscribeApprovers(options: ManualApprovalOptions, topic: sns.ITopic, path: string) {
  for (const email of options.notifyEmails ?? []) {
    if (!Token.isUnresolved(email) && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
      throw new Error(`${path}.notifyEmails: "${email}" is not an email address`);
    }
    if (topic instanceof sns.Topic) {
      const subscription = topic.addSubscription(new subscriptions.EmailSubscription(email));
      acknowledgeFinding(subscription, 'Serverless-SNSRedrivePolicy',
        'An approval email that cannot be delivered needs no replay: the approval waits in CodePipeline (up to its timeout) and can be given in the console.');
    }
  }
}

/** What an environment's approval is about. */
export interface EnvironmentApprovalProps {
  readonly options: EnvironmentApprovalOptions;
  /** The pipeline's topic, when the approval names none of its own. */
  readonly pipelineTopic: sns.ITopic;
  readonly environment: string;
  /** The environment the build comes from; none for the first. */
  readonly previousEnvironment?: string;
  readonly services: number;
  /** Where the options were given (`environments[2].approval`), for errors. */
  readonly path: string;
}

/** The `Approve-<environment>` stage's action: promote this execution's build into the environment. */
export function environmentApprovalAction(props: EnvironmentApprovalProps): actions.ManualApprovalAction {
  const { options, environment, previousEnvironment, services, path } = props;
  const topic = options.notificationTopic ?? props.pipelineTopic;
  subscribeApprovers(options, topic, path);
  const from = previousEnvironment ? `It passed ${previousEnvironment}. ` : '';
  return new actions.ManualApprovalAction({
    actionName: APPROVAL_ACTION,
    notificationTopic: topic,
    timeout: options.timeout,
    additionalInformation: options.additionalInformation
      ?? `${from}Approve to deploy execution ${codepipeline.GlobalVariables.executionId}'s build of ${services} service(s) to ${environment}: new versions are published, then ${ALIAS_NAME} shifts onto them.`,
  });
}

/**
 * The approval action's role (aws-cdk-lib creates it when the action is bound) publishes to the
 * approvers' topic; for a topic encrypted with a customer managed key, aws-cdk-lib's grantPublish
 * adds `kms:GenerateDataKey*` on that key alone.
 */
export function acknowledgeApprovalGrants(pipeline: codepipeline.Pipeline, stageName: string): void {
  const role = pipeline.node.tryFindChild(stageName)?.node.tryFindChild(APPROVAL_ACTION)?.node.tryFindChild('CodePipelineActionRole');
  if (role) {
    acknowledgeFinding(role, 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      'Added by aws-cdk-lib grantPublish for a topic encrypted with a customer managed key: data keys of that key only, to publish the approval request.');
  }
}
