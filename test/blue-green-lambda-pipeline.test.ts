import { App, Aws, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { BlueGreenLambdaPipeline, BlueGreenLambdaPipelineProps, StagePlacement, TrafficHook } from '../src';
import { baseProps, CONNECTION_ARN, newStack } from './helpers/stack-fixture';

function synth(overrides: Partial<BlueGreenLambdaPipelineProps> = {}, configure?: (stack: Stack) => Partial<BlueGreenLambdaPipelineProps>) {
  const stack = newStack(new App());
  const extra = configure?.(stack) ?? {};
  const construct = new BlueGreenLambdaPipeline(stack, 'Pipeline', baseProps({ ...overrides, ...extra }));
  return { stack, construct, template: Template.fromStack(stack) };
}

/** The buildspec as an object; the report group ARN (a token) becomes "TOKEN". */
function buildSpecOf(template: Template): any {
  const spec = only(template, 'AWS::CodeBuild::Project').props.Source.BuildSpec;
  const text = typeof spec === 'string' ? spec : spec['Fn::Join'][1].map((part: unknown) => typeof part === 'string' ? part : 'TOKEN').join('');
  return JSON.parse(text);
}

/** An action's UserParameters as an object; CloudFormation references become "<Ref:Id>" / "<Id.Attr>". */
function userParametersOf(action: any): any {
  const value = action.Configuration.UserParameters;
  const text = typeof value === 'string' ? value : value['Fn::Join'][1].map((part: any) => {
    if (typeof part === 'string') return part;
    if (part.Ref) return `<Ref:${part.Ref}>`;
    return `<${part['Fn::GetAtt'].join('.')}>`;
  }).join('');
  return JSON.parse(text);
}

/** The statements of the policies attached to roles whose logical id starts with `rolePrefix`. */
function statementsOf(template: Template, rolePrefix: string): any[] {
  return Object.values<any>(template.findResources('AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: any) => r.Ref.startsWith(rolePrefix)))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

/** The service's error-rate alarm (the other alarm watches the dead-letter queue), with its logical id. */
function errorRateAlarmOf(template: Template): { id: string; props: any } {
  const found = Object.entries<any>(template.findResources('AWS::CloudWatch::Alarm')).filter(([, a]) => /-error-rate-/.test(a.Properties.AlarmName));
  expect(found).toHaveLength(1);
  return { id: found[0][0], props: found[0][1].Properties };
}

/** The single resource of a type, with its logical id. */
function only(template: Template, type: string): { id: string; props: any } {
  const found = template.findResources(type);
  expect(Object.keys(found)).toHaveLength(1);
  const [id, resource] = Object.entries(found)[0];
  return { id, props: (resource as any).Properties };
}

describe('with defaults', () => {
  const { template, construct } = synth();

  test('the pipeline is V2 with exactly the four fixed stages, in order', () => {
    const pipeline = only(template, 'AWS::CodePipeline::Pipeline').props;
    expect(pipeline.PipelineType).toBe('V2');
    expect(pipeline.Name).toBe('orders-api-pipeline-dev');
    expect(pipeline.ExecutionMode).toBe('QUEUED');
    expect(pipeline.Stages.map((s: any) => s.Name)).toEqual(['Source', 'Build', 'Deploy-Blue', 'Switch-Traffic']);
    const [source, build, deployBlue, switchTraffic] = pipeline.Stages.map((s: any) => s.Actions[0]);
    expect(source.ActionTypeId).toMatchObject({ Category: 'Source', Provider: 'CodeStarSourceConnection' });
    expect(source.Configuration).toMatchObject({ ConnectionArn: CONNECTION_ARN, FullRepositoryId: 'example-org/orders-api', BranchName: 'main' });
    expect(build.ActionTypeId).toMatchObject({ Category: 'Build', Provider: 'CodeBuild' });
    // Lambda is deployed by our invoke actions, never by CodePipeline's CodeDeploy action (EC2/on-premises only).
    expect(deployBlue.ActionTypeId).toMatchObject({ Category: 'Invoke', Provider: 'Lambda' });
    expect(switchTraffic.ActionTypeId).toMatchObject({ Category: 'Invoke', Provider: 'Lambda' });
    expect(JSON.stringify(pipeline.Stages)).not.toMatch(/"Provider":"CodeDeploy"/);
    expect(deployBlue.InputArtifacts).toEqual([{ Name: 'BuildOutput' }]);
    expect(deployBlue.Namespace).toBe('DeployBlue');
    // Per-service settings travel in the action's parameters: one handler serves every service.
    expect(userParametersOf(deployBlue)).toEqual({
      deploymentId: '#{codepipeline.PipelineExecutionId}',
      service: 'orders-api',
      functionName: 'orders-api-dev',
      aliasName: 'live',
      bundleDirectory: '',
      wave: '1',
      commitId: expect.stringMatching(/^#\{Source_GitHub_NS\.CommitId\}$|CommitId/),
      // the commit's author date, where lead time starts
      commitTime: '#{Source_GitHub_NS.AuthorDate}',
      repository: 'example-org/orders-api',
      branch: 'main',
      // the environment history and metrics carry: the pipeline's environmentSuffix
      environment: 'dev',
    });
    const version = only(template, 'AWS::Lambda::Version').id;
    expect(userParametersOf(switchTraffic)).toEqual({
      deploymentId: '#{codepipeline.PipelineExecutionId}',
      service: 'orders-api',
      targetVersion: '#{DeployBlue.targetVersion}',
      functionName: 'orders-api-dev',
      aliasName: 'live',
      deploymentGroupName: 'orders-api-live-dev',
      deploymentConfigName: 'CodeDeployDefault.LambdaLinear10PercentEvery10Minutes',
      beforeAllowTrafficHook: '',
      afterAllowTrafficHook: '',
      // the construct's own placeholder: the first release goes live at once
      bootstrapVersion: `<${version}.Version>`,
      // the version the stack names: version retention never deletes it
      stackVersion: `<${version}.Version>`,
      keepVersions: '10',
      wave: '1',
    });
    expect(pipeline.Triggers).toEqual([{
      ProviderType: 'CodeStarSourceConnection',
      GitConfiguration: { SourceActionName: 'GitHub', Push: [{ Branches: { Includes: ['main'] } }] },
    }]);
  });

  test('the build is a small CodeBuild project whose test failures fail the stage', () => {
    const project = only(template, 'AWS::CodeBuild::Project').props;
    expect(project.Name).toBe('orders-api-build-dev');
    expect(project.Environment).toMatchObject({ ComputeType: 'BUILD_GENERAL1_SMALL', Image: 'aws/codebuild/standard:7.0' });
    const spec = buildSpecOf(template);
    // The service runs on nodejs24.x by default, so its tests run on Node 24 too.
    expect(spec.phases.install).toMatchObject({ 'runtime-versions': { nodejs: '24' }, 'commands': ['npm ci'], 'on-failure': 'ABORT' });
    expect(spec.phases.build).toEqual({ 'commands': ['npm run build', 'npm test'], 'on-failure': 'ABORT' });
    expect(JSON.stringify(spec)).not.toMatch(/\|\|/);
    expect(spec.artifacts).toEqual({ 'base-directory': 'dist', 'files': ['**/*'] });
    const reportGroup = only(template, 'AWS::CodeBuild::ReportGroup');
    expect(reportGroup.props).toMatchObject({ Name: 'orders-api-tests-dev', Type: 'TEST' });
    expect(spec.reports.TOKEN).toEqual({ 'files': ['*.xml'], 'base-directory': 'test-reports', 'file-format': 'JUNITXML' });
  });

  test('the service function, its fixed bootstrap version and the live alias', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'orders-api-dev',
      Runtime: 'nodejs24.x',
      MemorySize: 512,
      Handler: 'index.handler',
      LoggingConfig: { LogFormat: 'JSON', LogGroup: Match.anyValue() },
    });
    const version = only(template, 'AWS::Lambda::Version');
    const alias = template.findResources('AWS::Lambda::Alias');
    const [aliasResource] = Object.values<any>(alias);
    expect(aliasResource.Properties).toMatchObject({ Name: 'live', FunctionVersion: { 'Fn::GetAtt': [version.id, 'Version'] } });
    // the pipeline, not CloudFormation, shifts the alias
    expect(aliasResource.UpdatePolicy).toBeUndefined();
    expect(construct.alias.aliasName).toBe('live');
  });

  test('the deployment group is blue/green with traffic control, linear 10% by default, rolling back on failure and alarm', () => {
    const group = only(template, 'AWS::CodeDeploy::DeploymentGroup').props;
    expect(group).toMatchObject({
      DeploymentGroupName: 'orders-api-live-dev',
      DeploymentConfigName: 'CodeDeployDefault.LambdaLinear10PercentEvery10Minutes',
      DeploymentStyle: { DeploymentType: 'BLUE_GREEN', DeploymentOption: 'WITH_TRAFFIC_CONTROL' },
      AutoRollbackConfiguration: { Enabled: true, Events: ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_ALARM'] },
      AlarmConfiguration: { Enabled: true, Alarms: [{ Name: { Ref: errorRateAlarmOf(template).id } }] },
    });
    template.hasResourceProperties('AWS::CodeDeploy::Application', { ApplicationName: 'orders-api-dev', ComputePlatform: 'Lambda' });
    template.hasResourceProperties('AWS::IAM::Role', {
      ManagedPolicyArns: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited']] }],
    });
  });

  test('the alarm watches the error RATE of the live alias and notifies the topic', () => {
    const alarm = errorRateAlarmOf(template).props;
    expect(alarm).toMatchObject({
      AlarmName: 'orders-api-error-rate-dev',
      Threshold: 5,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: only(template, 'AWS::SNS::Topic').id }],
    });
    const expression = alarm.Metrics.find((m: any) => m.Expression);
    expect(expression).toMatchObject({ Expression: 'IF(invocations > 0, 100 * errors / invocations, 0)', ReturnData: true });
    for (const [id, metricName] of [['errors', 'Errors'], ['invocations', 'Invocations']]) {
      const metric = alarm.Metrics.find((m: any) => m.Id === id).MetricStat;
      expect(metric).toMatchObject({ Period: 60, Stat: 'Sum', Metric: { Namespace: 'AWS/Lambda', MetricName: metricName } });
      expect(metric.Metric.Dimensions.map((d: any) => d.Name).sort()).toEqual(['FunctionName', 'Resource']);
    }
  });

  test('the history table: deploymentId key, on demand, PITR, encrypted, service and execution indexes', () => {
    const table = only(template, 'AWS::DynamoDB::Table').props;
    expect(table).toMatchObject({
      TableName: 'orders-api-deployments-dev',
      KeySchema: [{ AttributeName: 'deploymentId', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      GlobalSecondaryIndexes: [
        { IndexName: 'byService', KeySchema: [{ AttributeName: 'service', KeyType: 'HASH' }, { AttributeName: 'startedAt', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } },
        { IndexName: 'byExecution', KeySchema: [{ AttributeName: 'executionId', KeyType: 'HASH' }, { AttributeName: 'service', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } },
      ],
    });
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });

  test('the artifact bucket is versioned, encrypted, private, TLS only; artifacts and old versions expire after 30 days', () => {
    const bucket = only(template, 'AWS::S3::Bucket');
    expect(bucket.props).toMatchObject({
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      // CodePipeline writes a new key per execution: current objects must expire too, not only old versions.
      LifecycleConfiguration: { Rules: [expect.objectContaining({ ExpirationInDays: 30, NoncurrentVersionExpiration: { NoncurrentDays: 30 }, Status: 'Enabled' })] },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucket.id },
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    expect(only(template, 'AWS::CodePipeline::Pipeline').props.ArtifactStore).toMatchObject({ Location: { Ref: bucket.id }, Type: 'S3' });
  });

  test('every function has its own log group with retention, and no role uses a *FullAccess policy', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    const logGroups = template.findResources('AWS::Logs::LogGroup');
    const ours = Object.values<any>(functions).filter((f) => f.Properties.LoggingConfig);
    expect(ours.length).toBe(3); // service, deploy-blue, switch-traffic
    for (const fn of ours) {
      const logGroupId = fn.Properties.LoggingConfig.LogGroup.Ref;
      expect(logGroups[logGroupId].Properties.RetentionInDays).toBe(365);
    }
    expect(JSON.stringify(template.toJSON())).not.toMatch(/FullAccess/);
  });

  test('handlers get exactly the actions they need, on the resources they touch', () => {
    const deployBlue = statementsOf(template, 'PipelineHandlersDeployBlueRole');
    const switchTraffic = statementsOf(template, 'PipelineHandlersSwitchTrafficRole');
    const actionsOf = (statements: any[]) => statements.flatMap((s) => ([] as string[]).concat(s.Action)).sort();
    expect(actionsOf(deployBlue)).toEqual(expect.arrayContaining([
      'lambda:UpdateFunctionCode', 'lambda:PublishVersion', 'lambda:GetAlias', 'dynamodb:UpdateItem', 'sns:Publish',
      'codepipeline:PutJobSuccessResult', 'codepipeline:PutJobFailureResult', 'logs:PutLogEvents',
    ]));
    expect(actionsOf(switchTraffic)).toEqual(expect.arrayContaining(['codedeploy:CreateDeployment', 'codedeploy:GetDeployment', 'lambda:GetAlias']));
    expect(actionsOf(switchTraffic)).not.toContain('lambda:UpdateFunctionCode');
    // UpdateFunctionCode reads the artifact with the caller's permissions
    const readArtifact = deployBlue.find((s: any) => ([] as string[]).concat(s.Action).includes('s3:GetObject'));
    expect(readArtifact.Resource).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [only(template, 'AWS::S3::Bucket').id, 'Arn'] }, '/*']] });
    // One service too: its whole artifact is re-zipped normalized and staged under bundles/ (an unchanged build is recognised).
    const stageBundle = deployBlue.find((s: any) => ([] as string[]).concat(s.Action).includes('s3:PutObject'));
    expect(stageBundle.Resource).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [only(template, 'AWS::S3::Bucket').id, 'Arn'] }, '/bundles/*']] });
    for (const statement of [...deployBlue, ...switchTraffic]) {
      // Only actions without resource-level permissions may be on '*'.
      if (statement.Resource === '*') {
        for (const action of ([] as string[]).concat(statement.Action)) expect(action).toMatch(/^(codepipeline:PutJob(Success|Failure)Result|xray:(PutTraceSegments|PutTelemetryRecords))$/);
      }
    }
    const historyStatement = deployBlue.find((s: any) => ([] as string[]).concat(s.Action).includes('dynamodb:UpdateItem'));
    expect(historyStatement.Resource).toEqual({ 'Fn::GetAtt': [only(template, 'AWS::DynamoDB::Table').id, 'Arn'] });
    // Is the new build unchanged? GetFunctionConfiguration with the live version as Qualifier is
    // authorized on the qualified ARN (the version), not the function's.
    const service = Object.entries<any>(template.findResources('AWS::Lambda::Function')).find(([, fn]) => fn.Properties.FunctionName === 'orders-api-dev')![0];
    const versionConfiguration = deployBlue.filter((s: any) => ([] as string[]).concat(s.Action).includes('lambda:GetFunctionConfiguration'));
    expect(versionConfiguration.flatMap((s: any) => ([] as unknown[]).concat(s.Resource))).toContainEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [service, 'Arn'] }, ':*']] });
    // Overlapping executions: whose deployment is in progress (ListDeployments on the group), which
    // execution is newer (the byService index), has an earlier execution ended (GetPipelineExecution).
    const resourcesOf = (statements: any[], action: string) => statements
      .filter((s: any) => ([] as string[]).concat(s.Action).includes(action))
      .flatMap((s: any) => ([] as unknown[]).concat(s.Resource));
    const table = only(template, 'AWS::DynamoDB::Table').id;
    const byService = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [table, 'Arn'] }, '/index/byService']] };
    expect(resourcesOf(switchTraffic, 'dynamodb:Query')).toContainEqual(byService);
    expect(resourcesOf(deployBlue, 'dynamodb:Query')).toContainEqual(byService);
    expect(resourcesOf(switchTraffic, 'codedeploy:ListDeployments')).toEqual(resourcesOf(switchTraffic, 'codedeploy:CreateDeployment'));
    expect(resourcesOf(deployBlue, 'codepipeline:GetPipelineExecution')).toEqual([{
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':codepipeline:us-east-1:111111111111:orders-api-pipeline-dev']],
    }]);
    const deployBlueFunction = Object.values<any>(template.findResources('AWS::Lambda::Function')).find((fn) => fn.Properties.FunctionName === 'orders-api-deploy-blue-dev');
    expect(deployBlueFunction.Properties.Environment.Variables.PIPELINE_NAME).toBe('orders-api-pipeline-dev');
    // Switch-Traffic's metrics carry the pipeline's name too.
    const switchTrafficFunction = Object.values<any>(template.findResources('AWS::Lambda::Function')).find((fn) => fn.Properties.FunctionName === 'orders-api-switch-traffic-dev');
    expect(switchTrafficFunction.Properties.Environment.Variables.PIPELINE_NAME).toBe('orders-api-pipeline-dev');
    // It stages the artifact and the cut bundle in /tmp: room for an artifact of about 1 GB (Lambda's default is 512 MB).
    expect(deployBlueFunction.Properties.EphemeralStorage).toEqual({ Size: 2048 });
    expect(deployBlueFunction.Properties.MemorySize).toBe(1024);
  });

  test('the Source action runs as its own role, which may use the connection with the ARN\'s own service prefix', () => {
    const source = only(template, 'AWS::CodePipeline::Pipeline').props.Stages[0].Actions[0];
    const roleId = source.RoleArn['Fn::GetAtt'][0];
    expect(roleId).toBe(Stack.of(construct).resolve((construct.sourceActionRole.node.defaultChild as any).logicalId));
    // IAM matches codeconnections:UseConnection to arn:aws:codeconnections:... ARNs only.
    expect(statementsOf(template, roleId)).toEqual(expect.arrayContaining([expect.objectContaining({ Action: 'codeconnections:UseConnection', Resource: CONNECTION_ARN })]));
    // The pipeline role does not run the Source action: it gets no connection grant.
    const pipelineRole = only(template, 'AWS::CodePipeline::Pipeline').props.RoleArn['Fn::GetAtt'][0];
    expect(JSON.stringify(statementsOf(template, pipelineRole))).not.toMatch(/UseConnection/);
  });

  test('CloudWatch may deliver the alarm to the topic: the topic policy allows it, scoped to the alarm', () => {
    const topicPolicy = only(template, 'AWS::SNS::TopicPolicy').props;
    const alarmId = errorRateAlarmOf(template).id;
    const allow = topicPolicy.PolicyDocument.Statement.filter((st: any) => st.Effect === 'Allow' && st.Principal.Service === 'cloudwatch.amazonaws.com'
      && JSON.stringify(st.Condition).includes(alarmId));
    expect(allow).toEqual([expect.objectContaining({
      Action: 'sns:Publish',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Resource: { Ref: only(template, 'AWS::SNS::Topic').id },
      Condition: { ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [alarmId, 'Arn'] } }, StringEquals: { 'aws:SourceAccount': '111111111111' } },
    })]);
    // The TLS-only deny still stands beside it.
    expect(topicPolicy.PolicyDocument.Statement).toEqual(expect.arrayContaining([expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]));
  });

  test('Switch-Traffic may prune versions and shift the first release all at once', () => {
    const statements = statementsOf(template, 'PipelineHandlersSwitchTrafficRole');
    const serviceArn = { 'Fn::GetAtt': [Object.keys(template.findResources('AWS::Lambda::Function', { Properties: { FunctionName: 'orders-api-dev' } }))[0], 'Arn'] };
    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: ['lambda:GetAlias', 'lambda:ListVersionsByFunction', 'lambda:ListAliases'], Resource: [serviceArn, expect.anything()] }),
      // only qualified ARNs: the function itself can never be deleted
      expect.objectContaining({ Action: 'lambda:DeleteFunction', Resource: { 'Fn::Join': ['', [serviceArn, ':*']] } }),
    ]));
    const configs = statements.find((st: any) => st.Action === 'codedeploy:GetDeploymentConfig').Resource;
    // the history of one execution, for the waves that never started
    expect(statements).toEqual(expect.arrayContaining([expect.objectContaining({
      Action: 'dynamodb:Query', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [only(template, 'AWS::DynamoDB::Table').id, 'Arn'] }, '/index/byExecution']] },
    })]));
    expect(JSON.stringify(configs)).toMatch(/deploymentconfig:CodeDeployDefault\.LambdaLinear10PercentEvery10Minutes/);
    expect(JSON.stringify(configs)).toMatch(/deploymentconfig:CodeDeployDefault\.LambdaAllAtOnce/);
  });

  test('outputs the console URL and the history table name', () => {
    const outputs = template.toJSON().Outputs;
    const values = Object.values<any>(outputs).map((o) => JSON.stringify(o.Value));
    expect(values.some((v) => v.includes('codesuite/codepipeline/pipelines/'))).toBe(true);
    expect(values).toContain(JSON.stringify({ Ref: only(template, 'AWS::DynamoDB::Table').id }));
  });

  test('every unique physical name carries the environment suffix', () => {
    const named: Array<[string, string]> = [
      ['AWS::CodePipeline::Pipeline', 'Name'], ['AWS::CodeBuild::Project', 'Name'], ['AWS::CodeBuild::ReportGroup', 'Name'],
      ['AWS::CodeDeploy::Application', 'ApplicationName'], ['AWS::CodeDeploy::DeploymentGroup', 'DeploymentGroupName'],
      ['AWS::DynamoDB::Table', 'TableName'], ['AWS::SNS::Topic', 'TopicName'], ['AWS::CloudWatch::Alarm', 'AlarmName'],
    ];
    for (const [type, property] of named) {
      for (const resource of Object.values<any>(template.findResources(type))) {
        expect(resource.Properties[property]).toMatch(/-dev$/);
      }
    }
    for (const fn of Object.values<any>(template.findResources('AWS::Lambda::Function'))) {
      if (fn.Properties.FunctionName) expect(fn.Properties.FunctionName).toMatch(/-dev$/);
    }
  });

  test('the notification rule is created only after the topic policy that lets it publish (aws/aws-cdk#29484)', () => {
    const rules = template.findResources('AWS::CodeStarNotifications::NotificationRule');
    const [rule] = Object.values<any>(rules);
    expect(Object.keys(rules)).toHaveLength(1);
    const policyId = only(template, 'AWS::SNS::TopicPolicy').id;
    const policy = only(template, 'AWS::SNS::TopicPolicy').props.PolicyDocument.Statement;
    // the policy it waits for is the one that allows the notification service
    expect(policy.some((st: any) => st.Principal?.Service === 'codestar-notifications.amazonaws.com')).toBe(true);
    expect(rule.DependsOn).toEqual(expect.arrayContaining([policyId]));
  });

  test('matches the snapshot (asset hashes stripped)', () => {
    expect(template.toJSON()).toMatchSnapshot();
  });
});

