// The fifth validator: every IAM policy document of a template, its intrinsics resolved to concrete ARNs,
// audited by parliament (validation/parliament-audit.py) against AWS's action -> resource-type table.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

// The account and region every resolved ARN uses (the reference app's env; the integ stack's pseudo-parameters).
export const ACCOUNT = '111111111111';
export const REGION = 'us-east-1';
const PARTITION = 'aws';
const URL_SUFFIX = 'amazonaws.com';

interface CfnResource { readonly Type: string; readonly Properties?: Record<string, any> }
export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Parameters?: Record<string, { Type?: string; Default?: unknown }>;
  readonly Mappings?: Record<string, Record<string, Record<string, unknown>>>;
}

// ---------------------------------------------------------------------------------------------------------
// Intrinsic resolution
// ---------------------------------------------------------------------------------------------------------

/** An intrinsic this resolver cannot turn into a concrete value: the run fails rather than skip the policy. */
export class UnresolvableIntrinsicError extends Error {}

/** `{ "Ref": "AWS::NoValue" }`: removed from the list or object that holds it, as CloudFormation does. */
const NO_VALUE = Symbol('AWS::NoValue');

const PSEUDO_PARAMETERS: Record<string, string> = {
  'AWS::Partition': PARTITION,
  'AWS::Region': REGION,
  'AWS::AccountId': ACCOUNT,
  'AWS::URLSuffix': URL_SUFFIX,
};

const arn = (service: string, resource: string, region = REGION, account = ACCOUNT) =>
  `arn:${PARTITION}:${service}:${region}:${account}:${resource}`;

/** What `Ref` and `Fn::GetAtt` return for one resource. */
interface Resolved { readonly ref: string; readonly attributes: Record<string, string> }

/** `name(prop)`: the physical name in property `prop`, else the placeholder (default: the logical id). */
type NameOf = (prop: string, placeholder?: string) => string;
type ResourceRule = (name: NameOf, props: Record<string, any>, resolve: (value: unknown) => string) => Resolved;

/**
 * Per CloudFormation type: Ref and the GetAtt attributes, in the format CloudFormation returns them. `name(prop)`
 * is the resource's physical name from its properties when it has one, else a stable placeholder: its logical
 * id (lower-cased for buckets). A type or attribute not listed here fails the run when a policy references it.
 */
