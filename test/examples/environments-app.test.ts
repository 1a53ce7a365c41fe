import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { environmentsApp } from '../../examples/typescript/environments-app';

// The environments example is documentation: it must show what its comments say.
let template: Template;
beforeAll(() => {
  const app = environmentsApp(fs.mkdtempSync(path.join(os.tmpdir(), 'environments-app-')));
  template = Template.fromStack(app.node.findChild('StorefrontPipeline') as Stack);
});

const stages = () => Object.values<any>(template.findResources('AWS::CodePipeline::Pipeline'))[0].Properties.Stages;
const stage = (name: string) => stages().find((s: any) => s.Name === name);
const actions = (name: string) => stage(name).Actions.map((a: any) => `${a.Name}@${a.RunOrder ?? 1}`);
const functionNamed = (name: string) => Object.values<any>(template.findResources('AWS::Lambda::Function'))
  .find((f) => f.Properties.FunctionName === name)?.Properties;
const deploymentConfigOf = (group: string) => Object.values<any>(template.findResources('AWS::CodeDeploy::DeploymentGroup'))
  .find((g) => g.Properties.DeploymentGroupName === group)?.Properties.DeploymentConfigName;

test('one build promoted through dev, staging and prod, with an approval before prod only', () => {
  expect(stages().map((s: any) => s.Name)).toEqual([
    'Source', 'Build',
    'Deploy-Blue-dev', 'Switch-Traffic-dev',
    'Deploy-Blue-staging', 'Switch-Traffic-staging',
    'Approve-prod', 'Deploy-Blue-prod', 'Switch-Traffic-prod',
  ]);
  const [approval] = stage('Approve-prod').Actions;
  expect(approval.ActionTypeId).toMatchObject({ Category: 'Approval', Provider: 'Manual' });
  expect(approval.Configuration.NotificationArn).toEqual({ Ref: expect.stringMatching(/^ReleaseApprovals/) });
  expect(approval.TimeoutInMinutes).toBe(8 * 60);
  template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'release-managers@example.com' });
});

test('catalog shifts before checkout; staging and prod bake both after the last wave, dev does not bake', () => {
  expect(actions('Switch-Traffic-dev')).toEqual(['Shift-catalog@1', 'Shift-checkout@2']);
  for (const environment of ['staging', 'prod']) {
    expect(actions(`Switch-Traffic-${environment}`)).toEqual(['Shift-catalog@1', 'Shift-checkout@2', 'Bake-catalog@3', 'Bake-checkout@3']);
  }
  const bakeOf = (environment: string) => JSON.parse(stage(`Switch-Traffic-${environment}`).Actions
    .find((a: any) => a.Name === 'Bake-checkout').Configuration.UserParameters);
  // UserParameters values are strings (src/contract/handler-contract.ts).
  expect(bakeOf('staging')).toMatchObject({ environment: 'staging', bakeMinutes: '60' });
  expect(bakeOf('staging').minInvocations ?? '0').toBe('0');
  expect(bakeOf('prod')).toMatchObject({ environment: 'prod', bakeMinutes: '120', minInvocations: '100' });
});

test('each environment shifts its own way', () => {
  expect(deploymentConfigOf('storefront--checkout-live-dev')).toBe('CodeDeployDefault.LambdaAllAtOnce');
  expect(deploymentConfigOf('storefront--checkout-live-staging')).toBe('CodeDeployDefault.LambdaLinear10PercentEvery1Minute');
  expect(deploymentConfigOf('storefront--checkout-live-prod')).toBe('CodeDeployDefault.LambdaCanary10Percent5Minutes');
});

test("prod's checkout gets more memory and its own variables, merged with the service's", () => {
  expect(functionNamed('storefront--checkout-staging')).toMatchObject({
    MemorySize: 512, Timeout: 30, Environment: { Variables: { PAYMENT_PROVIDER: 'stripe-test', LOG_LEVEL: 'debug' } },
  });
  expect(functionNamed('storefront--checkout-prod')).toMatchObject({
    MemorySize: 1024, Timeout: 30, Environment: { Variables: { PAYMENT_PROVIDER: 'stripe', LOG_LEVEL: 'info' } },
  });
});