test('every physical name of a single-service pipeline stays as it has always been', () => {
  const { template } = synth({
    source: { owner: 'example-org', repo: 'orders-api' }, // the construct creates the connection
    preTrafficHook: TrafficHook.smokeTest(),
    dashboard: true,
  });
  const named: Array<[string, string]> = [
    ['AWS::Lambda::Function', 'FunctionName'], ['AWS::CloudWatch::Alarm', 'AlarmName'], ['AWS::CloudWatch::Dashboard', 'DashboardName'],
    ['AWS::CodeDeploy::DeploymentGroup', 'DeploymentGroupName'], ['AWS::CodeDeploy::Application', 'ApplicationName'],
    ['AWS::CodePipeline::Pipeline', 'Name'], ['AWS::CodeBuild::Project', 'Name'], ['AWS::CodeBuild::ReportGroup', 'Name'],
    ['AWS::DynamoDB::Table', 'TableName'], ['AWS::SNS::Topic', 'TopicName'], ['AWS::SQS::Queue', 'QueueName'],
    ['AWS::CodeStarNotifications::NotificationRule', 'Name'], ['AWS::CodeConnections::Connection', 'ConnectionName'],
  ];
  const names = named.flatMap(([type, property]) => Object.values<any>(template.findResources(type))
    .filter((r) => r.Properties[property] !== undefined).map((r) => `${type} ${r.Properties[property]}`));
  expect(names.sort()).toEqual([
    'AWS::CloudWatch::Alarm orders-api-dead-letters-dev', // new with the dead-letter queue
    'AWS::CloudWatch::Alarm orders-api-error-rate-dev',
    'AWS::CloudWatch::Dashboard orders-api-deployments-dev',
    'AWS::CodeBuild::Project orders-api-build-dev',
    'AWS::CodeBuild::ReportGroup orders-api-tests-dev',
    'AWS::CodeConnections::Connection orders-api-dev',
    'AWS::CodeDeploy::Application orders-api-dev',
    'AWS::CodeDeploy::DeploymentGroup orders-api-live-dev',
    'AWS::CodePipeline::Pipeline orders-api-pipeline-dev',
    'AWS::CodeStarNotifications::NotificationRule orders-api-pipeline-events-dev',
    'AWS::DynamoDB::Table orders-api-deployments-dev',
    'AWS::Lambda::Function orders-api-deploy-blue-dev',
    'AWS::Lambda::Function orders-api-dev',
    'AWS::Lambda::Function orders-api-smoke-test-dev',
    'AWS::Lambda::Function orders-api-switch-traffic-dev',
    'AWS::SNS::Topic orders-api-deployments-dev',
    'AWS::SQS::Queue orders-api-dead-letters-dev', // new with the dead-letter queue
  ]);
});

