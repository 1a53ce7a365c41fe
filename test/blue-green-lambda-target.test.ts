import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { BlueGreenLambdaPipeline, BlueGreenLambdaPipelineProps, BlueGreenLambdaTarget, PipelineEnvironment, ServiceDeploymentOptions, TrafficHook } from '../src';
import { baseProps } from './helpers/stack-fixture';

const TOOLING = { account: '111111111111', region: 'us-east-1' };
const LOCATIONS: Record<string, { account: string; region: string }> = {
  'dev': { account: '222222222222', region: 'us-east-1' },
  'staging': { account: '333333333333', region: 'us-east-1' },
  'prod': { account: '444444444444', region: 'us-east-1' },
  'prod-eu': { account: '444444444444', region: 'eu-west-1' },
};

const services = (): ServiceDeploymentOptions[] => [
  { serviceName: 'orders', bundleDirectory: 'services/orders/dist', wave: 1, preTrafficHook: TrafficHook.smokeTest({ testEvent: { rawPath: '/orders' } }) },
  { serviceName: 'users', bundleDirectory: 'services/users/dist', wave: 2 },
];

const environments = (): PipelineEnvironment[] => [
  { name: 'dev', ...LOCATIONS.dev, deploymentConfig: codedeploy.LambdaDeploymentConfig.ALL_AT_ONCE },
  { name: 'staging', ...LOCATIONS.staging, bakeTime: Duration.hours(1) },
  { name: 'prod', ...LOCATIONS.prod, bakeTime: Duration.hours(2) },
  { name: 'prod-eu', ...LOCATIONS['prod-eu'] },
];

/** A tooling stack with the pipeline and a stack per target; `targets` false leaves the targets out. */
function build(props: Partial<BlueGreenLambdaPipelineProps> = {}, options: { targets?: boolean } = {}) {
  const app = new App();
  const tooling = new Stack(app, 'Tooling', { env: TOOLING });
  const pipeline = new BlueGreenLambdaPipeline(tooling, 'Shop', baseProps({ serviceName: 'shop', services: services(), environments: environments(), ...props }));
  const targets: Record<string, BlueGreenLambdaTarget> = {};
  if (options.targets ?? true) {
    for (const name of pipeline.targetEnvironments) {
      const stack = new Stack(app, `Shop-${name}`, { env: LOCATIONS[name] });
      targets[name] = new BlueGreenLambdaTarget(stack, 'Target', { pipeline, environment: name });
    }
  }
  return { app, tooling, pipeline, targets };
}

function userParameters(action: any): any {
  const value = action.Configuration.UserParameters;
  const text = typeof value === 'string' ? value : value['Fn::Join'][1].map((p: any) => (typeof p === 'string' ? p : (p.Ref === 'AWS::Partition' ? 'aws' : '<token>'))).join('');
  return JSON.parse(text);
}

const resolveArn = (value: any): string => (typeof value === 'string' ? value
  : value['Fn::GetAtt'] ? `<${value['Fn::GetAtt'].join('.')}>` : value['Fn::Join'][1].map((p: any) => (typeof p === 'string' ? p : 'aws')).join(''));

