import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateAliasCommand,
  CreateFunctionCommand,
  GetAliasCommand,
  GetAliasCommandOutput,
  LambdaClient,
  ListVersionsByFunctionCommand,
  PublishVersionCommand,
  UpdateAliasCommand,
} from '@aws-sdk/client-lambda';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ConstructModel, resolveIntrinsic } from './construct-model';
import { FakeCodeDeploy, startFakeCodeDeploy } from './fake-codedeploy';
import { FakeCodePipeline, JobResult, startFakeCodePipeline } from './fake-codepipeline';
import { HandlerFunction, HandlerInvocation } from './handler-function';
import { LambdaProxy, startLambdaProxy } from './lambda-proxy';
import { MotoServer, motoRequest, startMotoServer } from './moto-server';
import { codeSha256, zipFiles } from './zip';
import { pipelineJobEvent } from '../pipeline-job-event';

export const ACCOUNT = '123456789012'; // moto's default account
export const REGION = 'us-east-1';
const REPO_ROOT = path.resolve(__dirname, '..', '..');
/**
 * The bundles under test: `npx projen bundle` output. LOCAL_AWS_ASSETS points at another assets
 * folder (e.g. bundles of an older commit, to check that these scenarios catch its bugs); it must
/* from node_modules.
 */
export const ASSETS_DIR = path.resolve(process.env.LOCAL_AWS_ASSETS ?? path.join(REPO_ROOT, 'assets'));
export const BUNDLES = {
  deployBlue: path.join(ASSETS_DIR, 'deploy-blue.lambda', 'index.js'),
  switchTraffic: path.join(ASSETS_DIR, 'switch-traffic.lambda', 'index.js'),
  smokeTest: path.join(ASSETS_DIR, 'smoke-test-hook.lambda', 'index.js'),
};

/** What every world shares: one moto server, and the source of every zip the tests built (by CodeSha256). */
export interface SharedAws {
  readonly motoUrl: string;
  readonly sources: Map<string, string>;
  readonly logDir: string;
}

/** How CodePipeline delivers a job: once, twice one after the other, or twice at the same time. */
export type Delivery = 'once' | 'sequential' | 'concurrent';

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

export interface DeployOptions {
  /** The input artifact; none when omitted. */
  readonly artifact?: { bucketName: string; objectKey: string } | null;
  readonly delivery?: Delivery;
  /** A job id issued before (to deliver a job again). */
  readonly jobId?: string;
  /** The whole event, for malformed jobs. */
  readonly event?: unknown;
}

export interface ReleaseOptions {
  readonly deploymentId?: string;
  readonly commitId?: string;
  readonly deployDelivery?: Delivery;
  readonly switch?: SwitchOptions;
}

export interface DeployRun {
  readonly jobId: string;
  readonly result?: JobResult;
  readonly invocations: HandlerInvocation[];
}

export interface Release {
  readonly deploymentId: string;
  readonly deployBlue: DeployRun;
  readonly targetVersion?: string;
  readonly currentVersion?: string;
  readonly switchTraffic?: SwitchRun;
}

/** An SNS notification that reached the SQS queue subscribed to the topic. */
export interface Notification {
  readonly messageId: string;
  readonly event: string;
  readonly subject?: string;
  readonly body: any;
}

export const BOOTSTRAP_SOURCE = 'exports.handler = async () => ({ statusCode: 503, body: "no release deployed yet" });\n';
export const goodSource = (release: string) => `exports.handler = async (event) => ({ statusCode: 200, body: JSON.stringify({ release: ${JSON.stringify(release)}, event }) });\n`;
export const brokenSource = (release: string) => `exports.handler = async () => { throw new Error(${JSON.stringify(`release ${release} cannot start: missing configuration`)}); };\n`;

