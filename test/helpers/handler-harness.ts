import { createHash } from 'crypto';
import { Readable } from 'stream';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CodeDeployClient, CreateDeploymentCommand, DeploymentInfo, DeploymentStatus, ListDeploymentsCommand } from '@aws-sdk/client-codedeploy';
import {
  CodePipelineClient,
  InvalidJobStateException,
  PutJobFailureResultCommand,
  PutJobFailureResultCommandInput,
  PutJobSuccessResultCommand,
  PutJobSuccessResultCommandInput,
} from '@aws-sdk/client-codepipeline';
import {
  AliasConfiguration,
  DeleteFunctionCommand,
  FunctionConfiguration,
  GetAliasCommand,
  GetFunctionCommand,
  LambdaClient,
  ListAliasesCommand,
  ListVersionsByFunctionCommand,
  PublishVersionCommand,
  UpdateFunctionCodeCommand,
} from '@aws-sdk/client-lambda';
import { GetObjectCommand, GetObjectCommandInput, NoSuchKey, PutObjectCommand, PutObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
// The SDK's own stream wrapper (what @smithy/util-stream exported before it moved into @smithy/core).
// eslint-disable-next-line import/no-extraneous-dependencies
import { sdkStreamMixin } from '@smithy/core/serde';
import { mockClient } from 'aws-sdk-client-mock';
import { HistoryTableFixture } from './dynalite-history-table';
import { captureHandlerOutput, LogRecord } from './log-capture';
import { artifactZip } from './zip-fixtures';
import { BakeDependencies, createBakeHandler } from '../../src/handlers/bake.lambda';
import { createDeployBlueHandler, DeployBlueDependencies } from '../../src/handlers/deploy-blue.lambda';
import { createSmokeTestHandler, SmokeTestDependencies } from '../../src/handlers/smoke-test-hook.lambda';
import { createSwitchTrafficHandler, SwitchTrafficDependencies } from '../../src/handlers/switch-traffic.lambda';
import { Attributes, DeploymentHistoryStore } from '../../src/runtime/deployment-history-store';
import { LifecycleNotifier } from '../../src/runtime/lifecycle-notifier';
import type { MetricDocument } from '../../src/runtime/metrics-recorder';

export const REGION = 'us-east-1';
export const ACCOUNT = '111111111111';
export const FUNCTION_NAME = 'orders-api-dev';
export const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${FUNCTION_NAME}`;
/** The pipeline's artifact bucket, where Deploy-Blue stages each service's bundle. */
export const ARTIFACT_BUCKET = 'pipeline-artifacts-dev';

/**
 * Captures what the handlers write to stdout as EMF documents (each a whole line starting with
 * `{"_aws"`, the way Lambda would hand it to CloudWatch Logs), see {@link captureHandlerOutput}.
 */
export function captureStdoutMetrics(): MetricDocument[] {
  return captureHandlerOutput().metrics;
}

/**
 * Clients for handler tests: DynamoDB is real (dynalite); CodePipeline, CodeDeploy, Lambda, S3 and
 * SNS are mocked with answers shaped as the SDK documents them.
 */
export function handlerHarness(fixture: HistoryTableFixture) {
  const clients = {
    lambda: new LambdaClient({ region: REGION }),
    codeDeploy: new CodeDeployClient({ region: REGION }),
    codePipeline: new CodePipelineClient({ region: REGION }),
    s3: new S3Client({ region: REGION }),
    sns: new SNSClient({ region: REGION }),
    cloudWatch: new CloudWatchClient({ region: REGION }),
  };
  const mocks = {
    lambda: mockClient(clients.lambda),
    codeDeploy: mockClient(clients.codeDeploy),
    codePipeline: mockClient(clients.codePipeline),
    s3: mockClient(clients.s3),
    sns: mockClient(clients.sns),
    cloudWatch: mockClient(clients.cloudWatch),
  };
  const history = new DeploymentHistoryStore(fixture.doc, fixture.tableName);
  const notifier = new LifecycleNotifier(clients.sns, `arn:aws:sns:${REGION}:${ACCOUNT}:orders-api-deployments-dev`);
  const output = captureHandlerOutput();
  const settledJobs = new Set<string>();
  // A job takes one result; a second PutJobSuccessResult/PutJobFailureResult answers
  // InvalidJobStateException (@throws in PutJobSuccessResultCommand.d.ts / PutJobFailureResultCommand.d.ts).
  // A success with a continuation token settles the job too: the next poll comes as a new job.
  const acceptOnce = async (input: PutJobSuccessResultCommandInput | PutJobFailureResultCommandInput) => {
    if (settledJobs.has(input.jobId!)) {
      throw new InvalidJobStateException({ message: `Job ${input.jobId} is not in state InProgress`, $metadata: { httpStatusCode: 400 } });
    }
    settledJobs.add(input.jobId!);
    return {}; // both outputs carry only $metadata (PutJobSuccessResultCommand.d.ts)
  };
  const reset = () => {
    Object.values(mocks).forEach((m) => m.reset());
    settledJobs.clear();
    output.clear();
    mocks.codePipeline.on(PutJobSuccessResultCommand).callsFake(acceptOnce);
    mocks.codePipeline.on(PutJobFailureResultCommand).callsFake(acceptOnce);
    // Publish answers MessageId (PublishCommand.d.ts; SequenceNumber only for FIFO topics).
    mocks.sns.on(PublishCommand).resolves({ MessageId: '5b2b1c2d-0000-4000-8000-000000000001' });
  };
  /** Every result the handlers tried to report, accepted or not. */
  const jobResults = () => ({
    successes: mocks.codePipeline.commandCalls(PutJobSuccessResultCommand).map((c) => c.args[0].input),
    failures: mocks.codePipeline.commandCalls(PutJobFailureResultCommand).map((c) => c.args[0].input),
  });
  const announced = () => mocks.sns.commandCalls(PublishCommand).map((c) => c.args[0].input.MessageAttributes?.event?.StringValue);
  /** Every message published: event, service, subject and the parsed body. */
  const messages = () => mocks.sns.commandCalls(PublishCommand).map((c) => ({
    event: c.args[0].input.MessageAttributes?.event?.StringValue,
    service: c.args[0].input.MessageAttributes?.service?.StringValue,
    subject: c.args[0].input.Subject,
    body: JSON.parse(c.args[0].input.Message!),
  }));
  /** The EMF documents the handlers wrote to stdout since the last reset, in order. */
  const metrics = () => [...output.metrics];
  /** The structured log records the handlers wrote (stdout and stderr) since the last reset, in order. */
  const logs = (): LogRecord[] => [...output.records];
  // The stage handlers on these clients, history and notifier; claims poll every 10 ms and a code
  // update may take 5 s, so a test that waits does not wait long.
  const deployBlue = (overrides: Partial<DeployBlueDependencies> = {}) => createDeployBlueHandler({
    lambda: clients.lambda,
    s3: clients.s3,
    codePipeline: clients.codePipeline,
    history,
    notifier,
    artifactBucketName: ARTIFACT_BUCKET,
    updateTimeoutSeconds: 5,
    claimPollMs: 10,
    ...overrides,
  });
  const switchTraffic = (overrides: Partial<SwitchTrafficDependencies> = {}) => createSwitchTrafficHandler({
    lambda: clients.lambda,
    codeDeploy: clients.codeDeploy,
    codePipeline: clients.codePipeline,
    history,
    notifier,
    applicationName: 'orders-api-dev',
    claimPollMs: 10,
    ...overrides,
  });
  /** The Bake handler; its tests give it a history store on their own clock (`history`, `now`). */
  const bake = (overrides: Partial<BakeDependencies> = {}) => createBakeHandler({
    codeDeploy: clients.codeDeploy,
    cloudWatch: clients.cloudWatch,
    codePipeline: clients.codePipeline,
    history,
    notifier,
    applicationName: 'orders-api-dev',
    ...overrides,
  });
  /** The pre-traffic hook, with SMOKE_TEST_EVENTS naming orders-api's health check. */
  const smokeTest = (overrides: Partial<SmokeTestDependencies> = {}) => createSmokeTestHandler({
    lambda: clients.lambda,
    codeDeploy: clients.codeDeploy,
    testEvents: JSON.stringify({ [FUNCTION_NAME]: { rawPath: '/health' } }),
    ...overrides,
  });
  return { clients, mocks, history, notifier, reset, jobResults, announced, messages, metrics, logs, deployBlue, switchTraffic, smokeTest, bake };
}

/** Writes a record as Deploy-Blue leaves it: claimed by its job, then STAGED. */
export async function stagedRecord(history: DeploymentHistoryStore, deploymentId: string, attributes: Attributes, jobId = `deploy-${deploymentId}`) {
  await history.claim(deploymentId, { state: 'STAGING', jobId, jobSet: 'deployBlueJobIds', from: ['NEW'], holdMs: 600_000 });
  return history.transition(deploymentId, 'STAGED', attributes, { claimJobId: jobId });
}

/** Writes a record as Switch-Traffic leaves it after CreateDeployment: SHIFTING. */
export async function shiftingRecord(history: DeploymentHistoryStore, deploymentId: string,
  attributes: Attributes & { targetVersion: string; codeDeployDeploymentId: string }, jobId = `switch-${deploymentId}`) {
  const { service, currentVersion, targetVersion } = attributes;
  await stagedRecord(history, deploymentId, { service, currentVersion, targetVersion });
  await history.claim(deploymentId, {
    state: 'STARTING', jobId, jobSet: 'switchTrafficJobIds', from: ['STAGED'], matching: { targetVersion: attributes.targetVersion }, holdMs: 120_000,
  });
  return history.transition(deploymentId, 'SHIFTING', attributes, { claimJobId: jobId });
}

/**
 * GetAlias's answer (AliasConfiguration in GetAliasCommand.d.ts and its documented example):
 * RoutingConfig appears only when the alias splits traffic.
 */
export function aliasAnswer(version: string, weights?: Record<string, number>, name = 'live', functionName = FUNCTION_NAME): AliasConfiguration {
  return {
    AliasArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${functionName}:${name}`,
    Name: name,
    FunctionVersion: version,
    Description: '',
    RevisionId: '594f41fb-0000-4c20-95c7-6ca5f2a92c93',
    ...(weights ? { RoutingConfig: { AdditionalVersionWeights: weights } } : {}),
  };
}

