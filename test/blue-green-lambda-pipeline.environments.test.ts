import { App, Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import {
  BlueGreenLambdaPipeline, BlueGreenLambdaPipelineProps, PipelineEnvironment, ServiceDeploymentOptions, StagePlacement, TrafficHook,
} from '../src';
import { baseProps, newStack } from './helpers/stack-fixture';

const services = (): ServiceDeploymentOptions[] => [
  { serviceName: 'orders', bundleDirectory: 'services/orders/dist', wave: 1, preTrafficHook: TrafficHook.smokeTest({ testEvent: { rawPath: '/orders' } }) },
  { serviceName: 'users', bundleDirectory: 'services/users/dist', wave: 2, service: { memorySize: 256, environment: { LOG_LEVEL: 'info', TABLE: 'users' } } },
];

/** dev all at once; staging linear with an hour's bake; prod behind an approval, canary, two hours' bake. */
const threeEnvironments = (overrides: Partial<PipelineEnvironment>[] = []): PipelineEnvironment[] => [
  { name: 'dev', deploymentConfig: codedeploy.LambdaDeploymentConfig.ALL_AT_ONCE },
  { name: 'staging', deploymentConfig: codedeploy.LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_1MINUTE, bakeTime: Duration.hours(1) },
  {
    name: 'prod',
    approval: { timeout: Duration.days(2), notifyEmails: ['release-managers@example.com'] },
    deploymentConfig: codedeploy.LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES,
    bakeTime: Duration.hours(2),
    bakeMinInvocations: 100,
    errorRateThreshold: 1,
    serviceOverrides: [{ serviceName: 'users', service: { memorySize: 1024, environment: { LOG_LEVEL: 'warn' } }, keepVersions: 20 }],
  },
].map((e, i) => ({ ...e, ...overrides[i] }));

function synth(props: Partial<BlueGreenLambdaPipelineProps>) {
  const stack = newStack(new App());
  const construct = new BlueGreenLambdaPipeline(stack, 'Shop', baseProps({ serviceName: 'shop', ...props }));
  return { stack, construct, template: Template.fromStack(stack) };
}

let alarmCount = 0;
function alarmStub(): cloudwatch.IAlarm {
  const stack = newStack(new App());
  return cloudwatch.Alarm.fromAlarmArn(stack, `A${alarmCount++}`, `arn:aws:cloudwatch:us-east-1:111111111111:alarm:a${alarmCount}`);
}

const attempt = (props: Partial<BlueGreenLambdaPipelineProps>) => () => synth(props);

function userParameters(action: any): any {
  const value = action.Configuration.UserParameters;
  const text = typeof value === 'string' ? value : value['Fn::Join'][1].map((p: any) => (typeof p === 'string' ? p : '<token>')).join('');
  return JSON.parse(text);
}

describe('one build promoted through dev, staging and prod', () => {
  const { template, construct } = synth({ services: services(), environments: threeEnvironments() });
  const pipeline = Object.values<any>(template.findResources('AWS::CodePipeline::Pipeline'))[0].Properties;
  const stage = (name: string) => pipeline.Stages.find((s: any) => s.Name === name).Actions;
  const functions = template.findResources('AWS::Lambda::Function');
  const fn = (name: string) => Object.values<any>(functions).find((f) => f.Properties.FunctionName === name)?.Properties;

  test('Source and Build once, then each environment\'s stages in promotion order', () => {
    expect(pipeline.Stages.map((s: any) => s.Name)).toEqual([
      'Source', 'Build',
      'Deploy-Blue-dev', 'Switch-Traffic-dev',
      'Deploy-Blue-staging', 'Switch-Traffic-staging',
      'Approve-prod', 'Deploy-Blue-prod', 'Switch-Traffic-prod',
    ]);
    expect(construct.environmentNames).toEqual(['dev', 'staging', 'prod']);
    // every environment deploys the one build output
    for (const env of ['dev', 'staging', 'prod']) {
      expect(stage(`Deploy-Blue-${env}`).map((a: any) => a.InputArtifacts)).toEqual([[{ Name: 'BuildOutput' }], [{ Name: 'BuildOutput' }]]);
    }
  });

  test('the bake follows the last wave in the Switch-Traffic stage (stage locks keep the next execution out while it bakes)', () => {
    expect(stage('Switch-Traffic-dev').map((a: any) => [a.Name, a.RunOrder])).toEqual([['Shift-orders', 1], ['Shift-users', 2]]);
    expect(stage('Switch-Traffic-staging').map((a: any) => [a.Name, a.RunOrder])).toEqual([
      ['Shift-orders', 1], ['Shift-users', 2], ['Bake-orders', 3], ['Bake-users', 3],
    ]);
    const bake = userParameters(stage('Switch-Traffic-prod').find((a: any) => a.Name === 'Bake-orders'));
    expect(bake).toEqual({
      deploymentId: '#{codepipeline.PipelineExecutionId}',
      service: 'orders',
      functionName: 'shop--orders-prod',
      aliasName: 'live',
      deploymentGroupName: 'shop--orders-live-prod',
      environment: 'prod',
      bakeMinutes: '120',
      minInvocations: '100',
      wave: '1',
      beforeAllowTrafficHook: 'shop-smoke-test-release',
      afterAllowTrafficHook: '',
      environments: 'dev,staging,prod',
    });
  });

  test('Deploy-Blue of every environment names the promotion order and the environments that bake (the gate)', () => {
    const prod = userParameters(stage('Deploy-Blue-prod')[0]);
    expect(prod).toMatchObject({ environment: 'prod', environments: 'dev,staging,prod', bakedEnvironments: 'staging,prod', functionName: 'shop--orders-prod' });
    expect(userParameters(stage('Deploy-Blue-dev')[1])).toMatchObject({ environment: 'dev', service: 'users', functionName: 'shop--users-dev' });
    expect(userParameters(stage('Switch-Traffic-staging')[1])).toMatchObject({
      environment: 'staging', environments: 'dev,staging,prod', deploymentConfigName: 'CodeDeployDefault.LambdaLinear10PercentEvery1Minute',
    });
    // variable namespaces are unique per pipeline
    const namespaces = pipeline.Stages.flatMap((s: any) => s.Actions.map((a: any) => a.Namespace)).filter(Boolean);
    expect(new Set(namespaces).size).toBe(namespaces.length);
    expect(userParameters(stage('Switch-Traffic-prod')[0]).targetVersion).toBe('#{DeployBlue-prod-orders.targetVersion}');
  });

  test('the approval before prod waits at most its timeout and tells the approvers what they promote', () => {
    const [approve] = stage('Approve-prod');
    expect(approve.ActionTypeId).toMatchObject({ Category: 'Approval', Provider: 'Manual' });
    expect(approve.TimeoutInMinutes).toBe(2880);
    expect(JSON.stringify(approve.Configuration.CustomData)).toContain('It passed staging. Approve to deploy execution');
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'release-managers@example.com' });
  });

  test('each environment has its own copy of every service, with the environment\'s settings and overrides', () => {
    expect(construct.services.map((s) => `${s.environment}/${s.serviceName}`)).toEqual([
      'dev/orders', 'dev/users', 'staging/orders', 'staging/users', 'prod/orders', 'prod/users',
    ]);
    expect(fn('shop--users-dev')).toMatchObject({ MemorySize: 256, Environment: { Variables: { LOG_LEVEL: 'info', TABLE: 'users' } } });
    // the override's settings win; environment variables merge
    expect(fn('shop--users-prod')).toMatchObject({ MemorySize: 1024, Environment: { Variables: { LOG_LEVEL: 'warn', TABLE: 'users' } } });
    const groups = Object.values<any>(template.findResources('AWS::CodeDeploy::DeploymentGroup')).map((g) => g.Properties);
    const config = (name: string) => groups.find((g) => g.DeploymentGroupName === name).DeploymentConfigName;
    expect(config('shop--orders-live-dev')).toBe('CodeDeployDefault.LambdaAllAtOnce');
    expect(config('shop--orders-live-prod')).toBe('CodeDeployDefault.LambdaCanary10Percent5Minutes');
    const alarms = Object.values<any>(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    const threshold = (name: string) => alarms.find((a) => a.AlarmName === name).Threshold;
    expect([threshold('shop--orders-error-rate-staging'), threshold('shop--orders-error-rate-prod')]).toEqual([5, 1]);
    // one CodeDeploy application for all environments
    template.resourceCountIs('AWS::CodeDeploy::Application', 1);
  });

  test('one Bake handler, which may read exactly the baked services\' alarms and roll back their groups', () => {
    expect(construct.bakeFunction).toBeDefined();
    const policies = Object.values<any>(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes('HandlersBakeRole'));
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
    const describe = statements.find((s: any) => s.Action === 'cloudwatch:DescribeAlarms');
    // staging's and prod's error-rate alarms, none of dev's (it does not bake)
    expect(describe.Resource).toHaveLength(4);
    expect(JSON.stringify(describe.Resource)).not.toContain('Environmentdev');
    const deploy = statements.find((s: any) => Array.isArray(s.Action) && s.Action.includes('codedeploy:CreateDeployment'));
    expect(deploy.Resource).toHaveLength(4);
    expect(statements.find((s: any) => s.Action === 'cloudwatch:GetMetricData').Resource).toBe('*');
    // Deploy-Blue's gate reads the execution's items in earlier environments (byExecution)
    const deployBlue = Object.values<any>(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes('HandlersDeployBlueRole'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
    expect(JSON.stringify(deployBlue.filter((s: any) => s.Action === 'dynamodb:Query').map((s: any) => s.Resource))).toContain('/index/byExecution');
    // the rollback overrides the group's alarms, which CreateDeployment allows only with UpdateDeploymentGroup
    // and it adopts a rollback it created but could not record (ListDeployments)
    expect(deploy.Action).toEqual([
      'codedeploy:GetDeploymentGroup', 'codedeploy:CreateDeployment', 'codedeploy:GetDeployment', 'codedeploy:ListDeployments', 'codedeploy:UpdateDeploymentGroup',
    ]);
  });

  test('a Bake event older than CodePipeline\'s 20-minute reply window is never acted on', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: Object.keys(template.findResources('AWS::Lambda::Function', { Properties: { FunctionName: 'shop-bake-release' } }))[0] },
      MaximumEventAgeInSeconds: 900,
    });
  });

  test('an imported extra alarm may be composite: DescribeAlarms then needs *', () => {
    const stack = newStack(new App());
    const imported = cloudwatch.Alarm.fromAlarmArn(stack, 'Upstream', 'arn:aws:cloudwatch:us-east-1:111111111111:alarm:upstream');
    new BlueGreenLambdaPipeline(stack, 'P', baseProps({ environments: [{ name: 'prod', bakeTime: Duration.hours(1), extraAlarms: [imported] }] }));
    const statements = Object.values<any>(Template.fromStack(stack).findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes('HandlersBakeRole'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
    expect(statements.find((s: any) => s.Action === 'cloudwatch:DescribeAlarms').Resource).toEqual(expect.arrayContaining(['*']));
  });

  test('names: the environments\' own, the shared ones carry "release" unless environmentSuffix says otherwise', () => {
    expect(construct.pipeline.pipelineName).toBeDefined();
    template.hasResourceProperties('AWS::CodePipeline::Pipeline', { Name: 'shop-pipeline-release' });
    template.hasResourceProperties('AWS::Lambda::Function', { FunctionName: 'shop-bake-release' });
    template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'shop-deployments-release' });
  });

  test('an extra stage after Switch-Traffic goes after the last environment', () => {
    const { template: t } = synth({
      services: services(),
      environments: threeEnvironments(),
      extraStages: [{ stageName: 'Announce', placement: StagePlacement.AFTER_SWITCH_TRAFFIC, actions: [new actions.ManualApprovalAction({ actionName: 'Ok' })] }],
    });
    const names = Object.values<any>(t.findResources('AWS::CodePipeline::Pipeline'))[0].Properties.Stages.map((s: any) => s.Name);
    expect(names.slice(-2)).toEqual(['Switch-Traffic-prod', 'Announce']);
  });

  test('the dashboard shows each environment', () => {
    const { construct: c, stack } = synth({ services: services(), environments: threeEnvironments(), dashboard: true });
    const body = JSON.stringify(stack.resolve((c.dashboard!.node.defaultChild as cloudwatch.CfnDashboard).dashboardBody));
    for (const env of ['dev', 'staging', 'prod']) {
      expect(body).toContain(`shop-pipeline-release (${env})`);
      expect(body).toMatch(new RegExp(`Environment[\\\\"]+,[\\\\"]+${env}[\\\\"]+,[\\\\"]+Outcome`));
      expect(body).toContain(`shop--orders-${env}:live`);
    }
  });
});