/** Starts moto and creates what every world shares (the service's execution role). */
export async function startSharedAws(logDir: string): Promise<SharedAws & { moto: MotoServer }> {
  const moto = await startMotoServer();
  const role = await motoRequest(moto.url, 'iam', 'POST', '/', new URLSearchParams({
    Action: 'CreateRole',
    Version: '2010-05-08',
    RoleName: 'service-role-local-aws',
    AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
  }).toString(), { 'content-type': 'application/x-www-form-urlencoded' });
  if (role.status !== 200) throw new Error(`IAM CreateRole on moto answered ${role.status}: ${role.body}`);
  fs.mkdirSync(logDir, { recursive: true });
  return { moto, motoUrl: moto.url, sources: new Map(), logDir };
}

const NAME_PROPERTY: Record<string, string> = {
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::CodeDeploy::Application': 'ApplicationName',
  'AWS::CodeDeploy::DeploymentGroup': 'DeploymentGroupName',
  'AWS::CloudWatch::Alarm': 'AlarmName',
};

/** The resource's physical name in the template, made unique to one scenario. */
function physicalName(model: ConstructModel, logicalId: string, tag: string): string {
  const resource = model.resources[logicalId];
  const name = resource?.Properties?.[NAME_PROPERTY[resource?.Type] ?? ''];
  if (typeof name !== 'string') throw new Error(`${logicalId} (${resource?.Type}) has no literal physical name in the template`);
  return `${name}-${tag}`;
}

function testClientConfig(endpoint: string) {
  return { endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 };
}

/**
 * One deployed copy of the construct on local AWS: what CloudFormation would have created
 * (service function with bootstrap version 1 and alias `live`, history table, topic with a
 * queue subscribed, CodeDeploy application and group) under names unique to the scenario, and
 * the three bundled handlers configured only by the environment the construct gives them.
 */
export class World {
  public static async create(shared: SharedAws, tag: string, model: ConstructModel, options: { updateWindowMs?: number } = {}): Promise<World> {
    const world = new World(shared, tag, model);
    await world.setUp(options);
    return world;
  }

  public readonly lambda: LambdaClient;
  public readonly doc: DynamoDBDocumentClient;
  public readonly sns: SNSClient;
  public proxy!: LambdaProxy;
  public pipeline!: FakeCodePipeline;
  public codeDeploy!: FakeCodeDeploy;
  public deployBlueFn!: HandlerFunction;
  public switchTrafficFn!: HandlerFunction;
  public smokeTestFn?: HandlerFunction;
  public readonly names: {
    serviceFunction: string;
    table: string;
    topic: string;
    topicArn: string;
    queue: string;
    bucket: string;
    application: string;
    group: string;
    alarms: string[];
    smokeTest?: string;
    serviceName: string;
  };
  public readonly environments: Record<string, Record<string, string>> = {};
  private queueUrl = '';
  private readonly received: Notification[] = [];
  private artifactCount = 0;
  private readonly dynamo: DynamoDBClient;

