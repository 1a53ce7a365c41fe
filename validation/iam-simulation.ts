// Least privilege, evaluated: the synthesized IAM policies of the example pipelines, their intrinsics resolved to
// concrete ARNs (iam-policies.ts), run through @cloud-copilot/iam-simulate with explicit allow AND deny expectations;
// and the accounts example (a tooling pipeline, targets in three other accounts), evaluated across accounts
// (iam-cross-account.ts).
// Prints one line of counts and one of the cross-account structure; exits non-zero on any unexpected result, a
// structural problem, or when the self-check's mutations go unnoticed.
// Usage: iam-simulation.ts [outdir-prefix]
import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { accountsExpectations, AccountsModel, accountsOf, crossAccountMutations, stacksOf, structureCheck } from './iam-cross-account';
import { ACCOUNT, REGION } from './iam-policies';
import { actions, evaluate, Expectation, mutated, Principal, StackModel } from './iam-stack-model';
import { accountsApp } from '../examples/typescript/accounts-app';
import { environmentsApp } from '../examples/typescript/environments-app';
import { referenceApp } from '../examples/typescript/reference-app';

export { evaluate, StackModel, type Expectation, type Principal, type Outcome, type NamedPolicy } from './iam-stack-model';

// ---------------------------------------------------------------------------------------------------------
// The expectations
// ---------------------------------------------------------------------------------------------------------

const LAMBDA_WRITES = ['lambda:UpdateFunctionCode', 'lambda:PublishVersion'];

/** What every pipeline's roles may and may not do, for its environments (`Environment-<name>/`, or `Default/`). */
function pipelineExpectations(stack: StackModel, pipeline: string, environments: Array<{ prefix: string; bakes: boolean }>,
  services: string[], handlers: string[]): Expectation[] {
  const p = (relative: string) => `${pipeline}/${relative}`;
  const deployBlue = stack.role(p('Handlers/DeployBlueRole'));
  const switchTraffic = stack.role(p('Handlers/SwitchTrafficRole'));
  const build = stack.role(p('Build/BuildProject/Role'));
  const source = stack.role(p('SourceActionRole'));
  const table = stack.arn(p('History/Table'));
  const topic = stack.ref(p('NotificationTopic'));
  const bucket = stack.arn(p('Artifacts/Bucket'));
  const units = environments.flatMap((env) => services.map((service) => {
    const at = `${env.prefix}${service}`;
    return { env, at, fn: stack.arn(p(`${at}/Service`)), group: stack.deploymentGroupArn(p(`${at}/DeploymentGroup`)), alarm: stack.arn(p(`${at}/ErrorRate/Alarm`)) };
  }));
  const out: Expectation[] = [];
  const x = stack.expect.bind(stack);
  for (const u of units) {
    for (const action of LAMBDA_WRITES) out.push(x(deployBlue, action, u.fn, 'Allowed', `Deploy-Blue publishes ${u.at}`));
    out.push(x(deployBlue, 'lambda:DeleteFunction', u.fn, 'Denied', `Deploy-Blue never deletes ${u.at}`));
    out.push(x(switchTraffic, 'codedeploy:CreateDeployment', u.group, 'Allowed', `Switch-Traffic shifts ${u.at}`));
    out.push(x(switchTraffic, 'lambda:UpdateFunctionCode', u.fn, 'Denied', `Switch-Traffic does not change code of ${u.at}`));
    // Old versions are pruned; the function itself never.
    out.push(x(switchTraffic, 'lambda:DeleteFunction', `${u.fn}:1`, 'Allowed', `Switch-Traffic prunes old versions of ${u.at}`));
    out.push(x(switchTraffic, 'lambda:DeleteFunction', u.fn, 'Denied', `Switch-Traffic never deletes ${u.at} itself`));
    out.push(x(build, 'lambda:UpdateFunctionCode', u.fn, 'Denied', `the build cannot deploy ${u.at}`));
    out.push(x(build, 'codedeploy:CreateDeployment', u.group, 'Denied', `the build cannot shift ${u.at}`));
  }
  for (const handler of handlers) {
    const fn = stack.arn(p(`Handlers/${handler}`));
    for (const action of LAMBDA_WRITES) out.push(x(deployBlue, action, fn, 'Denied', `Deploy-Blue cannot rewrite the ${handler} handler`));
  }
  out.push(x(build, 'dynamodb:PutItem', table, 'Denied', 'the build cannot write deployment history'));
  out.push(x(build, 'sns:Publish', topic, 'Denied', 'the build cannot announce deployments'));
  out.push(x(build, 's3:PutObject', `${bucket}/build-output.zip`, 'Allowed', 'the build writes its output artifact'));
  for (const action of ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan']) {
    out.push(x(source, action, table, 'Denied', 'the source action cannot read deployment history'));
  }
  const connection = stack.template.Resources[stack.id(p('Pipeline'))].Properties!.Stages[0].Actions[0].Configuration.ConnectionArn;
  out.push(x(source, 'codeconnections:UseConnection', connection, 'Allowed', 'the source action uses its connection'));

  if (environments.some((e) => e.bakes)) {
    const bake = stack.role(p('Handlers/BakeRole'));
    for (const u of units) {
      out.push(x(bake, 'codedeploy:CreateDeployment', u.group, u.env.bakes ? 'Allowed' : 'Denied', `Bake rolls back ${u.at} only if it bakes`));
      out.push(x(bake, 'cloudwatch:DescribeAlarms', u.alarm, u.env.bakes ? 'Allowed' : 'Denied', `Bake watches ${u.at}'s error rate only if it bakes`));
      out.push(x(bake, 'lambda:UpdateFunctionCode', u.fn, 'Denied', `Bake does not change code of ${u.at}`));
    }
  }
  return out;
}

