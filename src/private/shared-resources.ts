import { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { acknowledgeFinding, acknowledgeTemplateFindings } from './acknowledge-finding';
import { ResourceNames } from './resource-names';

/** The lifecycle notification topic the construct creates when none is given. */
export function notificationTopic(scope: Construct, names: ResourceNames, removalPolicy: RemovalPolicy): sns.Topic {
  const topic = new sns.Topic(scope, 'NotificationTopic', {
    topicName: names.notificationTopic,
    displayName: `${names.serviceName} deployments (${names.environmentSuffix})`,
    enforceSSL: true,
  });
  topic.applyRemovalPolicy(removalPolicy);
  const unencryptedTopic = 'CloudWatch alarms cannot publish to a topic encrypted with the AWS managed key; pass notificationTopic with a customer managed key to encrypt.';
  acknowledgeTemplateFindings(topic, { checkov: ['CKV_AWS_26'] }, unencryptedTopic);
  acknowledgeFinding(topic, 'AwsSolutions-SNS2', unencryptedTopic);
  return topic;
}

/** The service role CodeDeploy uses for every deployment group of the pipeline. */
export function codeDeployServiceRole(scope: Construct, names: ResourceNames): iam.Role {
  const role = new iam.Role(scope, 'CodeDeployRole', {
    assumedBy: new iam.ServicePrincipal('codedeploy.amazonaws.com'),
    description: `CodeDeploy service role of ${names.pipeline}: shifts the live aliases of its services`,
    managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSCodeDeployRoleForLambdaLimited')],
  });
  acknowledgeFinding(role, 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]',
    'The AWS-maintained service-role policy for CodeDeploy Lambda deployments; it lets CodeDeploy update aliases and invoke only CodeDeployHook_* functions (our hooks get their own scoped grant).');
  return role;
}
