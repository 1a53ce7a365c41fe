// A stack of another account and region resolves its own resources there, and keeps the literal ARNs it holds of
// other accounts (a target's trust names the tooling account's roles; both may hold the default account's number).
import { evaluate, StackModel } from '../../validation/iam-stack-model';

const template = {
  Resources: {
    Service: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'orders-api' } },
    Deployer: {
      Type: 'AWS::IAM::Role',
      Properties: {
        RoleName: 'orders-deployer-prod',
        AssumeRolePolicyDocument: {
          Statement: [{
            Effect: 'Allow',
            Action: 'sts:AssumeRole',
            Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::111111111111:root']] } },
            Condition: { StringEquals: { 'sts:ExternalId': 'arn:aws:codepipeline:us-east-1:111111111111:orders' } },
          }],
        },
      },
    },
    Key: { Type: 'AWS::KMS::Key', Properties: { KeyPolicy: { Statement: [] } } },
  },
};
const paths = new Map(Object.keys(template.Resources).map((id) => [id, `Prod/${id}/Resource`]));

test('resources resolve in the stack\'s account and region; literal ARNs of other accounts stay', () => {
  const prod = new StackModel('Prod', template, paths, { account: '444444444444', region: 'eu-west-1' });
  expect(prod.arn('Service')).toBe('arn:aws:lambda:eu-west-1:444444444444:function:orders-api');
  expect(prod.arn('Deployer')).toBe('arn:aws:iam::444444444444:role/orders-deployer-prod');
  expect(prod.arn('Key')).toBe('arn:aws:kms:eu-west-1:444444444444:key/Key');
  expect(prod.resolve({ 'Fn::Sub': '${AWS::AccountId}/${AWS::Region}' }, 'sub')).toBe('444444444444/eu-west-1');
  const trust = prod.resourcePolicy(prod.arn('Deployer'))!.Statement[0];
  expect(trust.Principal.AWS).toBe('arn:aws:iam::111111111111:root');
  expect(trust.Condition.StringEquals['sts:ExternalId']).toBe('arn:aws:codepipeline:us-east-1:111111111111:orders');
});

test('a stack without an environment resolves as before (the default account and region)', () => {
  const same = new StackModel('Prod', template, paths);
  expect(same.arn('Service')).toBe('arn:aws:lambda:us-east-1:111111111111:function:orders-api');
  expect(same.expect({ name: 'r', arn: 'arn:aws:iam::111111111111:role/r', identityPolicies: [], awsManaged: [] }, 'sts:AssumeRole',
    same.arn('Deployer'), 'Denied', 'trust').resourcePolicy).toBeDefined();
});

describe('a denial is never taken from something the simulator did not evaluate', () => {
  const prod = new StackModel('Prod', template, paths, { account: '444444444444', region: 'eu-west-1' });
  const caller = { name: 'r', arn: 'arn:aws:iam::111111111111:role/r', identityPolicies: [], awsManaged: [] };

  test('a context key it drops (misspelt): not ok', async () => {
    const r = await evaluate(prod.expect(caller, 'sts:AssumeRole', prod.arn('Deployer'), 'Denied', 'typo', { 'sts:ExternalID-typo': 'x' }));
    expect(r).toMatchObject({ ok: false, result: expect.stringMatching(/context keys ignored by the simulator: sts:ExternalID-typo/) });
  });

  test('an action it does not know: not ok', async () => {
    const r = await evaluate(prod.expect(caller, 'lambda:NoSuchAction', prod.arn('Service'), 'Denied', 'unknown'));
    expect(r).toMatchObject({ ok: false, result: expect.stringMatching(/^error: invalid.action/) });
  });
});