/**
 * A FunctionConfiguration as UpdateFunctionCode, GetFunction, PublishVersion and
 * ListVersionsByFunction return it (FunctionConfiguration in the Lambda SDK model). An
 * unpublished function is version $LATEST; a published one has its number in Version and ARN.
 */
export function functionConfiguration(options: {
  functionName?: string;
  version?: string;
  codeSha256?: string;
  revisionId?: string;
  lastUpdateStatus?: 'Successful' | 'Failed' | 'InProgress';
  lastUpdateStatusReason?: string;
  lastUpdateStatusReasonCode?: FunctionConfiguration['LastUpdateStatusReasonCode'];
  description?: string;
} = {}): FunctionConfiguration {
  const version = options.version ?? '$LATEST';
  const name = options.functionName ?? FUNCTION_NAME;
  const arn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;
  return {
    FunctionName: name,
    FunctionArn: version === '$LATEST' ? arn : `${arn}:${version}`,
    Runtime: 'nodejs22.x',
    Role: `arn:aws:iam::${ACCOUNT}:role/orders-api-service-dev`,
    Handler: 'index.handler',
    CodeSize: 2048,
    Description: options.description ?? '',
    Timeout: 10,
    MemorySize: 512,
    LastModified: '2026-11-22T10:00:00.000+0000',
    CodeSha256: options.codeSha256 ?? 'sha-new',
    Version: version,
    TracingConfig: { Mode: 'Active' },
    RevisionId: options.revisionId ?? 'rev-1',
    State: 'Active',
    LastUpdateStatus: options.lastUpdateStatus ?? 'Successful',
    ...(options.lastUpdateStatusReason ? { LastUpdateStatusReason: options.lastUpdateStatusReason } : {}),
    ...(options.lastUpdateStatusReasonCode ? { LastUpdateStatusReasonCode: options.lastUpdateStatusReasonCode } : {}),
    PackageType: 'Zip',
    Architectures: ['x86_64'],
  };
}

