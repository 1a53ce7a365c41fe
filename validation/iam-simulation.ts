// Least privilege, evaluated: the synthesized IAM policies of the example pipelines, their intrinsics resolved to
// concrete ARNs (iam-policies.ts), run through @cloud-copilot/iam-simulate with explicit allow AND deny expectations.
// Prints one line of counts; exits non-zero on any unexpected result or when the self-check's mutations go unnoticed.
// Usage: iam-simulation.ts [outdir-prefix]
import * as fs from 'fs';
import * as path from 'path';
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { App } from 'aws-cdk-lib';
import { ACCOUNT, CfnTemplate, constructPaths, IntrinsicResolver, REGION } from './iam-policies';
import { environmentsApp } from '../examples/typescript/environments-app';
import { referenceApp } from '../examples/typescript/reference-app';

type Document = { Version?: string; Statement: any[] };
export interface NamedPolicy { readonly name: string; readonly policy: Document }

/** Who makes a request: a role's ARN and every identity policy the template attaches to it. */
export interface Principal {
  readonly name: string;
  readonly arn: string;
  readonly identityPolicies: NamedPolicy[];
  /** AWS-managed policies the template only references: their content is not evaluated. */
  readonly awsManaged: string[];
}

export type Outcome = 'Allowed' | 'Denied' | 'ExplicitlyDenied';

/** One request with its expected outcome ('Denied' = implicitly or explicitly). */
export interface Expectation {
  readonly principal: Principal;
  readonly action: string;
  readonly resource: string;
  readonly expect: Outcome;
  readonly context?: Record<string, string>;
  /** The resource policy that governs `resource` in the template, if any. */
  readonly resourcePolicy?: Document;
  readonly why: string;
}

/** Every request is made over TLS, as the SDK does (the artifact bucket's policy denies anything else). */
const BASE_CONTEXT = { 'aws:SecureTransport': 'true' };

/** One synthesized stack: find resources by construct path, resolve their ARNs, collect a role's policies. */
export class StackModel {
  static fromTemplateFile(file: string): StackModel {
    return new StackModel(path.basename(file).replace(/\.template\.json$/, ''), JSON.parse(fs.readFileSync(file, 'utf8')), constructPaths(file));
  }

  readonly resolver: IntrinsicResolver;
  private readonly idsByPath = new Map<string, string>();

  constructor(readonly stackName: string, readonly template: CfnTemplate, paths: Map<string, string>) {
    this.resolver = new IntrinsicResolver(template);
    for (const [id, p] of paths) this.idsByPath.set(p.replace(/\/Resource$/, ''), id);
  }

  /** The logical id at construct path `<stack>/<relative>` (without its trailing `/Resource`). */
  id(relative: string): string {
    const id = this.idsByPath.get(`${this.stackName}/${relative}`);
    if (!id) throw new Error(`${this.stackName}: no resource at construct path ${relative}`);
    return id;
  }

  private str(value: unknown, where: string): string {
    const resolved = this.resolver.resolve(value, `${this.stackName} ${where}`);
    if (typeof resolved !== 'string') throw new Error(`${this.stackName} ${where}: resolved to ${JSON.stringify(resolved)}, not a string`);
    return resolved;
  }

  arn(relative: string, attribute = 'Arn'): string { return this.str({ 'Fn::GetAtt': [this.id(relative), attribute] }, relative); }
  ref(relative: string): string { return this.str({ Ref: this.id(relative) }, relative); }

  /** CodeDeploy's documented ARN format for a deployment group. */
  deploymentGroupArn(relative: string): string {
    const group = this.template.Resources[this.id(relative)].Properties ?? {};
    const application = this.str(group.ApplicationName, `${relative}.ApplicationName`);
    return `arn:aws:codedeploy:${REGION}:${ACCOUNT}:deploymentgroup:${application}/${this.ref(relative)}`;
  }