const RESOURCE_RULES: Record<string, ResourceRule> = {
  'AWS::Lambda::Function': (name) => {
    const functionArn = arn('lambda', `function:${name('FunctionName')}`);
    return { ref: name('FunctionName'), attributes: { Arn: functionArn } };
  },
  'AWS::Lambda::Alias': (name, props, resolve) => {
    const aliasArn = arn('lambda', `function:${functionName(resolve(props.FunctionName))}:${name('Name')}`);
    return { ref: aliasArn, attributes: { AliasArn: aliasArn } };
  },
  'AWS::Lambda::Version': (_name, props, resolve) => {
    const fn = functionName(resolve(props.FunctionName));
    return { ref: arn('lambda', `function:${fn}:1`), attributes: { Version: '1', FunctionArn: arn('lambda', `function:${fn}`) } };
  },
  'AWS::DynamoDB::Table': (name) => {
    const tableArn = arn('dynamodb', `table/${name('TableName')}`);
    return { ref: name('TableName'), attributes: { Arn: tableArn, StreamArn: `${tableArn}/stream/1970-01-01T00:00:00.000` } };
  },
  'AWS::SNS::Topic': (name) => {
    const topicArn = arn('sns', name('TopicName'));
    return { ref: topicArn, attributes: { TopicArn: topicArn, TopicName: name('TopicName') } };
  },
  'AWS::SQS::Queue': (name) => ({
    ref: `https://sqs.${REGION}.${URL_SUFFIX}/${ACCOUNT}/${name('QueueName')}`,
    attributes: { Arn: arn('sqs', name('QueueName')), QueueName: name('QueueName'), QueueUrl: `https://sqs.${REGION}.${URL_SUFFIX}/${ACCOUNT}/${name('QueueName')}` },
  }),
  'AWS::S3::Bucket': (name) => {
    const bucket = name('BucketName').toLowerCase();
    return {
      ref: bucket,
      attributes: {
        Arn: `arn:${PARTITION}:s3:::${bucket}`,
        DomainName: `${bucket}.s3.${URL_SUFFIX}`,
        RegionalDomainName: `${bucket}.s3.${REGION}.${URL_SUFFIX}`,
      },
    };
  },
  'AWS::CodeDeploy::Application': (name) => ({ ref: name('ApplicationName'), attributes: {} }),
  'AWS::CodeDeploy::DeploymentGroup': (name) => ({ ref: name('DeploymentGroupName'), attributes: {} }),
  'AWS::CodeDeploy::DeploymentConfig': (name) => ({ ref: name('DeploymentConfigName'), attributes: {} }),
  'AWS::CodeBuild::Project': (name) => ({ ref: name('Name'), attributes: { Arn: arn('codebuild', `project/${name('Name')}`) } }),
  'AWS::CodeBuild::ReportGroup': (name) => {
    const reportGroupArn = arn('codebuild', `report-group/${name('Name')}`);
    return { ref: reportGroupArn, attributes: { Arn: reportGroupArn, Name: name('Name') } };
  },
  'AWS::CodePipeline::Pipeline': (name) => ({ ref: name('Name'), attributes: {} }),
  // A log group's GetAtt Arn ends in ":*" (CloudFormation's documented format), which is what lets
  // logs:CreateLogStream / PutLogEvents on it reach the group's log streams.
  'AWS::Logs::LogGroup': (name) => ({ ref: name('LogGroupName'), attributes: { Arn: arn('logs', `log-group:${name('LogGroupName')}:*`) } }),
  'AWS::CodeConnections::Connection': (name) => {
    const connectionArn = arn('codeconnections', `connection/${name('')}`);
    return { ref: connectionArn, attributes: { ConnectionArn: connectionArn } };
  },
  'AWS::CodeStarConnections::Connection': (name) => {
    const connectionArn = arn('codestar-connections', `connection/${name('')}`);
    return { ref: connectionArn, attributes: { ConnectionArn: connectionArn } };
  },
  'AWS::KMS::Key': (name) => ({ ref: name(''), attributes: { Arn: arn('kms', `key/${name('')}`), KeyId: name('') } }),
  'AWS::KMS::Alias': (name) => ({ ref: name('AliasName'), attributes: {} }),
  'AWS::IAM::Role': (name, props, resolve) => {
    const rolePath = props.Path === undefined ? '/' : resolve(props.Path);
    return { ref: name('RoleName'), attributes: { Arn: arn('iam', `role${rolePath}${name('RoleName')}`, ''), RoleId: `AROA${name('')}` } };
  },
  'AWS::IAM::ManagedPolicy': (name) => {
    const policyArn = arn('iam', `policy/${name('ManagedPolicyName')}`, '');
    return { ref: policyArn, attributes: { PolicyArn: policyArn } };
  },
  'AWS::CloudWatch::Alarm': (name) => ({ ref: name('AlarmName'), attributes: { Arn: arn('cloudwatch', `alarm:${name('AlarmName')}`) } }),
  'AWS::Events::Rule': (name) => ({ ref: name('Name'), attributes: { Arn: arn('events', `rule/${name('Name')}`) } }),
  'AWS::StepFunctions::StateMachine': (name) => {
    const stateMachineArn = arn('states', `stateMachine:${name('StateMachineName')}`);
    return { ref: stateMachineArn, attributes: { Arn: stateMachineArn, Name: name('StateMachineName') } };
  },
};

/** A Lambda FunctionName property may hold a name, a partial ARN or a full ARN. */
function functionName(value: string): string {
  const match = /(?:^|:)function:([^:]+)/.exec(value);
  return match ? match[1] : value;
}

