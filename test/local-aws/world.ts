import { randomBytes, randomUUID } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { CloudWatchClient, PutMetricAlarmCommand, PutMetricAlarmCommandInput, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateAliasCommand,
  CreateFunctionCommand,
  GetAliasCommand,
  GetAliasCommandOutput,
  GetFunctionConfigurationCommand,
  InvokeCommand,
  LambdaClient,
  ListVersionsByFunctionCommand,
  PublishVersionCommand,
  UpdateAliasCommand,
} from '@aws-sdk/client-lambda';
import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { Identities, placementKey } from './aws-identities';
import { ActionModel, ConstructModel, Resources, resolveIntrinsic, resolveVariables, ServiceModel, StackModel, StageModel } from './construct-model';
import { DynamoProxy, startDynamoProxy } from './dynamodb-proxy';
import { EmfRecord, emfRecords } from './emf';
import { FakeCodeDeploy, startFakeCodeDeploy } from './fake-codedeploy';
import { FakeCodePipeline, JobResult, startFakeCodePipeline } from './fake-codepipeline';
import { HandlerFunction, HandlerInvocation } from './handler-function';
import { LambdaProxy, startLambdaProxy } from './lambda-proxy';
import { MotoGateway, startMotoGateway } from './moto-gateway';
import { MotoServer, motoRequest, Placement, resetMoto, startMotoServer } from './moto-server';
import { codeSha256, unzipFiles, zipFiles, ZipOptions } from './zip';

export const ACCOUNT = '123456789012'; // moto's default account
export const REGION = 'us-east-1';
const REPO_ROOT = path.resolve(__dirname, '..', '..');
/**
 * The bundles under test: `npx projen bundle` output. LOCAL_AWS_ASSETS points at another assets
 * folder (e.g. bundles of an older commit, to check that these scenarios catch its bugs); it must
 * lie inside the repository, so that the bundles resolve their external AWS SDK packages from
 * node_modules.
 */
export const ASSETS_DIR = path.resolve(process.env.LOCAL_AWS_ASSETS ?? path.join(REPO_ROOT, 'assets'));
export const BUNDLES = {
  deployBlue: path.join(ASSETS_DIR, 'handlers', 'deploy-blue.lambda', 'index.js'),
  switchTraffic: path.join(ASSETS_DIR, 'handlers', 'switch-traffic.lambda', 'index.js'),
  smokeTest: path.join(ASSETS_DIR, 'handlers', 'smoke-test-hook.lambda', 'index.js'),
  bake: path.join(ASSETS_DIR, 'handlers', 'bake.lambda', 'index.js'),
};

/** What every world shares: one moto server, and the source of every zip the tests built (by CodeSha256). */
export interface SharedAws {
  readonly motoUrl: string;
  readonly sources: Map<string, string>;
  readonly logDir: string;
}

/** How CodePipeline delivers a job: once, twice one after the other, or twice at the same time. */
export type Delivery = 'once' | 'sequential' | 'concurrent';

/** One job CodePipeline is about to deliver: which action, and which of its jobs (0 = the first, n = the nth continuation). */
export interface JobContext {
  readonly stageName: string;
  readonly service: string;
  readonly actionName: string;
  readonly poll: number;
}

/** One run of one action: every job CodePipeline issued for it and what each got. */
export interface ActionRun {
  readonly stageName: string;
  readonly service: string;
  readonly actionName: string;
  readonly runOrder: number;
  readonly jobs: string[];
  readonly results: JobResult[];
  /** The resolved UserParameters of each job. */
  readonly userParameters: string[];
  readonly invocations: HandlerInvocation[];
  /** When CodePipeline issued the first job. */
  readonly startedAt: number;
  /** The result that ended the action (a failure, or a success without continuation token). */
  final?: JobResult;
  continuationToken?: string;
}

export interface StageRun {
  readonly stageName: string;
  status: 'Succeeded' | 'Failed';
  readonly actions: ActionRun[];
  /** The runOrders CodePipeline started, in order. */
  readonly runOrdersStarted: number[];
}

/** A pipeline execution the test played, from the Deploy-Blue stage on. */
export interface ExecutionRun {
  readonly executionId: string;
  readonly commitId: string;
  readonly artifact: Artifact;
  status: 'Succeeded' | 'Failed';
  readonly stages: StageRun[];
  /** The pipeline variables as the execution left them (action outputs by namespace). */
  readonly variables: Record<string, string>;
}

/** The latest run of a service's action in an execution (a retry runs it again), or undefined when CodePipeline never started it. */
export function actionRun(execution: ExecutionRun, stageName: string, service: string): ActionRun | undefined {
  return [...execution.stages].reverse().filter((s) => s.stageName === stageName)
    .map((s) => s.actions.find((a) => a.service === service)).find((a) => a !== undefined);
}

/** How a manual approval ends: approved or rejected by a reviewer (PutApprovalResult), with a summary. */
export interface ApprovalDecision {
  readonly status: 'Approved' | 'Rejected';
  readonly summary?: string;
}

export interface ExecuteOptions {
  /**
   * The reviewer of each manual approval action (default: approved). CodePipeline fails the action,
   * and so the stage and the execution, when it is rejected.
   */
  readonly approve?: (approval: { stageName: string; actionName: string; executionId: string }) => ApprovalDecision | Promise<ApprovalDecision>;
  readonly executionId?: string;
  readonly commitId?: string;
  /** How each job is delivered (default once). */
  readonly deliver?: (job: JobContext) => Delivery | undefined | Promise<Delivery | undefined>;
  /** Runs after each round of jobs of a stage that still has actions in progress, before CodeDeploy's next step. */
  readonly between?: (round: { stageName: string; runOrder: number; round: number; running: ActionRun[] }) => Promise<void>;
  readonly maxRounds?: number;
}

/** The build output in the artifact store. */
export interface Artifact {
  readonly bucketName: string;
  readonly objectKey: string;
  readonly codeSha256: string;
}

export interface ActionOptions {
  readonly executionId: string;
  readonly commitId?: string;
  /** Deploy-Blue's output for Switch-Traffic's `#{<namespace>.targetVersion}`. */
  readonly targetVersion?: string;
  /** The input artifact; none when null. */
  readonly artifact?: Artifact | null;
  /** Replaces the resolved UserParameters (malformed jobs). */
  readonly userParameters?: string | ((parameters: Record<string, string>) => Record<string, string>);
  readonly deliver?: ExecuteOptions['deliver'];
  /** A job id issued before (to deliver a job again). */
  readonly jobId?: string;
  /** The whole event, for malformed jobs. */
  readonly event?: unknown;
  readonly between?: (poll: number) => Promise<void>;
  readonly maxPolls?: number;
}

export interface SwitchOptions {
  /** How the first Switch-Traffic job is delivered. */
  readonly first?: Delivery;
  /** Deliver the continuation job of this poll (1 = first continuation) with `pollDelivery`. */
  readonly duplicatePoll?: number;
  readonly pollDelivery?: Delivery;
  /** Runs after each continuation, before CodeDeploy's next step. */
  readonly between?: (poll: number) => Promise<void>;
  readonly maxPolls?: number;
}

export interface SwitchRun {
  readonly jobs: string[];
  readonly results: JobResult[];
  readonly final: JobResult;
}

export interface DeployRun {
  readonly jobId: string;
  readonly result?: JobResult;
  readonly invocations: HandlerInvocation[];
}

export interface ReleaseOptions {
  readonly executionId?: string;
  readonly commitId?: string;
  readonly deployDelivery?: Delivery;
  readonly switch?: SwitchOptions;
}

/** A single-service execution, in the shape the single-service scenarios read. */
export interface Release {
  readonly executionId: string;
  readonly deployBlue: DeployRun;
  readonly targetVersion?: string;
  readonly currentVersion?: string;
  readonly switchTraffic?: SwitchRun;
  readonly execution: ExecutionRun;
}

/** A message in a stage handler's dead-letter queue, as SQS ReceiveMessage answers it. */
export interface DeadLetter {
  readonly queueName: string;
  readonly body: string;
  /** Message attributes: name -> { DataType, StringValue }. */
  readonly attributes: Record<string, { DataType: string; StringValue?: string }>;
}

/** An SNS notification that reached the SQS queue subscribed to the topic. */
export interface Notification {
  readonly messageId: string;
  readonly event: string;
  readonly subject?: string;
  /** The SNS message attributes, as the (non-raw) SQS delivery carries them: name -> value. */
  readonly attributes: Record<string, { Type: string; Value: string }>;
  readonly body: any;
}

/** One service as deployed in a world. */
export interface ServiceWorld {
  readonly name: string;
  /** The test's name for it: the service, or `<environment>/<service>` (its history key after the execution id). */
  readonly key: string;
  readonly environment?: string;
  readonly wave: number;
  readonly bundleDirectory: string;
  readonly functionName: string;
  readonly groupName: string;
  readonly alarms: string[];
  readonly model: ServiceModel;
  /** The account and region it runs in (a target's, or the pipeline's). */
  readonly placement: Placement;
}

/** How long before an execution's first action its commit was authored (the AuthorDate the fake source gives). */
export const COMMIT_AGE_MS = 10 * 60_000;

export const BOOTSTRAP_SOURCE = 'exports.handler = async () => ({ statusCode: 503, body: "no release deployed yet" });\n';
export const goodSource = (release: string) => `exports.handler = async (event) => ({ statusCode: 200, body: JSON.stringify({ release: ${JSON.stringify(release)}, event }) });\n`;
export const brokenSource = (release: string) => `exports.handler = async () => { throw new Error(${JSON.stringify(`release ${release} cannot start: missing configuration`)}); };\n`;

