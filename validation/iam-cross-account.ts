// Environments in other accounts and regions (#17), evaluated across accounts: the tooling stack's stage handlers
// assume each target's deployer role (its trust: the tooling account, aws:PrincipalArn = the handler roles,
// sts:ExternalId = the pipeline's ARN), and the deployer acts on its own target only. Each request is evaluated with
// the caller's identity policies and the resource's policy (trust policy, KMS key policy, bucket policy) of the
// account that owns it; across accounts the simulator requires both to allow, as AWS does.
// Also a structural check of the same templates: who the trusts and key policies name, who may assume what.
import { App } from 'aws-cdk-lib';
import { accountOf, actions, Document, Expectation, mutated, Principal, session, StackModel } from './iam-stack-model';
import { HANDLER_ENVIRONMENT } from '../src/contract/handler-contract';

// ---------------------------------------------------------------------------------------------------------
// The app
// ---------------------------------------------------------------------------------------------------------

/** Every stack of a synthesized app, in its account and region. */
export function stacksOf(app: App): StackModel[] {
  return app.synth().stacks.map((s) => StackModel.fromTemplateFile(s.templateFullPath,
    { account: s.environment.account, region: s.environment.region }));
}

// ---------------------------------------------------------------------------------------------------------
// The model: the tooling stack and its targets, found by construct path
// ---------------------------------------------------------------------------------------------------------

export interface ToolingModel {
  readonly stack: StackModel;
  /** The pipeline's construct path (`Storefront`). */
  readonly prefix: string;
  readonly pipelineName: string;
  /** `arn:aws:codepipeline:<region>:<account>:<name>`, from the pipeline resource. */
  readonly pipelineArn: string;
  /** What the handlers send as sts:ExternalId: their PIPELINE_ARN variable. */
  readonly externalId: string;
  /** Deploy-Blue, Switch-Traffic and (when an environment bakes) Bake. */
  readonly handlers: Principal[];
  /** Every other role of the stack. */
  readonly others: Principal[];
  /** Roles whose trust names an AWS principal (the account, or the pipeline role): whoever that principal's IAM lets. */
  readonly assumable: Principal[];
  /** An object of the artifact bucket, keyed as CodePipeline keys them (<pipeline, 20 chars>/<artifact, 10 chars>/<id>). */
  readonly artifactObject: string;
  readonly table: string;
  readonly topic: string;
  readonly keys: string[];
}

export interface TargetModel {
  readonly stack: StackModel;
  readonly environment: string;
  readonly deployer: Principal;
  readonly services: Array<{ readonly at: string; readonly fn: string; readonly group: string; readonly alarm: string }>;
  readonly key: string;
  readonly bucketArn: string;
  /** The target's functions other than its services (the smoke test, CDK's auto-delete provider). */
  readonly otherFunctions: string[];
  /** The target's roles other than the deployer. */
  readonly otherRoles: Principal[];
  /** Whether its environment bakes (a Bake action in its Switch-Traffic stage): then the Bake handler acts there too. */
  readonly baked: boolean;
}

const HANDLER_ROLES = ['DeployBlueRole', 'SwitchTrafficRole', 'BakeRole'];

export class AccountsModel {
  /** The tooling stack (the one with the pipeline) and every stack with a deployer role. */
  static fromStacks(stacks: StackModel[]): AccountsModel {
    const toolings = stacks.filter((s) => s.idsOf('AWS::CodePipeline::Pipeline').length === 1);
    if (toolings.length !== 1) throw new Error(`expected one stack with a pipeline, got ${toolings.length}`);
    const tooling = toolingModel(toolings[0]);
    const targets = stacks.filter((s) => s !== toolings[0]).flatMap((s) => s.paths()
      .filter((p) => /\/DeployerRole$/.test(p) && s.template.Resources[s.id(p)].Type === 'AWS::IAM::Role')
      .map((p) => targetModel(s, p.replace(/\/DeployerRole$/, ''), tooling.pipelineName, bakedEnvironments(toolings[0]))));
    if (targets.length === 0) throw new Error('no stack holds a deployer role');
    return new AccountsModel(tooling, targets);
  }

  constructor(readonly tooling: ToolingModel, readonly targets: TargetModel[]) {}

  get stacks(): StackModel[] { return [this.tooling.stack, ...this.targets.map((t) => t.stack)]; }
}