/** GetFunction's answer: the configuration plus where the code is (GetFunctionCommand.d.ts). */
export function getFunctionAnswer(options: Parameters<typeof functionConfiguration>[0] = {}) {
  return {
    Configuration: functionConfiguration(options),
    Code: { RepositoryType: 'S3', Location: 'https://awslambda-us-east-1-tasks.s3.us-east-1.amazonaws.com/snapshots/presigned' },
  };
}

/**
 * GetDeployment's deploymentInfo for a Lambda deployment (GetDeploymentCommand.d.ts): the revision
 * carries appSpecContent.sha256 but never its content, which AWS always leaves null.
 */
export function deploymentInfo(options: {
  deploymentId: string;
  status: DeploymentStatus;
  creator?: DeploymentInfo['creator'];
  errorInformation?: DeploymentInfo['errorInformation'];
  rollbackInfo?: DeploymentInfo['rollbackInfo'];
  deploymentConfigName?: string;
  sha256?: string;
}): DeploymentInfo {
  const ended = ['Succeeded', 'Failed', 'Stopped'].includes(options.status);
  return {
    applicationName: 'orders-api-dev',
    deploymentGroupName: 'orders-api-live-dev',
    deploymentConfigName: options.deploymentConfigName ?? 'CodeDeployDefault.LambdaLinear10PercentEvery10Minutes',
    deploymentId: options.deploymentId,
    revision: { revisionType: 'AppSpecContent', appSpecContent: { sha256: options.sha256 ?? 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' } },
    status: options.status,
    ...(options.errorInformation ? { errorInformation: options.errorInformation } : {}),
    createTime: new Date('2026-11-22T10:00:00Z'),
    ...(options.status !== 'Created' ? { startTime: new Date('2026-11-22T10:00:01Z') } : {}),
    ...(ended ? { completeTime: new Date('2026-11-22T10:30:00Z') } : {}),
    creator: options.creator ?? 'user',
    autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_ALARM'] },
    ...(options.rollbackInfo ? { rollbackInfo: options.rollbackInfo } : {}),
    deploymentStyle: { deploymentType: 'BLUE_GREEN', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
    computePlatform: 'Lambda',
  };
}

/**
 * GetObject's answer (GetObjectCommand.d.ts): Body is an SdkStream, "consume or destroy the stream
 * to free the socket"; CodePipeline's artifacts are SSE-KMS under aws/s3.
 */
export function getObjectAnswer(body: Buffer, versionId = 'null') {
  return {
    Body: sdkStreamMixin(Readable.from([body])),
    AcceptRanges: 'bytes',
    ContentLength: body.length,
    ContentType: 'application/zip',
    ETag: `"${createHash('md5').update(body).digest('hex')}"`,
    LastModified: new Date('2026-11-22T10:00:00Z'),
    Metadata: {},
    ServerSideEncryption: 'aws:kms' as const,
    SSEKMSKeyId: `arn:aws:kms:${REGION}:${ACCOUNT}:key/8f0b9c7d-0000-4000-8000-000000000001`,
    VersionId: versionId,
  };
}

/**
 * A versioned bucket behind the S3 mock: PutObject answers ETag and VersionId (PutObjectCommand.d.ts
 * example for a versioning-enabled bucket), GetObject answers what was put, NoSuchKey otherwise
 * (GetObjectCommand.d.ts @throws).
 */
export function versionedBucket(s3: ReturnType<typeof handlerHarness>['mocks']['s3']) {
  const objects = new Map<string, { body: Buffer; versionId: string }>();
  let versions = 0;
  s3.on(GetObjectCommand).callsFake(async (input: GetObjectCommandInput) => {
    const object = objects.get(`${input.Bucket}/${input.Key}`);
    if (!object) throw new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } });
    return getObjectAnswer(object.body, object.versionId);
  });
  s3.on(PutObjectCommand).callsFake(async (input: PutObjectCommandInput) => {
    // Body is a Buffer, or a stream (Deploy-Blue uploads its bundle from a file): read what S3 would receive.
    const body = input.Body instanceof Readable ? await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      (input.Body as Readable).on('data', (chunk: Buffer) => chunks.push(chunk)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
    }) : Buffer.from(input.Body as Uint8Array);
    const versionId = `3sL4kqtJlcpXroDTDmJ-rmSpXd3dIbrH${++versions}`;
    objects.set(`${input.Bucket}/${input.Key}`, { body, versionId });
    return { ETag: `"${createHash('md5').update(body).digest('hex')}"`, ServerSideEncryption: 'AES256' as const, VersionId: versionId };
  });
  return {
    put: (bucket: string, key: string, body: Buffer) => objects.set(`${bucket}/${key}`, { body, versionId: `v-${++versions}` }),
    get: (bucket: string, key: string) => objects.get(`${bucket}/${key}`),
  };
}