describe('dead letters', () => {
  const { template, construct } = synth({ preTrafficHook: TrafficHook.smokeTest(), manualApproval: { notifyEmails: ['oncall@example.com'] } });
  const queueOf = () => only(template, 'AWS::SQS::Queue');

  test('no function dead-letters to an SNS topic: every handler dead-letters to the SQS queue', () => {
    const queue = queueOf();
    const queueArn = { 'Fn::GetAtt': [queue.id, 'Arn'] };
    const functions = Object.values<any>(template.findResources('AWS::Lambda::Function'));
    const withDeadLetters = functions.filter((f) => f.Properties.DeadLetterConfig);
    expect(withDeadLetters.map((f) => f.Properties.FunctionName).sort()).toEqual(['orders-api-deploy-blue-dev', 'orders-api-smoke-test-dev', 'orders-api-switch-traffic-dev']);
    const topics = Object.keys(template.findResources('AWS::SNS::Topic'));
    for (const fn of withDeadLetters) {
      expect(fn.Properties.DeadLetterConfig.TargetArn).toEqual(queueArn);
      expect(JSON.stringify(fn.Properties.DeadLetterConfig)).not.toMatch(new RegExp(topics.join('|')));
    }
    const queueResource = construct.node.findAll().find((c) => Stack.of(c).resolve((c as any).logicalId) === queue.id);
    expect(construct.deadLetterQueue.node.defaultChild).toBe(queueResource);
  });

  test('the queue is encrypted, TLS-only, keeps messages 14 days, and the handlers may only send to it', () => {
    const queue = queueOf();
    expect(queue.props).toMatchObject({ QueueName: 'orders-api-dead-letters-dev', SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    const [policy] = Object.values<any>(template.findResources('AWS::SQS::QueuePolicy'));
    expect(policy.Properties.PolicyDocument.Statement).toEqual([expect.objectContaining({
      Effect: 'Deny', Action: 'sqs:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    })]);
    // Every grant on the queue, in any policy, is SendMessage by a stage handler's role.
    const grants = Object.values<any>(template.findResources('AWS::IAM::Policy')).flatMap((p) =>
      p.Properties.PolicyDocument.Statement
        .filter((st: any) => JSON.stringify(st.Resource).includes(queue.id))
        .map((st: any) => [p.Properties.Roles.map((r: any) => r.Ref).join(), st.Action]));
    expect(grants.map(([, action]) => action)).toEqual(['sqs:SendMessage', 'sqs:SendMessage', 'sqs:SendMessage']);
    expect(grants.map(([role]) => role).every((role: string) => /^PipelineHandlers(DeployBlue|SwitchTraffic|SmokeTest)Role/.test(role))).toBe(true);
    template.hasResource('AWS::SQS::Queue', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
  });

  test('an alarm on the queue\'s depth notifies the topic, naming the queue and carrying no message', () => {
    const queue = queueOf();
    const alarms = Object.entries<any>(template.findResources('AWS::CloudWatch::Alarm')).filter(([, a]) => a.Properties.Namespace === 'AWS/SQS');
    expect(alarms).toHaveLength(1);
    const [alarmId, alarm] = alarms[0];
    expect(alarm.Properties).toMatchObject({
      AlarmName: 'orders-api-dead-letters-dev',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue.id, 'QueueName'] } }],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: only(template, 'AWS::SNS::Topic').id }],
    });
    expect(alarm.Properties.AlarmDescription).toContain('SQS queue orders-api-dead-letters-dev');
    // CloudWatch may publish this alarm to the topic
    const statements = only(template, 'AWS::SNS::TopicPolicy').props.PolicyDocument.Statement;
    expect(statements).toEqual(expect.arrayContaining([expect.objectContaining({
      Principal: { Service: 'cloudwatch.amazonaws.com' }, Condition: expect.objectContaining({ ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [alarmId, 'Arn'] } } }),
    })]));
  });

  test('the queue follows removalPolicy', () => {
    const retained = synth({ removalPolicy: RemovalPolicy.RETAIN }).template;
    retained.hasResource('AWS::SQS::Queue', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });
});

