// What the IAM simulation evaluates: a synthesized stack in its account and region (its roles, their identity
// policies, the resource policies that govern its resources, intrinsics resolved to concrete ARNs) and one request
// run through @cloud-copilot/iam-simulate with its principal's identity policies and its resource's resource policy.
import * as fs from 'fs';
import * as path from 'path';
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { ACCOUNT, CfnTemplate, constructPaths, IntrinsicResolver, REGION } from './iam-policies';

export type Document = { Version?: string; Statement: any[] };
export interface NamedPolicy { readonly name: string; readonly policy: Document }

/** The account and region a stack is deployed to. */
export interface StackEnvironment { readonly account: string; readonly region: string }

/** The account and region every ARN of a stack without its own environment resolves to (iam-policies.ts). */
export const DEFAULT_ENVIRONMENT: StackEnvironment = { account: ACCOUNT, region: REGION };

/** Who makes a request: a role (or a session of it) and every identity policy the template attaches to the role. */
export interface Principal {
  readonly name: string;
  /** The caller: a role's ARN, or a role session's (`arn:aws:sts::<account>:assumed-role/<role>/<session>`). */
  readonly arn: string;
  /** For a role session, the role's ARN: what AWS puts in aws:PrincipalArn. */
  readonly roleArn?: string;
  readonly identityPolicies: NamedPolicy[];
  /** AWS-managed policies the template only references: their content is not evaluated. */
  readonly awsManaged: string[];
  /** Written here, not read from a template: a worst case the templates must withstand (not counted as a role). */
  readonly crafted?: boolean;
  /** A template's role with grants added to its identity policies (a worst case): only its resource policy can refuse. */
  readonly widened?: boolean;
}

/** A session of `role`, as a Lambda function running with it (or a handler that assumed it) calls AWS. */
export function session(role: Principal, sessionName: string): Principal {
  const [, , , , account, resource] = role.arn.split(':');
  const roleName = resource.split('/').pop();
  return { ...role, arn: `arn:aws:sts::${account}:assumed-role/${roleName}/${sessionName}`, roleArn: role.arn };
}

/** The account of an ARN (its fifth field), or undefined for ARNs without one (S3 buckets and objects). */
export function accountOf(arn: string): string | undefined {
  const account = arn.split(':')[4];
  return account && /^\d{12}$/.test(account) ? account : undefined;
}

export type Outcome = 'Allowed' | 'Denied' | 'ExplicitlyDenied';

/** One request with its expected outcome ('Denied' = implicitly or explicitly). */
export interface Expectation {
  readonly principal: Principal;
  readonly action: string;
  readonly resource: string;
  /** The account that owns `resource` (an S3 ARN names none): a request across accounts needs both sides' allow. */
  readonly resourceAccount: string;
  readonly expect: Outcome;
  readonly context?: Record<string, string>;
  /** The resource policy that governs `resource` (a role's trust policy for sts:AssumeRole), if any. */
  readonly resourcePolicy?: Document;
  /** The resource policy was written here (a worst case), not read from a template. */
  readonly craftedPolicy?: boolean;
  readonly why: string;
}

/** Every request is made over TLS, as the SDK does (the artifact bucket's policy denies anything else). */
const BASE_CONTEXT = { 'aws:SecureTransport': 'true' };

// ---------------------------------------------------------------------------------------------------------
// A stack's intrinsics in its own account and region
// ---------------------------------------------------------------------------------------------------------

const ACCOUNT_MARK = '\u0001account\u0001';
const REGION_MARK = '\u0001region\u0001';

const mapStrings = (value: unknown, f: (s: string) => string): unknown => {
  if (typeof value === 'string') return f(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, f)]));
  return value;
};

