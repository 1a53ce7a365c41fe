import { Aws, CfnOutput } from 'aws-cdk-lib';
import * as codeconnections from 'aws-cdk-lib/aws-codeconnections';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';

/** What the stack outputs show of a pipeline. */
export interface PipelineOutputsProps {
  readonly pipeline: codepipeline.IPipeline;
  readonly historyTable: dynamodb.ITable;
  /** The connection the construct created: its handshake is the user's first step. */
  readonly createdConnection?: codeconnections.CfnConnection;
}

/** The stack outputs a user needs after `cdk deploy`; returns the pipeline's console URL. */
export function addPipelineOutputs(scope: Construct, props: PipelineOutputsProps): string {
  const consoleUrl = `https://${Aws.REGION}.console.aws.amazon.com/codesuite/codepipeline/pipelines/${props.pipeline.pipelineName}/view?region=${Aws.REGION}`;
  new CfnOutput(scope, 'PipelineConsoleUrl', { value: consoleUrl, description: 'The deployment pipeline in the AWS console' });
  new CfnOutput(scope, 'HistoryTableName', { value: props.historyTable.tableName, description: 'DynamoDB table recording every deployment' });
  if (props.createdConnection) {
    new CfnOutput(scope, 'ConnectionArn', {
      value: props.createdConnection.attrConnectionArn,
      description: 'GitHub connection: complete its handshake in the console before the first run',
    });
  }
  return consoleUrl;
}
