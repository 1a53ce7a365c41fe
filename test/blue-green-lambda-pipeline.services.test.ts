import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { BlueGreenLambdaPipeline, BlueGreenLambdaPipelineProps, ServiceDeploymentOptions, TrafficHook } from '../src';
import { baseProps, newStack } from './helpers/stack-fixture';

/** A monorepo of three services in two waves: orders and billing first, then users. */
const monorepo = (overrides: Partial<ServiceDeploymentOptions>[] = []): ServiceDeploymentOptions[] => [
  { serviceName: 'orders', bundleDirectory: 'services/orders/dist', wave: 1, preTrafficHook: TrafficHook.smokeTest({ testEvent: { rawPath: '/orders' } }) },
  { serviceName: 'billing', bundleDirectory: 'services/billing/dist', wave: 1, errorRateThreshold: 1 },
  { serviceName: 'users', bundleDirectory: 'services/users/dist', wave: 2, preTrafficHook: TrafficHook.smokeTest({ testEvent: { rawPath: '/users' } }) },
].map((service, i) => ({ ...service, ...overrides[i] }));

function synth(props: Partial<BlueGreenLambdaPipelineProps>) {
  const stack = newStack(new App());
  const construct = new BlueGreenLambdaPipeline(stack, 'Shop', baseProps({ serviceName: 'shop', ...props }));
  return { stack, construct, template: Template.fromStack(stack) };
}

function userParameters(action: any): any {
  const value = action.Configuration.UserParameters;
  const text = typeof value === 'string' ? value : value['Fn::Join'][1].map((p: any) => (typeof p === 'string' ? p : '<token>')).join('');
  return JSON.parse(text);
}

