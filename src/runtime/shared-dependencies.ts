import { CodePipelineClient } from '@aws-sdk/client-codepipeline';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeploymentHistoryStore } from './deployment-history-store';
import { CLIENT_CONFIG, requireEnv } from './handler-environment';
import { LifecycleNotifier } from './lifecycle-notifier';
import { HANDLER_ENVIRONMENT } from '../contract/handler-contract';

/** What Deploy-Blue and Switch-Traffic both use, built from the environment the construct sets. */
export interface SharedDependencies {
  readonly codePipeline: CodePipelineClient;
  readonly history: DeploymentHistoryStore;
  readonly notifier: LifecycleNotifier;
  /** The pipeline's name (a metric dimension), when the construct set it. */
  readonly pipelineName?: string;
  /** The pipeline's ARN (PIPELINE_ARN): the external id of a deployer role in another account or region. */
  readonly pipelineArn?: string;
  /** The handler's own region (AWS_REGION, which Lambda sets). */
  readonly region?: string;
}

/** CodePipeline, the history table, the notification topic and the pipeline's name, as the construct configured them. */
export function sharedDependenciesFromEnvironment(): SharedDependencies {
  return {
    codePipeline: new CodePipelineClient(CLIENT_CONFIG),
    history: new DeploymentHistoryStore(
      DynamoDBDocumentClient.from(new DynamoDBClient(CLIENT_CONFIG)), requireEnv(HANDLER_ENVIRONMENT.historyTableName)),
    notifier: new LifecycleNotifier(new SNSClient(CLIENT_CONFIG), process.env[HANDLER_ENVIRONMENT.notificationTopicArn]),
    pipelineName: process.env[HANDLER_ENVIRONMENT.pipelineName] || undefined,
    pipelineArn: process.env[HANDLER_ENVIRONMENT.pipelineArn] || undefined,
    region: process.env.AWS_REGION || undefined,
  };
}