/** Starts moto (shared by every world; each world resets it). */
export async function startSharedAws(logDir: string): Promise<SharedAws & { moto: MotoServer }> {
  const moto = await startMotoServer();
  fs.mkdirSync(logDir, { recursive: true });
  return { moto, motoUrl: moto.url, sources: new Map(), logDir };
}

/** The literal physical names CloudFormation would give, by resource type. */
const NAME_PROPERTY: Record<string, string> = {
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::CodeDeploy::Application': 'ApplicationName',
  'AWS::CodeDeploy::DeploymentGroup': 'DeploymentGroupName',
  'AWS::CloudWatch::Alarm': 'AlarmName',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::S3::Bucket': 'BucketName',
  'AWS::IAM::Role': 'RoleName',
};

/** How a world plays time and Lambda. */
export interface WorldOptions {
  /** See LambdaProxyOptions.updateWindowMs. */
  readonly updateWindowMs?: number;
  /**
   * Handler time that passes between two rounds of a stage, when CodeDeploy steps (the fake's step is
   * ten minutes of its clock): bakes run on it. 0 (the default) keeps the handlers on the real clock.
   */
  readonly roundMs?: number;
  /**
   * What CloudFormation created of each target's deployer role (by environment): the trust policy the
   * template gives it (resolved), or another, or undefined when the role does not exist (a target
   * stack not deployed, or deleted). @default the template's
   */
  readonly deployerRole?: (environment: string, trustPolicy: any) => any;
}

/** Resolves every intrinsic inside a template value (objects and arrays of properties). */
export function resolveDeep(value: unknown, resolve: (logicalId: string, attribute?: string) => string, where: string): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v, i) => resolveDeep(v, resolve, `${where}[${i}]`));
  const keys = Object.keys(value);
  if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'))) return resolveIntrinsic(value, resolve, where);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveDeep(v, resolve, `${where}.${k}`)]));
}

function testClientConfig(endpoint: string, placement?: Placement) {
  return { endpoint, region: placement?.region ?? REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 };
}

/** A test client of local AWS in an account (moto's `x-moto-account-id` header), other than moto's default. */
function inAccount<C extends { middlewareStack: { add: (...args: any[]) => void } }>(client: C, account: string): C {
  if (account === ACCOUNT) return client;
  client.middlewareStack.add((next: any) => async (args: any) => {
    args.request.headers['x-moto-account-id'] = account;
    return next(args);
  }, { step: 'build', name: 'localAwsAccount' });
  return client;
}

/** The pseudo parameters CloudFormation resolves in a stack. */
function pseudoParameter(name: string, placement: Placement): string | undefined {
  return ({ 'AWS::Partition': 'aws', 'AWS::AccountId': placement.account, 'AWS::Region': placement.region, 'AWS::URLSuffix': 'amazonaws.com' } as Record<string, string>)[name];
}

/**
 * One deployed copy of the construct on local AWS: what CloudFormation would have created (each
 * service's function with bootstrap version 1 and alias `live`, the history table, the topic
 * with a queue subscribed, the artifact bucket, the CodeDeploy application and groups) under the
 * template's physical names (moto is reset for each world), and the bundled handlers configured
 * only by the environment the construct gives them. The test plays CodePipeline: it resolves each
 * action's UserParameters from the template (intrinsics, then pipeline variables) and runs the
 * Deploy-Blue and Switch-Traffic stages action by action, runOrder by runOrder.
 */
export class World {
  public static async create(shared: SharedAws, tag: string, model: ConstructModel, options: WorldOptions = {}): Promise<World> {
    const world = new World(shared, tag, model, options);
    await world.setUp(options);
    return world;
  }

  public readonly lambda: LambdaClient;
  /** The pipeline's account and region (moto's default account in a single-stack world; the pipeline stack's with targets). */
  public readonly account: string;
  public readonly region: string;
  /** Whose temporary credentials are whose (handlers' execution roles, deployer sessions). */
  public readonly identities = new Identities();
  /** With targets: the endpoint the handlers reach moto through (S3, SNS, CloudWatch, STS), which records every call's caller and plays STS's AssumeRole checks. */
  public gateway?: MotoGateway;
  /** Each tooling handler's and target smoke test's credentials (its execution role's), by function name. */
  public readonly executionRoles = new Map<string, { roleArn: string; accessKeyId: string }>();
  private readonly placedClients = new Map<string, { lambda: LambdaClient; proxyLambda?: LambdaClient; cloudWatch: CloudWatchClient }>();
  public readonly doc: DynamoDBDocumentClient;
  public readonly sns: SNSClient;
  public proxy!: LambdaProxy;
  /** The DynamoDB endpoint of the handlers (moto, writes serialized as DynamoDB applies them). */
  public dynamoProxy!: DynamoProxy;
  public pipeline!: FakeCodePipeline;
  public codeDeploy!: FakeCodeDeploy;
  public deployBlueFn!: HandlerFunction;
  public switchTrafficFn!: HandlerFunction;
  /** The Bake handler (pipelines with a bake time). */
  public bakeFn?: HandlerFunction;
  /** CloudWatch on moto: the template's alarms, and the Lambda metrics the proxy publishes. */
  public readonly cloudWatch: CloudWatchClient;
  /**
   * How far the handlers' clock (and the Lambda proxy's, which stamps the metrics) runs ahead of the
   * real one: time the test played (advanceClock), never slept.
   */
  private clockOffsetMs = 0;
  /** Handler time that passes between two rounds of a stage (with CodeDeploy's step); 0 keeps the real clock. */
  private readonly roundMs: number;
  /** The built-in smoke-test hook, if a service uses it. */
  public smokeTestFn?: HandlerFunction;
  public readonly hookFns = new Map<string, HandlerFunction>();
  public readonly names: {
    table: string;
    topic: string;
    topicArn: string;
    queue: string;
    bucket: string;
    application: string;
    pipeline: string;
    deployBlue: string;
    switchTraffic: string;
    bake?: string;
    smokeTest?: string;
  };
  /** Every service, by name, in the order of the Deploy-Blue actions. */
  public readonly services = new Map<string, ServiceWorld>();
  public readonly environments: Record<string, Record<string, string>> = {};
  private queueUrl = '';
  /** Each stage handler's asynchronous invocation settings: its DeadLetterConfig target and retries. */
  private readonly asyncConfig = new Map<HandlerFunction, { deadLetterArn?: string; maximumRetryAttempts: number }>();
  /** Events Lambda gave up on (every attempt failed) and sent to a dead-letter target. */
  public readonly deadLettered: Array<{ functionName: string; requestId: string; event: unknown }> = [];
  private readonly received: Notification[] = [];
  private artifactCount = 0;
  /** Each execution's source revision: the commit's author date, and when the test first ran one of its actions. */
  private readonly sourceRevisions = new Map<string, { authorDate: string; firstActionAt: number }>();
  /** When the world was set up (before any handler ran). */
  public readonly createdAt = Date.now();
  /** Manual approvals the test played, in order. */
  public readonly approvals: Array<{
    executionId: string; stageName: string; actionName: string; status: string; notificationArn?: string; customData?: string;
  }> = [];
  /**
   * The temporary credentials every job event of this world carries (`data.artifactCredentials`),
   * distinct per world, so that a leak of any part of them can be searched for (expectNoCredentialsLeaked).
   */
  public readonly artifactCredentials = {
    accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString('base64'),
    sessionToken: `IQoJb3JpZ2luX2Vj${randomBytes(96).toString('base64')}`,
  };
  private readonly dynamo: DynamoDBClient;
  private proxyLambda?: LambdaClient;

  private constructor(private readonly shared: SharedAws, public readonly tag: string, public readonly model: ConstructModel,
    options: WorldOptions = {}) {
    this.roundMs = options.roundMs ?? 0;
    // With targets, every stack is where its env says; a single stack stays in moto's default account.
    this.account = model.targets.length > 0 && model.pipelineStack ? model.pipelineStack.account : ACCOUNT;
    this.region = model.targets.length > 0 && model.pipelineStack ? model.pipelineStack.region : REGION;
    const home = { account: this.account, region: this.region };
    this.lambda = inAccount(new LambdaClient(testClientConfig(shared.motoUrl, home)), this.account);
    this.cloudWatch = inAccount(new CloudWatchClient(testClientConfig(shared.motoUrl, home)), this.account);
    this.dynamo = inAccount(new DynamoDBClient(testClientConfig(shared.motoUrl, home)), this.account);
    this.doc = DynamoDBDocumentClient.from(this.dynamo);
    this.sns = inAccount(new SNSClient(testClientConfig(shared.motoUrl, home)), this.account);
    const topic = this.physicalName(model.topicLogicalId);
    const pipeline = Object.values(model.resources).find((r) => r.Type === 'AWS::CodePipeline::Pipeline')?.Properties?.Name;
    const smoke = model.handlers.hooks.find((h) => h.environment.SMOKE_TEST_EVENTS !== undefined);
    this.names = {
      table: this.physicalName(model.tableLogicalId),
      topic,
      topicArn: `arn:aws:sns:${this.region}:${this.account}:${topic}`,
      queue: `notifications-${tag}`,
      bucket: this.physicalName(model.bucketLogicalId),
      application: this.physicalName(model.applicationLogicalId),
      pipeline: typeof pipeline === 'string' ? pipeline : 'pipeline',
      deployBlue: model.handlers.deployBlue.functionName,
      switchTraffic: model.handlers.switchTraffic.functionName,
      bake: model.handlers.bake?.functionName,
      smokeTest: smoke?.functionName,
    };
    for (const service of model.services) {
      const group = this.resourcesOf(service.stack)[service.groupLogicalId].Properties;
      this.services.set(service.key, {
        name: service.name,
        key: service.key,
        environment: service.environment,
        wave: service.wave,
        bundleDirectory: service.bundleDirectory,
        functionName: service.functionName,
        groupName: service.deploymentGroupName,
        alarms: (group.AlarmConfiguration?.Alarms ?? []).map((a: any) => resolveIntrinsic(a.Name, this.resolverFor(service.stack), `${service.groupLogicalId} alarm`)),
        model: service,
        placement: this.placementOf(service.stack),
      });
    }
  }