describe('one pipeline, three services, two waves', () => {
  const { template, construct } = synth({ services: monorepo() });
  const pipeline = Object.values<any>(template.findResources('AWS::CodePipeline::Pipeline'))[0].Properties;
  const stage = (name: string) => pipeline.Stages.find((s: any) => s.Name === name).Actions;

  test('Deploy-Blue publishes every service in parallel; Switch-Traffic shifts them in waves', () => {
    expect(stage('Deploy-Blue').map((a: any) => [a.Name, a.RunOrder, a.Namespace])).toEqual([
      ['Publish-orders', 1, 'DeployBlue-orders'], ['Publish-billing', 1, 'DeployBlue-billing'], ['Publish-users', 1, 'DeployBlue-users'],
    ]);
    expect(stage('Switch-Traffic').map((a: any) => [a.Name, a.RunOrder])).toEqual([['Shift-orders', 1], ['Shift-billing', 1], ['Shift-users', 2]]);
    // one handler and one action role per stage serve every service
    expect(new Set(stage('Deploy-Blue').map((a: any) => JSON.stringify([a.Configuration.FunctionName, a.RoleArn]))).size).toBe(1);
    expect(new Set(stage('Switch-Traffic').map((a: any) => JSON.stringify([a.Configuration.FunctionName, a.RoleArn]))).size).toBe(1);
  });

  test('each action carries its service: function, bundle directory, group, config, hooks, wave', () => {
    const [orders, billing, users] = stage('Deploy-Blue').map(userParameters);
    expect(orders).toMatchObject({ service: 'orders', functionName: 'shop--orders-dev', bundleDirectory: 'services/orders/dist', wave: '1' });
    expect(billing).toMatchObject({ service: 'billing', functionName: 'shop--billing-dev', bundleDirectory: 'services/billing/dist' });
    expect(users).toMatchObject({ service: 'users', wave: '2' });
    const shifts = stage('Switch-Traffic').map(userParameters);
    expect(shifts[0]).toMatchObject({
      service: 'orders',
      targetVersion: '#{DeployBlue-orders.targetVersion}',
      deploymentGroupName: 'shop--orders-live-dev',
      beforeAllowTrafficHook: 'shop-smoke-test-dev',
      afterAllowTrafficHook: '',
      wave: '1',
    });
    expect(shifts[1]).toMatchObject({ service: 'billing', beforeAllowTrafficHook: '', deploymentGroupName: 'shop--billing-live-dev' });
    expect(shifts[2]).toMatchObject({ service: 'users', targetVersion: '#{DeployBlue-users.targetVersion}', wave: '2' });
  });

  test('one build writes every bundle with its path', () => {
    const project = Object.values<any>(template.findResources('AWS::CodeBuild::Project'))[0].Properties;
    const spec = project.Source.BuildSpec;
    const text = typeof spec === 'string' ? spec : spec['Fn::Join'][1].map((p: any) => (typeof p === 'string' ? p : 'TOKEN')).join('');
    expect(JSON.parse(text).artifacts).toEqual({ files: ['services/orders/dist/**/*', 'services/billing/dist/**/*', 'services/users/dist/**/*'] });
  });

  test('each service has its own function, alias, alarm and deployment group; the rest is shared', () => {
    template.resourceCountIs('AWS::Lambda::Alias', 3);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 4); // three error rates, one dead-letter queue
    template.resourceCountIs('AWS::CodeDeploy::DeploymentGroup', 3);
    template.resourceCountIs('AWS::CodeDeploy::Application', 1);
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.resourceCountIs('AWS::S3::Bucket', 1);
    // three services, deploy-blue, switch-traffic, one smoke test for two services, auto-delete provider
    template.resourceCountIs('AWS::Lambda::Function', 7);
    const names = Object.values<any>(template.findResources('AWS::Lambda::Function')).map((f) => f.Properties.FunctionName).filter(Boolean).sort();
    expect(names).toEqual(['shop--billing-dev', 'shop--orders-dev', 'shop--users-dev', 'shop-deploy-blue-dev', 'shop-smoke-test-dev', 'shop-switch-traffic-dev']);
    // one CodeDeploy role for every group
    const roles = new Set(Object.values<any>(template.findResources('AWS::CodeDeploy::DeploymentGroup')).map((g) => JSON.stringify(g.Properties.ServiceRoleArn)));
    expect(roles.size).toBe(1);
    expect(construct.services.map((s) => [s.serviceName, s.wave, s.bundleDirectory])).toEqual([
      ['orders', 1, 'services/orders/dist'], ['billing', 1, 'services/billing/dist'], ['users', 2, 'services/users/dist'],
    ]);
  });

  test('a service\'s own setting overrides the pipeline default', () => {
    const thresholds = Object.values<any>(template.findResources('AWS::CloudWatch::Alarm')).filter((a) => a.Properties.Metrics)
      .map((a) => [a.Properties.AlarmName, a.Properties.Threshold]).sort();
    expect(thresholds).toEqual([['shop--billing-error-rate-dev', 1], ['shop--orders-error-rate-dev', 5], ['shop--users-error-rate-dev', 5]]);
  });

  test('one smoke-test function knows every service\'s event by function name', () => {
    const [smoke] = Object.values<any>(template.findResources('AWS::Lambda::Function', { Properties: { FunctionName: 'shop-smoke-test-dev' } }));
    expect(JSON.parse(smoke.Properties.Environment.Variables.SMOKE_TEST_EVENTS)).toEqual({ 'shop--orders-dev': { rawPath: '/orders' }, 'shop--users-dev': { rawPath: '/users' } });
  });

  test('every alarm may notify the topic', () => {
    const [policy] = Object.values<any>(template.findResources('AWS::SNS::TopicPolicy'));
    const alarmStatements = policy.Properties.PolicyDocument.Statement.filter((s: any) => s.Principal?.Service === 'cloudwatch.amazonaws.com');
    expect(alarmStatements).toHaveLength(4); // three error rates, one dead-letter queue
    expect(new Set(alarmStatements.map((s: any) => s.Sid)).size).toBe(4);
  });
});