/**
 * AWS's answers for one release of orders-api, 3 -> 4, as the SDK documents them: Deploy-Blue's
 * Lambda calls (FunctionConfiguration, GetFunction), Switch-Traffic's CreateDeployment
 * ({ deploymentId }, CreateDeploymentCommand.d.ts) with no other deployment active (ListDeployments
 * answers the ids in the statuses asked for, ListDeploymentsCommand.d.ts), version pruning, and the
 * single-service build output Deploy-Blue reads (and re-zips) before UpdateFunctionCode.
 */
export function answerOneRelease(h: ReturnType<typeof handlerHarness>) {
  h.mocks.lambda.on(GetAliasCommand).resolves(aliasAnswer('3'));
  h.mocks.lambda.on(UpdateFunctionCodeCommand).resolves(functionConfiguration({ codeSha256: 'sha-new', revisionId: 'rev-1', lastUpdateStatus: 'InProgress' }));
  h.mocks.lambda.on(GetFunctionCommand).resolves(getFunctionAnswer({ codeSha256: 'sha-new', revisionId: 'rev-2' }));
  h.mocks.lambda.on(PublishVersionCommand).resolves(functionConfiguration({ version: '4', codeSha256: 'sha-new', revisionId: 'rev-3' }));
  h.mocks.codeDeploy.on(CreateDeploymentCommand).callsFake(async (input) => ({ deploymentId: `d-${input.deploymentGroupName}` }));
  h.mocks.codeDeploy.on(ListDeploymentsCommand).resolves({ deployments: [] });
  h.mocks.lambda.on(ListVersionsByFunctionCommand).resolves({ Versions: ['$LATEST', '1', '2', '3', '4'].map((version) => functionConfiguration({ version })) });
  h.mocks.lambda.on(ListAliasesCommand).resolves({ Aliases: [aliasAnswer('4')] });
  // DeleteFunctionResponse: StatusCode (DeleteFunctionCommand.d.ts).
  h.mocks.lambda.on(DeleteFunctionCommand).resolves({ StatusCode: 204 });
  versionedBucket(h.mocks.s3).put('artifact-bucket', 'orders-api-pipeline/BuildOutpu/abc123', artifactZip({ 'index.js': 'exports.handler = async () => 1;\n' }));
}
