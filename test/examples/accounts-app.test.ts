import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { accountsApp } from '../../examples/typescript/accounts-app';
import { BlueGreenLambdaTarget } from '../../src';

// The accounts example is documentation: it must show what its comments say.
let app: App;
beforeAll(() => {
  app = accountsApp(fs.mkdtempSync(path.join(os.tmpdir(), 'accounts-app-')));
});

const stack = (id: string) => app.node.findChild(id) as Stack;
const template = (id: string) => Template.fromStack(stack(id));
const TARGETS = ['dev', 'staging', 'prod', 'prod-eu'];

test('a tooling stack and one stack per target environment, each in its own account and region', () => {
  const stacks = app.node.children.filter((c): c is Stack => Stack.isStack(c));
  expect(stacks.map((s) => [s.stackName, s.account, s.region])).toEqual([
    ['StorefrontTooling', '111111111111', 'us-east-1'],
    ['Storefront-dev', '222222222222', 'us-east-1'],
    ['Storefront-staging', '333333333333', 'us-east-1'],
    ['Storefront-prod', '444444444444', 'us-east-1'],
    ['Storefront-prod-eu', '444444444444', 'eu-west-1'],
  ]);
});

test('the tooling stack promotes through the four environments, with one approval, before prod', () => {
  const [pipeline] = Object.values<any>(template('StorefrontTooling').findResources('AWS::CodePipeline::Pipeline'));
  expect(pipeline.Properties.Stages.map((s: any) => s.Name)).toEqual([
    'Source', 'Build',
    'Deploy-Blue-dev', 'Switch-Traffic-dev',
    'Deploy-Blue-staging', 'Switch-Traffic-staging',
    'Approve-prod', 'Deploy-Blue-prod', 'Switch-Traffic-prod',
    'Deploy-Blue-prod-eu', 'Switch-Traffic-prod-eu',
  ]);
  // The services live in the targets only: the tooling stack creates none of them.
  const functions = Object.values<any>(template('StorefrontTooling').findResources('AWS::Lambda::Function'));
  expect(functions.map((f) => f.Properties.FunctionName).filter((name) => /^storefront--/.test(name ?? ''))).toEqual([]);
});

test.each(TARGETS)('the %s target holds both services, its own smoke test and a deployer role that trusts only the pipeline', (environment) => {
  const target = template(`Storefront-${environment}`);
  for (const service of ['catalog', 'checkout']) {
    target.hasResourceProperties('AWS::Lambda::Function', { FunctionName: `storefront--${service}-${environment}` });
  }
  target.resourceCountIs('AWS::CodeDeploy::DeploymentGroup', 2);
  expect((stack(`Storefront-${environment}`).node.findChild('Target') as BlueGreenLambdaTarget).smokeTestFunction).toBeDefined();
  const [deployer] = Object.values<any>(target.findResources('AWS::IAM::Role', {
    Properties: { RoleName: `storefront-pipeline-release-deployer-${environment}` },
  }));
  const trust = JSON.stringify(deployer.Properties.AssumeRolePolicyDocument);
  expect(trust).toContain(':iam::111111111111:root');
  expect(trust).toContain(':codepipeline:us-east-1:111111111111:storefront-pipeline-release');
});