function toolingModel(stack: StackModel): ToolingModel {
  const pipelinePath = stack.paths().find((p) => stack.template.Resources[stack.id(p)].Type === 'AWS::CodePipeline::Pipeline')!;
  const prefix = pipelinePath.replace(/\/Pipeline$/, '');
  const pipelineName: string = stack.resolve(stack.template.Resources[stack.id(pipelinePath)].Properties!.Name, `${pipelinePath}.Name`);
  const handlerPaths = HANDLER_ROLES.map((r) => `${prefix}/Handlers/${r}`).filter((p) => stack.paths().includes(p));
  const handlers = handlerPaths.map((p) => stack.role(p));
  const externalIds = new Set(handlerPaths.map((p) => {
    const fn = stack.template.Resources[stack.id(p.replace(/Role$/, ''))].Properties!;
    return stack.resolve(fn.Environment?.Variables?.[HANDLER_ENVIRONMENT.pipelineArn] ?? '', `${p} ${HANDLER_ENVIRONMENT.pipelineArn}`);
  }));
  if (externalIds.size !== 1) throw new Error(`the handlers' ${HANDLER_ENVIRONMENT.pipelineArn} differ: ${[...externalIds].join(', ')}`);
  const handlerIds = new Set(handlerPaths.map((p) => stack.id(p)));
  return {
    stack,
    prefix,
    pipelineName,
    pipelineArn: `arn:aws:codepipeline:${stack.env.region}:${stack.env.account}:${pipelineName}`,
    externalId: [...externalIds][0],
    handlers,
    others: stack.idsOf('AWS::IAM::Role').filter((id) => !handlerIds.has(id)).map((id) => stack.roleOf(id, pathName(stack, id))),
    assumable: stack.idsOf('AWS::IAM::Role').filter((id) => trustsAwsPrincipal(stack, id)).map((id) => stack.roleOf(id, pathName(stack, id))),
    artifactObject: `${stack.arn(`${prefix}/Artifacts/Bucket`)}/${pipelineName.slice(0, 20)}/BuildOutpu/0a1b2c3`,
    table: stack.arn(`${prefix}/History/Table`),
    topic: stack.ref(`${prefix}/NotificationTopic`),
    keys: stack.idsOf('AWS::KMS::Key').map((id) => stack.arnOf(id)),
  };
}

/** The environments whose Switch-Traffic stage holds Bake actions, read from the pipeline's stages. */
function bakedEnvironments(stack: StackModel): Set<string> {
  const id = stack.idsOf('AWS::CodePipeline::Pipeline')[0];
  const stages = stack.resolve(stack.template.Resources[id].Properties!.Stages, `${id}.Stages`) as Array<{ Name: string; Actions: Array<{ Name: string }> }>;
  return new Set(stages.filter((st) => st.Actions.some((a) => /^Bake(-|$)/.test(a.Name))).map((st) => st.Name.replace(/^Switch-Traffic-/, '')));
}

function targetModel(stack: StackModel, prefix: string, pipelineName: string, baked: Set<string>): TargetModel {
  const deployerId = stack.id(`${prefix}/DeployerRole`);
  const roleName: string = stack.resolve(stack.template.Resources[deployerId].Properties!.RoleName, `${prefix}/DeployerRole.RoleName`);
  const namePrefix = `${pipelineName}-deployer-`;
  if (!roleName.startsWith(namePrefix)) throw new Error(`${stack.stackName} ${prefix}/DeployerRole is named ${roleName}, not ${namePrefix}<environment>`);
  const services = stack.paths().filter((p) => p.startsWith(`${prefix}/`) && /\/(Service-[^/]+|Default)\/Service$/.test(p)).map((p) => {
    const at = p.replace(/\/Service$/, '');
    return { at: `${stack.stackName}/${at}`, fn: stack.arn(p), group: stack.deploymentGroupArn(`${at}/DeploymentGroup`), alarm: stack.arn(`${at}/ErrorRate/Alarm`) };
  });
  const serviceFunctions = new Set(services.map((s) => s.fn));
  return {
    stack,
    environment: roleName.slice(namePrefix.length),
    deployer: stack.role(`${prefix}/DeployerRole`),
    services,
    key: stack.arn(`${prefix}/Bundles/Key`),
    bucketArn: stack.arn(`${prefix}/Bundles/Bucket`),
    otherFunctions: stack.idsOf('AWS::Lambda::Function').map((id) => stack.arnOf(id)).filter((fn) => !serviceFunctions.has(fn)),
    otherRoles: stack.idsOf('AWS::IAM::Role').filter((id) => id !== deployerId).map((id) => stack.roleOf(id, pathName(stack, id))),
    baked: baked.has(roleName.slice(namePrefix.length)),
  };
}

