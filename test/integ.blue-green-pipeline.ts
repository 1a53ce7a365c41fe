// Integ scenario: the pipeline with a smoke-test hook and a manual approval.
// Offline, integ-runner verifies the committed snapshot; with credentials, it deploys and runs
// the assertions below against the real resources: the configuration, then a rehearsal of two
// traffic shifts through the deployment group (one that succeeds, one the smoke test rolls back).
import { ActualResult, ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { BlueGreenLambdaPipeline, TrafficHook } from '../src';
import { rehearseTrafficShifts, REHEARSAL_SERVICE_CODE } from './helpers/shift-rehearsal';

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
  // Healthy unless FAIL_SMOKE_TEST=1, which the rehearsal sets on its second release.
  service: { bootstrapCode: lambda.Code.fromInline(REHEARSAL_SERVICE_CODE) },
  preTrafficHook: TrafficHook.smokeTest({ testEvent: { rawPath: '/health' } }),
  manualApproval: { additionalInformation: 'integ run: approve to shift traffic' },
  removalPolicy: RemovalPolicy.DESTROY,
});

const integ = new IntegTest(app, 'BlueGreenLambdaPipelineTest', {
  testCases: [stack],
  // The rehearsal counts on a fresh stack (bootstrap version 1, then 2 and 3): the update
  // workflow would deploy the previous snapshot, rehearsal included, first.
  stackUpdateWorkflow: false,
});

// The four fixed stages (plus the approval) exist in order. Each attribute read keeps only its
// path in the answer: the whole GetPipeline answer could outgrow CloudFormation's 4 KB limit on a
// custom resource's response.
const STAGES = ['Source', 'Build', 'Deploy-Blue', 'Approve', 'Switch-Traffic'];
const stagePath = (index: number) => `pipeline.stages.${index}.name`;
const getPipeline = integ.assertions.awsApiCall('CodePipeline', 'getPipeline', { name: pipeline.pipeline.pipelineName });
integ.assertions.expect('PipelineType', ExpectedResult.exact('V2'), ActualResult.fromAwsApiCall(getPipeline, 'pipeline.pipelineType'));
STAGES.forEach((name, index) => integ.assertions.expect(`Stage${index}`, ExpectedResult.exact(name), ActualResult.fromAwsApiCall(getPipeline, stagePath(index))));

// The live alias serves the bootstrap version until the first deployment; the rehearsal starts
// only after this check.
const liveOnBootstrap = integ.assertions.awsApiCall('Lambda', 'getAlias', { FunctionName: pipeline.serviceFunction.functionName, Name: 'live' })
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

// The rehearsal: publish version 2 and shift live onto it with CodeDeploy (smoke test passes),
// then version 3, which throws: the smoke test fails it and CodeDeploy rolls back to 2.
rehearseTrafficShifts(integ.assertions, pipeline, liveOnBootstrap);

app.synth();