  private constructor(private readonly shared: SharedAws, public readonly tag: string, public readonly model: ConstructModel) {
    this.lambda = new LambdaClient(testClientConfig(shared.motoUrl));
    this.dynamo = new DynamoDBClient(testClientConfig(shared.motoUrl));
    this.doc = DynamoDBDocumentClient.from(this.dynamo);
    this.sns = new SNSClient(testClientConfig(shared.motoUrl));
    const r = model.resources;
    const physical = (logicalId: string) => physicalName(model, logicalId, tag);
    const group = r[model.groupLogicalId].Properties;
    const topicLogicalId = Object.keys(r).find((id) => r[id].Type === 'AWS::SNS::Topic')!;
    const topic = physical(topicLogicalId);
    const smokeLogicalId = Object.keys(r).find((id) => /^PipelineSmokeTest[0-9A-F]{8}$/.test(id) && r[id].Type === 'AWS::Lambda::Function');
    this.names = {
      serviceFunction: physical(model.serviceLogicalId),
      table: physical(model.tableLogicalId),
      topic,
      topicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:${topic}`,
      queue: `notifications-${tag}`,
      bucket: `artifacts-${tag}`,
      application: physical(group.ApplicationName.Ref),
      group: physical(model.groupLogicalId),
      alarms: (group.AlarmConfiguration?.Alarms ?? []).map((a: any) => physical(a.Name.Ref)),
      smokeTest: smokeLogicalId ? physical(smokeLogicalId) : undefined,
      serviceName: String(model.handlers.deployBlue.SERVICE_NAME ?? 'orders-api'),
    };
  }

  /** The value CloudFormation would give a Ref or Fn::GetAtt in this world. */
  private resolver = (logicalId: string, attribute?: string): string => {
    const resource = this.model.resources[logicalId];
    if (!resource) throw new Error(`unknown logical id ${logicalId}`);
    const name = () => physicalName(this.model, logicalId, this.tag);
    switch (`${resource.Type}${attribute ? `.${attribute}` : ''}`) {
      case 'AWS::Lambda::Function':
      case 'AWS::DynamoDB::Table':
      case 'AWS::CodeDeploy::Application':
      case 'AWS::CodeDeploy::DeploymentGroup':
      case 'AWS::CloudWatch::Alarm':
        return name();
      case 'AWS::SNS::Topic':
        return this.names.topicArn;
      case 'AWS::Lambda::Version.Version':
        return '1'; // the bootstrap version: the first version published on the new function
      case 'AWS::Lambda::Function.Arn':
        return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name()}`;
      case 'AWS::DynamoDB::Table.Arn':
        return `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name()}`;
      default:
        throw new Error(`cannot resolve ${attribute ? `Fn::GetAtt ${logicalId}.${attribute}` : `Ref ${logicalId}`} (${resource.Type}); teach test/local-aws/world.ts`);
    }
  };

  private environmentFor(functionName: string, variables: Record<string, unknown>, endpoints: Record<string, string>): Record<string, string> {
    const resolved: Record<string, string> = {};
    for (const [key, value] of Object.entries(variables)) resolved[key] = resolveIntrinsic(value, this.resolver, `${functionName} environment ${key}`);
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      // What Lambda's Node.js runtime sets (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
      AWS_REGION: REGION,
      AWS_DEFAULT_REGION: REGION,
      AWS_LAMBDA_FUNCTION_NAME: functionName,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_SESSION_TOKEN: 'test',
      // No developer profile or credentials file may leak in.
      AWS_CONFIG_FILE: path.join(this.shared.logDir, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(this.shared.logDir, 'no-aws-credentials'),
      ...endpoints,
      ...resolved,
    };
    this.environments[functionName] = env;
    return env;
  }

