// Across accounts AWS needs both sides to allow: the caller's identity policies and the resource's policy (a role's
// trust, a key policy, a bucket policy). The simulation must deny when either side lacks the grant, and the structural
// check must name what a changed trust, key policy or grant breaks. One small app, synthesized once: a tooling
// pipeline (111111111111, us-east-1) and targets staging (333333333333, us-east-1) and prod (444444444444, eu-west-1).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { BlueGreenLambdaPipeline, BlueGreenLambdaTarget } from '../../src';
import { accountsExpectations, AccountsModel, structureCheck, TargetModel } from '../../validation/iam-cross-account';
import { constructPaths } from '../../validation/iam-policies';
import { Document, evaluate, Expectation, session, StackModel } from '../../validation/iam-stack-model';

let model: AccountsModel;
let staging: TargetModel;
let prod: TargetModel;
const files = new Map<StackModel, string>();

beforeAll(() => {
  const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'iam-cross-account-')) });
  const tooling = new Stack(app, 'Tooling', { env: { account: '111111111111', region: 'us-east-1' } });
  const environments = [
    { name: 'staging', account: '333333333333', region: 'us-east-1', bakeTime: Duration.hours(1) },
    { name: 'prod', account: '444444444444', region: 'eu-west-1' },
  ];
  const pipeline = new BlueGreenLambdaPipeline(tooling, 'Orders', {
    serviceName: 'orders',
    source: { owner: 'o', repo: 'orders', branch: 'main', connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/abc' },
    services: [{ serviceName: 'api', bundleDirectory: 'api' }],
    environments,
  });
  for (const e of environments) {
    new BlueGreenLambdaTarget(new Stack(app, `Orders-${e.name}`, { env: { account: e.account, region: e.region } }), 'Target', { pipeline, environment: e.name });
  }
  const stacks = app.synth().stacks.map((s) => {
    const m = StackModel.fromTemplateFile(s.templateFullPath, { account: s.environment.account, region: s.environment.region });
    files.set(m, s.templateFullPath);
    return m;
  });
  model = AccountsModel.fromStacks(stacks);
  staging = model.targets.find((t) => t.environment === 'staging')!;
  prod = model.targets.find((t) => t.environment === 'prod')!;
});

const outcome = async (e: Expectation) => (await evaluate(e)).result;
const statement = (action: string, resource: string, principal?: string) => ({
  Effect: 'Allow', Action: action, Resource: resource, ...(principal ? { Principal: { AWS: principal } } : {}),
});
const addIdentity = (e: Expectation, s: object): Expectation => ({
  ...e, principal: { ...e.principal, identityPolicies: [...e.principal.identityPolicies, { name: 'added', policy: { Version: '2012-10-17', Statement: [s] } }] },
});
const withResourcePolicy = (e: Expectation, f: (d: Document) => Document): Expectation =>
  ({ ...e, resourcePolicy: f(JSON.parse(JSON.stringify(e.resourcePolicy))) });