  /**
   * The role at `relative` (e.g. `Storefront/Handlers/DeployBlueRole`): its inline policies, the AWS::IAM::Policy and
   * customer-managed AWS::IAM::ManagedPolicy resources attached to it, and the AWS-managed ARNs it references.
   */
  role(relative: string): Principal {
    const roleId = this.id(relative);
    const role = this.template.Resources[roleId];
    if (role.Type !== 'AWS::IAM::Role') throw new Error(`${this.stackName} ${relative} is a ${role.Type}, not a role`);
    const props = role.Properties ?? {};
    const resolve = (value: unknown, where: string) => this.resolver.resolve(value, `${this.stackName} ${where}`) as any;
    const policies: NamedPolicy[] = (resolve(props.Policies ?? [], `${roleId}.Policies`) as any[])
      .map((p, i) => ({ name: `${roleId}/${p.PolicyName ?? i}`, policy: p.PolicyDocument }));
    const managedArns: string[] = resolve(props.ManagedPolicyArns ?? [], `${roleId}.ManagedPolicyArns`);
    const awsManaged = managedArns.filter((a) => /^arn:[^:]+:iam::aws:policy\//.test(a));
    for (const [id, resource] of Object.entries(this.template.Resources)) {
      if (resource.Type !== 'AWS::IAM::Policy' && resource.Type !== 'AWS::IAM::ManagedPolicy') continue;
      const attachedHere = (resource.Properties?.Roles ?? []).some((r: any) => r?.Ref === roleId);
      const listedByRole = resource.Type === 'AWS::IAM::ManagedPolicy' && managedArns.includes(this.str({ Ref: id }, id));
      if (attachedHere || listedByRole) policies.push({ name: id, policy: resolve(resource.Properties!.PolicyDocument, `${id}.PolicyDocument`) });
    }
    return { name: `${this.stackName}/${relative}`, arn: this.arn(relative), identityPolicies: policies, awsManaged };
  }

  /** The resource policy that governs `resourceArn`: a KMS key policy, an SNS topic, S3 bucket or SQS queue policy. */
  resourcePolicy(resourceArn: string): Document | undefined {
    const found: Document[] = [];
    const resolve = (value: unknown, where: string) => this.resolver.resolve(value, `${this.stackName} ${where}`) as any;
    for (const [id, resource] of Object.entries(this.template.Resources)) {
      const props = resource.Properties ?? {};
      switch (resource.Type) {
        case 'AWS::KMS::Key':
          if (this.str({ 'Fn::GetAtt': [id, 'Arn'] }, id) === resourceArn) found.push(resolve(props.KeyPolicy, `${id}.KeyPolicy`));
          break;
        case 'AWS::SNS::TopicPolicy':
          if ((resolve(props.Topics, `${id}.Topics`) as string[]).includes(resourceArn)) found.push(resolve(props.PolicyDocument, `${id}.PolicyDocument`));
          break;
        case 'AWS::SQS::QueuePolicy': {
          const queues = (resolve(props.Queues, `${id}.Queues`) as string[]).map((url) => `arn:aws:sqs:${REGION}:${ACCOUNT}:${url.split('/').pop()}`);
          if (queues.includes(resourceArn)) found.push(resolve(props.PolicyDocument, `${id}.PolicyDocument`));
          break;
        }
        case 'AWS::S3::BucketPolicy': {
          const bucket = resolve(props.Bucket, `${id}.Bucket`) as string;
          if (resourceArn === `arn:aws:s3:::${bucket}` || resourceArn.startsWith(`arn:aws:s3:::${bucket}/`)) {
            found.push(resolve(props.PolicyDocument, `${id}.PolicyDocument`));
          }
          break;
        }
      }
    }
    if (found.length > 1) throw new Error(`${this.stackName}: ${found.length} resource policies govern ${resourceArn}`);
    return found[0];
  }

  /** An expectation with the resource policy of its resource looked up in this stack. */
  expect(principal: Principal, action: string, resource: string, expect: Outcome, why: string, context?: Record<string, string>): Expectation {
    if (expect !== 'Allowed' && principal.awsManaged.length) {
      // A denial cannot be proven while part of the principal's permissions is not evaluated.
      throw new Error(`${principal.name}: cannot prove a denial, AWS-managed ${principal.awsManaged.join(', ')} not evaluated`);
    }
    return { principal, action, resource, expect, why, context, resourcePolicy: this.resourcePolicy(resource) };
  }
}

export interface Evaluation { readonly expectation: Expectation; readonly result: string; readonly ok: boolean }

/** Runs one expectation through the simulator (strict mode: the context is exactly what we give). */
export async function evaluate(e: Expectation): Promise<Evaluation> {
  const simulation: Simulation = {
    request: {
      principal: e.principal.arn,
      action: e.action,
      resource: { resource: e.resource, accountId: ACCOUNT },
      contextVariables: { ...BASE_CONTEXT, ...e.context },
    },
    identityPolicies: e.principal.identityPolicies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: e.resourcePolicy,
  };
  const response = await runSimulation(simulation, {});
  if (response.resultType === 'error') {
    return { expectation: e, result: `error: ${response.errors.message} ${JSON.stringify(response.errors)}`, ok: false };
  }
  const result = response.overallResult;
  const ok = e.expect === 'Denied' ? result !== 'Allowed' : result === e.expect;
  return { expectation: e, result, ok };
}

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

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value));
const actions = (s: any): string[] => [s.Action ?? []].flat();