/** A principal of the account that IAM lets do anything with KMS: only the key policy can stop it. */
export const KMS_ADMINISTRATOR: Principal = {
  name: 'a KMS administrator of the account',
  arn: `arn:aws:iam::${ACCOUNT}:role/KmsAdministrator`,
  identityPolicies: [{ name: 'kms-admin', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] } }],
  awsManaged: [],
  crafted: true,
};

export function environmentsExpectations(stack: StackModel): Expectation[] {
  const environments = [{ prefix: 'Environment-dev/Service-', bakes: false },
    { prefix: 'Environment-staging/Service-', bakes: true }, { prefix: 'Environment-prod/Service-', bakes: true }];
  const key = stack.arn('ReleaseApprovalsKey');
  return [
    ...pipelineExpectations(stack, 'Storefront', environments, ['catalog', 'checkout'], ['DeployBlue', 'SwitchTraffic', 'SmokeTest', 'Bake']),
    stack.expect(KMS_ADMINISTRATOR, 'kms:CreateGrant', key, 'ExplicitlyDenied', 'the approvals key grants only for AWS resources',
      { 'kms:GrantIsForAWSResource': 'false' }),
    stack.expect(KMS_ADMINISTRATOR, 'kms:CreateGrant', key, 'Allowed', 'the approvals key grants for an AWS resource',
      { 'kms:GrantIsForAWSResource': 'true' }),
  ];
}

export function referenceExpectations(stack: StackModel): Expectation[] {
  return pipelineExpectations(stack, 'OrdersApi', [{ prefix: '', bakes: false }], ['Default'], ['DeployBlue', 'SwitchTraffic', 'SmokeTest']);
}

// ---------------------------------------------------------------------------------------------------------
// Self-check: a widened or removed grant must turn an expectation unexpected
// ---------------------------------------------------------------------------------------------------------

/**
 * Mutations of the real policies that a least-privilege proof must notice; returns how many it caught and throws
 * if any went unnoticed. Each picks the first expectation that fits it.
 */