test('each service adds at most 10 resources', () => {
  const count = (services: number) => {
    const list = Array.from({ length: services }, (_, i) => ({ serviceName: `svc${i}`, bundleDirectory: `services/svc${i}/dist`, wave: 1 + (i % 3) }));
    return Object.keys(synth({ services: list }).template.toJSON().Resources).length;
  };
  const one = count(1);
  const eleven = count(11);
  expect((eleven - one) / 10).toBeLessThanOrEqual(10);
});

test('a service may use its own deployment configuration', () => {
  const { template } = synth({ services: monorepo([{}, { deploymentConfig: codedeploy.LambdaDeploymentConfig.ALL_AT_ONCE }]) });
  const groups = Object.values<any>(template.findResources('AWS::CodeDeploy::DeploymentGroup')).map((g) => [g.Properties.DeploymentGroupName, g.Properties.DeploymentConfigName]).sort();
  expect(groups).toEqual([
    ['shop--billing-live-dev', 'CodeDeployDefault.LambdaAllAtOnce'],
    ['shop--orders-live-dev', 'CodeDeployDefault.LambdaLinear10PercentEvery10Minutes'],
    ['shop--users-live-dev', 'CodeDeployDefault.LambdaLinear10PercentEvery10Minutes'],
  ]);
});