/** `e` with its principal's identity policies (or its resource policy) rewritten statement by statement. */
function mutated(e: Expectation, identity?: (s: any) => any, resource?: (s: any) => any): Expectation {
  const rewrite = (d: Document, f: (s: any) => any) => ({ ...d, Statement: d.Statement.map(f).filter((s) => s !== undefined) });
  return {
    ...e,
    principal: identity
      ? { ...e.principal, identityPolicies: clone(e.principal.identityPolicies).map((p) => ({ ...p, policy: rewrite(p.policy, identity) })) }
      : e.principal,
    resourcePolicy: resource && e.resourcePolicy ? rewrite(clone(e.resourcePolicy), resource) : e.resourcePolicy,
  };
}

/**
 * Mutations of the real policies that a least-privilege proof must notice; returns how many it caught and throws
 * if any went unnoticed. Each picks the first expectation that fits it.
 */
export async function selfCheck(expectations: Expectation[]): Promise<number> {
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
  ];
  const missed: string[] = [];
  for (const [what, e] of mutations) {
    const evaluation = await evaluate(e);
    if (evaluation.ok) missed.push(`${what}: still ${evaluation.result} for ${e.action} on ${e.resource}`);
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
  const stacks = app.synth().stacks;
  if (stacks.length !== 1) throw new Error(`expected one stack, got ${stacks.map((s) => s.stackName).join(', ')}`);
  return StackModel.fromTemplateFile(stacks[0].templateFullPath);
};

async function main(prefix: string): Promise<void> {
  const expectations = [
    ...environmentsExpectations(stackOf(environmentsApp(`${prefix}-environments`))),
    ...referenceExpectations(stackOf(referenceApp(`${prefix}-reference`))),
  ];
  const mutations = await selfCheck(expectations);
  const evaluations = await Promise.all(expectations.map(evaluate));
  const unexpected = evaluations.filter((r) => !r.ok);
  for (const r of unexpected) {
    const e = r.expectation;
    console.error(`  iam-simulate unexpected: ${e.principal.name} ${e.action} on ${e.resource}: expected ${e.expect}, got ${r.result} (${e.why})`);
  }
  const allowed = expectations.filter((e) => e.expect === 'Allowed').length;
  const roles = new Set(expectations.filter((e) => e.principal !== KMS_ADMINISTRATOR).map((e) => e.principal.name)).size;
  const keyPolicies = new Set(expectations.filter((e) => e.resource.includes(':kms:')).map((e) => e.resource)).size;
  const line = `iam-simulate ${simulatorVersion()}: ${expectations.length} expectations (${allowed} allowed, ${expectations.length - allowed} denied) `
    + `on ${roles} roles and ${keyPolicies} KMS key policy, ${unexpected.length} unexpected; self-check: ${mutations} widened or removed grants caught`;
  console.log(`${unexpected.length ? 'FAIL' : 'PASS'} ${line}`);
  if (unexpected.length) process.exit(1);
}

if (require.main === module) {
  main(process.argv[2] ?? 'cdk.out/iam-simulation').catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