  /** The service of a single-service pipeline (or the first one). */
  get service(): ServiceWorld {
    return [...this.services.values()][0];
  }

  serviceNamed(name?: string): ServiceWorld {
    if (name === undefined) return this.service;
    const service = this.services.get(name);
    if (!service) throw new Error(`no service ${name} (services: ${[...this.services.keys()].join(', ')})`);
    return service;
  }

  /** moto's endpoint (for what a scenario does outside the handlers, as someone with access to an account would). */
  get motoUrl(): string {
    return this.shared.motoUrl;
  }

  /** A stack's resources: a target's, or the pipeline's (undefined). */
  resourcesOf(stack?: StackModel): Resources {
    return stack?.resources ?? this.model.resources;
  }

  /** The account and region of a stack: a target's, or the pipeline's (undefined). */
  placementOf(stack?: StackModel): Placement {
    return stack ? { account: stack.account, region: stack.region } : { account: this.account, region: this.region };
  }

  /** The resource's physical name: the template's, or one CloudFormation would generate. */
  private physicalName(logicalId: string, stack?: StackModel): string {
    const resource = this.resourcesOf(stack)[logicalId];
    if (!resource) throw new Error(`unknown logical id ${logicalId}`);
    const name = resource.Properties?.[NAME_PROPERTY[resource.Type] ?? ''];
    if (typeof name === 'string') return name;
    // CloudFormation's generated names: <stack>-<logical id>-<random>, lowercase for buckets.
    return `${stack ? stack.stackName : 'teststack'}-${logicalId}-${this.tag}`.toLowerCase().slice(0, 63);
  }

  /** The value CloudFormation would give a Ref or Fn::GetAtt in this world (in the pipeline's stack). */
  private resolver = (logicalId: string, attribute?: string): string => this.resolverFor(undefined)(logicalId, attribute);

  /** The value CloudFormation would give a Ref or Fn::GetAtt in one stack of this world. */
  resolverFor = (stack?: StackModel) => (logicalId: string, attribute?: string): string => {
    const { account, region } = this.placementOf(stack);
    const pseudo = attribute ? undefined : pseudoParameter(logicalId, { account, region });
    if (pseudo !== undefined) return pseudo;
    const resource = this.resourcesOf(stack)[logicalId];
    if (!resource) throw new Error(`unknown logical id ${logicalId}${stack ? ` in stack ${stack.stackName}` : ''}`);
    const name = () => this.physicalName(logicalId, stack);
    switch (`${resource.Type}${attribute ? `.${attribute}` : ''}`) {
      case 'AWS::Lambda::Function':
      case 'AWS::DynamoDB::Table':
      case 'AWS::CodeDeploy::Application':
      case 'AWS::CodeDeploy::DeploymentGroup':
      case 'AWS::CloudWatch::Alarm':
      case 'AWS::S3::Bucket':
        return name();
      case 'AWS::SNS::Topic':
        return stack ? `arn:aws:sns:${region}:${account}:${name()}` : this.names.topicArn;
      case 'AWS::Lambda::Version.Version':
        return '1'; // the bootstrap version: the first version published on each service's function
      case 'AWS::Lambda::Function.Arn':
        return `arn:aws:lambda:${region}:${account}:function:${name()}`;
      case 'AWS::DynamoDB::Table.Arn':
        return `arn:aws:dynamodb:${region}:${account}:table/${name()}`;
      case 'AWS::IAM::Role':
        return name();
      case 'AWS::IAM::Role.Arn':
        return `arn:aws:iam::${account}:role/${name()}`;
      case 'AWS::KMS::Key.Arn':
        return `arn:aws:kms:${region}:${account}:key/${logicalId.toLowerCase()}`;
      case 'AWS::S3::Bucket.Arn':
        return `arn:aws:s3:::${name()}`;
      case 'AWS::SQS::Queue.QueueName':
        return name();
      case 'AWS::SQS::Queue.Arn':
        return `arn:aws:sqs:${region}:${account}:${name()}`;
      default:
        throw new Error(`cannot resolve ${attribute ? `Fn::GetAtt ${logicalId}.${attribute}` : `Ref ${logicalId}`} (${resource.Type}); teach test/local-aws/world.ts`);
    }
  };