  private async setUp(options: { updateWindowMs?: number }) {
    const moto = this.shared.motoUrl;
    this.proxy = await startLambdaProxy(moto, this.shared.sources, { updateWindowMs: options.updateWindowMs ?? 0 });
    this.pipeline = await startFakeCodePipeline();
    const group = this.model.resources[this.model.groupLogicalId].Properties;
    this.codeDeploy = await startFakeCodeDeploy({
      motoUrl: moto,
      groups: [{
        applicationName: this.names.application,
        deploymentGroupName: this.names.group,
        deploymentConfigName: group.DeploymentConfigName,
        alarms: group.AlarmConfiguration?.Enabled === false ? [] : this.names.alarms,
        autoRollbackEvents: group.AutoRollbackConfiguration?.Enabled ? group.AutoRollbackConfiguration.Events : [],
      }],
      invokeHook: async (functionName, event) => {
        if (!this.smokeTestFn || functionName !== this.names.smokeTest) {
          throw new Error(`CodeDeploy was asked to invoke hook ${functionName}, which this world does not deploy (${this.names.smokeTest ?? 'no hook'})`);
        }
        await this.smokeTestFn.invoke(event);
      },
    });
    const endpoints = {
      AWS_ENDPOINT_URL: moto,
      AWS_ENDPOINT_URL_LAMBDA: this.proxy.url,
      AWS_ENDPOINT_URL_S3: moto,
      AWS_ENDPOINT_URL_DYNAMODB: moto,
      AWS_ENDPOINT_URL_SNS: moto,
      AWS_ENDPOINT_URL_CODEDEPLOY: this.codeDeploy.url,
      AWS_ENDPOINT_URL_CODEPIPELINE: this.pipeline.url,
    };
    const log = (name: string) => path.join(this.shared.logDir, `${this.tag}-${name}.log`);
    const handlerName = (prefix: string) => this.resolver(Object.keys(this.model.resources).find((id) => new RegExp(`^${prefix}[0-9A-F]{8}$`).test(id)
      && this.model.resources[id].Type === 'AWS::Lambda::Function')!);
    const deployBlueName = handlerName('PipelineDeployBlue');
    const switchTrafficName = handlerName('PipelineSwitchTraffic');
    this.deployBlueFn = new HandlerFunction(deployBlueName, BUNDLES.deployBlue,
      this.environmentFor(deployBlueName, this.model.handlers.deployBlue, endpoints), log('deploy-blue'));
    this.switchTrafficFn = new HandlerFunction(switchTrafficName, BUNDLES.switchTraffic,
      this.environmentFor(switchTrafficName, this.model.handlers.switchTraffic, endpoints), log('switch-traffic'));
    if (this.model.handlers.smokeTest && this.names.smokeTest) {
      this.smokeTestFn = new HandlerFunction(this.names.smokeTest, BUNDLES.smokeTest,
        this.environmentFor(this.names.smokeTest, this.model.handlers.smokeTest, endpoints), log('smoke-test'));
    }

    // ---- what CloudFormation would have created
    const service = this.model.resources[this.model.serviceLogicalId].Properties;
    await motoRequest(moto, 's3', 'PUT', `/${this.names.bucket}`);
    const bootstrap = zipFiles({ 'index.js': BOOTSTRAP_SOURCE });
    this.shared.sources.set(codeSha256(bootstrap), BOOTSTRAP_SOURCE);
    await this.lambda.send(new CreateFunctionCommand({
      FunctionName: this.names.serviceFunction,
      Runtime: service.Runtime,
      Handler: service.Handler,
      Role: `arn:aws:iam::${ACCOUNT}:role/service-role-local-aws`,
      Code: { ZipFile: bootstrap },
      MemorySize: service.MemorySize,
      Timeout: service.Timeout,
    }));
    const bootstrapVersion = await this.lambda.send(new PublishVersionCommand({ FunctionName: this.names.serviceFunction, Description: 'Bootstrap version' }));
    if (bootstrapVersion.Version !== '1') throw new Error(`bootstrap version is ${bootstrapVersion.Version}, expected 1`);
    await this.lambda.send(new CreateAliasCommand({ FunctionName: this.names.serviceFunction, Name: 'live', FunctionVersion: '1' }));

    const table = this.model.resources[this.model.tableLogicalId].Properties;
    await this.dynamo.send(new CreateTableCommand({
      TableName: this.names.table,
      KeySchema: table.KeySchema,
      AttributeDefinitions: table.AttributeDefinitions,
      BillingMode: table.BillingMode,
      GlobalSecondaryIndexes: table.GlobalSecondaryIndexes,
    }));

    await this.sns.send(new CreateTopicCommand({ Name: this.names.topic }));
    const queue = await this.sqs('CreateQueue', { QueueName: this.names.queue });
    this.queueUrl = queue.QueueUrl;
    await this.sns.send(new SubscribeCommand({ TopicArn: this.names.topicArn, Protocol: 'sqs', Endpoint: `arn:aws:sqs:${REGION}:${ACCOUNT}:${this.names.queue}` }));
  }