describe('environments in other accounts and regions', () => {
  const { app, pipeline, targets } = build({ tags: { team: 'shop' } });
  const assembly = app.synth();
  const templates = Object.fromEntries(assembly.stacks.map((s) => [s.stackName, s.template]));
  const tooling = Template.fromJSON(templates.Tooling);
  const stages = Object.values<any>(tooling.findResources('AWS::CodePipeline::Pipeline'))[0].Properties.Stages;
  const actions = (stage: string) => stages.find((s: any) => s.Name === stage).Actions;

  test('every environment names its target; none is created in the tooling stack', () => {
    expect(pipeline.targetEnvironments).toEqual(['dev', 'staging', 'prod', 'prod-eu']);
    expect(pipeline.services).toEqual([]);
    expect(Object.values<any>(tooling.findResources('AWS::Lambda::Function')).map((f) => f.Properties.FunctionName).sort())
      .toEqual(['shop-bake-release', 'shop-deploy-blue-release', 'shop-switch-traffic-release']);
    expect(() => pipeline.serviceFunction).toThrow(/serviceFunction: every environment of this pipeline is in another account or region; its services are those of each BlueGreenLambdaTarget/);
  });

  test('nothing refers across stacks: no exports, no imports, no stack dependencies', () => {
    for (const [name, template] of Object.entries(templates)) {
      expect({ name, outputs: Object.values<any>(template.Outputs ?? {}).filter((o) => o.Export) }).toEqual({ name, outputs: [] });
      expect({ name, imports: JSON.stringify(template).includes('Fn::ImportValue') }).toEqual({ name, imports: false });
    }
    const stackNames = assembly.stacks.map((s) => s.stackName);
    for (const stack of assembly.stacks) {
      const on = stack.dependencies.map((d) => d.id).filter((id) => stackNames.includes(id));
      expect({ stack: stack.stackName, on }).toEqual({ stack: stack.stackName, on: [] });
    }
  });

  test('each action names its target by text: deployer role, region and bundle bucket', () => {
    const publish = userParameters(actions('Deploy-Blue-prod-eu')[0]);
    expect(publish).toMatchObject({
      functionName: 'shop--orders-prod-eu',
      deployerRoleArn: 'arn:aws:iam::444444444444:role/shop-pipeline-release-deployer-prod-eu',
      region: 'eu-west-1',
      bundleBucket: targets['prod-eu'].bundleBucket.bucketName === undefined ? expect.any(String) : expect.stringMatching(/^bundles-[0-9a-f]{10}-444444444444-eu-west-1$/),
    });
    const shift = userParameters(actions('Switch-Traffic-staging')[0]);
    expect(shift).toMatchObject({
      deploymentGroupName: 'shop--orders-live-staging',
      deployerRoleArn: 'arn:aws:iam::333333333333:role/shop-pipeline-release-deployer-staging',
      region: 'us-east-1',
      beforeAllowTrafficHook: 'shop-smoke-test-staging',
      // A target's function is always the construct's: its first published version is the bootstrap.
      bootstrapVersion: '1',
      stackVersion: '1',
    });
    expect(shift.bundleBucket).toBeUndefined();
    const bake = userParameters(actions('Switch-Traffic-staging').find((a: any) => a.Name === 'Bake-users'));
    expect(bake).toMatchObject({ deployerRoleArn: 'arn:aws:iam::333333333333:role/shop-pipeline-release-deployer-staging', region: 'us-east-1' });
  });

  test('the bundle bucket the pipeline names is the target\'s', () => {
    const target = Template.fromJSON(templates['Shop-prod-eu']);
    const bucket = Object.values<any>(target.findResources('AWS::S3::Bucket'))[0].Properties;
    expect(bucket.BucketName).toBe(userParameters(actions('Deploy-Blue-prod-eu')[1]).bundleBucket);
    expect(bucket.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('aws:kms');
  });

  test('the handler roles have fixed names and may assume exactly the deployer roles', () => {
    const roles = tooling.findResources('AWS::IAM::Role');
    const named = Object.values<any>(roles).map((r) => r.Properties.RoleName).filter(Boolean).sort();
    expect(named).toEqual(['shop-bake-release-us-east-1', 'shop-deploy-blue-release-us-east-1', 'shop-switch-traffic-release-us-east-1']);
    const deployers = ['dev', 'staging', 'prod', 'prod-eu'].map((e) => `arn:aws:iam::${LOCATIONS[e].account}:role/shop-pipeline-release-deployer-${e}`);
    for (const [id, policy] of Object.entries<any>(tooling.findResources('AWS::IAM::Policy'))) {
      const assume = policy.Properties.PolicyDocument.Statement.filter((s: any) => [s.Action].flat().includes('sts:AssumeRole'));
      if (/Handlers(DeployBlue|SwitchTraffic|Bake)Role/.test(id)) {
        // The Bake handler acts only where an environment bakes: staging and prod.
        const expected = id.includes('Bake') ? deployers.filter((d) => /staging|prod$/.test(d)) : deployers;
        expect({ id, resources: assume.flatMap((s: any) => [s.Resource].flat().map(resolveArn)) }).toEqual({ id, resources: expected });
      }
    }
    // A target's services are not the tooling handlers' to touch: no Lambda or CodeDeploy grant names another account.
    expect(JSON.stringify(templates.Tooling)).not.toMatch(/:(222222222222|333333333333|444444444444):function/);
    expect(JSON.stringify(templates.Tooling)).not.toMatch(/PIPELINE_ARN":\s*""/);
  });

  test('the deployer role trusts the pipeline\'s account only for the three handler roles and the pipeline', () => {
    const target = Template.fromJSON(templates['Shop-staging']);
    const role = Object.values<any>(target.findResources('AWS::IAM::Role')).find((r) => r.Properties.RoleName === 'shop-pipeline-release-deployer-staging');
    const [statement] = role.Properties.AssumeRolePolicyDocument.Statement;
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toHaveLength(1);
    expect(resolveArn(statement.Principal.AWS)).toBe('arn:aws:iam::111111111111:root');
    expect(statement.Condition.ArnEquals['aws:PrincipalArn'].map(resolveArn)).toEqual([
      'arn:aws:iam::111111111111:role/shop-deploy-blue-release-us-east-1',
      'arn:aws:iam::111111111111:role/shop-switch-traffic-release-us-east-1',
      'arn:aws:iam::111111111111:role/shop-bake-release-us-east-1',
    ]);
    expect(resolveArn(statement.Condition.StringEquals['sts:ExternalId'])).toBe('arn:aws:codepipeline:us-east-1:111111111111:shop-pipeline-release');
    // dev does not bake: its deployer does not trust the Bake handler.
    const devRole = Object.values<any>(Template.fromJSON(templates['Shop-dev']).findResources('AWS::IAM::Role'))
      .find((r) => r.Properties.RoleName === 'shop-pipeline-release-deployer-dev');
    expect(devRole.Properties.AssumeRolePolicyDocument.Statement[0].Condition.ArnEquals['aws:PrincipalArn'].map(resolveArn)).toEqual([
      'arn:aws:iam::111111111111:role/shop-deploy-blue-release-us-east-1',
      'arn:aws:iam::111111111111:role/shop-switch-traffic-release-us-east-1',
    ]);
    const env = Object.values<any>(tooling.findResources('AWS::Lambda::Function')).filter((f) => f.Properties.FunctionName)
      .map((f) => f.Properties.Environment.Variables.PIPELINE_ARN).map(resolveArn);
    expect(env).toEqual(Array(3).fill('arn:aws:codepipeline:us-east-1:111111111111:shop-pipeline-release'));
  });

  test('the target holds the services, the application named as the pipeline\'s, its smoke test, and a key only the deployer uses', () => {
    const target = Template.fromJSON(templates['Shop-prod']);
    target.hasResourceProperties('AWS::CodeDeploy::Application', { ApplicationName: 'shop-release', ComputePlatform: 'Lambda' });
    expect(Object.values<any>(target.findResources('AWS::Lambda::Function')).map((f) => f.Properties.FunctionName).filter(Boolean).sort())
      .toEqual(['shop--orders-prod', 'shop--users-prod', 'shop-smoke-test-prod']);
    target.hasResourceProperties('AWS::CodeDeploy::DeploymentGroup', { DeploymentGroupName: 'shop--orders-live-prod' });
    const key = Object.values<any>(target.findResources('AWS::KMS::Key'))[0].Properties;
    const grants = key.KeyPolicy.Statement.filter((s: any) => s.Effect === 'Allow' && !/:root$/.test(resolveArn(s.Principal.AWS)));
    // Grants only for AWS resources or by AWS services (Control Tower CT.KMS.PR.3).
    expect(key.KeyPolicy.Statement.filter((s: any) => s.Effect === 'Deny')).toEqual([expect.objectContaining({
      Action: 'kms:CreateGrant',
      Condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
    })]);
    expect(grants).toEqual([expect.objectContaining({
      Principal: { AWS: { 'Fn::GetAtt': [expect.stringMatching(/^TargetDeployerRole/), 'Arn'] } },
      Condition: { StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } },
    })]);
    expect(targets.prod.services.map((s) => s.environment)).toEqual(['prod', 'prod']);
    // The pipeline's tags reach the target's resources too.
    target.hasResourceProperties('AWS::Lambda::Function', { FunctionName: 'shop--users-prod', Tags: Match.arrayWith([{ Key: 'team', Value: 'shop' }]) });
  });

  test('the deployer may do only what the handlers do to this target\'s services', () => {
    const target = Template.fromJSON(templates['Shop-staging']);
    const policy = Object.entries<any>(target.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith('TargetDeployerRole'))![1];
    const actionsAllowed = policy.Properties.PolicyDocument.Statement.flatMap((s: any) => [s.Action].flat()).sort();
    expect([...new Set(actionsAllowed)]).toEqual([
      'cloudwatch:DescribeAlarms', 'cloudwatch:GetMetricData',
      'codedeploy:CreateDeployment', 'codedeploy:GetApplicationRevision', 'codedeploy:GetDeployment', 'codedeploy:GetDeploymentConfig',
      'codedeploy:GetDeploymentGroup', 'codedeploy:ListDeployments', 'codedeploy:RegisterApplicationRevision', 'codedeploy:UpdateDeploymentGroup',
      'lambda:DeleteFunction', 'lambda:GetAlias', 'lambda:GetFunction', 'lambda:GetFunctionConfiguration', 'lambda:ListAliases',
      'lambda:ListVersionsByFunction', 'lambda:PublishVersion', 'lambda:UpdateFunctionCode',
      's3:GetObject', 's3:PutObject',
    ]);
    // Without a bake, no alarm reading and no overriding a group's alarms (UpdateDeploymentGroup).
    const dev = Object.entries<any>(Template.fromJSON(templates['Shop-dev']).findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith('TargetDeployerRole'))![1];
    const devActions = new Set(dev.Properties.PolicyDocument.Statement.flatMap((s: any) => [s.Action].flat()));
    for (const bakeOnly of ['codedeploy:UpdateDeploymentGroup', 'codedeploy:GetDeploymentGroup', 'cloudwatch:DescribeAlarms', 'cloudwatch:GetMetricData']) {
      expect(devActions.has(bakeOnly)).toBe(false);
    }
  });
});

describe('synth-time checks of what crosses accounts', () => {
  test('a deployer role given more (IAM, another role to assume, a second trust) fails synthesis naming it', () => {
    const { app, targets } = build();
    targets.staging.deployerRole.addToPolicy(new iam.PolicyStatement({ actions: ['iam:PassRole'], resources: ['*'] }));
    targets.prod.deployerRole.addToPolicy(new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: ['arn:aws:iam::444444444444:role/admin'] }));
    targets.dev.deployerRole.assumeRolePolicy!.addStatements(new iam.PolicyStatement({ actions: ['sts:AssumeRole'], principals: [new iam.AccountPrincipal('999999999999')] }));
    const error = (() => {
      try {
        app.synth();
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })();
    expect(error).toMatch(/Shop-staging\/Target\/DeployerRole: may iam:PassRole \(IAM or every action\); no role of a target may/);
    expect(error).toMatch(/the deployer role of environment "prod" \(Shop-prod\/Target\/DeployerRole\): may not assume other roles/);
    expect(error).toMatch(/the deployer role of environment "dev" .*its trust policy must be exactly one statement allowing sts:AssumeRole to account 111111111111 .*999999999999:root/);
  });

  test('a bundle key that grants another principal fails synthesis', () => {
    const { app, targets } = build();
    targets.staging.bundleKey.addToResourcePolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: ['*'], principals: [new iam.ArnPrincipal('arn:aws:iam::333333333333:role/other')] }));
    expect(() => app.synth()).toThrow(/bundle key of environment "staging".*may grant only the account \(administration\) and the deployer role/);
  });

  test('a stage handler allowed to assume another role fails synthesis', () => {
    const { app, pipeline } = build();
    pipeline.switchTrafficFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: ['arn:aws:iam::333333333333:role/admin'] }));
    expect(() => app.synth()).toThrow(/Shop\/Handlers\/SwitchTrafficRole: may sts:AssumeRole "arn:aws:iam::333333333333:role\/admin"; a stage handler may assume only the deployer roles of the targets it acts in/);
  });

  test('an environment without its target fails synthesis saying what to add', () => {
    const { app } = build({}, { targets: false });
    expect(() => app.synth()).toThrow(/environments\[1\] \("staging", account 333333333333, region us-east-1\) has no BlueGreenLambdaTarget: add new BlueGreenLambdaTarget\(stack, id, \{ pipeline, environment: "staging" \}\) in a stack with env \{ account: "333333333333", region: "us-east-1" \}/);
  });
});