  private environmentFor(functionName: string, variables: Record<string, unknown>, endpoints: Record<string, string>,
    memoryMb: number, loggingConfig?: { LogFormat?: string; ApplicationLogLevel?: string }, stack?: StackModel,
    credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken: string }): Record<string, string> {
    const resolved: Record<string, string> = {};
    for (const [key, value] of Object.entries(variables)) resolved[key] = resolveIntrinsic(value, this.resolverFor(stack), `${functionName} environment ${key}`);
    const { region } = this.placementOf(stack);
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      // What Lambda's Node.js runtime sets (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_LAMBDA_FUNCTION_NAME: functionName,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
      // The function's LoggingConfig: with the JSON log format the runtime wraps console output as
      // JSON log events, filtered by the application log level (INFO unless configured).
      ...(loggingConfig?.LogFormat === 'JSON' ? { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: loggingConfig.ApplicationLogLevel ?? 'INFO' } : {}),
      // Lambda gives a function its execution role's temporary credentials; a single-stack world, moto's default account's.
      AWS_ACCESS_KEY_ID: credentials?.accessKeyId ?? 'test',
      AWS_SECRET_ACCESS_KEY: credentials?.secretAccessKey ?? 'test',
      AWS_SESSION_TOKEN: credentials?.sessionToken ?? 'test',
      // No developer profile or credentials file may leak in.
      AWS_CONFIG_FILE: path.join(this.shared.logDir, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(this.shared.logDir, 'no-aws-credentials'),
      ...endpoints,
      ...resolved,
    };
    this.environments[functionName] = env;
    return env;
  }

  private async handlerFunction(logicalId: string, functionName: string, bundle: string, variables: Record<string, unknown>,
    endpoints: Record<string, string>, log: string, stack?: StackModel) {
    const resources = this.resourcesOf(stack);
    const properties = resources[logicalId].Properties ?? {};
    const placement = this.placementOf(stack);
    const credentials = this.model.targets.length > 0 ? await this.executionRoleCredentials(functionName, properties.Role, stack) : undefined;
    const env = this.environmentFor(functionName, variables, endpoints, properties.MemorySize ?? 128, properties.LoggingConfig, stack, credentials);
    const fn = new HandlerFunction(functionName, bundle, env, path.join(this.shared.logDir, `${this.tag}-${log}.log`), (properties.Timeout ?? 3) * 1000,
      () => this.clockOffsetMs, `arn:aws:lambda:${placement.region}:${placement.account}:function:${functionName}`);
    // Retries of asynchronous invocations: the function's AWS::Lambda::EventInvokeConfig, else Lambda's default of two.
    const invokeConfig = Object.values(resources).find((r) => r.Type === 'AWS::Lambda::EventInvokeConfig'
      && (r.Properties?.FunctionName?.Ref === logicalId || r.Properties?.FunctionName === functionName))?.Properties;
    const target = properties.DeadLetterConfig?.TargetArn;
    this.asyncConfig.set(fn, {
      deadLetterArn: target === undefined ? undefined : resolveIntrinsic(target, this.resolverFor(stack), `${functionName} DeadLetterConfig`),
      maximumRetryAttempts: invokeConfig?.MaximumRetryAttempts ?? 2,
    });
    return fn;
  }

  /** IAM's query API on moto, in an account. */
  private async iam(account: string, parameters: Record<string, string>): Promise<string> {
    const response = await motoRequest(this.shared.motoUrl, 'iam', 'POST', '/', new URLSearchParams({ Version: '2010-05-08', ...parameters }).toString(),
      { 'content-type': 'application/x-www-form-urlencoded' }, { account, region: 'us-east-1' });
    if (response.status !== 200) throw new Error(`IAM ${parameters.Action} in account ${account} on moto answered ${response.status}: ${response.body}`);
    return response.body;
  }

  /**
   * A function's execution role as CloudFormation creates it (in its stack's account), and the
   * temporary credentials Lambda gives the function: moto's STS AssumeRole of that role (moto
   * attributes every request signed with them to the role's account).
   */
  private async executionRoleCredentials(functionName: string, roleProperty: unknown, stack?: StackModel) {
    const { account } = this.placementOf(stack);
    const roleArn = resolveIntrinsic(roleProperty, this.resolverFor(stack), `${functionName} Role`);
    const roleName = roleArn.split('/').pop()!;
    await this.iam(account, {
      Action: 'CreateRole',
      RoleName: roleName,
      AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
    });
    const sts = new STSClient(testClientConfig(this.shared.motoUrl, this.placementOf(stack)));
    try {
      const { Credentials: c, AssumedRoleUser: user } = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: functionName }));
      this.identities.register({
        accessKeyId: c!.AccessKeyId!, account, roleArn, sessionName: functionName, sessionArn: user?.Arn ?? roleArn, assumedBy: 'lambda',
      });
      this.executionRoles.set(functionName, { roleArn, accessKeyId: c!.AccessKeyId! });
      return { accessKeyId: c!.AccessKeyId!, secretAccessKey: c!.SecretAccessKey!, sessionToken: c!.SessionToken! };
    } finally {
      sts.destroy();
    }
  }

  /**
   * The statements of a tooling role's identity policies (the template's AWS::IAM::Policy resources
   * attached to it) that grant sts:AssumeRole: what decides, with the target's trust policy, whether
   * the role may assume a deployer role in another account.
   */
  private assumeRolePolicies(roleArn: string): Array<{ name: string; policy: unknown }> {
    const resources = this.model.resources;
    const roleId = Object.keys(resources).find((id) => resources[id].Type === 'AWS::IAM::Role'
      && `arn:aws:iam::${this.account}:role/${this.physicalName(id)}` === roleArn);
    if (!roleId) return [];
    return Object.entries(resources).filter(([, r]) => r.Type === 'AWS::IAM::Policy' && (r.Properties?.Roles ?? []).some((ref: any) => ref?.Ref === roleId))
      .map(([id, r]) => {
        const statements = (r.Properties.PolicyDocument.Statement as any[]).filter((st) => [st.Action].flat().includes('sts:AssumeRole'));
        return { name: id, policy: { Version: '2012-10-17', Statement: resolveDeep(statements, this.resolver, `${id} sts:AssumeRole statements`) } };
      });
  }

  private async setUp(options: WorldOptions) {
    const moto = this.shared.motoUrl;
    await resetMoto(moto);
    const multi = this.model.targets.length > 0;
    const accounts = [...new Set([this.account, ...this.model.targets.map((t) => t.account)])];
    for (const account of accounts) {
      await this.iam(account, {
        Action: 'CreateRole',
        RoleName: 'service-role-local-aws',
        AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
      });
    }

    if (multi) {
      this.gateway = await startMotoGateway({
        motoUrl: moto, identities: this.identities, identityPolicies: (arn) => this.assumeRolePolicies(arn), now: () => this.now(),
      });
    }
    this.proxy = await startLambdaProxy(moto, this.shared.sources, {
      updateWindowMs: options.updateWindowMs ?? 0, now: () => this.now(), identities: this.identities,
    });
    this.proxyLambda = inAccount(new LambdaClient(testClientConfig(this.proxy.url, { account: this.account, region: this.region })), this.account);
    this.dynamoProxy = await startDynamoProxy(moto);
    this.pipeline = await startFakeCodePipeline();
    this.codeDeploy = await startFakeCodeDeploy({
      motoUrl: moto,
      identities: this.identities,
      placement: { account: this.account, region: this.region },
      groups: [...this.services.values()].map((service) => {
        const stack = service.model.stack;
        const group = this.resourcesOf(stack)[service.model.groupLogicalId].Properties;
        return {
          applicationName: resolveIntrinsic(group.ApplicationName, this.resolverFor(stack), `${service.groupName} ApplicationName`),
          deploymentGroupName: service.groupName,
          deploymentConfigName: group.DeploymentConfigName,
          alarms: group.AlarmConfiguration?.Enabled === false ? [] : service.alarms,
          autoRollbackEvents: group.AutoRollbackConfiguration?.Enabled ? group.AutoRollbackConfiguration.Events : [],
          placement: service.placement,
        };
      }),
      invokeHook: async (functionName, event) => {
        const hook = this.hookFns.get(functionName);
        if (!hook) throw new Error(`CodeDeploy was asked to invoke hook ${functionName}, which this world does not deploy (${[...this.hookFns.keys()].join(', ') || 'no hook'})`);
        await hook.invoke(event);
      },
    });
    // With targets, the handlers reach moto's services through the recording gateway (STS too).
    const motoEndpoint = this.gateway?.url ?? moto;
    const endpoints = {
      AWS_ENDPOINT_URL: motoEndpoint,
      AWS_ENDPOINT_URL_LAMBDA: this.proxy.url,
      AWS_ENDPOINT_URL_S3: motoEndpoint,
      AWS_ENDPOINT_URL_DYNAMODB: this.dynamoProxy.url,
      AWS_ENDPOINT_URL_SNS: motoEndpoint,
      AWS_ENDPOINT_URL_CODEDEPLOY: this.codeDeploy.url,
      AWS_ENDPOINT_URL_CODEPIPELINE: this.pipeline.url,
      AWS_ENDPOINT_URL_CLOUDWATCH: motoEndpoint,
      ...(multi ? { AWS_ENDPOINT_URL_STS: motoEndpoint } : {}),
    };
    const { deployBlue, switchTraffic, bake, hooks } = this.model.handlers;
    this.deployBlueFn = await this.handlerFunction(deployBlue.logicalId, deployBlue.functionName, BUNDLES.deployBlue, deployBlue.environment, endpoints, 'deploy-blue');
    this.switchTrafficFn = await this.handlerFunction(switchTraffic.logicalId, switchTraffic.functionName, BUNDLES.switchTraffic, switchTraffic.environment, endpoints, 'switch-traffic');
    if (bake) this.bakeFn = await this.handlerFunction(bake.logicalId, bake.functionName, BUNDLES.bake, bake.environment, endpoints, 'bake');
    for (const hook of hooks) {
      if (hook.environment.SMOKE_TEST_EVENTS === undefined) continue; // only the built-in hook has a bundle here
      const log = hook.stack ? `smoke-test-${hook.stack.stackName}` : 'smoke-test';
      const fn = await this.handlerFunction(hook.logicalId, hook.functionName, BUNDLES.smokeTest, hook.environment, endpoints, log, hook.stack);
      this.hookFns.set(hook.functionName, fn);
      this.smokeTestFn ??= fn;
    }

    // ---- what CloudFormation would have created
    const home = { account: this.account, region: this.region };
    const bucket = await motoRequest(moto, 's3', 'PUT', `/${this.names.bucket}`, undefined, {}, home);
    if (bucket.status !== 200) throw new Error(`S3 CreateBucket answered ${bucket.status}: ${bucket.body}`);
    const versioning = this.model.resources[this.model.bucketLogicalId].Properties?.VersioningConfiguration?.Status;
    if (versioning) {
      const put = await motoRequest(moto, 's3', 'PUT', `/${this.names.bucket}?versioning`,
        `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>${versioning}</Status></VersioningConfiguration>`, {}, home);
      if (put.status !== 200) throw new Error(`S3 PutBucketVersioning answered ${put.status}: ${put.body}`);
    }
    const bootstrap = zipFiles({ 'index.js': BOOTSTRAP_SOURCE });
    this.shared.sources.set(codeSha256(bootstrap), BOOTSTRAP_SOURCE);
    for (const service of this.services.values()) {
      const properties = this.resourcesOf(service.model.stack)[service.model.functionLogicalId].Properties;
      const lambda = this.lambdaIn(service.placement);
      await lambda.send(new CreateFunctionCommand({
        FunctionName: service.functionName,
        Runtime: properties.Runtime,
        Handler: properties.Handler,
        Role: `arn:aws:iam::${service.placement.account}:role/service-role-local-aws`,
        Code: { ZipFile: bootstrap },
        MemorySize: properties.MemorySize,
        Timeout: properties.Timeout,
      }));
      const bootstrapVersion = await lambda.send(new PublishVersionCommand({ FunctionName: service.functionName, Description: 'Bootstrap version' }));
      if (bootstrapVersion.Version !== '1') throw new Error(`bootstrap version of ${service.functionName} is ${bootstrapVersion.Version}, expected 1`);
      await lambda.send(new CreateAliasCommand({ FunctionName: service.functionName, Name: 'live', FunctionVersion: '1' }));
    }

    const table = this.model.resources[this.model.tableLogicalId].Properties;
    await this.dynamo.send(new CreateTableCommand({
      TableName: this.names.table,
      KeySchema: table.KeySchema,
      AttributeDefinitions: table.AttributeDefinitions,
      BillingMode: table.BillingMode,
      GlobalSecondaryIndexes: table.GlobalSecondaryIndexes,
    }));

    for (const [logicalId, resource] of Object.entries(this.model.resources)) {
      if (resource.Type !== 'AWS::SQS::Queue') continue;
      const { MessageRetentionPeriod: retention, SqsManagedSseEnabled: sse } = resource.Properties ?? {};
      await this.sqs('CreateQueue', {
        QueueName: this.physicalName(logicalId),
        Attributes: {
          ...(retention ? { MessageRetentionPeriod: String(retention) } : {}),
          ...(sse !== undefined ? { SqsManagedSseEnabled: String(sse) } : {}),
        },
      });
    }
    // The template's alarms, in their initial state (INSUFFICIENT_DATA): moto evaluates none; a
    // scenario sets one's state (setAlarmState), as CloudWatch would on breaching data. Each
    // target's alarms are in its account and region, where its deployment groups read them.
    for (const stack of [undefined, ...this.model.targets]) {
      for (const [logicalId, resource] of Object.entries(this.resourcesOf(stack))) {
        if (resource.Type !== 'AWS::CloudWatch::Alarm') continue;
        const input = resolveDeep(resource.Properties ?? {}, this.resolverFor(stack), logicalId) as PutMetricAlarmCommandInput;
        const alarmName = this.physicalName(logicalId, stack);
        await this.cloudWatchIn(this.placementOf(stack)).send(new PutMetricAlarmCommand({ ...input, AlarmName: alarmName }));
      }
    }
    for (const stack of this.model.targets) await this.createTargetResources(stack, options);
    await this.sns.send(new CreateTopicCommand({ Name: this.names.topic }));
    const queue = await this.sqs('CreateQueue', { QueueName: this.names.queue });
    this.queueUrl = queue.QueueUrl;
    await this.sns.send(new SubscribeCommand({ TopicArn: this.names.topicArn, Protocol: 'sqs', Endpoint: `arn:aws:sqs:${this.region}:${this.account}:${this.names.queue}` }));
  }

  /** The environment a target stack holds (its services'). */
  environmentOf(stack: StackModel): string {
    const environments = [...new Set(this.model.services.filter((s) => s.stack === stack).map((s) => s.environment))];
    if (environments.length !== 1 || !environments[0]) throw new Error(`target stack ${stack.stackName} holds the services of ${environments.join(', ') || 'no environment'}`);
    return environments[0];
  }

  /**
   * A target's deployer role (in its account, with the template's trust policy) and bundle bucket
   * (in its region, versioned): the rest of what its stack creates that the handlers use.
   */
  private async createTargetResources(stack: StackModel, options: WorldOptions) {
    const placement = this.placementOf(stack);
    const environment = this.environmentOf(stack);
    for (const [logicalId, resource] of Object.entries(stack.resources)) {
      if (resource.Type === 'AWS::IAM::Role' && String(resource.Properties?.RoleName ?? '').includes('-deployer-')) {
        const templateTrust = resolveDeep(resource.Properties.AssumeRolePolicyDocument, this.resolverFor(stack), `${logicalId} trust policy`);
        const trust = options.deployerRole ? options.deployerRole(environment, templateTrust) : templateTrust;
        if (trust === undefined) continue;
        await this.iam(placement.account, { Action: 'CreateRole', RoleName: resource.Properties.RoleName, AssumeRolePolicyDocument: JSON.stringify(trust) });
      }
      if (resource.Type === 'AWS::S3::Bucket') {
        const name = this.physicalName(logicalId, stack);
        // CreateBucket outside us-east-1 names its region (CreateBucketConfiguration.LocationConstraint).
        const body = placement.region === 'us-east-1' ? undefined
          : `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>${placement.region}</LocationConstraint></CreateBucketConfiguration>`;
        const created = await motoRequest(this.shared.motoUrl, 's3', 'PUT', `/${name}`, body, {}, placement);
        if (created.status !== 200) throw new Error(`S3 CreateBucket ${name} in ${placementKey(placement)} answered ${created.status}: ${created.body}`);
        if (resource.Properties?.VersioningConfiguration?.Status) {
          const put = await motoRequest(this.shared.motoUrl, 's3', 'PUT', `/${name}?versioning`,
            `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>${resource.Properties.VersioningConfiguration.Status}</Status></VersioningConfiguration>`, {}, placement);
          if (put.status !== 200) throw new Error(`S3 PutBucketVersioning ${name} answered ${put.status}: ${put.body}`);
        }
      }
    }
  }

  /** A test client of Lambda on moto in an account and region (the pipeline's own is `lambda`). */
  lambdaIn(placement: Placement): LambdaClient {
    return this.clientsIn(placement).lambda;
  }

  /** A test client of CloudWatch on moto in an account and region. */
  cloudWatchIn(placement: Placement): CloudWatchClient {
    return this.clientsIn(placement).cloudWatch;
  }

  private clientsIn(placement: Placement) {
    if (placement.account === this.account && placement.region === this.region) {
      return { lambda: this.lambda, cloudWatch: this.cloudWatch, proxyLambda: this.proxyLambda };
    }
    let clients = this.placedClients.get(placementKey(placement));
    if (!clients) {
      clients = {
        lambda: inAccount(new LambdaClient(testClientConfig(this.shared.motoUrl, placement)), placement.account),
        cloudWatch: inAccount(new CloudWatchClient(testClientConfig(this.shared.motoUrl, placement)), placement.account),
        proxyLambda: this.proxy ? inAccount(new LambdaClient(testClientConfig(this.proxy.url, placement)), placement.account) : undefined,
      };
      this.placedClients.set(placementKey(placement), clients);
    }
    return clients;
  }

  /** SQS over its JSON protocol (moto serves it; the repo has no SQS client). */
  private async sqs(operation: string, input: object): Promise<any> {
    const response = await motoRequest(this.shared.motoUrl, 'sqs', 'POST', '/', JSON.stringify(input), {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `AmazonSQS.${operation}`,
    }, { account: this.account, region: this.region });
    if (response.status !== 200) throw new Error(`SQS ${operation} answered ${response.status}: ${response.body}`);
    return response.body ? JSON.parse(response.body) : {};
  }

  // ---------------------------------------------------------------- the pipeline, played by the test

  /**
   * Uploads a Build stage output artifact: a zip of `files` (the single-service shorthand: one
   * `index.js` at the root) under a key like CodePipeline's (`<pipeline>/<artifact>/<random>`).
   */
  async artifact(files: string | Record<string, string>, options: ZipOptions = {}): Promise<Artifact> {
    const contents = typeof files === 'string' ? { 'index.js': files } : files;
    const zip = zipFiles(contents, options);
    const sha = codeSha256(zip);
    if (contents['index.js'] !== undefined) this.shared.sources.set(sha, contents['index.js']);
    const objectKey = `${this.names.pipeline.slice(0, 20)}/BuildOutpu/${this.tag}${++this.artifactCount}${randomUUID().slice(0, 4)}`;
    const put = await motoRequest(this.shared.motoUrl, 's3', 'PUT', `/${this.names.bucket}/${objectKey}`, zip, { 'content-type': 'application/zip' },
      { account: this.account, region: this.region });
    if (put.status !== 200) throw new Error(`S3 PutObject answered ${put.status}: ${put.body}`);
    return { bucketName: this.names.bucket, objectKey, codeSha256: sha };
  }

  /**
   * A Lambda invoke action's job event as CodePipeline sends it
   * (https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-invoke-lambda-function.html#actions-invoke-lambda-function-json-event-example).
   */
  private jobEvent(jobId: string, functionName: string, userParameters: string, inputs: Array<{ name: string; artifact: Artifact }>,
    continuationToken?: string) {
    return {
      'CodePipeline.job': {
        id: jobId,
        accountId: this.account,
        data: {
          actionConfiguration: { configuration: { FunctionName: functionName, UserParameters: userParameters } },
          inputArtifacts: inputs.map(({ name, artifact }) => ({
            name,
            revision: null,
            location: { type: 'S3', s3Location: { bucketName: artifact.bucketName, objectKey: artifact.objectKey } },
          })),
          outputArtifacts: [],
          artifactCredentials: { ...this.artifactCredentials },
          ...(continuationToken ? { continuationToken } : {}),
        },
      },
    };
  }

  private async deliver(fn: HandlerFunction, event: unknown, delivery: Delivery = 'once'): Promise<HandlerInvocation[]> {
    if (delivery === 'concurrent') return (await Promise.all([this.invokeAsync(fn, event), this.invokeAsync(fn, event)])).flat();
    const first = await this.invokeAsync(fn, event);
    return delivery === 'sequential' ? [...first, ...await this.invokeAsync(fn, event)] : first;
  }

  /**
   * One asynchronous invocation as Lambda runs it: "If the function returns an error, by default
   * Lambda attempts to run it two more times" (the EventInvokeConfig's MaximumRetryAttempts when
   * set; the one- and two-minute waits are not played), then sends the event to the function's
   * dead-letter queue: "The payload written to the DLQ target ARN is the original event payload
   * with no modifications to the message body", with attributes RequestID (String, "Unique request
   * identifier"), ErrorCode (Number, "3-digit HTTP error code") and ErrorMessage (String, "Error
   * message (truncated to 1 KB)").
   * @see https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html
   * @see https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html#invocation-dlq
   */
  private async invokeAsync(fn: HandlerFunction, event: unknown): Promise<HandlerInvocation[]> {
    const config = this.asyncConfig.get(fn) ?? { maximumRetryAttempts: 2 };
    const attempts: HandlerInvocation[] = [];
    do attempts.push(await fn.invoke(event));
    while (!attempts[attempts.length - 1].ok && attempts.length <= config.maximumRetryAttempts);
    const last = attempts[attempts.length - 1];
    if (last.ok || !config.deadLetterArn) return attempts;
    const queueName = config.deadLetterArn.split(':').pop()!;
    if (!config.deadLetterArn.startsWith('arn:aws:sqs:')) {
      throw new Error(`${fn.functionName} dead-letters to ${config.deadLetterArn}: this test plays SQS dead-letter queues only`);
    }
    const { QueueUrl: queueUrl } = await this.sqs('GetQueueUrl', { QueueName: queueName });
    await this.sqs('SendMessage', {
      QueueUrl: queueUrl,
      MessageBody: JSON.stringify(event),
      MessageAttributes: {
        RequestID: { DataType: 'String', StringValue: last.requestId },
        // A function error is answered 200 with X-Amz-Function-Error (Invoke API reference).
        ErrorCode: { DataType: 'Number', StringValue: '200' },
        ErrorMessage: { DataType: 'String', StringValue: Buffer.from(last.error?.message ?? 'Unhandled').subarray(0, 1024).toString('utf8') },
      },
    });
    this.deadLettered.push({ functionName: fn.functionName, requestId: last.requestId, event });
    return attempts;
  }

  /** The action's UserParameters as CodePipeline hands them over: intrinsics resolved at deploy time, variables at run time. */
  resolveUserParameters(action: ActionModel, variables: Record<string, string>): string {
    const text = resolveIntrinsic(action.userParameters, this.resolver, `${action.actionName} UserParameters`);
    return resolveVariables(text, variables, `${action.stageName}/${action.actionName} UserParameters`);
  }

  private handlerOf(action: ActionModel): HandlerFunction {
    if (action.handlerLogicalId === this.model.handlers.deployBlue.logicalId) return this.deployBlueFn;
    if (action.handlerLogicalId === this.model.handlers.switchTraffic.logicalId) return this.switchTrafficFn;
    if (this.bakeFn && action.handlerLogicalId === this.model.handlers.bake?.logicalId) return this.bakeFn;
    throw new Error(`${action.actionName} invokes ${action.handlerLogicalId}, which this world does not run`);
  }

  /** Delivers the next job of an action run (its first, or the continuation of its last). */
  private async runJob(run: ActionRun, action: ActionModel, service: ServiceModel, context: {
    userParameters: string; artifact?: Artifact | null; deliver?: ExecuteOptions['deliver']; jobId?: string; event?: unknown;
  }) {
    const poll = run.jobs.length;
    const jobId = poll === 0 && context.jobId ? context.jobId : this.pipeline.issueJob();
    run.jobs.push(jobId);
    run.userParameters.push(context.userParameters);
    const fn = this.handlerOf(action);
    const inputs = context.artifact ? action.inputArtifacts.map((name) => ({ name, artifact: context.artifact! })) : [];
    const event = poll === 0 && context.event !== undefined ? context.event
      : this.jobEvent(jobId, fn.functionName, context.userParameters, inputs, run.continuationToken);
    const delivery = await context.deliver?.({ stageName: action.stageName, service: service.name, actionName: action.actionName, poll });
    const deadLettered = this.deadLettered.length;
    run.invocations.push(...await this.deliver(fn, event, delivery));
    // Lambda gave up on the job's event: no invocation will ever report, so CodePipeline times the action out.
    const result = this.pipeline.resultOf(jobId) ?? (this.deadLettered.length > deadLettered ? this.pipeline.timeOut(jobId) : undefined);
    if (!result) {
      throw new Error(`${action.stageName}/${action.actionName} job ${jobId} (poll ${poll}) reported no result: CodePipeline would time the action out; see ${this.shared.logDir}`);
    }
    run.results.push(result);
    if (result.kind === 'failure' || !result.continuationToken) {
      run.final = result;
      run.continuationToken = undefined;
    } else {
      run.continuationToken = result.continuationToken;
    }
  }

  private newRun(action: ActionModel, service: ServiceModel | undefined): ActionRun {
    return {
      stageName: action.stageName,
      // The test's name of the service (`<environment>/<service>` with environments); '' for an approval.
      service: service?.key ?? '',
      actionName: action.actionName,
      runOrder: action.runOrder,
      jobs: [],
      results: [],
      userParameters: [],
      invocations: [],
      startedAt: Date.now(), // real time, as JobResult.at
    };
  }

  /**
   * The variables an execution starts with: its id, and the Source action's output variables.
   * A CodeStarSourceConnection action outputs AuthorDate, BranchName, CommitId, CommitMessage,
   * ConnectionArn and FullRepositoryName
   * (https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html#reference-variables-list).
   */
  private pipelineVariables(executionId: string, commitId: string): Record<string, string> {
    const source = this.model.source;
    const variables: Record<string, string> = { 'codepipeline.PipelineExecutionId': executionId };
    if (source?.namespace && source.provider === 'CodeStarSourceConnection') {
      const config = source.configuration;
      Object.assign(variables, {
        [`${source.namespace}.AuthorDate`]: this.sourceRevision(executionId).authorDate,
        [`${source.namespace}.BranchName`]: String(config.BranchName ?? 'main'),
        [`${source.namespace}.CommitId`]: commitId,
        [`${source.namespace}.CommitMessage`]: `release ${commitId.slice(0, 7)}`,
        [`${source.namespace}.ConnectionArn`]: String(config.ConnectionArn ?? ''),
        [`${source.namespace}.FullRepositoryName`]: String(config.FullRepositoryId ?? ''),
      });
    }
    return variables;
  }

  /**
   * The source revision of an execution, fixed the first time one of its actions runs: the commit
   * was authored ten minutes before, and AuthorDate says so as CodePipeline's
   * CodeStarSourceConnection action does (ISO 8601 UTC, whole seconds, e.g. 2019-10-29T03:32:21Z).
   */
  private sourceRevision(executionId: string) {
    let revision = this.sourceRevisions.get(executionId);
    if (!revision) {
      const firstActionAt = this.now();
      const authorDate = new Date(Math.floor((firstActionAt - COMMIT_AGE_MS) / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z');
      revision = { authorDate, firstActionAt };
      this.sourceRevisions.set(executionId, revision);
    }
    return revision;
  }

  /** The commit's author date the source action gave an execution (`#{<source>.AuthorDate}`), and when the execution's first action ran. */
  commitOf(executionId: string): { authorDate: string; firstActionAt: number } | undefined {
    return this.sourceRevisions.get(executionId);
  }

  /**
   * Runs one stage as CodePipeline does: the actions of the lowest runOrder in parallel, each job
   * by job through its continuation tokens (CodeDeploy steps once per round); the next runOrder
   * only when every action of this one succeeded; none once one failed (the stage fails when the
   * actions already running have finished).
   * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-pipeline-structure.html#action-requirements (runOrder)
   */
  private async runStage(stageName: string, actions: ActionModel[], execution: ExecutionRun, options: ExecuteOptions): Promise<StageRun> {
    const stage: StageRun = { stageName, status: 'Succeeded', actions: [], runOrdersStarted: [] };
    execution.stages.push(stage);
    const runOrders = [...new Set(actions.map((a) => a.runOrder))].sort((a, b) => a - b);
    for (const runOrder of runOrders) {
      stage.runOrdersStarted.push(runOrder);
      const group = actions.filter((a) => a.runOrder === runOrder).map((action) => {
        const service = this.model.services.find((s) => s.deployBlue === action || s.switchTraffic === action || s.bake === action);
        const run = this.newRun(action, service);
        stage.actions.push(run);
        return { action, service, run };
      });
      for (const g of group.filter((a) => a.action.kind === 'approval')) await this.playApproval(g.run, g.action, execution, options);
      for (let round = 0; ; round++) {
        if (round >= (options.maxRounds ?? 40)) throw new Error(`${stageName} runOrder ${runOrder} still in progress after ${round} rounds`);
        const running = group.filter((g) => !g.run.final);
        await Promise.all(running.map((g) => this.runJob(g.run, g.action, g.service!, {
          // Variables are resolved when CodePipeline runs the action; continuations reuse the configuration.
          userParameters: g.run.userParameters[0] ?? this.resolveUserParameters(g.action, execution.variables),
          artifact: execution.artifact,
          deliver: options.deliver,
        })));
        for (const g of running) {
          if (g.run.final?.kind === 'success' && g.action.namespace) {
            for (const [key, value] of Object.entries(g.run.final.outputVariables ?? {})) execution.variables[`${g.action.namespace}.${key}`] = value;
          }
        }
        const still = group.filter((g) => !g.run.final).map((g) => g.run);
        if (still.length === 0) break;
        await options.between?.({ stageName, runOrder, round: round + 1, running: still });
        this.advanceClock(this.roundMs);
        await this.codeDeploy.advance();
      }
      if (group.some((g) => g.run.final?.kind === 'failure')) {
        stage.status = 'Failed';
        return stage;
      }
    }
    return stage;
  }

  /**
   * A manual approval as CodePipeline runs it: it publishes the approval request to the action's
   * NotificationArn topic (the documented JSON: region, consoleLink, approval.{pipelineName,
   * stageName, actionName, token, expires, externalEntityLink, approvalReviewLink, customData}),
   * then waits for a reviewer; Rejected fails the action.
   * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals-json-format.html
   */
  private async playApproval(run: ActionRun, action: ActionModel, execution: ExecutionRun, options: ExecuteOptions) {
    const where = `${action.stageName}/${action.actionName}`;
    const arn = action.configuration.NotificationArn === undefined ? undefined : resolveIntrinsic(action.configuration.NotificationArn, this.resolver, `${where} NotificationArn`);
    const customData = typeof action.configuration.CustomData === 'string'
      ? resolveVariables(action.configuration.CustomData, execution.variables, `${where} CustomData`) : undefined;
    const token = randomUUID();
    if (arn) {
      const approval = {
        region: this.region,
        consoleLink: `https://console.aws.amazon.com/codepipeline/home?region=${this.region}#/view/${this.names.pipeline}`,
        approval: {
          pipelineName: this.names.pipeline,
          stageName: action.stageName,
          actionName: action.actionName,
          token,
          expires: new Date(this.now() + 7 * 86_400_000).toISOString(),
          externalEntityLink: null,
          approvalReviewLink: `https://console.aws.amazon.com/codepipeline/home?region=${this.region}#/view/${this.names.pipeline}/${action.stageName}/${action.actionName}/approve/${token}`,
          customData: customData ?? null,
        },
      };
      await this.sns.send(new PublishCommand({
        TopicArn: arn,
        Subject: `APPROVAL NEEDED: AWS CodePipeline ${this.names.pipeline} for action ${action.actionName}`.slice(0, 99),
        Message: JSON.stringify(approval),
      }));
    }
    const decision = await (options.approve?.({ stageName: action.stageName, actionName: action.actionName, executionId: execution.executionId }) ?? { status: 'Approved' as const });
    this.approvals.push({
      executionId: execution.executionId,
      stageName: action.stageName,
      actionName: action.actionName,
      status: decision.status,
      notificationArn: arn,
      customData,
    });
    run.jobs.push(token);
    const result: JobResult = decision.status === 'Approved'
      ? { kind: 'success', at: Date.now() }
      : { kind: 'failure', failureDetails: { type: 'JobFailed', message: `Rejected${decision.summary ? `: ${decision.summary}` : ''}` }, at: Date.now() };
    run.results.push(result);
    run.final = result;
  }

  /** Plays the stages from `fromStage` on (every later stage of the pipeline), stopping at the first that fails. */
  async runStages(execution: ExecutionRun, stages: StageModel[], options: ExecuteOptions = {}): Promise<ExecutionRun> {
    execution.status = 'Succeeded';
    for (const stage of stages) {
      const run = await this.runStage(stage.name, stage.actions, execution, options);
      if (run.status === 'Failed') {
        execution.status = 'Failed';
        break;
      }
    }
    return execution;
  }

  /** The stages of the pipeline from one on (as an execution continues after it). */
  stagesFrom(stageName: string): StageModel[] {
    const index = this.model.pipelineStages.findIndex((s) => s.name === stageName);
    if (index < 0) throw new Error(`the pipeline has no stage ${stageName}`);
    return this.model.pipelineStages.slice(index);
  }

  /** One pipeline execution from the first stage after Build on, for the given build output. */
  async execute(artifact: Artifact, options: ExecuteOptions = {}): Promise<ExecutionRun> {
    const executionId = options.executionId ?? randomUUID();
    const commitId = options.commitId ?? randomUUID().replace(/-/g, '');
    const execution: ExecutionRun = {
      executionId, commitId, artifact, status: 'Succeeded', stages: [], variables: this.pipelineVariables(executionId, commitId),
    };
    return this.runStages(execution, this.model.pipelineStages, options);
  }

  /**
   * Retries a failed stage the way CodePipeline's "Retry failed actions" does (RetryStageExecution,
   * retryMode FAILED_ACTIONS): the actions that succeeded are not run again; the failed ones get
   * new jobs, and the stage goes on through its later runOrders; then the execution continues.
   * @see https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_RetryStageExecution.html
   */
  async retryFailedActions(execution: ExecutionRun, stageName: string, options: ExecuteOptions = {}): Promise<StageRun> {
    const failedStage = execution.stages[execution.stages.length - 1];
    if (execution.status !== 'Failed' || failedStage?.stageName !== stageName || failedStage.status !== 'Failed') {
      throw new Error(`execution ${execution.executionId} has no failed ${stageName} stage to retry (CodePipeline answers StageNotRetryableException)`);
    }
    const done = new Set(execution.stages.filter((s) => s.stageName === stageName)
      .flatMap((s) => s.actions.filter((a) => a.final?.kind === 'success').map((a) => a.actionName)));
    const [retried, ...later] = this.stagesFrom(stageName);
    execution.status = 'Succeeded';
    const stage = await this.runStage(stageName, retried.actions.filter((a) => !done.has(a.actionName)), execution, options);
    if (stage.status === 'Failed') {
      execution.status = 'Failed';
    } else {
      await this.runStages(execution, later, options);
    }
    return stage;
  }

  /** Runs one action of one service on its own (as a stage retry or a test's direct call would). */
  async runAction(stageName: 'Deploy-Blue' | 'Switch-Traffic' | 'Bake', options: ActionOptions, serviceName?: string): Promise<ActionRun> {
    const service = this.serviceNamed(serviceName).model;
    const action = stageName === 'Deploy-Blue' ? service.deployBlue : stageName === 'Switch-Traffic' ? service.switchTraffic : service.bake;
    if (!action) throw new Error(`service ${service.key} has no ${stageName} action`);
    const variables: Record<string, string> = { ...this.pipelineVariables(options.executionId, options.commitId ?? randomUUID().replace(/-/g, '')) };
    if (options.targetVersion !== undefined) variables[`${service.deployBlue.namespace}.targetVersion`] = options.targetVersion;
    let userParameters: string;
    if (typeof options.userParameters === 'string') {
      userParameters = options.userParameters;
    } else {
      const resolved = this.resolveUserParameters(action, variables);
      userParameters = options.userParameters ? JSON.stringify(options.userParameters(JSON.parse(resolved))) : resolved;
    }
    const run = this.newRun(action, service);
    for (let poll = 0; !run.final; poll++) {
      if (poll >= (options.maxPolls ?? 40)) throw new Error(`${stageName} still in progress after ${poll} polls`);
      if (poll > 0) {
        await options.between?.(poll);
        this.advanceClock(this.roundMs);
        await this.codeDeploy.advance();
      }
      await this.runJob(run, action, service, {
        userParameters,
        artifact: options.artifact,
        deliver: options.deliver,
        jobId: options.jobId,
        event: options.event,
      });
    }
    return run;
  }

  // ---------------------------------------------------------------- the clock the handlers see

  /** The handlers' time (epoch ms): the real clock plus the time the test played. */
  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  /** Moves the handlers' clock (and the Lambda proxy's) forward, as time passing would. */
  advanceClock(ms: number) {
    if (ms < 0) throw new Error('time does not run backwards');
    this.clockOffsetMs += ms;
  }

  /** Sets a CloudWatch alarm's state on moto (SetAlarmState), as CloudWatch does when its metric breaches. */
  async setAlarmState(alarmName: string, state: 'ALARM' | 'OK' | 'INSUFFICIENT_DATA', reason = 'set by the local AWS test') {
    await this.cloudWatch.send(new SetAlarmStateCommand({ AlarmName: alarmName, StateValue: state, StateReason: reason }));
  }

  /** Deploy-Blue of one service: one job, delivered as asked. */
  async deployBlue(options: Omit<ActionOptions, 'deliver' | 'between' | 'maxPolls'> & { delivery?: Delivery }, service?: string): Promise<DeployRun> {
    const run = await this.runAction('Deploy-Blue', { ...options, deliver: () => options.delivery }, service);
    return { jobId: run.jobs[0], result: run.final, invocations: run.invocations };
  }

  /** Switch-Traffic of one service: the first job, then a new job per continuation token, CodeDeploy stepping in between. */
  async switchTraffic(options: Omit<ActionOptions, 'deliver' | 'between' | 'maxPolls' | 'artifact'> & SwitchOptions, service?: string): Promise<SwitchRun> {
    const run = await this.runAction('Switch-Traffic', {
      ...options,
      artifact: null,
      deliver: ({ poll }) => (poll === 0 ? options.first : poll === options.duplicatePoll ? options.pollDelivery : undefined),
    }, service);
    return { jobs: run.jobs, results: run.results, final: run.final! };
  }

  /** Source → Build → Deploy-Blue → Switch-Traffic for one commit of a single-service pipeline. */
  async release(source: string, options: ReleaseOptions = {}): Promise<Release> {
    if (this.services.size !== 1) throw new Error('release() plays a single-service pipeline; use execute()');
    const artifact = await this.artifact(source);
    const execution = await this.execute(artifact, {
      executionId: options.executionId,
      commitId: options.commitId,
      deliver: ({ stageName, poll }) => {
        if (stageName === 'Deploy-Blue') return options.deployDelivery;
        return poll === 0 ? options.switch?.first : poll === options.switch?.duplicatePoll ? options.switch?.pollDelivery : undefined;
      },
      between: options.switch?.between ? ({ round }) => options.switch!.between!(round) : undefined,
      maxRounds: options.switch?.maxPolls,
    });
    const deploy = actionRun(execution, 'Deploy-Blue', this.service.name)!;
    const shift = actionRun(execution, 'Switch-Traffic', this.service.name);
    const { targetVersion, currentVersion } = deploy.final?.outputVariables ?? {};
    return {
      executionId: execution.executionId,
      deployBlue: { jobId: deploy.jobs[0], result: deploy.final, invocations: deploy.invocations },
      targetVersion,
      currentVersion,
      switchTraffic: shift ? { jobs: shift.jobs, results: shift.results, final: shift.final! } : undefined,
      execution,
    };
  }

  // ---------------------------------------------------------------- what the test looks at

  async alias(service?: string): Promise<GetAliasCommandOutput> {
    const { functionName, placement } = this.serviceNamed(service);
    return this.lambdaIn(placement).send(new GetAliasCommand({ FunctionName: functionName, Name: 'live' }));
  }

  async splitAlias(functionVersion: string, weights: Record<string, number>, service?: string) {
    const { functionName, placement } = this.serviceNamed(service);
    await this.lambdaIn(placement).send(new UpdateAliasCommand({ FunctionName: functionName, Name: 'live', FunctionVersion: functionVersion, RoutingConfig: { AdditionalVersionWeights: weights } }));
  }

  async versions(service?: string): Promise<string[]> {
    const { functionName, placement } = this.serviceNamed(service);
    const out: string[] = [];
    let marker: string | undefined;
    do {
      const page = await this.lambdaIn(placement).send(new ListVersionsByFunctionCommand({ FunctionName: functionName, Marker: marker }));
      out.push(...(page.Versions ?? []).map((v) => v.Version!).filter((v) => v !== '$LATEST'));
      marker = page.NextMarker;
    } while (marker);
    const deleted = this.proxy.deletedVersions(functionName, placement);
    return out.filter((v) => !deleted.includes(v)).sort((a, b) => Number(a) - Number(b));
  }

  /** Invokes a service through the Lambda proxy (as a client would): `live`, or a version. */
  async invoke(service: string | undefined, qualifier = 'live', payload: unknown = {}): Promise<{ functionError?: string; executedVersion?: string; payload: any }> {
    const { functionName, placement } = this.serviceNamed(service);
    const out = await this.clientsIn(placement).proxyLambda!.send(new InvokeCommand({
      FunctionName: functionName,
      Qualifier: qualifier,
      Payload: new TextEncoder().encode(JSON.stringify(payload)),
    }));
    const text = out.Payload ? new TextDecoder().decode(out.Payload) : '';
    return { functionError: out.FunctionError, executedVersion: out.ExecutedVersion, payload: text ? JSON.parse(text) : undefined };
  }

  /** What Lambda holds for one version of a service: its CodeSha256 and the package's files (as the proxy unzipped them). */
  async code(service: string | undefined, version: string): Promise<{ codeSha256: string; files?: Record<string, string> }> {
    const { functionName, placement } = this.serviceNamed(service);
    const config = await this.lambdaIn(placement).send(new GetFunctionConfigurationCommand({ FunctionName: functionName, Qualifier: version }));
    const files = this.proxy.packages.get(config.CodeSha256!);
    return {
      codeSha256: config.CodeSha256!,
      files: files && Object.fromEntries(Object.entries(files).map(([name, data]) => [name, data.toString('utf8')])),
    };
  }

  /** A bucket of this world: the artifact bucket, or one of a target (its name and placement). */
  private bucketOf(bucket?: { name: string; placement: Placement }) {
    return bucket ?? { name: this.names.bucket, placement: { account: this.account, region: this.region } };
  }

  /** An object of the artifact bucket (or another of the world's buckets): the latest version, or undefined. */
  async s3Object(key: string, in_?: { name: string; placement: Placement }): Promise<Buffer | undefined> {
    const bucket = this.bucketOf(in_);
    const response = await motoRequest(this.shared.motoUrl, 's3', 'GET', `/${bucket.name}/${key.split('/').map(encodeURIComponent).join('/')}`, undefined, {}, bucket.placement);
    return response.status === 200 ? response.bytes : undefined;
  }

  /** Keys of the artifact bucket (or another of the world's buckets) under a prefix. */
  async s3Keys(prefix: string, in_?: { name: string; placement: Placement }): Promise<string[]> {
    const bucket = this.bucketOf(in_);
    const response = await motoRequest(this.shared.motoUrl, 's3', 'GET', `/${bucket.name}?list-type=2&prefix=${encodeURIComponent(prefix)}`, undefined, {}, bucket.placement);
    if (response.status !== 200) throw new Error(`S3 ListObjectsV2 answered ${response.status}: ${response.body}`);
    return [...response.body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]).sort();
  }

  /** Every version S3 keeps of the objects under a prefix (ListObjectVersions): one per PutObject in a versioned bucket. */
  async s3Versions(prefix: string): Promise<Array<{ key: string; versionId: string }>> {
    const response = await motoRequest(this.shared.motoUrl, 's3', 'GET', `/${this.names.bucket}?versions&prefix=${encodeURIComponent(prefix)}`, undefined, {},
      { account: this.account, region: this.region });
    if (response.status !== 200) throw new Error(`S3 ListObjectVersions answered ${response.status}: ${response.body}`);
    return [...response.body.matchAll(/<Version>([\s\S]*?)<\/Version>/g)].map((m) => ({
      key: /<Key>([^<]*)<\/Key>/.exec(m[1])?.[1] ?? '?',
      versionId: /<VersionId>([^<]*)<\/VersionId>/.exec(m[1])?.[1] ?? '?',
    })).sort((a, b) => a.key.localeCompare(b.key));
  }

  /** The files of a zip in the artifact bucket, as text. */
  async zipAt(key: string): Promise<Record<string, string> | undefined> {
    const zip = await this.s3Object(key);
    return zip && Object.fromEntries(Object.entries(unzipFiles(zip)).map(([name, data]) => [name, data.toString('utf8')]));
  }

  /** The history item of one service in one execution (`<executionId>/<service>`, `<executionId>/<environment>/<service>`). */
  async history(executionId: string, service?: string): Promise<Record<string, any> | undefined> {
    return this.historyItem(`${executionId}/${this.serviceNamed(service).key}`);
  }

  /** A history item by its key. */
  async historyItem(deploymentId: string): Promise<Record<string, any> | undefined> {
    return (await this.doc.send(new GetCommand({ TableName: this.names.table, Key: { deploymentId }, ConsistentRead: true }))).Item;
  }

  /** A service's deployments, newest first, through the byService index. */
  async historyByService(service?: string): Promise<Array<Record<string, any>>> {
    const result = await this.doc.send(new QueryCommand({
      TableName: this.names.table,
      IndexName: 'byService',
      KeyConditionExpression: '#s = :s',
      ExpressionAttributeNames: { '#s': 'service' },
      ExpressionAttributeValues: { ':s': this.serviceNamed(service).name },
      ScanIndexForward: false,
    }));
    return result.Items ?? [];
  }

  /** Every service of one execution, by service name, through the byExecution index. */
  async historyByExecution(executionId: string): Promise<Array<Record<string, any>>> {
    const result = await this.doc.send(new QueryCommand({
      TableName: this.names.table,
      IndexName: 'byExecution',
      KeyConditionExpression: '#e = :e',
      ExpressionAttributeNames: { '#e': 'executionId' },
      ExpressionAttributeValues: { ':e': executionId },
    }));
    return result.Items ?? [];
  }

  /** Every notification the topic delivered to the queue so far. */
  async notifications(): Promise<Notification[]> {
    for (;;) {
      const { Messages: messages = [] } = await this.sqs('ReceiveMessage', { QueueUrl: this.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 30 });
      if (messages.length === 0) break;
      for (const message of messages) {
        const envelope = JSON.parse(message.Body);
        let body: any = envelope.Message;
        try {
          body = JSON.parse(envelope.Message);
        } catch {
          // plain text
        }
        const attributes = envelope.MessageAttributes ?? {};
        this.received.push({ messageId: envelope.MessageId, event: attributes.event?.Value ?? body?.event ?? '?', subject: envelope.Subject, attributes, body });
        await this.sqs('DeleteMessage', { QueueUrl: this.queueUrl, ReceiptHandle: message.ReceiptHandle });
      }
    }
    return [...this.received];
  }

  /** The SQS queues the stage handlers dead-letter to (their DeadLetterConfig targets), by name. */
  deadLetterQueueNames(): string[] {
    return [...new Set([...this.asyncConfig.values()].flatMap((c) => (c.deadLetterArn ? [c.deadLetterArn.split(':').pop()!] : [])))];
  }

  /**
   * What every SQS queue of the world holds, left in place (each message received, then made
   * visible again): the notifications queue (drained by notifications(), so only what arrived
   * since), the dead-letter queue, any other.
   */
  async queuedMessages(): Promise<DeadLetter[]> {
    const { QueueUrls: urls = [] } = await this.sqs('ListQueues', {});
    const out: DeadLetter[] = [];
    for (const url of urls as string[]) {
      const received: any[] = [];
      for (;;) {
        const { Messages: messages = [] } = await this.sqs('ReceiveMessage', {
          QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 60, MessageAttributeNames: ['All'],
        });
        if (messages.length === 0) break;
        received.push(...messages);
      }
      for (const m of received) {
        out.push({ queueName: url.split('/').pop()!, body: m.Body, attributes: m.MessageAttributes ?? {} });
        await this.sqs('ChangeMessageVisibility', { QueueUrl: url, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 });
      }
    }
    return out;
  }

  /** The messages of the stage handlers' dead-letter queues (left in place, as an operator's first look would). */
  async deadLetters(): Promise<DeadLetter[]> {
    const names = this.deadLetterQueueNames();
    return (await this.queuedMessages()).filter((m) => names.includes(m.queueName));
  }

  /** Notifications about one execution (and one service of it), in order. */
  async notificationsOf(executionId: string, service?: string): Promise<Notification[]> {
    return (await this.notifications()).filter((n) => n.body?.executionId === executionId && (service === undefined || n.body?.service === service));
  }

  /** Lifecycle events announced for one service of one execution (in its environment), in order. */
  async events(executionId: string, service?: string): Promise<string[]> {
    const { name, key } = this.serviceNamed(service);
    return (await this.notificationsOf(executionId, name)).filter((n) => n.body?.deploymentId === `${executionId}/${key}`).map((n) => n.event);
  }

  /** The stage handlers and hooks this world runs. */
  handlerFunctions(): HandlerFunction[] {
    return [this.deployBlueFn, this.switchTrafficFn, this.bakeFn, ...this.hookFns.values()].filter((fn) => fn !== undefined);
  }

  /** Every EMF document the handlers wrote so far (see emf.ts), parsed and checked. */
  metrics(): EmfRecord[] {
    return emfRecords(this.handlerFunctions());
  }

  /** Every handler invocation that threw. */
  thrown(): HandlerInvocation[] {
    return [this.deployBlueFn, this.switchTrafficFn, this.bakeFn, ...this.hookFns.values()].flatMap((fn) => fn?.thrown ?? []);
  }

  async stop() {
    await Promise.all([this.deployBlueFn, this.switchTrafficFn, this.bakeFn, ...this.hookFns.values()].map((fn) => fn?.stop()));
    await Promise.all([this.proxy?.stop(), this.dynamoProxy?.stop(), this.pipeline?.stop(), this.codeDeploy?.stop(), this.gateway?.stop()]);
    this.lambda.destroy();
    this.proxyLambda?.destroy();
    for (const clients of this.placedClients.values()) {
      clients.lambda.destroy();
      clients.cloudWatch.destroy();
      clients.proxyLambda?.destroy();
    }
    this.dynamo.destroy();
    this.sns.destroy();
    this.cloudWatch.destroy();
  }
}
