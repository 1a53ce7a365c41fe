import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { IConstruct } from 'constructs';

/** One IAM policy statement as CloudFormation will see it. */
interface Statement {
  readonly Effect?: string;
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Resource?: unknown;
  readonly Principal?: unknown;
  readonly Condition?: unknown;
}

const list = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The role's identity-policy statements: its inline policies and every AWS::IAM::Policy of its stack that names it. */
function identityStatements(role: iam.Role): Statement[] {
  const stack = Stack.of(role);
  const cfnRole = role.node.defaultChild as iam.CfnRole;
  const ref = stack.resolve(cfnRole.ref);
  const policies = list(stack.resolve(cfnRole.policies) as Array<{ policyDocument: { Statement: Statement[] } }>);
  const inline = policies.flatMap((p) => list(p.policyDocument?.Statement));
  const attached = stack.node.findAll().filter((c): c is iam.CfnPolicy => c instanceof iam.CfnPolicy)
    .filter((p) => list(stack.resolve(p.roles)).some((r) => same(r, ref)))
    .flatMap((p) => list((stack.resolve(p.policyDocument) as { Statement: Statement[] }).Statement));
  return [...inline, ...attached];
}

/** What no role of a pipeline or target may be allowed: IAM itself, or every action. */
function privilegeEscalations(role: iam.Role): string[] {
  return identityStatements(role).filter((s) => s.Effect === 'Allow').flatMap((s) => [
    ...list(s.Action).filter((a) => a === '*' || /^iam:/i.test(a)).map((a) => `${a} (IAM or every action)`),
    ...(s.NotAction !== undefined ? ['NotAction (allows everything but a list)'] : []),
  ]);
}

/** The sts:AssumeRole (or sts:*) resources a role's policies allow. */
function assumable(role: iam.Role): unknown[] {
  return identityStatements(role).filter((s) => s.Effect === 'Allow' && list(s.Action).some((a) => /^sts:(AssumeRole|\*)$/i.test(a) || a === 'sts:*'))
    .flatMap((s) => list(s.Resource));
}

/** Every role under `scope` (a pipeline or a target). */
function rolesUnder(scope: IConstruct): iam.Role[] {
  return scope.node.findAll().filter((c): c is iam.Role => c instanceof iam.Role);
}

/**
 * A pipeline with targets: no role may administer IAM; each stage handler may assume exactly the
 * deployer roles it acts through, and every other role only roles of this pipeline (CodePipeline's
 * role assumes its action roles).
 */
export function checkPipelineRoles(scope: IConstruct, handlers: ReadonlyArray<{ role: iam.IRole; roleArns: readonly string[] }>): string[] {
  const stack = Stack.of(scope);
  const roles = rolesUnder(scope);
  const own = roles.map((r) => stack.resolve(r.roleArn));
  const errors: string[] = [];
  for (const role of roles) {
    for (const finding of privilegeEscalations(role)) errors.push(`${role.node.path}: may ${finding}; no role of a pipeline with targets may`);
    const handler = handlers.find((h) => h.role === role);
    const deployers = (handler?.roleArns ?? []).map((arn) => stack.resolve(arn));
    const targets = assumable(role);
    const allowed = handler ? deployers : own;
    const strays = targets.filter((t) => !allowed.some((a) => same(a, t)));
    if (strays.length > 0) {
      errors.push(`${role.node.path}: may sts:AssumeRole ${strays.map((s) => JSON.stringify(s)).join(', ')}; ${handler ? 'a stage handler may assume only the deployer roles of the targets it acts in' : 'only the pipeline\'s own action roles may be assumed'}`);
    }
    if (handler && !deployers.every((d) => targets.some((t) => same(t, d)))) {
      errors.push(`${role.node.path}: must be allowed sts:AssumeRole on the deployer role of every target it acts in`);
    }
  }
  return errors;
}

/** What a target's deployer role, its trust and its bundle key must say, exactly. */
export interface DeployerExpectations {
  readonly environment: string;
  readonly pipelineAccount: string;
  readonly trustedRoleArns: readonly string[];
  readonly pipelineArn: string;
}

/**
 * A target: the deployer role trusts the pipeline's account only for exactly the handler roles and
 * the pipeline's external id, has no managed policies, may not administer IAM or assume roles; the
 * bundle key's policy grants, besides the account, exactly the deployer role; no role of the target
 * may administer IAM.
 */
export function checkTargetRoles(scope: IConstruct, deployer: iam.Role, bundleKey: kms.Key, expect: DeployerExpectations): string[] {
  const stack = Stack.of(scope);
  const what = `the deployer role of environment "${expect.environment}" (${deployer.node.path})`;
  const errors: string[] = [];
  const cfnRole = deployer.node.defaultChild as iam.CfnRole;
  const trust = list((stack.resolve(cfnRole.assumeRolePolicyDocument) as { Statement: Statement[] }).Statement);
  const wanted: Statement = {
    Action: 'sts:AssumeRole',
    Condition: {
      ArnEquals: { 'aws:PrincipalArn': expect.trustedRoleArns.map((a) => stack.resolve(a)) },
      StringEquals: { 'sts:ExternalId': stack.resolve(expect.pipelineArn) },
    },
    Effect: 'Allow',
    Principal: { AWS: stack.resolve(new iam.AccountPrincipal(expect.pipelineAccount).arn) },
  };
  if (trust.length !== 1 || !same(trust[0], wanted)) {
    errors.push(`${what}: its trust policy must be exactly one statement allowing sts:AssumeRole to account ${expect.pipelineAccount} with aws:PrincipalArn = the pipeline's Deploy-Blue, Switch-Traffic and Bake roles and sts:ExternalId = the pipeline's ARN; found ${JSON.stringify(trust)}`);
  }
  if (list(stack.resolve(cfnRole.managedPolicyArns)).length > 0) errors.push(`${what}: must have no managed policies (it may do only what the stage handlers do here)`);
  if (assumable(deployer).length > 0) errors.push(`${what}: may not assume other roles`);
  for (const role of rolesUnder(scope)) {
    for (const finding of privilegeEscalations(role)) errors.push(`${role.node.path}: may ${finding}; no role of a target may`);
  }
  const root = stack.resolve(new iam.AccountRootPrincipal().arn);
  const deployerArn = stack.resolve(deployer.roleArn);
  const keyPolicy = list((stack.resolve((bundleKey.node.defaultChild as kms.CfnKey).keyPolicy) as { Statement: Statement[] }).Statement);
  for (const statement of keyPolicy.filter((s) => s.Effect === 'Allow')) {
    const principals = list((statement.Principal as { AWS?: unknown } | undefined)?.AWS);
    const others = principals.filter((p) => !same(p, root) && !same(p, deployerArn));
    if (others.length > 0 || (statement.Principal !== undefined && (statement.Principal as { AWS?: unknown }).AWS === undefined)) {
      errors.push(`the bundle key of environment "${expect.environment}" (${bundleKey.node.path}): its policy may grant only the account (administration) and the deployer role; it also grants ${JSON.stringify(statement.Principal)}`);
    }
  }
  if (!keyPolicy.some((s) => s.Effect === 'Allow' && list((s.Principal as { AWS?: unknown } | undefined)?.AWS).some((p) => same(p, deployerArn)))) {
    errors.push(`the bundle key of environment "${expect.environment}" (${bundleKey.node.path}): its policy must grant the deployer role`);
  }
  return errors;
}