/**
 * IntrinsicResolver resolves pseudo-parameters and resource ARNs to one account and region (ACCOUNT, REGION). A stack of
 * another account or region holds literal ARNs of both: its own (written by CDK for a concrete env) and the tooling
 * account's (the deployer trust names the tooling handler roles). So the literal text is set aside before resolving,
 * what the resolver produced is moved to the stack's account and region, and the literal text is put back.
 */
export class StackResolver {
  private readonly inner: IntrinsicResolver;
  private readonly moved: boolean;

  constructor(template: CfnTemplate, readonly env: StackEnvironment) {
    this.moved = env.account !== ACCOUNT || env.region !== REGION;
    this.inner = new IntrinsicResolver(this.moved ? mapStrings(template, (s) => this.protect(s)) as CfnTemplate : template);
  }

  resolve(value: unknown, where: string): unknown {
    if (!this.moved) return this.inner.resolve(value, where);
    const resolved = this.inner.resolve(mapStrings(value, (s) => this.protect(s)), where);
    return mapStrings(resolved, (s) => s.split(ACCOUNT).join(this.env.account).split(REGION).join(this.env.region)
      .split(ACCOUNT_MARK).join(ACCOUNT).split(REGION_MARK).join(REGION));
  }

  private protect(s: string): string {
    return s.split(ACCOUNT).join(ACCOUNT_MARK).split(REGION).join(REGION_MARK);
  }
}

// ---------------------------------------------------------------------------------------------------------
// One synthesized stack
// ---------------------------------------------------------------------------------------------------------

/** One synthesized stack: find resources by construct path, resolve their ARNs, collect a role's policies. */
export class StackModel {
  static fromTemplateFile(file: string, env: StackEnvironment = DEFAULT_ENVIRONMENT): StackModel {
    return new StackModel(path.basename(file).replace(/\.template\.json$/, ''), JSON.parse(fs.readFileSync(file, 'utf8')), constructPaths(file), env);
  }

  readonly resolver: StackResolver;
  private readonly idsByPath = new Map<string, string>();

  constructor(readonly stackName: string, readonly template: CfnTemplate, paths: Map<string, string>,
    readonly env: StackEnvironment = DEFAULT_ENVIRONMENT) {
    this.resolver = new StackResolver(template, env);
    for (const [id, p] of paths) this.idsByPath.set(p.replace(/\/Resource$/, ''), id);
  }

  /** The logical id at construct path `<stack>/<relative>` (without its trailing `/Resource`). */
  id(relative: string): string {
    const id = this.idsByPath.get(`${this.stackName}/${relative}`);
    if (!id) throw new Error(`${this.stackName}: no resource at construct path ${relative}`);
    return id;
  }

  /** Construct paths of the stack's resources, relative to the stack (without their trailing `/Resource`). */
  paths(): string[] {
    return [...this.idsByPath.keys()].map((p) => p.slice(this.stackName.length + 1));
  }

  /** Logical ids of the resources of `type`. */
  idsOf(type: string): string[] {
    return Object.entries(this.template.Resources).filter(([, r]) => r.Type === type).map(([id]) => id);
  }

  /** `value` with its intrinsics resolved (`where` names it in errors). */
  resolve(value: unknown, where: string): any {
    return this.resolver.resolve(value, `${this.stackName} ${where}`);
  }

  private str(value: unknown, where: string): string {
    const resolved = this.resolve(value, where);
    if (typeof resolved !== 'string') throw new Error(`${this.stackName} ${where}: resolved to ${JSON.stringify(resolved)}, not a string`);
    return resolved;
  }

  arn(relative: string, attribute = 'Arn'): string { return this.arnOf(this.id(relative), attribute); }
  arnOf(logicalId: string, attribute = 'Arn'): string { return this.str({ 'Fn::GetAtt': [logicalId, attribute] }, logicalId); }
  ref(relative: string): string { return this.str({ Ref: this.id(relative) }, relative); }