test('the model finds the tooling handlers, both targets and the external id the handlers send', () => {
  expect(model.tooling.handlers.map((h) => h.arn)).toEqual(['deploy-blue', 'switch-traffic', 'bake']
    .map((handler) => `arn:aws:iam::111111111111:role/orders-${handler}-release-us-east-1`));
  expect(model.tooling.externalId).toBe(model.tooling.pipelineArn);
  expect(staging.deployer.arn).toMatch(/^arn:aws:iam::333333333333:role\/.*-deployer-staging$/);
  expect(prod.key).toMatch(/^arn:aws:kms:eu-west-1:444444444444:key\//);
  expect(prod.services[0].fn).toMatch(/^arn:aws:lambda:eu-west-1:444444444444:function:/);
});

describe('sts:AssumeRole across accounts: the handler role\'s identity policy and the deployer\'s trust', () => {
  const assume = () => staging.stack.expect(session(model.tooling.handlers[0], 'handler'), 'sts:AssumeRole', staging.deployer.arn, 'Allowed', 'assumes',
    { 'sts:ExternalId': model.tooling.externalId });

  test('both allow: allowed', async () => {
    expect(await outcome(assume())).toBe('Allowed');
  });

  test('the identity policy without sts:AssumeRole: denied, though the trust allows', async () => {
    const e = assume();
    const stripped = { ...e, principal: { ...e.principal, identityPolicies: [] } };
    expect(await outcome(stripped)).toBe('ImplicitlyDenied');
  });

  test('the trust without its statement: denied, though the identity policy allows', async () => {
    expect(await outcome(withResourcePolicy(assume(), (d) => ({ ...d, Statement: [] })))).toBe('ImplicitlyDenied');
  });

  test('the trust\'s conditions decide: no external id, another one, another principal ARN', async () => {
    const e = assume();
    expect(await outcome({ ...e, context: undefined })).toBe('ImplicitlyDenied');
    expect(await outcome({ ...e, context: { 'sts:ExternalId': `${model.tooling.pipelineArn}-other` } })).toBe('ImplicitlyDenied');
    const build = model.tooling.others.find((r) => /BuildProject\/Role$/.test(r.name))!;
    const buildGivenAssume = addIdentity({ ...e, principal: session(build, 'build') }, statement('sts:AssumeRole', '*'));
    expect(await outcome(buildGivenAssume)).toBe('ImplicitlyDenied');
  });
});

describe('KMS across accounts: the caller\'s identity policy and the bundle key\'s policy', () => {
  const viaS3 = { 'kms:ViaService': 's3.us-east-1.amazonaws.com' };
  // prod's deployer (444444444444) on staging's key (333333333333)
  const decrypt = () => staging.stack.expect(session(prod.deployer, 'd'), 'kms:Decrypt', staging.key, 'Denied', 'other target', viaS3);
  const namingProd = (d: Document) => ({ ...d, Statement: [...d.Statement, statement('kms:Decrypt', '*', prod.deployer.arn)] });

  test('neither: denied; identity only: denied; key policy only: denied; both: allowed', async () => {
    expect(await outcome(decrypt())).toBe('ImplicitlyDenied');
    expect(await outcome(addIdentity(decrypt(), statement('kms:Decrypt', staging.key)))).toBe('ImplicitlyDenied');
    expect(await outcome(withResourcePolicy(decrypt(), namingProd))).toBe('ImplicitlyDenied');
    expect(await outcome(withResourcePolicy(addIdentity(decrypt(), statement('kms:Decrypt', staging.key)), namingProd))).toBe('Allowed');
  });

  test('in its own account the key policy alone lets the deployer decrypt through S3, and only through S3', async () => {
    const own = staging.stack.expect(session(staging.deployer, 'd'), 'kms:Decrypt', staging.key, 'Allowed', 'own key', viaS3);
    expect(own.principal.identityPolicies.flatMap((p) => p.policy.Statement).some((s: any) => [s.Action].flat().some((a: string) => a.startsWith('kms:')))).toBe(false);
    expect(await outcome(own)).toBe('Allowed');
    expect(await outcome({ ...own, context: undefined })).toBe('ImplicitlyDenied');
  });
});

describe('S3 across accounts: Deploy-Blue\'s own role and staging\'s bundle bucket policy', () => {
  const put = () => staging.stack.expect(session(model.tooling.handlers[0], 'handler'), 's3:PutObject', `${staging.bucketArn}/bundles/x.zip`, 'Denied', 'direct');
  const namingDeployBlue = (d: Document) => ({ ...d, Statement: [...d.Statement, statement('s3:PutObject', `${staging.bucketArn}/*`, model.tooling.handlers[0].arn)] });

  test('the request names the bucket\'s account, not the caller\'s', () => {
    expect(put().resourceAccount).toBe('333333333333');
  });

  test('identity only: denied; bucket policy only: denied; both: allowed', async () => {
    const identity = statement('s3:PutObject', `${staging.bucketArn}/*`);
    expect(await outcome(put())).toBe('ImplicitlyDenied');
    expect(await outcome(addIdentity(put(), identity))).toBe('ImplicitlyDenied');
    expect(await outcome(withResourcePolicy(put(), namingDeployBlue))).toBe('ImplicitlyDenied');
    expect(await outcome(withResourcePolicy(addIdentity(put(), identity), namingDeployBlue))).toBe('Allowed');
  });
});

test('every expectation of the app is met', async () => {
  const results = await Promise.all(accountsExpectations(model).map(evaluate));
  expect(results.filter((r) => !r.ok).map((r) => `${r.expectation.why}: ${r.result}`)).toEqual([]);
  expect(results.length).toBeGreaterThan(100);
});

describe('structure', () => {
  /** The model with one stack's template changed. */
  const changed = (stack: StackModel, f: (template: any) => void): AccountsModel => {
    const template = JSON.parse(JSON.stringify(stack.template));
    f(template);
    const replaced = new StackModel(stack.stackName, template, constructPaths(files.get(stack)!), stack.env);
    return AccountsModel.fromStacks(model.stacks.map((s) => (s === stack ? replaced : s)));
  };
  const resource = (stack: StackModel, relative: string, template: any) => template.Resources[stack.id(relative)].Properties;

  test('the synthesized app passes', () => {
    const result = structureCheck(model);
    expect(result.problems).toEqual([]);
    expect(result.line).toMatch(/^iam structure: 2 deployer trusts .* 0 problems$/);
  });

  test('a trust without its external id', () => {
    const broken = changed(staging.stack, (t) => {
      delete resource(staging.stack, 'Target/DeployerRole', t).AssumeRolePolicyDocument.Statement[0].Condition.StringEquals;
    });
    expect(structureCheck(broken).problems).toEqual(expect.arrayContaining([expect.stringMatching(/sts:ExternalId \[\], expected the pipeline's ARN/)]));
  });

  test('a trust naming a role that is not a handler', () => {
    const broken = changed(prod.stack, (t) => {
      resource(prod.stack, 'Target/DeployerRole', t).AssumeRolePolicyDocument.Statement[0].Condition.ArnEquals['aws:PrincipalArn'].push('arn:aws:iam::111111111111:role/other');
    });
    expect(structureCheck(broken).problems).toEqual([expect.stringMatching(/aws:PrincipalArn .* expected exactly the handler roles/)]);
  });

  test('a key policy naming another principal', () => {
    const broken = changed(staging.stack, (t) => {
      resource(staging.stack, 'Target/Bundles/Key', t).KeyPolicy.Statement.push(statement('kms:Decrypt', '*', 'arn:aws:iam::333333333333:role/reader'));
    });
    expect(structureCheck(broken).problems).toEqual([expect.stringMatching(/key .* allows .*role\/reader.* expected exactly the deployer/)]);
  });

  test('an iam: grant, and sts:AssumeRole beyond the deployer roles', () => {
    const broken = changed(model.tooling.stack, (t) => {
      const policy = resource(model.tooling.stack, 'Orders/Handlers/DeployBlueRole/DefaultPolicy', t).PolicyDocument;
      policy.Statement.push(statement('iam:PassRole', '*'), statement('sts:AssumeRole', '*'));
    });
    expect(structureCheck(broken).problems).toEqual([
      expect.stringMatching(/DeployBlueRole .*: allows iam:PassRole$/),
      expect.stringMatching(/DeployBlueRole .*: sts:AssumeRole on \*, not a deployer role$/),
    ]);
  });
});
