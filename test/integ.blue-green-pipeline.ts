// Integ scenario: the pipeline with a smoke-test hook and a manual approval.
// Offline, integ-runner verifies the committed snapshot; with credentials, it deploys and runs
// the assertions below against the real resources.
import { IntegTest, ExpectedResult } from '@aws-cdk/integ-tests-alpha';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { BlueGreenLambdaPipeline, TrafficHook } from '../src';

const app = new App();
const stack = new Stack(app, 'BlueGreenLambdaPipelineInteg');

const pipeline = new BlueGreenLambdaPipeline(stack, 'Pipeline', {
  serviceName: 'bglp-integ',
  environmentSuffix: 'integ',
  source: {
    owner: 'blue-green-lambda-pipeline',
    repo: 'sample-service',
    branch: 'main',
    connectionArn: app.node.tryGetContext('connectionArn')
      ?? 'arn:aws:codeconnections:us-east-1:111111111111:connection/00000000-0000-0000-0000-000000000000',
  },
  preTrafficHook: TrafficHook.smokeTest({ testEvent: { rawPath: '/health' } }),
  manualApproval: { additionalInformation: 'integ run: approve to shift traffic' },
  removalPolicy: RemovalPolicy.DESTROY,
});

const integ = new IntegTest(app, 'BlueGreenLambdaPipelineTest', {
  testCases: [stack],
});

// The four fixed stages (plus the approval) exist in order.
integ.assertions.awsApiCall('CodePipeline', 'getPipeline', { name: pipeline.pipeline.pipelineName })
  .expect(ExpectedResult.objectLike({
    pipeline: {
      pipelineType: 'V2',
      stages: [{ name: 'Source' }, { name: 'Build' }, { name: 'Deploy-Blue' }, { name: 'Approve' }, { name: 'Switch-Traffic' }],
    },
  }));

// The live alias serves the bootstrap version until the first deployment.
integ.assertions.awsApiCall('Lambda', 'getAlias', { FunctionName: pipeline.serviceFunction.functionName, Name: 'live' })
  .expect(ExpectedResult.objectLike({ Name: 'live', FunctionVersion: '1' }));

// History table: on demand with point-in-time recovery.
integ.assertions.awsApiCall('DynamoDB', 'describeContinuousBackups', { TableName: pipeline.historyTable.table.tableName })
  .expect(ExpectedResult.objectLike({
    ContinuousBackupsDescription: { PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: 'ENABLED' } },
  }));

// The deployment group rolls back on failure and on alarm.
integ.assertions.awsApiCall('CodeDeploy', 'getDeploymentGroup', {
  applicationName: pipeline.application.applicationName,
  deploymentGroupName: pipeline.deploymentGroup.deploymentGroupName,
}).expect(ExpectedResult.objectLike({
  deploymentGroupInfo: {
    deploymentConfigName: 'CodeDeployDefault.LambdaLinear10PercentEvery10Minutes',
    autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_ALARM'] },
  },
}));

app.synth();