describe('options', () => {
  test('deployment config, threshold, periods and extra alarms', () => {
    const { template } = synth({
      deploymentConfig: codedeploy.LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES,
      errorRateThreshold: 1.5,
      evaluationPeriods: 3,
      alarmPeriod: Duration.minutes(5),
    }, (stack) => {
      const fn = lambda.Function.fromFunctionName(stack, 'Other', 'other');
      return { extraAlarms: [fn.metricThrottles().createAlarm(stack, 'Throttles', { threshold: 1, evaluationPeriods: 1 })] };
    });
    const group = only(template, 'AWS::CodeDeploy::DeploymentGroup').props;
    expect(group.DeploymentConfigName).toBe('CodeDeployDefault.LambdaCanary10Percent5Minutes');
    expect(group.AlarmConfiguration.Alarms).toHaveLength(2);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'orders-api-error-rate-dev', Threshold: 1.5, EvaluationPeriods: 3, DatapointsToAlarm: 3 });
    expect(JSON.stringify(template.findResources('AWS::CloudWatch::Alarm'))).toMatch(/"Period":300/);
  });

  test('a custom linear config works too', () => {
    const { template } = synth({}, (stack) => ({
      deploymentConfig: new codedeploy.LambdaDeploymentConfig(stack, 'Linear', {
        trafficRouting: codedeploy.TrafficRouting.timeBasedLinear({ interval: Duration.minutes(2), percentage: 25 }),
      }),
    }));
    template.hasResourceProperties('AWS::CodeDeploy::DeploymentConfig', {
      TrafficRoutingConfig: { Type: 'TimeBasedLinear', TimeBasedLinear: { LinearInterval: 2, LinearPercentage: 25 } },
    });
  });

  test('the smoke-test hook is named in Switch-Traffic and may be invoked by CodeDeploy', () => {
    const { template, construct } = synth({ preTrafficHook: TrafficHook.smokeTest({ testEvent: { path: '/health' } }) });
    expect(construct.smokeTestFunction).toBeDefined();
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'orders-api-smoke-test-dev', Environment: { Variables: Match.objectLike({ SMOKE_TEST_EVENTS: '{"orders-api-dev":{"path":"/health"}}' }) },
    });
    const switchTraffic = only(template, 'AWS::CodePipeline::Pipeline').props.Stages[3].Actions[0];
    expect(userParametersOf(switchTraffic)).toMatchObject({ beforeAllowTrafficHook: 'orders-api-smoke-test-dev', afterAllowTrafficHook: '' });
    // The action has no resource-level permissions: scoped to the deployment group, IAM would deny it.
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'codedeploy:PutLifecycleEventHookExecutionStatus', Resource: '*' })]) },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'codedeploy:GetApplicationRevision', Resource: Match.anyValue() })]) },
    });
  });

  test('the smoke-test event is synthesized with sorted keys, whatever order the caller built it in', () => {
    // Java's Map.of and Go maps have no key order; the template must not depend on it.
    const smokeTestEvent = (testEvent: Record<string, unknown>): string => {
      const functions = synth({ preTrafficHook: TrafficHook.smokeTest({ testEvent }) }).template.findResources('AWS::Lambda::Function', {
        Properties: { FunctionName: 'orders-api-smoke-test-dev' },
      });
      return Object.values(functions)[0].Properties.Environment.Variables.SMOKE_TEST_EVENTS;
    };
    const a = smokeTestEvent({ b: { y: 1, x: [{ q: 1, p: 2 }] }, a: 'first' });
    const b = smokeTestEvent({ a: 'first', b: { x: [{ p: 2, q: 1 }], y: 1 } });
    expect(a).toBe('{"orders-api-dev":{"a":"first","b":{"x":[{"p":2,"q":1}],"y":1}}}');
    expect(b).toBe(a);
  });

  test('a CDK token in the smoke-test event is rendered by CloudFormation', () => {
    const { template } = synth({}, (stack) => ({
      preTrafficHook: TrafficHook.smokeTest({ testEvent: { region: Aws.REGION, account: Aws.ACCOUNT_ID, stackAccount: stack.account, path: '/health', n: 1 } }),
    }));
    const [smoke] = Object.values<any>(template.findResources('AWS::Lambda::Function', { Properties: { FunctionName: 'orders-api-smoke-test-dev' } }));
    const value = smoke.Properties.Environment.Variables.SMOKE_TEST_EVENTS;
    // What CloudFormation makes of it in us-east-1, account 222222222222
    const rendered = value['Fn::Join'][1].map((part: any) => typeof part === 'string' ? part
      : ({ 'AWS::Region': 'us-east-1', 'AWS::AccountId': '222222222222' } as any)[part.Ref]).join(value['Fn::Join'][0]);
    expect(JSON.parse(rendered)).toEqual({ 'orders-api-dev': { account: '222222222222', n: 1, path: '/health', region: 'us-east-1', stackAccount: '111111111111' } });
  });

  test('a user hook function is granted and named', () => {
    const { template } = synth({}, (stack) => {
      const hook = new lambda.Function(stack, 'MyHook', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler=async()=>{}') });
      return { postTrafficHook: TrafficHook.fromFunction(hook) };
    });
    const switchTraffic = only(template, 'AWS::CodePipeline::Pipeline').props.Stages[3].Actions[0];
    expect(userParametersOf(switchTraffic)).toMatchObject({ beforeAllowTrafficHook: '', afterAllowTrafficHook: expect.stringMatching(/^<Ref:MyHook/) });
    // the hook may report its status (an action without resource-level permissions) and CodeDeploy may invoke it
    expect(statementsOf(template, 'MyHookServiceRole')).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: 'codedeploy:PutLifecycleEventHookExecutionStatus', Resource: '*' }),
    ]));
    expect(statementsOf(template, 'PipelineCodeDeployRole')).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^MyHook/), 'Arn'] } }),
    ]));
  });

  test('manual approval sits between Deploy-Blue and Switch-Traffic; extra stages go where asked', () => {
    const { template } = synth({ manualApproval: { notifyEmails: ['oncall@example.com'] } }, (stack) => {
      const project = new codebuild.PipelineProject(stack, 'Scan');
      const input = new codepipeline.Artifact('SourceOutput');
      return {
        extraStages: [
          { stageName: 'SecurityScan', placement: StagePlacement.AFTER_BUILD, actions: [new actions.CodeBuildAction({ actionName: 'Scan', project, input })] },
          { stageName: 'Announce', placement: StagePlacement.AFTER_SWITCH_TRAFFIC, actions: [new actions.ManualApprovalAction({ actionName: 'Ack' })] },
        ],
      };
    });
    const stages = only(template, 'AWS::CodePipeline::Pipeline').props.Stages.map((s: any) => s.Name);
    expect(stages).toEqual(['Source', 'Build', 'SecurityScan', 'Deploy-Blue', 'Approve', 'Switch-Traffic', 'Announce']);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
  });

  test('an existing function, a created connection, RETAIN, tags and custom build commands', () => {
    const { template } = synth({
      source: { owner: 'example-org', repo: 'orders-api', branch: 'release' },
      removalPolicy: RemovalPolicy.RETAIN,
      tags: { team: 'payments' },
      buildStage: { buildImage: codebuild.LinuxBuildImage.STANDARD_7_0, nodeVersion: '20', testCommands: ['npm run test:ci'], artifactDirectory: 'build' },
    }, (stack) => ({
      serviceFunction: new lambda.Function(stack, 'Existing', { functionName: 'existing', runtime: lambda.Runtime.NODEJS_24_X, handler: 'app.handler', code: lambda.Code.fromInline('exports.handler=async()=>1') }),
    }));
    // the existing function and the two handlers; no service function created, no auto-delete provider under RETAIN
    template.resourceCountIs('AWS::Lambda::Function', 3);
    template.hasResourceProperties('AWS::CodeConnections::Connection', { ConnectionName: 'orders-api-dev', ProviderType: 'GitHub' });
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    template.hasResourceProperties('AWS::DynamoDB::Table', { Tags: Match.arrayWith([{ Key: 'team', Value: 'payments' }]) });
    const spec = buildSpecOf(template);
    expect(spec.phases.build.commands).toEqual(['npm run build', 'npm run test:ci']);
    expect(spec.artifacts['base-directory']).toBe('build');
    expect(spec.phases.install['runtime-versions'].nodejs).toBe('20');
    template.hasResourceProperties('AWS::CodePipeline::Pipeline', { Triggers: [{ GitConfiguration: { Push: [{ Branches: { Includes: ['release'] } }] } }] });
  });

  test('RETAIN reaches the notification topic too', () => {
    const { template } = synth({ removalPolicy: RemovalPolicy.RETAIN });
    template.hasResource('AWS::SNS::Topic', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    template.hasResource('AWS::SNS::Topic', Match.not({ DeletionPolicy: 'Delete' }));
  });

  test('a user\'s own function always shifts gradually: no bootstrap shortcut, no all-at-once grant', () => {
    const { template } = synth({}, (stack) => ({
      serviceFunction: new lambda.Function(stack, 'Existing', { functionName: 'existing', runtime: lambda.Runtime.NODEJS_22_X, handler: 'app.handler', code: lambda.Code.fromInline('exports.handler=async()=>1') }),
      keepVersions: 3,
    }));
    const switchTraffic = only(template, 'AWS::CodePipeline::Pipeline').props.Stages[3].Actions[0];
    expect(userParametersOf(switchTraffic)).toMatchObject({ functionName: 'existing', bootstrapVersion: '', keepVersions: '3' });
    // ... but the version the stack's AWS::Lambda::Version names travels, so retention never deletes it
    const version = only(template, 'AWS::Lambda::Version');
    expect(version.props.FunctionName).toEqual({ Ref: expect.stringMatching(/^Existing/) });
    expect(userParametersOf(switchTraffic).stackVersion).toBe(`<${version.id}.Version>`);
    expect(JSON.stringify(template.findResources('AWS::IAM::Policy'))).not.toMatch(/LambdaAllAtOnce/);
    // built on the runtime the service runs on
    expect(buildSpecOf(template).phases.install['runtime-versions'].nodejs).toBe('22');
  });

  test('a service on a non-Node.js runtime builds on Node 22 unless told otherwise', () => {
    const { template } = synth({ service: { runtime: lambda.Runtime.PYTHON_3_13 } });
    expect(buildSpecOf(template).phases.install['runtime-versions'].nodejs).toBe('22');
  });

  test('a topic of the user\'s gets the alarm statement; an imported one gets a warning naming what to add', () => {
    const own = synth({}, (stack) => ({ notificationTopic: new sns.Topic(stack, 'Mine') }));
    own.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: Match.stringLikeRegexp('^Mine') }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish' })]) },
    });
    const imported = synth({}, (stack) => ({ notificationTopic: sns.Topic.fromTopicArn(stack, 'Imported', 'arn:aws:sns:us-east-1:111111111111:ops') }));
    imported.template.resourceCountIs('AWS::SNS::TopicPolicy', 0);
    const warnings = Annotations.fromStack(imported.stack).findWarning('*', Match.stringLikeRegexp('notificationTopic is imported.*cloudwatch\\.amazonaws\\.com to sns:Publish'));
    // one for the error-rate alarm, one for the dead-letter alarm, each naming its alarm
    expect(warnings.map((w) => /the alarm (\S+)\)/.exec(String(w.entry.data))?.[1]).sort()).toEqual(['TestStack/Pipeline/Default/ErrorRate/Alarm', 'TestStack/Pipeline/Handlers/DeadLetters/Alarm']);
  });

  test('the connection grant follows the ARN\'s prefix: old codestar-connections ARNs, created connections', () => {
    const actionsOnSourceRole = (template: Template) => Object.values<any>(template.findResources('AWS::IAM::Policy'))
      .filter((p) => p.Properties.Roles.some((r: any) => r.Ref.startsWith('PipelineSourceActionRole')))
      .flatMap((p) => p.Properties.PolicyDocument.Statement).flatMap((st: any) => [].concat(st.Action))
      .filter((a: string) => a.endsWith(':UseConnection'));
    const old = 'arn:aws:codestar-connections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789';
    // aws-cdk-lib's action adds codestar-connections:UseConnection itself; we add nothing of the other prefix.
    expect(actionsOnSourceRole(synth({ source: { owner: 'o', repo: 'r', connectionArn: old } }).template)).toEqual(['codestar-connections:UseConnection']);
    expect(actionsOnSourceRole(synth({ source: { owner: 'o', repo: 'r' } }).template).sort()).toEqual(['codeconnections:UseConnection', 'codestar-connections:UseConnection']);
  });

  test('extra stages can use the pipeline\'s source and build artifacts through addStage()', () => {
    const stack = newStack(new App());
    const construct = new BlueGreenLambdaPipeline(stack, 'Pipeline', baseProps());
    const project = new codebuild.PipelineProject(stack, 'IntegrationTests');
    construct.addStage({
      stageName: 'IntegrationTests',
      placement: StagePlacement.AFTER_BUILD,
      actions: [new actions.CodeBuildAction({ actionName: 'Run', project, input: construct.sourceOutput, extraInputs: [construct.buildOutput] })],
    });
    const stages = Template.fromStack(stack).toJSON().Resources;
    const pipeline: any = Object.values(stages).find((r: any) => r.Type === 'AWS::CodePipeline::Pipeline');
    const added = pipeline.Properties.Stages.find((st: any) => st.Name === 'IntegrationTests').Actions[0];
    expect(added.InputArtifacts).toEqual([{ Name: 'SourceOutput' }, { Name: 'BuildOutput' }]);
    expect(pipeline.Properties.Stages.map((st: any) => st.Name)).toEqual(['Source', 'Build', 'IntegrationTests', 'Deploy-Blue', 'Switch-Traffic']);
  });

  test('service.environment is synthesized with sorted keys, whatever order the caller built it in', () => {
    const variablesOf = (environment: Record<string, string>) => {
      const [service] = Object.values<any>(synth({ service: { environment } }).template.findResources('AWS::Lambda::Function', { Properties: { FunctionName: 'orders-api-dev' } }));
      return JSON.stringify(service.Properties.Environment.Variables);
    };
    expect(variablesOf({ ZONE: 'a', API: 'b', MIDDLE: 'c' })).toBe('{"API":"b","MIDDLE":"c","ZONE":"a"}');
    expect(variablesOf({ MIDDLE: 'c', ZONE: 'a', API: 'b' })).toBe(variablesOf({ ZONE: 'a', API: 'b', MIDDLE: 'c' }));
  });

  test('no service setting moves live traffic: the bootstrap version and the alias are the same whatever the settings', () => {
    const aliasAndVersion = (overrides: Partial<BlueGreenLambdaPipelineProps>) => {
      const { template } = synth(overrides);
      return JSON.stringify([template.findResources('AWS::Lambda::Version'), template.findResources('AWS::Lambda::Alias')]);
    };
    const baseline = aliasAndVersion({});
    const changes: Array<Partial<BlueGreenLambdaPipelineProps>> = [
      { service: { runtime: lambda.Runtime.NODEJS_22_X } },
      { service: { memorySize: 1024, timeout: Duration.seconds(30), handler: 'app.main' } },
      { service: { environment: { STAGE: 'prod' }, tracing: lambda.Tracing.DISABLED, reservedConcurrentExecutions: 5 } },
      { service: { bootstrapCode: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200 })') } },
      { deploymentConfig: codedeploy.LambdaDeploymentConfig.ALL_AT_ONCE, errorRateThreshold: 1, keepVersions: 3 },
      { preTrafficHook: TrafficHook.smokeTest(), manualApproval: {} },
    ];
    for (const change of changes) expect(aliasAndVersion(change)).toBe(baseline);
    // The bootstrap version names no code hash: a code change cannot make CloudFormation republish it.
    expect(baseline).not.toMatch(/CodeSha256/);
  });

  test('artifact expiry is a prop', () => {
    const { template } = synth({ artifactExpiration: Duration.days(7) });
    template.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 7, NoncurrentVersionExpiration: { NoncurrentDays: 30 } })] } });
  });
});