function trustsAwsPrincipal(stack: StackModel, roleId: string): boolean {
  const trust = stack.resourcePolicy(stack.arnOf(roleId))!;
  return [trust.Statement].flat().some((st: any) => st.Effect === 'Allow' && st.Principal?.AWS !== undefined);
}

/** `<stack>/<construct path>` of a logical id, for messages. */
function pathName(stack: StackModel, logicalId: string): string {
  const p = stack.paths().find((candidate) => stack.id(candidate) === logicalId);
  return `${stack.stackName}/${p ?? logicalId}`;
}

// ---------------------------------------------------------------------------------------------------------
// Requests that are not in any template: the worst cases the templates must withstand
// ---------------------------------------------------------------------------------------------------------

/** An account outside the app, with a role named exactly as a tooling handler role. */
export const OUTSIDER_ACCOUNT = '555555555555';

const allow = (action: string, resource = '*'): Document => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: action, Resource: resource }] });

/**
 * `p` with `action` on every resource added to its identity policies: whatever else IAM grants it (AWS-managed
 * policies included, which could only add allows), the resource policy alone must refuse.
 */
function grantedAnything(p: Principal, action: string): Principal {
  return { ...p, identityPolicies: [...p.identityPolicies, { name: `any-${action}`, policy: allow(action) }], awsManaged: [], widened: true };
}

function craftedRole(account: string, roleName: string, what: string, policy: Document): Principal {
  return { name: what, arn: `arn:aws:iam::${account}:role/${roleName}`, identityPolicies: [{ name: 'crafted', policy }], awsManaged: [], crafted: true };
}

/** A role of a target trusting the tooling account without conditions (an administrator role, say). */
const trustingAccount = (account: string): Document => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'sts:AssumeRole' }],
});

/** What CDK writes into a key policy by default: the account's IAM decides. */
const defaultKeyPolicy = (account: string): Document => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'kms:*', Resource: '*' }],
});

const withPolicy = (e: Expectation, resourcePolicy: Document): Expectation => ({ ...e, resourcePolicy, craftedPolicy: true });

// ---------------------------------------------------------------------------------------------------------
// The expectations
// ---------------------------------------------------------------------------------------------------------

/** Whether a handler session is the Bake handler's. */
const isBake = (p: Principal) => /\/Handlers\/BakeRole$/.test(p.name) || /-bake-/.test(p.roleArn ?? p.arn);

/** A handler's calls: a session of its execution role. */
const HANDLER_SESSION = (p: Principal) => session(p, 'handler');