describe('a single service promoted through environments', () => {
  test('keeps the single-service action names, with the environment in namespaces and function names', () => {
    const { template } = synth({ environments: [{ name: 'dev' }, { name: 'prod', bakeTime: Duration.minutes(30) }] });
    const pipeline = Object.values<any>(template.findResources('AWS::CodePipeline::Pipeline'))[0].Properties;
    const prod = pipeline.Stages.find((s: any) => s.Name === 'Switch-Traffic-prod').Actions;
    expect(prod.map((a: any) => a.Name)).toEqual(['ShiftTraffic', 'Bake']);
    expect(userParameters(prod[0]).targetVersion).toBe('#{DeployBlue-prod.targetVersion}');
    expect(userParameters(prod[1])).toMatchObject({ functionName: 'shop-prod', minInvocations: '0', bakeMinutes: '30' });
    template.hasResourceProperties('AWS::Lambda::Function', { FunctionName: 'shop-dev' });
  });
});

describe('limits and mistakes, caught at synth time with the prop path', () => {
  const base = { services: services() };
  test.each<[string, Partial<BlueGreenLambdaPipelineProps>, string]>([
    ['no environments', { environments: [] }, 'environments must list at least one environment'],
    ['a name with capitals', { environments: [{ name: 'Prod' }] }, 'environments[0].name must be 1-20 lowercase letters'],
    ['a name twice', { environments: [{ name: 'dev' }, { name: 'dev' }] }, 'environments[1].name: "dev" is already the name of environments[0]'],
    ['an approval of 4 minutes', { environments: [{ name: 'prod', approval: { timeout: Duration.minutes(4) } }] }, 'environments[0].approval.timeout must be a whole number of minutes from 5 minutes to 60 days'],
    ['an approval of 61 days', { environments: [{ name: 'prod', approval: { timeout: Duration.days(61) } }] }, 'environments[0].approval.timeout'],
    ['an approval of 90 seconds over 5 minutes', { environments: [{ name: 'prod', approval: { timeout: Duration.seconds(390) } }] }, 'whole number of minutes'],
    ['a bake of 24 hours', { environments: [{ name: 'prod', bakeTime: Duration.hours(24) }] }, 'environments[0].bakeTime must be a whole number of minutes from 1 to 1380'],
    ['invocations without a bake', { environments: [{ name: 'prod', bakeMinInvocations: 10 }] }, 'environments[0].bakeMinInvocations counts invocations during the bake; set environments[0].bakeTime too'],
    ['negative invocations', { environments: [{ name: 'prod', bakeTime: Duration.hours(1), bakeMinInvocations: -1 }] }, 'environments[0].bakeMinInvocations must be a whole number'],
    ['an override of an unknown service', { environments: [{ name: 'prod', serviceOverrides: [{ serviceName: 'payments' }] }] }, 'environments[0].serviceOverrides[0].serviceName: "payments" is not one of the pipeline\'s services (orders, users)'],
    ['a service overridden twice', { environments: [{ name: 'prod', serviceOverrides: [{ serviceName: 'users' }, { serviceName: 'users' }] }] }, 'environments[0].serviceOverrides[1].serviceName: "users" is overridden already'],
    ['the pipeline-wide approval', { environments: [{ name: 'prod' }], manualApproval: {} }, 'manualApproval: with environments, give each environment its own approval'],
    ['an extra stage after Deploy-Blue', { environments: [{ name: 'prod' }], extraStages: [{ stageName: 'X', placement: StagePlacement.AFTER_DEPLOY_BLUE, actions: [] }] }, 'extraStages[0].placement: with environments there is a Deploy-Blue stage per environment'],
    ['a bad approval email', { environments: [{ name: 'prod', approval: { notifyEmails: ['nobody'] } }] }, 'environments[0].approval.notifyEmails: "nobody" is not an email address'],
    ['too many stages', { environments: Array.from({ length: 17 }, (_, i) => ({ name: `e${i}`, approval: {} })) }, 'environments: 17 environments make 53 stages, but CodePipeline allows 50 per pipeline'],
    ['an environment name that makes a function name too long', { environments: [{ name: 'a-very-long-env-name' }], services: [{ serviceName: 'an-extremely-long-service-name-for-orders', bundleDirectory: 'o' }] }, 'gives the Lambda function name'],
    ['extra alarms of an environment beyond CodeDeploy\'s 10', { environments: [{ name: 'prod', extraAlarms: 'x'.repeat(10).split('').map(() => alarmStub()) }] }, 'environments[0].services[0].extraAlarms: CodeDeploy allows 10 alarms per deployment group'],
  ])('%s', (_name, props, message) => {
    expect(attempt({ ...base, ...props })).toThrow(message);
  });

  test('a bake doubles the Switch-Traffic actions: 26 services with a bake exceed 50 per stage', () => {
    const many = Array.from({ length: 26 }, (_, i) => ({ serviceName: `s${i}`, bundleDirectory: `services/s${i}` }));
    expect(attempt({ services: many, environments: [{ name: 'prod', bakeTime: Duration.hours(1) }] }))
      .toThrow('environments[0].bakeTime: with a bake, stage Switch-Traffic-prod holds a shift and a Bake action per service, 52 for 26 services, but CodePipeline allows 50 actions per stage');
    expect(attempt({ services: many, environments: [{ name: 'prod' }] })).not.toThrow();
  });

  test('a function of your own cannot be promoted: each environment needs one', () => {
    const stack = newStack(new App());
    const own = new lambda.Function(stack, 'Own', { functionName: 'own', runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('x') });
    expect(() => new BlueGreenLambdaPipeline(stack, 'P', baseProps({ serviceFunction: own, environments: [{ name: 'prod' }] })))
      .toThrow('serviceFunction: with environments, each environment needs a function of its own');
  });

  test('an approval\'s own topic is used instead of the pipeline\'s', () => {
    const stack = newStack(new App());
    const approvers = new sns.Topic(stack, 'Approvers');
    const c = new BlueGreenLambdaPipeline(stack, 'P', baseProps({ environments: [{ name: 'prod', approval: { notificationTopic: approvers } }] }));
    const approve = (c.pipeline.stage('Approve-prod').actions[0] as unknown as { actionProperties: codepipeline.ActionProperties });
    expect(approve.actionProperties.actionName).toBe('ApprovePromotion');
    const pipeline = Object.values<any>(Template.fromStack(stack).findResources('AWS::CodePipeline::Pipeline'))[0].Properties;
    const config = pipeline.Stages.find((s: any) => s.Name === 'Approve-prod').Actions[0].Configuration;
    expect(JSON.stringify(config.NotificationArn)).toContain('Approvers');
  });
});

