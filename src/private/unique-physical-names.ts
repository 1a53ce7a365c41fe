import { CfnResource, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codeconnections from 'aws-cdk-lib/aws-codeconnections';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as notifications from 'aws-cdk-lib/aws-codestarnotifications';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { IConstruct } from 'constructs';

/** The fixed names the construct gives, by kind of resource. */
const NAMED: Array<[string, (r: CfnResource) => unknown]> = [
  ['Lambda function', (r) => r instanceof lambda.CfnFunction && r.functionName],
  ['CloudWatch alarm', (r) => r instanceof cloudwatch.CfnAlarm && r.alarmName],
  ['CloudWatch dashboard', (r) => r instanceof cloudwatch.CfnDashboard && r.dashboardName],
  // Unique per application; a group's name carries its pipeline's name, and so its application's.
  ['CodeDeploy deployment group', (r) => r instanceof codedeploy.CfnDeploymentGroup && r.deploymentGroupName],
  ['CodeDeploy application', (r) => r instanceof codedeploy.CfnApplication && r.applicationName],
  ['pipeline', (r) => r instanceof codepipeline.CfnPipeline && r.name],
  ['CodeBuild project', (r) => r instanceof codebuild.CfnProject && r.name],
  ['CodeBuild report group', (r) => r instanceof codebuild.CfnReportGroup && r.name],
  ['DynamoDB table', (r) => r instanceof dynamodb.CfnTable && r.tableName],
  ['SNS topic', (r) => r instanceof sns.CfnTopic && r.topicName],
  ['SQS queue', (r) => r instanceof sqs.CfnQueue && r.queueName],
  ['notification rule', (r) => r instanceof notifications.CfnNotificationRule && r.name],
  ['CodeConnections connection', (r) => r instanceof codeconnections.CfnConnection && r.connectionName],
];

/** Per app: which construct path gave each physical name, by account, region and kind. */
const claims = new WeakMap<IConstruct, Map<string, string>>();

/**
 * Claims every physical name `scope` gives in its app, and fails naming both construct paths when
 * another construct of the app (another pipeline, in the same or another stack of the same
 * account and region) already gave it: CloudFormation would fail the second deployment.
 */
export function claimPhysicalNames(scope: IConstruct): void {
  const claimed = claims.get(scope.node.root) ?? new Map<string, string>();
  claims.set(scope.node.root, claimed);
  for (const resource of scope.node.findAll().filter(CfnResource.isCfnResource)) {
    for (const [kind, nameOf] of NAMED) {
      const stack = Stack.of(resource);
      const name = stack.resolve(nameOf(resource) || undefined);
      if (typeof name !== 'string') continue;
      // Account and region tokens are the same for every environment-agnostic stack: such stacks deploy to one account.
      const key = JSON.stringify([stack.account, stack.region, kind, name]);
      const other = claimed.get(key);
      if (other !== undefined && other !== resource.node.path) {
        throw new Error(`${scope.node.path}: the ${kind} name "${name}" (${resource.node.path}) is already given by ${other}, in the same account and region; `
          + 'give the pipelines different serviceName or environmentSuffix values');
      }
      claimed.set(key, resource.node.path);
    }
  }
}