  /** SQS over its JSON protocol (moto serves it; the repo has no SQS client). */
  private async sqs(operation: string, input: object): Promise<any> {
    const response = await motoRequest(this.shared.motoUrl, 'sqs', 'POST', '/', JSON.stringify(input), {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `AmazonSQS.${operation}`,
    });
    if (response.status !== 200) throw new Error(`SQS ${operation} answered ${response.status}: ${response.body}`);
    return response.body ? JSON.parse(response.body) : {};
  }

  // ---------------------------------------------------------------- the pipeline, played by the test

  /** Builds a deployable zip (index.js at the root), uploads it as the Build stage's output artifact. */
  async artifact(source: string): Promise<{ bucketName: string; objectKey: string; codeSha256: string }> {
    const zip = zipFiles({ 'index.js': source });
    const sha = codeSha256(zip);
    this.shared.sources.set(sha, source);
    const objectKey = `orders-api-pipeline/BuildOutpu/${this.tag}-${++this.artifactCount}.zip`;
    const put = await motoRequest(this.shared.motoUrl, 's3', 'PUT', `/${this.names.bucket}/${objectKey}`, zip, { 'content-type': 'application/zip' });
    if (put.status !== 200) throw new Error(`S3 PutObject answered ${put.status}: ${put.body}`);
    return { bucketName: this.names.bucket, objectKey, codeSha256: sha };
  }

  private async deliver(fn: HandlerFunction, event: unknown, delivery: Delivery = 'once'): Promise<HandlerInvocation[]> {
    if (delivery === 'concurrent') return Promise.all([fn.invoke(event), fn.invoke(event)]);
    const first = await fn.invoke(event);
    return delivery === 'sequential' ? [first, await fn.invoke(event)] : [first];
  }

  /** Runs the Deploy-Blue action: one job, delivered as asked. */
  async deployBlue(userParameters: Record<string, string> | string, options: DeployOptions = {}): Promise<DeployRun> {
    const jobId = options.jobId ?? this.pipeline.issueJob();
    const artifact = options.artifact ? { bucketName: options.artifact.bucketName, objectKey: options.artifact.objectKey } : null;
    const event = options.event ?? pipelineJobEvent({ jobId, userParameters, artifact });
    const invocations = await this.deliver(this.deployBlueFn, event, options.delivery);
    return { jobId, result: this.pipeline.resultOf(jobId), invocations };
  }

  /** Runs the Switch-Traffic action: the first job, then a new job per continuation token, with CodeDeploy stepping in between. */
  async switchTraffic(userParameters: Record<string, string>, options: SwitchOptions = {}): Promise<SwitchRun> {
    const jobs: string[] = [];
    const results: JobResult[] = [];
    let token: string | undefined;
    for (let poll = 0; poll < (options.maxPolls ?? 40); poll++) {
      const jobId = this.pipeline.issueJob();
      jobs.push(jobId);
      const event = pipelineJobEvent({ jobId, userParameters, artifact: null, continuationToken: token });
      const delivery = poll === 0 ? options.first : poll === options.duplicatePoll ? options.pollDelivery : undefined;
      await this.deliver(this.switchTrafficFn, event, delivery);
      const result = this.pipeline.resultOf(jobId);
      if (!result) throw new Error(`Switch-Traffic job ${jobId} (poll ${poll}) reported no result: CodePipeline would time the action out`);
      results.push(result);
      if (result.kind === 'failure' || !result.continuationToken) return { jobs, results, final: result };
      token = result.continuationToken;
      await options.between?.(poll + 1);
      await this.codeDeploy.advance();
    }
    throw new Error(`Switch-Traffic still in progress after ${options.maxPolls ?? 40} polls`);
  }