export async function selfCheck(expectations: Expectation[], crossAccount: Expectation[] = []): Promise<number> {
  const pick = (f: (e: Expectation) => boolean, what: string) => {
    const found = expectations.find(f);
    if (!found) throw new Error(`iam-simulation self-check: no expectation for ${what}`);
    return found;
  };
  const handlerUpdate = pick((e) => e.expect === 'Denied' && e.action === 'lambda:UpdateFunctionCode'
    && /Handlers\/DeployBlueRole$/.test(e.principal.name), 'a denied handler update');
  const mutations: Array<[string, Expectation]> = [
    ['UpdateFunctionCode removed from Deploy-Blue',
      mutated(pick((e) => e.expect === 'Allowed' && e.action === 'lambda:UpdateFunctionCode', 'an allowed UpdateFunctionCode'),
        (s) => ({ ...s, Action: actions(s).filter((a) => a !== 'lambda:UpdateFunctionCode') }))],
    ['Deploy-Blue\'s Lambda grant widened to Resource "*"',
      mutated(handlerUpdate, (s) => (actions(s).includes('lambda:UpdateFunctionCode') ? { ...s, Resource: '*' } : s))],
    ['Bake\'s CreateDeployment widened to every deployment group',
      mutated(pick((e) => e.expect === 'Denied' && e.action === 'codedeploy:CreateDeployment' && /BakeRole$/.test(e.principal.name), 'a denied Bake rollback'),
        (s) => (actions(s).includes('codedeploy:CreateDeployment') ? { ...s, Resource: `arn:aws:codedeploy:${REGION}:${ACCOUNT}:deploymentgroup:*` } : s))],
    ['the key policy\'s CreateGrant denial removed',
      mutated(pick((e) => e.expect === 'ExplicitlyDenied' && e.action === 'kms:CreateGrant', 'the key policy denial'), undefined,
        (s) => (s.Effect === 'Deny' ? undefined : s))],
    ...(crossAccount.length ? crossAccountMutations(crossAccount) : []),
  ];
  const missed: string[] = [];
  for (const [what, e] of mutations) {
    const evaluation = await evaluate(e);
    // Caught: the simulator evaluated the mutated policies and the outcome is no longer the expected one.
    if (evaluation.ok || evaluation.result.startsWith('error')) missed.push(`${what}: ${evaluation.result} for ${e.action} on ${e.resource}`);
  }
  if (missed.length) throw new Error(`iam-simulation self-check: mutations not caught: ${missed.join('; ')}`);
  return mutations.length;
}

// ---------------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------------

export function simulatorVersion(): string {
  const pkg = path.join(path.dirname(require.resolve('@cloud-copilot/iam-simulate')), '..', '..', 'package.json');
  return JSON.parse(fs.readFileSync(pkg, 'utf8')).version;
}

const stackOf = (app: App): StackModel => {
  const stacks = stacksOf(app);
  if (stacks.length !== 1) throw new Error(`expected one stack, got ${stacks.map((s) => s.stackName).join(', ')}`);
  return stacks[0];
};

async function main(prefix: string): Promise<void> {
  const started = Date.now();
  const accounts = AccountsModel.fromStacks(stacksOf(accountsApp(`${prefix}-accounts`)));
  const crossAccount = accountsExpectations(accounts);
  const expectations = [
    ...environmentsExpectations(stackOf(environmentsApp(`${prefix}-environments`))),
    ...referenceExpectations(stackOf(referenceApp(`${prefix}-reference`))),
    ...crossAccount,
  ];
  const synthesized = Date.now();
  const mutations = await selfCheck(expectations, crossAccount);
  const evaluations = await Promise.all(expectations.map(evaluate));
  const unexpected = evaluations.filter((r) => !r.ok);
  for (const r of unexpected) {
    const e = r.expectation;
    console.error(`  iam-simulate unexpected: ${e.principal.name} ${e.action} on ${e.resource}: expected ${e.expect}, got ${r.result} (${e.why})`);
  }
  const allowed = expectations.filter((e) => e.expect === 'Allowed').length;
  const roles = new Set(expectations.filter((e) => !e.principal.crafted).map((e) => e.principal.name)).size;
  const fromTemplates = expectations.filter((e) => e.resourcePolicy && !e.craftedPolicy);
  const keyPolicies = new Set(fromTemplates.filter((e) => e.resource.includes(':kms:')).map((e) => e.resource)).size;
  const trustPolicies = new Set(fromTemplates.filter((e) => e.action === 'sts:AssumeRole').map((e) => e.resource)).size;
  const line = `iam-simulate ${simulatorVersion()}: ${expectations.length} expectations (${allowed} allowed, ${expectations.length - allowed} denied) `
    + `on ${roles} roles, ${keyPolicies} key policies, ${trustPolicies} trust policies across ${accountsOf(expectations).size} accounts, `
    + `${unexpected.length} unexpected; self-check: ${mutations} widened or removed grants caught (${((Date.now() - started) / 1000).toFixed(0)} s, `
    + `${((synthesized - started) / 1000).toFixed(0)} s of it synthesizing)`;
  console.log(`${unexpected.length ? 'FAIL' : 'PASS'} ${line}`);
  const structure = structureCheck(accounts);
  for (const problem of structure.problems) console.error(`  iam structure: ${problem}`);
  console.log(`${structure.ok ? 'PASS' : 'FAIL'} ${structure.line}`);
  if (unexpected.length || !structure.ok) process.exit(1);
}

if (require.main === module) {
  main(process.argv[2] ?? 'cdk.out/iam-simulation').catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