export function accountsExpectations(model: AccountsModel): Expectation[] {
  const { tooling, targets } = model;
  const out: Expectation[] = [];
  const externalId = { 'sts:ExternalId': tooling.externalId };
  const handlers = tooling.handlers.map(HANDLER_SESSION);
  const deployBlue = handlers[0];
  const toolingAccount = tooling.stack.env.account;
  const unrelated = craftedRole(toolingAccount, 'unrelated-automation', 'an unrelated role of the tooling account with sts:AssumeRole on *', allow('sts:AssumeRole'));
  const outsider = craftedRole(OUTSIDER_ACCOUNT, tooling.handlers[0].arn.split('/').pop()!,
    `a role named as Deploy-Blue's in account ${OUTSIDER_ACCOUNT} with sts:AssumeRole on *`, allow('sts:AssumeRole'));

  for (const t of targets) {
    const x = t.stack.expect.bind(t.stack);
    const env = `${t.environment} (${t.stack.env.account}, ${t.stack.env.region})`;
    const deployerArn = t.deployer.arn;
    const deployer = session(t.deployer, `deploy-blue-${t.environment}-execution`);
    const viaS3 = { 'kms:ViaService': `s3.${t.stack.env.region}.amazonaws.com` };
    const bundle = `${t.bucketArn}/bundles/execution/${t.environment}/catalog.zip`;

    // ---- who may assume the deployer role (identity policy of the caller AND the deployer's trust)
    for (const h of handlers) {
      // The Bake handler acts only where the environment bakes; elsewhere neither its policy nor the trust names it.
      if (isBake(h) && !t.baked) {
        out.push(x(h, 'sts:AssumeRole', deployerArn, 'Denied', `${h.name} cannot assume ${env}'s deployer: ${t.environment} does not bake`, externalId));
        continue;
      }
      out.push(x(h, 'sts:AssumeRole', deployerArn, 'Allowed', `${h.name} assumes ${env}'s deployer with the pipeline's ARN as external id`, externalId));
      out.push(x(h, 'sts:AssumeRole', deployerArn, 'Denied', `${h.name} cannot assume ${env}'s deployer without the external id`));
      out.push(x(h, 'sts:AssumeRole', deployerArn, 'Denied', `${h.name} cannot assume ${env}'s deployer with another pipeline's ARN as external id`,
        { 'sts:ExternalId': `${tooling.pipelineArn}-other` }));
    }
    for (const role of tooling.others) {
      if (!role.awsManaged.length) {
        out.push(x(session(role, 'session'), 'sts:AssumeRole', deployerArn, 'Denied', `${role.name} cannot assume ${env}'s deployer`, externalId));
      }
      out.push(x(session(grantedAnything(role, 'sts:AssumeRole'), 'session'), 'sts:AssumeRole', deployerArn, 'Denied',
        `${env}'s deployer trust refuses ${role.name} (not a handler role), given sts:AssumeRole on * by its identity policies`, externalId));
    }
    for (const role of t.otherRoles) {
      out.push(x(session(grantedAnything(role, 'sts:AssumeRole'), 'session'), 'sts:AssumeRole', deployerArn, 'Denied',
        `${env}'s deployer trust refuses ${role.name} of its own account, given sts:AssumeRole on * by its identity policies`, externalId));
    }
    out.push(x(unrelated, 'sts:AssumeRole', deployerArn, 'Denied', `${env}'s deployer trust refuses a tooling role that is not a handler`, externalId));
    out.push(x(outsider, 'sts:AssumeRole', deployerArn, 'Denied', `${env}'s deployer trust refuses the handler role's name in another account`, externalId));

    // ---- a handler assumes nothing but the deployer roles, even a role that trusts the tooling account outright
    for (const h of handlers) {
      out.push(withPolicy(x(h, 'sts:AssumeRole', `arn:aws:iam::${t.stack.env.account}:role/OrganizationAccountAccessRole`, 'Denied',
        `${h.name} cannot assume an administrator role of ${env} that trusts the tooling account`, externalId), trustingAccount(toolingAccount)));
    }
    // ---- the handlers cannot act on the target with their own roles: only through the deployer
    for (const s of t.services) {
      out.push(x(deployBlue, 'lambda:UpdateFunctionCode', s.fn, 'Denied', `Deploy-Blue's own role cannot update ${s.at} in another account`));
      out.push(x(handlers[1], 'codedeploy:CreateDeployment', s.group, 'Denied', `Switch-Traffic's own role cannot shift ${s.at} in another account`));
    }
    out.push(x(deployBlue, 's3:PutObject', bundle, 'Denied', `Deploy-Blue's own role cannot write ${env}'s bundle bucket`));
    for (const h of handlers) {
      out.push(x(h, 'kms:GenerateDataKey', t.key, 'Denied', `${h.name} cannot use ${env}'s bundle key, even through S3`, viaS3));
    }

    // ---- what the deployer does to its target
    for (const s of t.services) {
      out.push(x(deployer, 'lambda:UpdateFunctionCode', s.fn, 'Allowed', `${env}'s deployer updates ${s.at}`));
      out.push(x(deployer, 'lambda:PublishVersion', s.fn, 'Allowed', `${env}'s deployer publishes ${s.at}`));
      out.push(x(deployer, 'codedeploy:CreateDeployment', s.group, 'Allowed', `${env}'s deployer shifts ${s.at}`));
      out.push(t.baked
        ? x(deployer, 'cloudwatch:DescribeAlarms', s.alarm, 'Allowed', `${env}'s deployer watches ${s.at}'s error rate (Bake)`)
        : x(deployer, 'cloudwatch:DescribeAlarms', s.alarm, 'Denied', `${env}'s deployer reads no alarm: ${t.environment} does not bake`));
      out.push(t.baked
        ? x(deployer, 'codedeploy:UpdateDeploymentGroup', s.group, 'Allowed', `${env}'s deployer overrides ${s.at}'s alarms for a bake rollback (CreateDeployment requires it)`)
        : x(deployer, 'codedeploy:UpdateDeploymentGroup', s.group, 'Denied', `${env}'s deployer cannot change ${s.at}'s group: ${t.environment} does not bake`));
      out.push(x(deployer, 'lambda:DeleteFunction', `${s.fn}:1`, 'Allowed', `${env}'s deployer prunes old versions of ${s.at}`));
      out.push(x(deployer, 'lambda:DeleteFunction', s.fn, 'Denied', `${env}'s deployer never deletes ${s.at} itself`));
    }
    out.push(x(deployer, 's3:PutObject', bundle, 'Allowed', `${env}'s deployer writes a bundle`));
    out.push(x(deployer, 's3:GetObject', bundle, 'Allowed', `UpdateFunctionCode reads the bundle as ${env}'s deployer`));
    out.push(x(deployer, 'kms:GenerateDataKey', t.key, 'Allowed', `S3 encrypts ${env}'s bundle for its deployer`, viaS3));
    out.push(x(deployer, 'kms:Decrypt', t.key, 'Allowed', `S3 decrypts ${env}'s bundle for its deployer`, viaS3));
    out.push(x(deployer, 's3:PutObject', bundle, 'ExplicitlyDenied', `${env}'s bundle bucket refuses requests without TLS`, { 'aws:SecureTransport': 'false' }));
    out.push(x(deployer, 's3:PutObject', `${t.bucketArn}/elsewhere.zip`, 'Denied', `${env}'s deployer writes only under bundles/`));
    out.push(x(deployer, 'kms:Decrypt', t.key, 'Denied', `${env}'s deployer cannot use its bundle key directly, only through S3`));
    out.push(x(deployer, 'kms:Decrypt', t.key, 'Denied', `${env}'s deployer cannot use its bundle key through another service`,
      { 'kms:ViaService': `lambda.${t.stack.env.region}.amazonaws.com` }));
    out.push(x(deployer, 'kms:Decrypt', t.key, 'Denied', `${env}'s deployer cannot use its bundle key through S3 of another region`,
      { 'kms:ViaService': `s3.${t.stack.env.region === 'us-east-1' ? 'eu-west-1' : 'us-east-1'}.amazonaws.com` }));

    // ---- what the deployer cannot do: its own account's other functions, IAM, STS, other targets, the tooling account
    for (const fn of t.otherFunctions) {
      out.push(x(deployer, 'lambda:UpdateFunctionCode', fn, 'Denied', `${env}'s deployer cannot change ${fn}, not a service`));
    }
    out.push(x(deployer, 'lambda:UpdateFunctionCode', `arn:aws:lambda:${t.stack.env.region}:${t.stack.env.account}:function:payroll`, 'Denied',
      `${env}'s deployer cannot change another function of its account`));
    const ownRole = `arn:aws:iam::${t.stack.env.account}:role`;
    for (const [action, resource] of [['iam:PutRolePolicy', deployerArn], ['iam:AttachRolePolicy', deployerArn], ['iam:UpdateAssumeRolePolicy', deployerArn],
      ['iam:CreateRole', `${ownRole}/escalation`], ...t.otherRoles.map((r) => ['iam:PassRole', r.arn])]) {
      out.push(x(deployer, action, resource, 'Denied', `${env}'s deployer has no IAM permission (${action} on ${resource})`));
    }
    out.push(withPolicy(x(deployer, 'sts:AssumeRole', `${ownRole}/OrganizationAccountAccessRole`, 'Denied',
      `${env}'s deployer cannot assume a role of its account that trusts it`), trustingAccount(t.stack.env.account)));
    for (const other of targets.filter((o) => o !== t)) {
      const oenv = `${other.environment} (${other.stack.env.account}, ${other.stack.env.region})`;
      const y = other.stack.expect.bind(other.stack);
      for (const s of other.services) {
        out.push(y(deployer, 'lambda:UpdateFunctionCode', s.fn, 'Denied', `${env}'s deployer cannot update ${oenv}'s ${s.at}`));
        out.push(y(deployer, 'codedeploy:CreateDeployment', s.group, 'Denied', `${env}'s deployer cannot shift ${oenv}'s ${s.at}`));
      }
      out.push(y(deployer, 'sts:AssumeRole', other.deployer.arn, 'Denied', `${env}'s deployer cannot assume ${oenv}'s deployer`, externalId));
      out.push(y(deployer, 's3:PutObject', `${other.bucketArn}/bundles/execution/${t.environment}/catalog.zip`, 'Denied',
        `${env}'s deployer cannot write ${oenv}'s bundles`));
      out.push(y(deployer, 'kms:Decrypt', other.key, 'Denied', `${env}'s deployer cannot use ${oenv}'s bundle key`,
        { 'kms:ViaService': `s3.${other.stack.env.region}.amazonaws.com` }));
    }
    const z = tooling.stack.expect.bind(tooling.stack);
    out.push(z(deployer, 's3:GetObject', tooling.artifactObject, 'Denied', `${env}'s deployer cannot read the tooling artifact bucket`));
    out.push(z(deployer, 'dynamodb:PutItem', tooling.table, 'Denied', `${env}'s deployer cannot write the deployment history`));
    out.push(z(deployer, 'sns:Publish', tooling.topic, 'Denied', `${env}'s deployer cannot announce on the pipeline's topic`));
    for (const key of tooling.keys) out.push(z(deployer, 'kms:Decrypt', key, 'Denied', `${env}'s deployer cannot decrypt with the tooling key ${key}`));
    out.push(withPolicy(z(deployer, 'kms:Decrypt', `arn:aws:kms:${tooling.stack.env.region}:${toolingAccount}:key/any-key`, 'Denied',
      `${env}'s deployer cannot decrypt with a key of the tooling account that leaves access to that account's IAM`), defaultKeyPolicy(toolingAccount)));

    // ---- the bundle key's statement names the deployer only
    for (const role of t.otherRoles.filter((r) => !r.awsManaged.length)) {
      out.push(x(session(role, 'session'), 'kms:Decrypt', t.key, 'Denied', `${env}'s bundle key refuses ${role.name} of its own account`, viaS3));
    }
    const administrator = craftedRole(t.stack.env.account, 'KmsAdministrator', `a KMS administrator of ${env} (kms:* on *)`, allow('kms:*'));
    out.push(x(administrator, 'kms:Decrypt', t.key, 'Allowed',
      `${env}'s bundle key leaves its account's IAM in charge too (CDK's default account statement): a role granted kms:* there can`, viaS3));

    // ---- nor can the deployer reach back into the tooling account through the roles that trust that account
    for (const role of tooling.assumable) {
      out.push(z(deployer, 'sts:AssumeRole', role.arn, 'Denied', `${env}'s deployer cannot assume the tooling role ${role.name}`));
    }
  }

  // ---- in the tooling account: the roles that trust an AWS principal are the pipeline's action roles; the
  // pipeline role assumes them, the handlers do not
  const z = tooling.stack.expect.bind(tooling.stack);
  const pipelineRole = session(tooling.stack.role(`${tooling.prefix}/Pipeline/Role`), 'codepipeline');
  for (const role of tooling.assumable) {
    for (const h of handlers) out.push(z(h, 'sts:AssumeRole', role.arn, 'Denied', `${h.name} cannot assume ${role.name}, though it trusts the tooling account`));
    out.push(z(pipelineRole, 'sts:AssumeRole', role.arn, 'Allowed', `the pipeline runs ${role.name}'s action with it`));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Self-check: removed conditions, removed grants on either side, widened grants must turn an expectation unexpected
// ---------------------------------------------------------------------------------------------------------

const isHandlerAssume = (e: Expectation) => e.action === 'sts:AssumeRole' && !e.principal.widened
  && /\/Handlers\/(DeployBlue|SwitchTraffic|Bake)Role$/.test(e.principal.name);
const withoutCondition = (operator: string, key: string) => (s: any) => {
  if (!s.Condition?.[operator]?.[key]) return s;
  const { [key]: _dropped, ...rest } = s.Condition[operator];
  return { ...s, Condition: { ...s.Condition, [operator]: rest } };
};

/** The mutations of the cross-account policies the expectations must catch, each applied to the first expectation that fits. */
export function crossAccountMutations(expectations: Expectation[]): Array<[string, Expectation]> {
  const pick = (f: (e: Expectation) => boolean, what: string) => {
    const found = expectations.find(f);
    if (!found) throw new Error(`iam-simulation self-check: no cross-account expectation for ${what}`);
    return found;
  };
  const handlerAssumes = pick((e) => isHandlerAssume(e) && e.expect === 'Allowed', 'a handler assuming a deployer');
  const deployerDecrypt = (f: (e: Expectation) => boolean, what: string) =>
    pick((e) => e.action === 'kms:Decrypt' && e.expect === 'Denied' && f(e), what);
  return [
    ['the deployer trust without its sts:ExternalId condition',
      mutated(pick((e) => isHandlerAssume(e) && e.expect === 'Denied' && !e.context && !e.craftedPolicy, 'a handler without external id'),
        undefined, withoutCondition('StringEquals', 'sts:ExternalId'))],
    ['the deployer trust without its aws:PrincipalArn condition',
      mutated(pick((e) => e.action === 'sts:AssumeRole' && /^an unrelated role/.test(e.principal.name), 'an unrelated tooling role'),
        undefined, withoutCondition('ArnEquals', 'aws:PrincipalArn'))],
    ['the deployer trust removed (the handler\'s identity policy still allows)', mutated(handlerAssumes, undefined, () => undefined)],
    ['the handler\'s sts:AssumeRole removed (the deployer trust still allows)',
      mutated(handlerAssumes, (s) => ({ ...s, Action: actions(s).filter((a) => a !== 'sts:AssumeRole') }))],
    ['a handler\'s sts:AssumeRole widened to Resource "*"',
      mutated(pick((e) => isHandlerAssume(e) && e.craftedPolicy === true, 'a handler and an administrator role'),
        (s) => (actions(s).includes('sts:AssumeRole') ? { ...s, Resource: '*' } : s))],
    ['the bundle key statement without its kms:ViaService condition',
      mutated(deployerDecrypt((e) => !e.context && / deployer/.test(e.why), 'a direct decrypt by the deployer'),
        undefined, withoutCondition('StringEquals', 'kms:ViaService'))],
    ['the bundle key statement widened to every principal',
      mutated(deployerDecrypt((e) => /refuses .* of its own account/.test(e.why), 'another role of the target on its key'),
        undefined, (s) => (s.Sid?.startsWith('Deployer') ? { ...s, Principal: { AWS: '*' } } : s))],
    ['the deployer\'s Lambda grant widened to Resource "*"',
      mutated(pick((e) => e.action === 'lambda:UpdateFunctionCode' && e.expect === 'Denied' && /another function of its account/.test(e.why), 'another function'),
        (s) => (actions(s).includes('lambda:UpdateFunctionCode') ? { ...s, Resource: '*' } : s))],
  ];
}

// ---------------------------------------------------------------------------------------------------------
// Structure: who the trusts and key policies name, who may assume what, that no role holds IAM permissions
// ---------------------------------------------------------------------------------------------------------

const list = (v: unknown): any[] => (v === undefined ? [] : [v].flat());
const glob = (pattern: string) => new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
const sameSet = (a: string[], b: string[]) => a.length === b.length && [...a].sort().every((v, i) => v === [...b].sort()[i]);

export interface StructureResult { readonly ok: boolean; readonly line: string; readonly problems: string[] }

/**
 * - every deployer role's trust is one statement: Allow sts:AssumeRole to the tooling account's root, on the
 *   conditions ArnEquals aws:PrincipalArn = exactly the tooling handler roles and StringEquals sts:ExternalId = the
 *   pipeline's ARN (which is also what the handlers send);
 * - every KMS key policy of a target allows, besides its own account's root, exactly that target's deployer role;
 * - no identity policy of any role allows an iam: action or NotAction, and sts:AssumeRole only on the deployer roles
 *   (the pipeline role: also on its actions' roles, which is how CodePipeline runs an action with its own role).
 */
export function structureCheck(model: AccountsModel): StructureResult {
  const { tooling, targets } = model;
  const problems: string[] = [];
  const handlerArns = tooling.handlers.map((h) => h.arn);
  const toolingRoot = `arn:aws:iam::${tooling.stack.env.account}:root`;
  const deployerArns = targets.map((t) => t.deployer.arn);
  if (tooling.externalId !== tooling.pipelineArn) problems.push(`the handlers send ${tooling.externalId} as external id, not the pipeline's ARN ${tooling.pipelineArn}`);

  for (const t of targets) {
    const where = `${t.stack.stackName} deployer ${t.deployer.arn}`;
    const trust = t.stack.resourcePolicy(t.deployer.arn)!;
    const statements = list(trust.Statement);
    if (statements.length !== 1) problems.push(`${where}: trust has ${statements.length} statements, expected 1`);
    for (const s of statements) {
      const conditions = s.Condition ?? {};
      const principalArns = list(conditions.ArnEquals?.['aws:PrincipalArn']);
      const externalIds = list(conditions.StringEquals?.['sts:ExternalId']);
      if (s.Effect !== 'Allow' || !sameSet(list(s.Action), ['sts:AssumeRole'])) problems.push(`${where}: trust statement is ${s.Effect} ${list(s.Action).join(',')}, expected Allow sts:AssumeRole`);
      if (!sameSet(Object.keys(s.Principal ?? {}), ['AWS']) || !sameSet(list(s.Principal.AWS), [toolingRoot])) {
        problems.push(`${where}: trust principal ${JSON.stringify(s.Principal)}, expected the tooling account ${toolingRoot}`);
      }
      // Bake's role only where the environment bakes.
      const trusted = t.baked ? handlerArns : tooling.handlers.filter((h) => !/\/Handlers\/BakeRole$/.test(h.name)).map((h) => h.arn);
      if (!sameSet(principalArns, trusted)) problems.push(`${where}: aws:PrincipalArn ${JSON.stringify(principalArns)}, expected exactly the handler roles acting there ${JSON.stringify(trusted)}`);
      if (!sameSet(externalIds, [tooling.pipelineArn])) problems.push(`${where}: sts:ExternalId ${JSON.stringify(externalIds)}, expected the pipeline's ARN ${tooling.pipelineArn}`);
      const operators = Object.entries(conditions).flatMap(([op, keys]) => Object.keys(keys as object).map((k) => `${op} ${k}`));
      if (!sameSet(operators, ['ArnEquals aws:PrincipalArn', 'StringEquals sts:ExternalId'])) problems.push(`${where}: trust conditions ${operators.join(', ')}, expected ArnEquals aws:PrincipalArn and StringEquals sts:ExternalId`);
    }
    for (const keyId of t.stack.idsOf('AWS::KMS::Key')) {
      const policy = t.stack.resourcePolicy(t.stack.arnOf(keyId))!;
      const root = `arn:aws:iam::${t.stack.env.account}:root`;
      const named = list(policy.Statement).filter((s) => s.Effect === 'Allow').flatMap((s) => {
        const principals = Object.entries(s.Principal === '*' ? { AWS: '*' } : s.Principal ?? {});
        return principals.flatMap(([kind, v]) => list(v).map((p) => (kind === 'AWS' ? p : `${kind}:${p}`)));
      }).filter((p) => p !== root);
      if (!sameSet([...new Set(named)], [t.deployer.arn])) {
        problems.push(`${t.stack.stackName} key ${keyId}: its policy allows ${JSON.stringify([...new Set(named)])} besides the account, expected exactly the deployer ${t.deployer.arn}`);
      }
    }
  }

  let roles = 0;
  let awsManaged = 0;
  let actionRoles = 0;
  for (const stack of model.stacks) {
    const pipelineRoleIds = new Set<string>();
    const pipelineActionRoles = new Set<string>();
    for (const id of stack.idsOf('AWS::CodePipeline::Pipeline')) {
      const props = stack.template.Resources[id].Properties!;
      pipelineRoleIds.add(stack.resolve(props.RoleArn, `${id}.RoleArn`));
      for (const st of stack.resolve(props.Stages, `${id}.Stages`) as any[]) for (const a of st.Actions) if (a.RoleArn) pipelineActionRoles.add(a.RoleArn);
    }
    actionRoles += pipelineActionRoles.size;
    for (const id of stack.idsOf('AWS::IAM::Role')) {
      roles++;
      const role = stack.roleOf(id, pathName(stack, id));
      awsManaged += role.awsManaged.length;
      const assumable = new Set([...deployerArns, ...(pipelineRoleIds.has(role.arn) ? pipelineActionRoles : [])]);
      for (const { name, policy } of role.identityPolicies) {
        for (const s of list(policy.Statement).filter((st) => st.Effect === 'Allow')) {
          if (s.NotAction) problems.push(`${role.name} ${name}: an Allow with NotAction ${JSON.stringify(s.NotAction)} (grants IAM and STS)`);
          const patterns = list(s.Action).map(glob);
          const iam = list(s.Action).filter((a: string) => glob(a.split(':')[0]).test('iam'));
          if (iam.length) problems.push(`${role.name} ${name}: allows ${iam.join(', ')}`);
          if (patterns.some((p) => p.test('sts:AssumeRole'))) {
            const stray = list(s.Resource).filter((r: string) => !assumable.has(r));
            if (stray.length) problems.push(`${role.name} ${name}: sts:AssumeRole on ${stray.join(', ')}, not a deployer role${pipelineRoleIds.has(role.arn) ? ' or one of its actions\' roles' : ''}`);
          }
        }
      }
    }
  }
  const line = `iam structure: ${targets.length} deployer trusts name exactly the tooling handler roles acting there (aws:PrincipalArn: Deploy-Blue and Switch-Traffic, Bake in the ${targets.filter((t) => t.baked).length} that bake) `
    + `and the pipeline's ARN (sts:ExternalId, as the handlers send it); ${targets.length} target key policies name exactly their deployer role; `
    + `${roles} roles in ${model.stacks.length} stacks: no iam: action, sts:AssumeRole only on the ${deployerArns.length} deployer roles `
    + `(and the pipeline role on its ${actionRoles} actions' roles); ${awsManaged} AWS-managed attachments not inspected; ${problems.length} problems`;
  return { ok: problems.length === 0, line, problems };
}

/** Accounts named by the expectations, as callers or as owners of a resource. */
export function accountsOf(expectations: Expectation[]): Set<string> {
  return new Set(expectations.flatMap((e) => [accountOf(e.principal.roleArn ?? e.principal.arn), e.resourceAccount]).filter((a): a is string => !!a));
}