describe('bad input names the prop and what is allowed', () => {
  const pipelineOnly = (props: Partial<BlueGreenLambdaPipelineProps>, env?: { account?: string; region?: string }) => () => {
    const app = new App();
    new BlueGreenLambdaPipeline(new Stack(app, 'Tooling', { env }), 'Shop', baseProps({ serviceName: 'shop', services: services(), ...props }));
  };
  test.each([
    [[{ name: 'dev', account: '2222' }], /environments\[0\]\.account must be a 12-digit AWS account id \(for example "222222222222"\); got "2222"/],
    [[{ name: 'dev', region: 'Mars' }], /environments\[0\]\.region must be an AWS region name \(for example "eu-west-1"\); got "Mars"/],
  ])('%j', (envs, message) => expect(pipelineOnly({ environments: envs as PipelineEnvironment[] }, TOOLING)).toThrow(message));

  test('a dashboard needs an environment in the pipeline\'s account and region', () => {
    expect(pipelineOnly({ dashboard: true, environments: [{ name: 'dev', ...LOCATIONS.dev }] }, TOOLING))
      .toThrow(/dashboard: every environment of this pipeline is in another account or region/);
    expect(pipelineOnly({ dashboard: true, environments: [{ name: 'dev', ...LOCATIONS.dev }, { name: 'tools' }] }, TOOLING)).not.toThrow();
  });

  test('a target needs a pipeline stack with a named account and region', () => {
    expect(pipelineOnly({ environments: [{ name: 'dev', account: '222222222222' }] })).toThrow(/environments\[0\]: an environment in another account or region needs the pipeline's stack to name its own account and region/);
  });

  test('an environment in the pipeline\'s own account and region is no target', () => {
    const app = new App();
    const pipeline = new BlueGreenLambdaPipeline(new Stack(app, 'Tooling', { env: TOOLING }), 'Shop', baseProps({
      serviceName: 'shop', services: services(), environments: [{ name: 'dev', ...TOOLING }],
    }));
    expect(pipeline.targetEnvironments).toEqual([]);
    expect(pipeline.services.map((s) => s.serviceName)).toEqual(['orders', 'users']);
  });

  test('a hook function of the pipeline\'s stack cannot hook a target', () => {
    const app = new App();
    const tooling = new Stack(app, 'Tooling', { env: TOOLING });
    const hook = lambda.Function.fromFunctionName(tooling, 'Hook', 'my-hook');
    expect(() => new BlueGreenLambdaPipeline(tooling, 'Shop', baseProps({
      serviceName: 'shop',
      services: [{ serviceName: 'orders', bundleDirectory: 'o', postTrafficHook: TrafficHook.fromFunction(hook) }],
      environments: [{ name: 'dev', ...LOCATIONS.dev }],
    }))).toThrow(/services\[0\]\.postTrafficHook: environment "dev" \(environments\[0\]\) is in account 222222222222, region us-east-1, where CodeDeploy runs its deployment groups' hooks/);
  });

  test('a custom deployment configuration cannot serve a target', () => {
    const app = new App();
    const tooling = new Stack(app, 'Tooling', { env: TOOLING });
    const config = new codedeploy.LambdaDeploymentConfig(tooling, 'Config', { trafficRouting: codedeploy.TrafficRouting.allAtOnce() });
    expect(() => new BlueGreenLambdaPipeline(tooling, 'Shop', baseProps({
      serviceName: 'shop', services: services(), environments: [{ name: 'dev', ...LOCATIONS.dev, deploymentConfig: config }],
    }))).toThrow(/environments\[0\]\.deploymentConfig \(or the service's\): environment "dev" is in account 222222222222, region us-east-1; its deployment configuration must be one of CodeDeploy's predefined ones/);
  });

  test('a target in a stack of another account, an unknown environment, a second target', () => {
    const { app, pipeline } = build({}, { targets: false });
    expect(() => new BlueGreenLambdaTarget(new Stack(app, 'Wrong', { env: LOCATIONS.prod }), 'T', { pipeline, environment: 'staging' }))
      .toThrow(/environment "staging" \(environments\[1\]\) is in account 333333333333, region us-east-1, but this target's stack Wrong is in account 444444444444, region us-east-1/);
    expect(() => new BlueGreenLambdaTarget(new Stack(app, 'Unknown', { env: LOCATIONS.prod }), 'T', { pipeline, environment: 'qa' }))
      .toThrow(/environment: "qa" is not an environment of pipeline Tooling\/Shop in another account or region; those are "dev", "staging", "prod", "prod-eu"/);
    new BlueGreenLambdaTarget(new Stack(app, 'First', { env: LOCATIONS.dev }), 'T', { pipeline, environment: 'dev' });
    expect(() => new BlueGreenLambdaTarget(new Stack(app, 'Second', { env: LOCATIONS.dev }), 'T', { pipeline, environment: 'dev' }))
      .toThrow(/environment: "dev" already has its BlueGreenLambdaTarget at First\/T; one per environment/);
  });

  test('an extra alarm of another account cannot guard a target\'s deployment group', () => {
    const app = new App();
    const tooling = new Stack(app, 'Tooling', { env: TOOLING });
    const alarm = new cloudwatch.Alarm(tooling, 'Elsewhere', { metric: new cloudwatch.Metric({ namespace: 'N', metricName: 'M' }), threshold: 1, evaluationPeriods: 1 });
    const pipeline = new BlueGreenLambdaPipeline(tooling, 'Shop', baseProps({
      serviceName: 'shop', services: services(), environments: [{ name: 'dev', ...LOCATIONS.dev, extraAlarms: [alarm] }],
    }));
    expect(() => new BlueGreenLambdaTarget(new Stack(app, 'Dev', { env: LOCATIONS.dev }), 'T', { pipeline, environment: 'dev' }))
      .toThrow(/services\[0\]\.extraAlarms\[0\] \(with environments\[0\]\.extraAlarms\): alarm Tooling\/Elsewhere is not in environment "dev"'s account and region/);
    // An alarm of the target's own stack is fine.
    const app2 = new App();
    const tooling2 = new Stack(app2, 'Tooling', { env: TOOLING });
    const devStack = new Stack(app2, 'Dev', { env: LOCATIONS.dev });
    const own = new cloudwatch.Alarm(devStack, 'Own', { metric: new cloudwatch.Metric({ namespace: 'N', metricName: 'M' }), threshold: 1, evaluationPeriods: 1 });
    const pipeline2 = new BlueGreenLambdaPipeline(tooling2, 'Shop', baseProps({
      serviceName: 'shop', services: services(), environments: [{ name: 'dev', ...LOCATIONS.dev, extraAlarms: [own] }],
    }));
    new BlueGreenLambdaTarget(devStack, 'T', { pipeline: pipeline2, environment: 'dev' });
    expect(() => app2.synth()).not.toThrow();
  });
});