  /** Source → Build → Deploy-Blue → Switch-Traffic for one commit. */
  async release(source: string, options: ReleaseOptions = {}): Promise<Release> {
    const deploymentId = options.deploymentId ?? randomUUID();
    const artifact = await this.artifact(source);
    const deployBlue = await this.deployBlue({
      deploymentId,
      commitId: options.commitId ?? randomUUID().replace(/-/g, '').slice(0, 40),
      repository: 'example-org/orders-api',
      branch: 'main',
    }, { artifact, delivery: options.deployDelivery });
    if (deployBlue.result?.kind !== 'success') return { deploymentId, deployBlue };
    const { targetVersion, currentVersion } = deployBlue.result.outputVariables ?? {};
    if (!targetVersion) return { deploymentId, deployBlue, currentVersion };
    const switchTraffic = await this.switchTraffic({ deploymentId, targetVersion }, options.switch);
    return { deploymentId, deployBlue, targetVersion, currentVersion, switchTraffic };
  }

  // ---------------------------------------------------------------- what the test looks at

  async alias(): Promise<GetAliasCommandOutput> {
    return this.lambda.send(new GetAliasCommand({ FunctionName: this.names.serviceFunction, Name: 'live' }));
  }

  async splitAlias(functionVersion: string, weights: Record<string, number>) {
    await this.lambda.send(new UpdateAliasCommand({ FunctionName: this.names.serviceFunction, Name: 'live', FunctionVersion: functionVersion, RoutingConfig: { AdditionalVersionWeights: weights } }));
  }

  async versions(): Promise<string[]> {
    const out: string[] = [];
    let marker: string | undefined;
    do {
      const page = await this.lambda.send(new ListVersionsByFunctionCommand({ FunctionName: this.names.serviceFunction, Marker: marker }));
      out.push(...(page.Versions ?? []).map((v) => v.Version!).filter((v) => v !== '$LATEST'));
      marker = page.NextMarker;
    } while (marker);
    const deleted = this.proxy.deletedVersions(this.names.serviceFunction);
    return out.filter((v) => !deleted.includes(v)).sort((a, b) => Number(a) - Number(b));
  }

  async history(deploymentId: string): Promise<Record<string, any> | undefined> {
    return (await this.doc.send(new GetCommand({ TableName: this.names.table, Key: { deploymentId }, ConsistentRead: true }))).Item;
  }

  /** The service's deployments, newest first, through the byService index. */
  async historyByService(): Promise<Array<Record<string, any>>> {
    const result = await this.doc.send(new QueryCommand({
      TableName: this.names.table,
      IndexName: 'byService',
      KeyConditionExpression: '#s = :s',
      ExpressionAttributeNames: { '#s': 'service' },
      ExpressionAttributeValues: { ':s': this.names.serviceName },
      ScanIndexForward: false,
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
        this.received.push({ messageId: envelope.MessageId, event: envelope.MessageAttributes?.event?.Value ?? body?.event ?? '?', subject: envelope.Subject, body });
        await this.sqs('DeleteMessage', { QueueUrl: this.queueUrl, ReceiptHandle: message.ReceiptHandle });
      }
    }
    return [...this.received];
  }

  /** Lifecycle events announced for one deployment, in order. */
  async events(deploymentId: string): Promise<string[]> {
    return (await this.notifications()).filter((n) => n.body?.deploymentId === deploymentId).map((n) => n.event);
  }

  /** Every handler invocation that threw. */
  thrown(): HandlerInvocation[] {
    return [this.deployBlueFn, this.switchTrafficFn, this.smokeTestFn].flatMap((fn) => fn?.thrown ?? []);
  }

  async stop() {
    await Promise.all([this.deployBlueFn, this.switchTrafficFn, this.smokeTestFn].map((fn) => fn?.stop()));
    await Promise.all([this.proxy?.stop(), this.pipeline?.stop(), this.codeDeploy?.stop()]);
    this.lambda.destroy();
    this.dynamo.destroy();
    this.sns.destroy();
  }
}
