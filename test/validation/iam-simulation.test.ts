// The simulation must be able to fail: a widened or removed grant turns an expectation unexpected.
// A small template in the shape CDK synthesizes (a role, its DefaultPolicy, two functions, a key) keeps it fast.
import { CfnTemplate } from '../../validation/iam-policies';
import { evaluate, KMS_ADMINISTRATOR, StackModel } from '../../validation/iam-simulation';

const fnArn = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });

function stack(lambdaResource: unknown, keyStatements: unknown[]): StackModel {
  const template: CfnTemplate = {
    Resources: {
      Service: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'orders-api' } },
      Handler: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'deploy-blue' } },
      DeployBlueRole: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: { Statement: [] } } },
      DeployBlueRolePolicy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          Roles: [{ Ref: 'DeployBlueRole' }],
          PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['lambda:UpdateFunctionCode'], Resource: lambdaResource }] },
        },
      },
      Key: { Type: 'AWS::KMS::Key', Properties: { KeyPolicy: { Version: '2012-10-17', Statement: keyStatements } } },
    },
  };
  const paths = new Map(Object.keys(template.Resources).map((id) => [id, `Test/${id}/Resource`]));
  return new StackModel('Test', template, paths);
}

const ROOT = { Effect: 'Allow', Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::111111111111:root']] } }, Action: 'kms:*', Resource: '*' };
const DENY_GRANTS = {
  Effect: 'Deny',
  Principal: { AWS: '*' },
  Action: 'kms:CreateGrant',
  Resource: '*',
  Condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
};

async function outcomes(s: StackModel) {
  const role = s.role('DeployBlueRole');
  const key = s.arn('Key');
  const results = await Promise.all([
    s.expect(role, 'lambda:UpdateFunctionCode', s.arn('Service'), 'Allowed', 'publishes the service'),
    s.expect(role, 'lambda:UpdateFunctionCode', s.arn('Handler'), 'Denied', 'not the handler'),
    s.expect(KMS_ADMINISTRATOR, 'kms:CreateGrant', key, 'ExplicitlyDenied', 'grants only for AWS resources', { 'kms:GrantIsForAWSResource': 'false' }),
    s.expect(KMS_ADMINISTRATOR, 'kms:CreateGrant', key, 'Allowed', 'grants for an AWS resource', { 'kms:GrantIsForAWSResource': 'true' }),
  ].map(evaluate));
  return results.map((r) => `${r.ok ? 'ok' : 'UNEXPECTED'} ${r.result}`);
}

test('the policies as synthesized meet every expectation', async () => {
  expect(await outcomes(stack([fnArn('Service')], [ROOT, DENY_GRANTS]))).toEqual(
    ['ok Allowed', 'ok ImplicitlyDenied', 'ok ExplicitlyDenied', 'ok Allowed']);
});

test('a grant widened to Resource "*" reaches the handler: unexpected', async () => {
  expect((await outcomes(stack('*', [ROOT, DENY_GRANTS])))[1]).toBe('UNEXPECTED Allowed');
});

test('a grant removed (the service function no longer listed): unexpected', async () => {
  expect((await outcomes(stack([fnArn('Handler')], [ROOT, DENY_GRANTS])))[0]).toBe('UNEXPECTED ImplicitlyDenied');
});

test('the key policy without its CreateGrant denial: unexpected', async () => {
  expect((await outcomes(stack([fnArn('Service')], [ROOT])))[2]).toBe('UNEXPECTED Allowed');
});

test('a denial is not claimed for a role with AWS-managed policies the template does not hold', () => {
  const s = stack([fnArn('Service')], [ROOT]);
  const role = { ...s.role('DeployBlueRole'), awsManaged: ['arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'] };
  expect(() => s.expect(role, 'lambda:UpdateFunctionCode', s.arn('Handler'), 'Denied', 'not the handler')).toThrow(/cannot prove a denial/);
});