const isIntrinsic = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'));
};

/** Resolves the intrinsics of one template to the concrete values CloudFormation would produce. */
export class IntrinsicResolver {
  private readonly cache = new Map<string, Resolved>();

  constructor(private readonly template: CfnTemplate) {}

  /** Deeply resolves `value`; `where` names its location in the template for error messages. */
  resolve(value: unknown, where: string): unknown {
    const resolved = this.resolveValue(value, where);
    if (resolved === NO_VALUE) throw new UnresolvableIntrinsicError(`${where}: AWS::NoValue where a value is required`);
    return resolved;
  }

  private resolveValue(value: unknown, where: string): unknown {
    if (Array.isArray(value)) {
      return value.map((v, i) => this.resolveValue(v, `${where}[${i}]`)).filter((v) => v !== NO_VALUE);
    }
    if (isIntrinsic(value)) return this.intrinsic(value, where);
    if (typeof value === 'object' && value !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        const resolved = this.resolveValue(v, `${where}.${k}`);
        if (resolved !== NO_VALUE) out[k] = resolved;
      }
      return out;
    }
    return value;
  }

  private string(value: unknown, where: string): string {
    const resolved = this.resolveValue(value, where);
    if (typeof resolved === 'string') return resolved;
    if (typeof resolved === 'number') return String(resolved);
    throw new UnresolvableIntrinsicError(`${where}: expected a string, got ${JSON.stringify(resolved)}`);
  }

  private list(value: unknown, where: string): unknown[] {
    const resolved = this.resolveValue(value, where);
    if (!Array.isArray(resolved)) throw new UnresolvableIntrinsicError(`${where}: expected a list, got ${JSON.stringify(resolved)}`);
    return resolved;
  }

  private intrinsic(value: Record<string, unknown>, where: string): unknown {
    const [fn, arg] = Object.entries(value)[0];
    const at = `${where}.${fn}`;
    const args = Array.isArray(arg) ? arg : undefined;
    switch (fn) {
      case 'Ref':
        if (typeof arg !== 'string') break;
        return arg === 'AWS::NoValue' ? NO_VALUE : this.ref(arg, at);
      case 'Fn::GetAtt': {
        const [id, ...attr] = typeof arg === 'string' ? arg.split('.') : (args ?? []);
        if (typeof id !== 'string' || attr.length !== 1 || typeof attr[0] !== 'string') break;
        return this.getAtt(id, attr[0], at);
      }
      case 'Fn::Join':
        if (!args || args.length !== 2 || typeof args[0] !== 'string') break;
        return this.list(args[1], `${at}[1]`).map((part, i) => this.string(part, `${at}[1][${i}]`)).join(args[0]);
      case 'Fn::Sub': {
        const [text, variables] = typeof arg === 'string' ? [arg, {}] : (args ?? []);
        if (typeof text !== 'string' || typeof variables !== 'object' || variables === null) break;
        return text.replace(/\$\{([^}]+)\}/g, (_whole, name: string) => {
          if (name.startsWith('!')) return `\${${name.slice(1)}}`;
          if (name in variables) return this.string((variables as Record<string, unknown>)[name], `${at}.${name}`);
          const dot = name.indexOf('.');
          return dot > 0 ? this.getAtt(name.slice(0, dot), name.slice(dot + 1), at) : this.ref(name, at);
        });
      }
      case 'Fn::Select': {
        if (!args || args.length !== 2) break;
        const index = Number(this.resolveValue(args[0], `${at}[0]`));
        const list = this.list(args[1], `${at}[1]`);
        if (!Number.isInteger(index) || index < 0 || index >= list.length) {
          throw new UnresolvableIntrinsicError(`${at}: index ${index} outside a list of ${list.length}`);
        }
        return list[index];
      }
      case 'Fn::Split':
        if (!args || args.length !== 2 || typeof args[0] !== 'string') break;
        return this.string(args[1], `${at}[1]`).split(args[0]);
      case 'Fn::FindInMap': {
        if (!args || args.length !== 3) break;
        const [map, top, second] = args.map((a, i) => this.string(a, `${at}[${i}]`));
        const found = this.template.Mappings?.[map]?.[top]?.[second];
        if (found === undefined) throw new UnresolvableIntrinsicError(`${at}: no mapping ${map}.${top}.${second}`);
        return this.resolveValue(found, at);
      }
    }
    throw new UnresolvableIntrinsicError(`${at}: cannot resolve ${JSON.stringify(value)} (supported: Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split, Fn::FindInMap)`);
  }

  private ref(id: string, where: string): string {
    if (id in PSEUDO_PARAMETERS) return PSEUDO_PARAMETERS[id];
    const parameter = this.template.Parameters?.[id];
    if (parameter) {
      if (typeof parameter.Default === 'string' && !parameter.Type?.startsWith('AWS::SSM::Parameter::Value')) return parameter.Default;
      throw new UnresolvableIntrinsicError(`${where}: parameter ${id} has no literal default to resolve to`);
    }
    return this.resource(id, where).ref;
  }

  private getAtt(id: string, attribute: string, where: string): string {
    const value = this.resource(id, where).attributes[attribute];
    if (value === undefined) {
      throw new UnresolvableIntrinsicError(`${where}: no rule for Fn::GetAtt ${id}.${attribute} (${this.template.Resources[id].Type})`);
    }
    return value;
  }

  private resource(id: string, where: string): Resolved {
    const cached = this.cache.get(id);
    if (cached) return cached;
    const resource = this.template.Resources[id];
    if (!resource) throw new UnresolvableIntrinsicError(`${where}: ${id} is neither a resource, a parameter nor a pseudo-parameter`);
    const rule = RESOURCE_RULES[resource.Type];
    if (!rule) throw new UnresolvableIntrinsicError(`${where}: no ARN rule for ${resource.Type} (${id}); add one to RESOURCE_RULES in validation/iam-policies.ts`);
    const props = resource.Properties ?? {};
    const name = (prop: string, placeholder: string = id) =>
      (prop && props[prop] !== undefined ? this.string(props[prop], `${id}.Properties.${prop}`) : placeholder);
    const resolved = rule(name, props, (v) => this.string(v, `${id}.Properties`));
    this.cache.set(id, resolved);
    return resolved;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Collecting the policy documents of a template
// ---------------------------------------------------------------------------------------------------------

/**
 * - identity: AWS::IAM::Policy / ManagedPolicy documents and the inline Policies of roles, users and groups.
 * - trust: a role's AssumeRolePolicyDocument. It is the role's resource policy, so it is audited with
 *   Resource set to the role's own ARN (the resource it governs); parliament then checks its actions apply to
 *   a role, its principals and its conditions.
 * - resource: SNS topic, S3 bucket, SQS queue and KMS key policies. parliament audits them like identity policies
 *   plus their Principal elements; the action x resource rules are the same.
 * Not documents, so not audited: AWS::Lambda::Permission (one action, one principal), and AWS-managed policies
 * attached through ManagedPolicyArns (their content is not in the template).
 */
export type PolicyKind = 'identity' | 'trust' | 'resource';

export interface AuditedPolicy {
  readonly template: string;
  readonly logicalId: string;
  /** Construct path from the cloud assembly's tree.json, else the logical id. */
  readonly path: string;
  readonly kind: PolicyKind;
  /** The property that holds the document, e.g. `PolicyDocument`, `Policies[name].PolicyDocument`. */
  readonly property: string;
  readonly document: any;
}

const RESOURCE_POLICY_PROPERTIES: Record<string, string> = {
  'AWS::SNS::TopicPolicy': 'PolicyDocument',
  'AWS::S3::BucketPolicy': 'PolicyDocument',
  'AWS::SQS::QueuePolicy': 'PolicyDocument',
  'AWS::KMS::Key': 'KeyPolicy',
};

/** Types whose properties hold no policy document (they may name managed policies or grant single permissions). */
const NO_DOCUMENT_TYPES = new Set(['AWS::Lambda::Permission']);

const looksLikePolicyDocument = (value: unknown): boolean => {
  if (typeof value !== 'object' || value === null) return false;
  if (!Array.isArray(value) && 'Statement' in value) return true;
  return Object.values(value).some(looksLikePolicyDocument);
};

/** Construct paths by logical id, from the tree.json beside the template (the stack's own subtree). */
export function constructPaths(templateFile: string): Map<string, string> {
  const paths = new Map<string, string>();
  const treeFile = path.join(path.dirname(templateFile), 'tree.json');
  if (!fs.existsSync(treeFile)) return paths;
  const stackName = path.basename(templateFile).replace(/\.template\.json$/, '');
  const walk = (node: any) => {
    const logicalId = node.attributes?.['aws:cdk:cloudformation:logicalId'];
    if (typeof logicalId === 'string' && (node.path as string).split('/')[0] === stackName) paths.set(logicalId, node.path);
    for (const child of Object.values(node.children ?? {})) walk(child);
  };
  walk(JSON.parse(fs.readFileSync(treeFile, 'utf8')).tree);
  return paths;
}

export interface CollectedPolicies {
  readonly policies: AuditedPolicy[];
  /** AWS-managed policies attached through ManagedPolicyArns: not in the template, so not audited. */
  readonly awsManagedAttachments: number;
}

export function collectPolicies(template: CfnTemplate, templateName: string, paths = new Map<string, string>()): CollectedPolicies {
  const resolver = new IntrinsicResolver(template);
  const policies: AuditedPolicy[] = [];
  let awsManagedAttachments = 0;
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const props = resource.Properties ?? {};
    const add = (kind: PolicyKind, property: string, document: unknown, transform = (d: any) => d) => policies.push({
      template: templateName,
      logicalId,
      path: paths.get(logicalId) ?? logicalId,
      kind,
      property,
      document: transform(resolver.resolve(document, `${templateName} ${logicalId}.Properties.${property}`)),
    });
    switch (resource.Type) {
      case 'AWS::IAM::Policy':
      case 'AWS::IAM::ManagedPolicy':
        add('identity', 'PolicyDocument', props.PolicyDocument);
        continue;
      case 'AWS::IAM::Role':
      case 'AWS::IAM::User':
      case 'AWS::IAM::Group': {
        const inline = resolver.resolve(props.Policies ?? [], `${templateName} ${logicalId}.Properties.Policies`) as any[];
        inline.forEach((p, i) => add('identity', `Policies[${p.PolicyName ?? i}].PolicyDocument`, p.PolicyDocument));
        const managed = resolver.resolve(props.ManagedPolicyArns ?? [], `${templateName} ${logicalId}.Properties.ManagedPolicyArns`) as string[];
        // Customer-managed ones are AWS::IAM::ManagedPolicy resources of a template, audited above.
        awsManagedAttachments += managed.filter((a) => /^arn:[^:]+:iam::aws:policy\//.test(a)).length;
        if (resource.Type === 'AWS::IAM::Role') {
          const roleArn = resolver.resolve({ 'Fn::GetAtt': [logicalId, 'Arn'] }, `${templateName} ${logicalId}`);
          add('trust', 'AssumeRolePolicyDocument', props.AssumeRolePolicyDocument, (d) => ({
            ...d,
            Statement: (Array.isArray(d.Statement) ? d.Statement : [d.Statement])
              .map((s: any) => ('Resource' in s || 'NotResource' in s ? s : { ...s, Resource: roleArn })),
          }));
        }
        continue;
      }
    }
    const property = RESOURCE_POLICY_PROPERTIES[resource.Type];
    if (property) {
      add('resource', property, props[property]);
    } else if (!NO_DOCUMENT_TYPES.has(resource.Type) && looksLikePolicyDocument(props)) {
      throw new Error(`${templateName} ${logicalId} (${resource.Type}) holds a policy document the parliament validator does not collect; add its type to validation/iam-policies.ts`);
    }
  }
  return { policies, awsManagedAttachments };
}

// ---------------------------------------------------------------------------------------------------------
// Running parliament, classifying and acknowledging its findings
// ---------------------------------------------------------------------------------------------------------

export interface ParliamentFinding {
  readonly policy: AuditedPolicy;
  readonly statement: number | null;
  readonly issue: string;
  readonly severity: string;
  readonly title: string;
  readonly detail: unknown;
  readonly action?: string;
  readonly resource?: string;
}

/**
 * Finding types that do not fail the run. RESOURCE_STAR (Resource "*" for actions that support resource-level
 * permissions) is least privilege, which cdk-nag's AwsSolutions-IAM5 already gates with per-resource
 * acknowledgements; MISMATCHED_TYPE_BUT_USABLE is a condition operator that works as written. Every other type,
 * including any a future parliament adds, fails: RESOURCE_MISMATCH, UNKNOWN_ACTION, UNKNOWN_PREFIX, MALFORMED,
 * MALFORMED_JSON, EXCEPTION, INVALID_ARN, INVALID_SID, DUPLICATE_SID, UNKNOWN_PRINCIPAL,
 * UNKNOWN_FEDERATION_SOURCE, UNKNOWN_OPERATOR, UNKNOWN_CONDITION_FOR_ACTION, MISMATCHED_TYPE,
 * MISMATCHED_TYPE_OPERATION_TO_NULL, BAD_PATTERN_FOR_MFA, NO_VERSION, INVALID_VERSION, OLD_VERSION,
 * RESOURCE_EFFECTIVELY_STAR, RESOURCE_POLICY_PRIVILEGE_ESCALATION.
 */
export const INFORMATIONAL_ISSUES = ['RESOURCE_STAR', 'MISMATCHED_TYPE_BUT_USABLE'];

export interface ParliamentRun {
  readonly version: string;
  readonly statements: number;
  readonly pairs: number;
  readonly findings: ParliamentFinding[];
}

export function runParliament(venvBin: string, policies: AuditedPolicy[]): ParliamentRun {
  const request = { policies: policies.map((p, i) => ({ id: String(i), document: p.document })) };
  const run = spawnSync(path.join(venvBin, 'python'), [path.join(__dirname, 'parliament-audit.py')],
    { input: JSON.stringify(request), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.error || run.status !== 0 || !run.stdout.trim().startsWith('{')) {
    throw new Error(`parliament did not run (exit ${run.status}): ${run.error ?? run.stderr}`);
  }
  const out = JSON.parse(run.stdout);
  const findings: ParliamentFinding[] = out.findings.map((f: any) => {
    const policy = policies[Number(f.policy)];
    let { action, resource } = f;
    if (f.issue === 'RESOURCE_POLICY_PRIVILEGE_ESCALATION') {
      // "... on <bucket arn> due to s3:<object privilege> not being allowed, but does allow s3:<bucket privilege>"
      const m = /on (\S+) due to .* does allow (\S+)$/.exec(String(f.detail));
      if (m) [resource, action] = [m[1], m[2]];
    }
    return { ...f, policy, action, resource };
  });
  return { version: out.version, statements: out.statements, pairs: out.pairs, findings };
}

/**
 * Acknowledged findings of one grant aws-cdk-lib makes, in validation/iam-acknowledgements.json. It matches a
 * finding of its issue whose policy path matches one of `policy`, whose action is one of `action` and whose
 * resource matches `resource`. An acknowledgement that matches no finding fails the run (stale or mistyped).
 */
export interface Acknowledgement {
  readonly issue: string;
  /** Construct paths of the policies' CloudFormation resources; `*` matches any characters, `/` included. */
  readonly policy: string | string[];
  /** Actions exactly as the statement grants them (wildcard patterns included), case-insensitive. */
  readonly action: string | string[];
  /** The resolved resource ARN; `*` matches any characters except `/` and `:`. */
  readonly resource: string;
  /** The aws-cdk-lib construct or method that adds the grant. */
  readonly grantedBy: string;
  readonly reason: string;
}

const escapeRegExp = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
const globToRegExp = (glob: string, star: string) => new RegExp(`^${glob.split('*').map(escapeRegExp).join(star)}$`);
const asList = (value: string | string[]) => (Array.isArray(value) ? value : [value]);

export function loadAcknowledgements(file: string): Acknowledgement[] {
  const acks: Acknowledgement[] = JSON.parse(fs.readFileSync(file, 'utf8')).acknowledgements;
  for (const a of acks) {
    for (const key of ['issue', 'policy', 'action', 'resource', 'grantedBy', 'reason'] as const) {
      const values = asList(a[key]);
      if (values.length === 0 || values.some((v) => typeof v !== 'string' || !v.trim())) {
        throw new Error(`${file}: acknowledgement without a ${key}: ${JSON.stringify(a)}`);
      }
    }
  }
  return acks;
}

export function acknowledges(ack: Acknowledgement, finding: ParliamentFinding): boolean {
  return ack.issue === finding.issue
    && asList(ack.policy).some((p) => globToRegExp(p, '.*').test(finding.policy.path))
    && asList(ack.action).some((a) => a.toLowerCase() === (finding.action ?? '').toLowerCase())
    && globToRegExp(ack.resource, '[^/:]*').test(finding.resource ?? '');
}

export const describeFinding = (f: ParliamentFinding) => {
  const statement = f.statement === null ? '' : ` Statement[${f.statement}]`;
  const detail = typeof f.detail === 'string' ? f.detail : JSON.stringify(f.detail);
  return `${f.issue} ${f.policy.template} ${f.policy.path} ${f.policy.property}${statement}: ${detail}`;
};

// ---------------------------------------------------------------------------------------------------------
// Self-check: a broken install or resolver must not pass silently
// ---------------------------------------------------------------------------------------------------------

/**
 * Feeds a synthetic template through the whole pipeline (collect, resolve, parliament) and asserts the
 * known-bad statements are reported and the known-good one is not. Throws otherwise.
 */
export function selfCheck(venvBin: string): void {
  const connection = `arn:aws:codeconnections:${REGION}:${ACCOUNT}:connection/Connection`;
  const table = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/self-check`;
  const template: CfnTemplate = {
    Resources: {
      Table: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: 'self-check' } },
      Bucket: { Type: 'AWS::S3::Bucket' },
      Connection: { Type: 'AWS::CodeConnections::Connection', Properties: { ConnectionName: 'self-check' } },
      Policy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Bucket', 'Arn'] }, '/*']] } },
              { Effect: 'Allow', Action: 'codestar-connections:UseConnection', Resource: { Ref: 'Connection' } },
              { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem'], Resource: { 'Fn::GetAtt': ['Table', 'Arn'] } },
              { Effect: 'Allow', Action: 'codeconnections:UseConnection', Resource: { 'Fn::GetAtt': ['Connection', 'ConnectionArn'] } },
              { Effect: 'Allow', Action: 'dynamodb:GetItems', Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${Table}' } },
              { Action: 's3:GetObject', Resource: { 'Fn::Select': [1, { 'Fn::Split': [',', { 'Fn::Join': [',', ['x', { 'Fn::Sub': '${Bucket.Arn}/*' }]] }] }] } },
            ],
          },
        },
      },
    },
  };
  const { policies } = collectPolicies(template, 'self-check');
  const resolvedResources = policies[0].document.Statement.map((s: any) => s.Resource);
  const expectedResources = ['arn:aws:s3:::bucket/*', connection, table, connection, table, 'arn:aws:s3:::bucket/*'];
  if (JSON.stringify(resolvedResources) !== JSON.stringify(expectedResources)) {
    throw new Error(`parliament self-check: resolved ${JSON.stringify(resolvedResources)}, expected ${JSON.stringify(expectedResources)}`);
  }
  const found = runParliament(venvBin, policies).findings
    .filter((f) => !INFORMATIONAL_ISSUES.includes(f.issue))
    .map((f) => [f.statement, f.issue, f.action, f.resource].filter((x) => x !== undefined).join(' ')).sort();
  const expected = [
    '0 RESOURCE_MISMATCH dynamodb:GetItem arn:aws:s3:::bucket/*',
    `1 RESOURCE_MISMATCH codestar-connections:UseConnection ${connection}`,
    '4 UNKNOWN_ACTION',
    '5 MALFORMED',
  ];
  if (JSON.stringify(found) !== JSON.stringify(expected)) {
    throw new Error(`parliament self-check: reported ${JSON.stringify(found)}, expected ${JSON.stringify(expected)}`);
  }
  let unresolvable = false;
  try {
    collectPolicies({ Resources: { P: { Type: 'AWS::IAM::Policy', Properties: { PolicyDocument: { Statement: [{ Resource: { Ref: 'Missing' } }] } } } } }, 'self-check');
  } catch (e) {
    unresolvable = e instanceof UnresolvableIntrinsicError;
  }
  if (!unresolvable) throw new Error('parliament self-check: an unresolvable Ref did not fail the run');
}

// ---------------------------------------------------------------------------------------------------------
// The validator
// ---------------------------------------------------------------------------------------------------------

export const ACKNOWLEDGEMENTS_FILE = path.join(__dirname, 'iam-acknowledgements.json');

/** Audits every policy document of the templates; one line of counts, unacknowledged findings on stderr. */
export function parliamentValidator(venvBin: string, templateFiles: string[], ackFile = ACKNOWLEDGEMENTS_FILE): { ok: boolean; line: string } {
  selfCheck(venvBin);
  const policies: AuditedPolicy[] = [];
  let awsManaged = 0;
  for (const file of templateFiles) {
    const collected = collectPolicies(JSON.parse(fs.readFileSync(file, 'utf8')), path.basename(file), constructPaths(file));
    policies.push(...collected.policies);
    awsManaged += collected.awsManagedAttachments;
  }
  const run = runParliament(venvBin, policies);
  const acks = loadAcknowledgements(ackFile);
  const used = new Set<Acknowledgement>();
  const failing = run.findings.filter((f) => !INFORMATIONAL_ISSUES.includes(f.issue));
  const informational = run.findings.length - failing.length;
  const unacknowledged = failing.filter((f) => {
    const ack = acks.find((a) => acknowledges(a, f));
    if (ack) used.add(ack);
    return !ack;
  });
  const unused = acks.filter((a) => !used.has(a));
  for (const f of unacknowledged) console.error(`  parliament unacknowledged: ${describeFinding(f)}`);
  for (const a of unused) console.error(`  parliament acknowledgement matches no finding (stale or mistyped): ${JSON.stringify({ issue: a.issue, policy: a.policy, action: a.action, resource: a.resource })}`);
  const kinds = (k: PolicyKind) => policies.filter((p) => p.kind === k).length;
  return {
    ok: unacknowledged.length === 0 && unused.length === 0,
    line: `parliament ${run.version}: ${policies.length} policies (${kinds('identity')} identity, ${kinds('trust')} trust, ${kinds('resource')} resource; `
      + `${awsManaged} AWS-managed attachments not in the template), ${run.statements} statements (${run.pairs} action x resource pairs) checked, `
      + `${failing.length} findings, ${failing.length - unacknowledged.length} acknowledged from aws-cdk-lib grants, ${unacknowledged.length} unacknowledged`
      + `${unused.length ? `, ${unused.length} acknowledgements matching nothing` : ''}`
      + ` (every finding type fails except ${INFORMATIONAL_ISSUES.join(', ')}: ${informational} informational)`,
  };
}