  /** CodeDeploy's documented ARN format for a deployment group. */
  deploymentGroupArn(relative: string): string {
    const group = this.template.Resources[this.id(relative)].Properties ?? {};
    const application = this.str(group.ApplicationName, `${relative}.ApplicationName`);
    return `arn:aws:codedeploy:${this.env.region}:${this.env.account}:deploymentgroup:${application}/${this.ref(relative)}`;
  }

  /**
   * The role at `relative` (e.g. `Storefront/Handlers/DeployBlueRole`): its inline policies, the AWS::IAM::Policy and
   * customer-managed AWS::IAM::ManagedPolicy resources attached to it, and the AWS-managed ARNs it references.
   */
  role(relative: string): Principal {
    return this.roleOf(this.id(relative), `${this.stackName}/${relative}`);
  }

  /** The role with logical id `roleId`. */
  roleOf(roleId: string, name = `${this.stackName}/${roleId}`): Principal {
    const role = this.template.Resources[roleId];
    if (role.Type !== 'AWS::IAM::Role') throw new Error(`${this.stackName} ${roleId} is a ${role.Type}, not a role`);
    const props = role.Properties ?? {};
    const policies: NamedPolicy[] = (this.resolve(props.Policies ?? [], `${roleId}.Policies`) as any[])
      .map((p, i) => ({ name: `${roleId}/${p.PolicyName ?? i}`, policy: p.PolicyDocument }));
    const managedArns: string[] = this.resolve(props.ManagedPolicyArns ?? [], `${roleId}.ManagedPolicyArns`);
    const awsManaged = managedArns.filter((a) => /^arn:[^:]+:iam::aws:policy\//.test(a));
    for (const [id, resource] of Object.entries(this.template.Resources)) {
      if (resource.Type !== 'AWS::IAM::Policy' && resource.Type !== 'AWS::IAM::ManagedPolicy') continue;
      const attachedHere = (resource.Properties?.Roles ?? []).some((r: any) => r?.Ref === roleId);
      const listedByRole = resource.Type === 'AWS::IAM::ManagedPolicy' && managedArns.includes(this.str({ Ref: id }, id));
      if (attachedHere || listedByRole) policies.push({ name: id, policy: this.resolve(resource.Properties!.PolicyDocument, `${id}.PolicyDocument`) });
    }
    return { name, arn: this.arnOf(roleId), identityPolicies: policies, awsManaged };
  }

  /**
   * The resource policy that governs `resourceArn`: a role's trust policy, a KMS key policy, an SNS topic, S3 bucket or
   * SQS queue policy.
   */
  resourcePolicy(resourceArn: string): Document | undefined {
    const found: Document[] = [];
    for (const [id, resource] of Object.entries(this.template.Resources)) {
      const props = resource.Properties ?? {};
      switch (resource.Type) {
        case 'AWS::IAM::Role':
          if (this.arnOf(id) === resourceArn) found.push(this.resolve(props.AssumeRolePolicyDocument, `${id}.AssumeRolePolicyDocument`));
          break;
        case 'AWS::KMS::Key':
          if (this.arnOf(id) === resourceArn) found.push(this.resolve(props.KeyPolicy, `${id}.KeyPolicy`));
          break;
        case 'AWS::SNS::TopicPolicy':
          if ((this.resolve(props.Topics, `${id}.Topics`) as string[]).includes(resourceArn)) found.push(this.resolve(props.PolicyDocument, `${id}.PolicyDocument`));
          break;
        case 'AWS::SQS::QueuePolicy': {
          const queues = (this.resolve(props.Queues, `${id}.Queues`) as string[])
            .map((url) => `arn:aws:sqs:${this.env.region}:${this.env.account}:${url.split('/').pop()}`);
          if (queues.includes(resourceArn)) found.push(this.resolve(props.PolicyDocument, `${id}.PolicyDocument`));
          break;
        }
        case 'AWS::S3::BucketPolicy': {
          const bucket = this.resolve(props.Bucket, `${id}.Bucket`) as string;
          if (resourceArn === `arn:aws:s3:::${bucket}` || resourceArn.startsWith(`arn:aws:s3:::${bucket}/`)) {
            found.push(this.resolve(props.PolicyDocument, `${id}.PolicyDocument`));
          }
          break;
        }
      }
    }
    if (found.length > 1) throw new Error(`${this.stackName}: ${found.length} resource policies govern ${resourceArn}`);
    return found[0];
  }

  /**
   * An expectation on a resource of this stack (or, for an ARN no stack holds, of the account the ARN names): its
   * resource policy looked up here.
   */
  expect(principal: Principal, action: string, resource: string, expect: Outcome, why: string, context?: Record<string, string>): Expectation {
    if (expect !== 'Allowed' && principal.awsManaged.length) {
      // A denial cannot be proven while part of the principal's permissions is not evaluated.
      throw new Error(`${principal.name}: cannot prove a denial, AWS-managed ${principal.awsManaged.join(', ')} not evaluated`);
    }
    const resourceAccount = accountOf(resource) ?? this.env.account;
    return { principal, action, resource, resourceAccount, expect, why, context, resourcePolicy: this.resourcePolicy(resource) };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------------------

export interface Evaluation { readonly expectation: Expectation; readonly result: string; readonly ok: boolean }

/**
 * Runs one expectation through the simulator (strict mode: the context is exactly what we give). The simulator does
 * not derive the principal's global keys from the principal, so they are set here as AWS sets them on every request:
 * aws:PrincipalArn (a session's role ARN) and aws:PrincipalAccount. The resource's account decides whether the
 * request crosses accounts (then both the identity policies and the resource policy must allow it).
 */
export async function evaluate(e: Expectation): Promise<Evaluation> {
  const principalArn = e.principal.roleArn ?? e.principal.arn;
  const simulation: Simulation = {
    request: {
      principal: e.principal.arn,
      action: e.action,
      resource: { resource: e.resource, accountId: e.resourceAccount },
      contextVariables: { ...BASE_CONTEXT, 'aws:PrincipalArn': principalArn, 'aws:PrincipalAccount': accountOf(principalArn) ?? '', ...e.context },
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
  // A context key the simulator drops (not one of the action's or a global key) would deny for the wrong reason.
  const ignored = response.resultType === 'single' ? response.result.ignoredContextKeys ?? [] : [];
  if (ignored.length) return { expectation: e, result: `error: context keys ignored by the simulator: ${ignored.join(', ')}`, ok: false };
  const result = response.overallResult;
  // Anything but one of the simulator's three outcomes is never taken for a denial.
  const known = ['Allowed', 'ImplicitlyDenied', 'ExplicitlyDenied'].includes(result);
  const ok = known && (e.expect === 'Denied' ? result !== 'Allowed' : result === e.expect);
  return { expectation: e, result, ok };
}

// ---------------------------------------------------------------------------------------------------------
// Mutations, for the self-checks: a widened or removed grant must turn an expectation unexpected
// ---------------------------------------------------------------------------------------------------------

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value));

/** The actions of a policy statement, as a list. */
export const actions = (s: any): string[] => [s.Action ?? []].flat();

/** `e` with its principal's identity policies (or its resource policy) rewritten statement by statement. */
export function mutated(e: Expectation, identity?: (s: any) => any, resource?: (s: any) => any): Expectation {
  const rewrite = (d: Document, f: (s: any) => any) => ({ ...d, Statement: [d.Statement].flat().map(f).filter((s) => s !== undefined) });
  return {
    ...e,
    principal: identity
      ? { ...e.principal, identityPolicies: clone(e.principal.identityPolicies).map((p) => ({ ...p, policy: rewrite(p.policy, identity) })) }
      : e.principal,
    resourcePolicy: resource && e.resourcePolicy ? rewrite(clone(e.resourcePolicy), resource) : e.resourcePolicy,
  };
}