describe('rejects at synth time, naming the prop', () => {
  const cases: Array<[string, Partial<BlueGreenLambdaPipelineProps>, RegExp]> = [
    ['no services', { services: [] }, /services must list 1 to 50 services \(CodePipeline allows 50 actions per stage/],
    ['51 services', { services: Array.from({ length: 51 }, (_, i) => ({ serviceName: `s${i}`, bundleDirectory: `s${i}` })) }, /services must list 1 to 50 services.*got 51/],
    ['a service named twice', { services: monorepo([{}, { serviceName: 'orders' }]) }, /services\[1\]\.serviceName: "orders" is already the name of services\[0\]/],
    ['an absolute bundle directory', { services: monorepo([{ bundleDirectory: '/services/orders' }]) }, /services\[0\]\.bundleDirectory must be a relative path inside the repository/],
    ['a bundle directory leaving the repository', { services: monorepo([{ bundleDirectory: 'services/../../etc' }]) }, /services\[0\]\.bundleDirectory must be a relative path/],
    ['an empty bundle directory', { services: monorepo([{ bundleDirectory: '' }]) }, /services\[0\]\.bundleDirectory must be a relative path/],
    ['a bundle directory inside another', { services: monorepo([{ bundleDirectory: 'services' }]) }, /services\[1\]\.bundleDirectory "services\/billing\/dist" lies inside services\[0\]\.bundleDirectory "services"/],
    ['wave 0', { services: monorepo([{ wave: 0 }]) }, /services\[0\]\.wave must be a whole number in \[1, 999\]/],
    ['a fractional wave', { services: monorepo([{}, {}, { wave: 1.5 }]) }, /services\[2\]\.wave must be a whole number/],
    ['a single-service prop beside services', { services: monorepo(), preTrafficHook: TrafficHook.smokeTest() }, /preTrafficHook: with services, set these on each service \(services\[i\]\.preTrafficHook\)/],
    ['a service name with upper case', { services: monorepo([{}, {}, { serviceName: 'Users' }]) }, /^services\[2\]\.serviceName must be lowercase letters, digits and single hyphens.*got "Users"/],
    ['a service name too long for Lambda', { services: monorepo([{ serviceName: 'o'.repeat(55) }]) },
      /services\[0\]\.serviceName "o+", with serviceName "shop" and environmentSuffix "dev", gives the Lambda function name "shop--o+-dev" \(65 characters\); at most 64 are allowed: shorten services\[0\]\.serviceName, serviceName or environmentSuffix/],
    ['an artifactDirectory beside services', { services: monorepo(), buildStage: { artifactDirectory: 'dist' } }, /buildStage\.artifactDirectory applies to a single service; with services, each service names its own bundleDirectory/],
    ['a service\'s own threshold out of range', { services: monorepo([{}, {}, { errorRateThreshold: 0 }]) }, /^services\[2\]\.errorRateThreshold must be a percentage in \(0, 100\]; got 0$/],
    ['a service\'s own evaluation periods', { services: monorepo([{}, { evaluationPeriods: 0 }]) }, /^services\[1\]\.evaluationPeriods must be a whole number of at least 1; got 0$/],
    ['a service\'s own alarm period', { services: monorepo([{ alarmPeriod: Duration.seconds(30) }]) }, /^services\[0\]\.alarmPeriod must be a whole number of minutes/],
    ['a service\'s period and the pipeline\'s periods over a day', { evaluationPeriods: 5, services: monorepo([{ alarmPeriod: Duration.hours(6) }]) }, /^services\[0\]\.alarmPeriod x evaluationPeriods must not exceed one day/],
    ['the pipeline default out of range, inherited by every service', { errorRateThreshold: 101, services: monorepo() }, /^errorRateThreshold must be a percentage in \(0, 100\]; got 101$/],
    ['a service\'s own keepVersions', { services: monorepo([{}, {}, { keepVersions: 0 }]) }, /^services\[2\]\.keepVersions must be a whole number in \[1, 1000\]/],
    ['a service\'s environment over 4 KB', { services: monorepo([{}, {}, { service: { environment: { BIG: 'x'.repeat(4090) } } }]) },
      /^services\[2\]\.service\.environment: the variables come to 4100 bytes \(as Lambda measures them, their JSON text\), but Lambda allows 4096 \(4 KB\) per function/],
    ['action parameters over 1000 characters', { services: monorepo([{ bundleDirectory: `services/${'d'.repeat(900)}` }]) }, /service "orders": its action parameters come to about \d+ characters, but CodePipeline allows 1000/],
  ];
  test.each(cases)('%s', (_name, props, message) => {
    expect(() => synth(props)).toThrow(message);
  });

  test('11 alarms on one service, and a shift that outlasts a Lambda action, name the service', () => {
    const stack = newStack(new App());
    const fn = lambda.Function.fromFunctionName(stack, 'Other', 'other');
    const alarms = Array.from({ length: 10 }, (_, i) => fn.metricErrors().createAlarm(stack, `A${i}`, { threshold: 1, evaluationPeriods: 1 }));
    expect(() => new BlueGreenLambdaPipeline(stack, 'Shop', baseProps({ serviceName: 'shop', services: monorepo([{}, {}, { extraAlarms: alarms }]) })))
      .toThrow(/services\[2\]\.extraAlarms: CodeDeploy allows 10 alarms per deployment group.*at most 9/);
    const stack2 = newStack(new App());
    const slow = new codedeploy.LambdaDeploymentConfig(stack2, 'Slow', { trafficRouting: codedeploy.TrafficRouting.timeBasedLinear({ interval: Duration.minutes(30), percentage: 1 }) });
    expect(() => new BlueGreenLambdaPipeline(stack2, 'Shop', baseProps({ serviceName: 'shop', services: monorepo([{}, { deploymentConfig: slow }]) })))
      .toThrow(/services\[1\]\.deploymentConfig: .* shifts traffic over 2970 minutes/);
  });
});

describe('physical names never collide across pipelines', () => {
  const namesOf = (template: Template) => {
    const named: Array<[string, string]> = [['AWS::Lambda::Function', 'FunctionName'], ['AWS::CloudWatch::Alarm', 'AlarmName'], ['AWS::CodeDeploy::DeploymentGroup', 'DeploymentGroupName']];
    return named.flatMap(([type, property]) => Object.values<any>(template.findResources(type)).map((r) => r.Properties[property]).filter(Boolean));
  };

  test('two monorepo pipelines with a service "orders", and a single-service pipeline "orders", deploy side by side', () => {
    const app = new App();
    const stack = newStack(app);
    new BlueGreenLambdaPipeline(stack, 'Shop', baseProps({ serviceName: 'shop', services: monorepo() }));
    new BlueGreenLambdaPipeline(stack, 'Store', baseProps({ serviceName: 'store', services: monorepo() }));
    new BlueGreenLambdaPipeline(stack, 'Orders', baseProps({ serviceName: 'orders' }));
    // a single-service pipeline named like the monorepo's service, pipeline name and all
    new BlueGreenLambdaPipeline(stack, 'ShopOrders', baseProps({ serviceName: 'shop-orders' }));
    const names = namesOf(Template.fromStack(stack));
    expect(names).toEqual(expect.arrayContaining(['shop--orders-dev', 'store--orders-dev', 'orders-dev', 'shop-orders-dev',
      'shop--orders-live-dev', 'store--orders-live-dev', 'orders-live-dev', 'shop--orders-error-rate-dev', 'store--orders-error-rate-dev', 'orders-error-rate-dev']));
    // no two resources of a kind share a name
    for (const [type, property] of [['AWS::Lambda::Function', 'FunctionName'], ['AWS::CloudWatch::Alarm', 'AlarmName'], ['AWS::CodeDeploy::DeploymentGroup', 'DeploymentGroupName']]) {
      const list = Object.values<any>(Template.fromStack(stack).findResources(type)).map((r) => r.Properties[property]).filter(Boolean);
      expect(new Set(list).size).toBe(list.length);
    }
  });

  test('a service named like one of the pipeline\'s handlers gets a name of its own', () => {
    const { template } = synth({ services: monorepo([{ serviceName: 'shop-deploy-blue' }, { serviceName: 'deploy-blue' }]) });
    expect(namesOf(template)).toEqual(expect.arrayContaining(['shop--shop-deploy-blue-dev', 'shop--deploy-blue-dev', 'shop-deploy-blue-dev']));
  });

  test('two pipelines that would give the same name fail at synth time, naming both construct paths', () => {
    const app = new App();
    new BlueGreenLambdaPipeline(newStack(app), 'Orders', baseProps({ serviceName: 'orders' }));
    const other = new Stack(app, 'OtherStack', { env: { account: '111111111111', region: 'us-east-1' } });
    expect(() => new BlueGreenLambdaPipeline(other, 'OrdersAgain', baseProps({ serviceName: 'orders' })))
      .toThrow(/^OtherStack\/OrdersAgain: the [A-Za-z ]+ name "orders-[a-z-]*dev" \(OtherStack\/OrdersAgain\/[^)]+\) is already given by TestStack\/Orders\/[^,]+, in the same account and region; give the pipelines different serviceName or environmentSuffix values$/);
    // a single-service pipeline "orders-deploy-blue" would take the handler name of pipeline "orders"
    const stack = newStack(new App());
    new BlueGreenLambdaPipeline(stack, 'Orders', baseProps({ serviceName: 'orders' }));
    expect(() => new BlueGreenLambdaPipeline(stack, 'Clash', baseProps({ serviceName: 'orders-deploy-blue' })))
      .toThrow(/the Lambda function name "orders-deploy-blue-dev" \(TestStack\/Clash\/Default\/Service\/Resource\) is already given by TestStack\/Orders\/Handlers\/DeployBlue\/Resource/);
  });

  test('the same names in another account or region are no collision', () => {
    const app = new App();
    new BlueGreenLambdaPipeline(newStack(app), 'Orders', baseProps({ serviceName: 'orders' }));
    const west = new Stack(app, 'West', { env: { account: '111111111111', region: 'us-west-2' } });
    expect(() => new BlueGreenLambdaPipeline(west, 'Orders', baseProps({ serviceName: 'orders' }))).not.toThrow();
  });
});
