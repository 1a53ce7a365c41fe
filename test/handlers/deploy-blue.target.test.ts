import { GetAliasCommand, GetFunctionCommand, LambdaClient, PublishVersionCommand, UpdateFunctionCodeCommand } from '@aws-sdk/client-lambda';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand } from '@aws-sdk/client-sns';
import { AssumeRoleCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { DeployBlueParameters } from '../../src/contract/handler-contract';
import { createDeployBlueHandler } from '../../src/handlers/deploy-blue.lambda';
import { deployBlueParameters } from '../helpers/action-parameters';
import { HistoryTableFixture, startHistoryTable } from '../helpers/dynalite-history-table';
import { aliasAnswer, ARTIFACT_BUCKET, functionConfiguration, getFunctionAnswer, handlerHarness, versionedBucket } from '../helpers/handler-harness';
import { pipelineJobEvent } from '../helpers/pipeline-job-event';
import { DEPLOYER_ROLE_ARN, PIPELINE_ARN, TARGET_ACCOUNT, TOOLING_ACCOUNT, toolingContext } from '../helpers/target-fixture';
import { artifactZip } from '../helpers/zip-fixtures';

// Deploy-Blue of an environment in another account and region (BlueGreenLambdaTarget): the harness's
// clients are the handler's own (each instance mocked); the deployer session builds new clients,
// which the class mocks below answer. STS answers as AssumeRoleCommand.d.ts documents.
const TOOLING = TOOLING_ACCOUNT;
const TARGET = TARGET_ACCOUNT;
const ROLE_ARN = DEPLOYER_ROLE_ARN;
const BUNDLE_BUCKET = 'orders-pipeline-bundles-staging-222222222222-eu-west-1';
const CONTEXT = toolingContext('deploy-blue', 600_000);
const SECRET = { accessKeyId: 'ASIA-DEPLOY-BLUE-TEST', secretAccessKey: 'deploy-blue-secret-access-key', sessionToken: 'deploy-blue-session-token' };
const ARTIFACT = { bucketName: 'artifact-bucket', objectKey: 'orders-api-pipeline/BuildOutpu/abc123' };

// Class mocks answer every client the session builds; the harness mocks its own instances (which
// sinon can re-stub only while the prototype is not stubbed: each test restores, resets, then mocks).
let sts = mockClient(STSClient);
let targetLambda = mockClient(LambdaClient);
let targetS3 = mockClient(S3Client);
const restoreClassMocks = () => [sts, targetLambda, targetS3].forEach((m) => m.restore());
afterAll(restoreClassMocks);

let fixture: HistoryTableFixture;
let h: ReturnType<typeof handlerHarness>;
let handler: ReturnType<typeof createDeployBlueHandler>;
let executions = 0;
let executionId: string;
let targetBucket: ReturnType<typeof versionedBucket>;

beforeAll(async () => {
  fixture = await startHistoryTable();
  h = handlerHarness(fixture);
  handler = h.deployBlue({ pipelineArn: PIPELINE_ARN, region: 'us-east-1' });
});
afterAll(() => fixture.stop());

beforeEach(() => {
  restoreClassMocks();
  h.reset();
  sts = mockClient(STSClient);
  targetLambda = mockClient(LambdaClient);
  targetS3 = mockClient(S3Client);
  executionId = `exec-${++executions}`;
  versionedBucket(h.mocks.s3).put(ARTIFACT.bucketName, ARTIFACT.objectKey, artifactZip({ 'index.js': 'exports.handler = async () => 1;\n' }, { stream: true }));
  targetBucket = versionedBucket(targetS3);
  // AssumeRoleResponse (AssumeRoleCommand.d.ts): Credentials (all four required), AssumedRoleUser.
  sts.on(AssumeRoleCommand).resolves({
    Credentials: { AccessKeyId: 'ASIATARGET', SecretAccessKey: 'target-secret', SessionToken: 'target-token', Expiration: new Date(Date.now() + 3_600_000) },
    AssumedRoleUser: { Arn: `arn:aws:sts::${TARGET}:assumed-role/orders-pipeline-deployer-staging/deploy-blue-${executionId}`, AssumedRoleId: 'AROAEXAMPLE:x' },
  });
  // The target's function answers as in deploy-blue.lambda.test.ts (GetAlias, UpdateFunctionCode, GetFunction, PublishVersion).
  targetLambda.on(GetAliasCommand).resolves(aliasAnswer('3'));
  targetLambda.on(UpdateFunctionCodeCommand).resolves(functionConfiguration({ codeSha256: 'sha-new', revisionId: 'rev-1', lastUpdateStatus: 'InProgress' }));
  targetLambda.on(GetFunctionCommand).resolves(getFunctionAnswer({ codeSha256: 'sha-new', revisionId: 'rev-2' }));
  targetLambda.on(PublishVersionCommand).resolves(functionConfiguration({ version: '4', codeSha256: 'sha-new', revisionId: 'rev-3' }));
});

const parameters = (overrides: Partial<DeployBlueParameters> = {}) => deployBlueParameters(executionId, {
  environment: 'staging', functionName: 'orders-api-staging', deployerRoleArn: ROLE_ARN, region: 'eu-west-1', bundleBucket: BUNDLE_BUCKET, ...overrides,
});
const event = (overrides: Partial<DeployBlueParameters> = {}, jobId = 'job-1') =>
  pipelineJobEvent({ jobId, userParameters: parameters(overrides), artifact: ARTIFACT, artifactCredentials: SECRET });
const key = () => `bundles/${executionId}/orders-api.zip`;

test('reads the artifact with its own S3 client, writes the bundle into the target\'s bucket as the deployer and publishes there', async () => {
  await expect(handler(event(), CONTEXT)).resolves.toEqual({ currentVersion: '3', targetVersion: '4' });

  expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input)).toContainEqual({
    RoleArn: ROLE_ARN, ExternalId: PIPELINE_ARN, RoleSessionName: `deploy-blue-${executionId}`,
  });
  // The tooling artifact bucket is read by the handler's own role only; nothing is written there.
  expect(h.mocks.s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input)).toEqual([{ Bucket: ARTIFACT.bucketName, Key: ARTIFACT.objectKey }]);
  expect(h.mocks.s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  expect(targetS3.commandCalls(GetObjectCommand)).toHaveLength(0);
  expect(targetS3.commandCalls(PutObjectCommand).map((c) => [c.args[0].input.Bucket, c.args[0].input.Key])).toEqual([[BUNDLE_BUCKET, key()]]);
  // Bucket names are global: the bundle goes only to a bucket the target account owns (PutObjectRequest.ExpectedBucketOwner).
  expect(targetS3.commandCalls(PutObjectCommand)[0].args[0].input.ExpectedBucketOwner).toBe(TARGET);
  expect(await targetS3.commandCalls(PutObjectCommand)[0].thisValue.config.region()).toBe('eu-west-1');
  // UpdateFunctionCode reads S3 only in the function's own region: the target's bucket.
  expect(targetLambda.commandCalls(UpdateFunctionCodeCommand)[0].args[0].input).toEqual({
    FunctionName: 'orders-api-staging', S3Bucket: BUNDLE_BUCKET, S3Key: key(),
  });
  expect(targetLambda.commandCalls(PublishVersionCommand)).toHaveLength(1);
  expect(h.mocks.lambda.calls()).toHaveLength(0);

  // History, the topic and CodePipeline stay central, and say where the service runs.
  const record = await h.history.get(`${executionId}/orders-api`);
  expect(record).toMatchObject({
    state: 'STAGED',
    environment: 'staging',
    account: TARGET,
    region: 'eu-west-1',
    codeLocation: `s3://${BUNDLE_BUCKET}/${key()}?versionId=${targetBucket.get(BUNDLE_BUCKET, key())!.versionId}`,
  });
  const [published] = h.mocks.sns.commandCalls(PublishCommand);
  expect(published.args[0].input.MessageAttributes).toMatchObject({
    account: { DataType: 'String', StringValue: TARGET }, region: { DataType: 'String', StringValue: 'eu-west-1' },
  });
  expect(published.args[0].input.Subject).toBe(`[orders-api (${TARGET} eu-west-1)] staged version 4 (live: 3)`);
  expect(h.jobResults().successes).toHaveLength(1);
});

test('a denied AssumeRole fails the job readably, records and announces FAILED, and touches nothing in the target', async () => {
  // AccessDenied is no modeled AssumeRole exception (AssumeRoleCommand.d.ts): the SDK raises STSServiceException named after the code.
  sts.on(AssumeRoleCommand).rejects(new STSServiceException({
    name: 'AccessDenied',
    $fault: 'client',
    $metadata: { httpStatusCode: 403 },
    message: `User: arn:aws:sts::${TOOLING}:assumed-role/orders-pipeline-deploy-blue/orders-pipeline-deploy-blue is not authorized to perform: sts:AssumeRole on resource: ${ROLE_ARN}`,
  }));
  await handler(event(), CONTEXT);

  const message = h.jobResults().failures[0].failureDetails?.message ?? '';
  expect(message).toMatch(new RegExp(`^Deploy-Blue failed: could not assume deployer role ${ROLE_ARN} to deploy to staging \\(account ${TARGET}, region eu-west-1\\)`));
  expect(message).toContain('is not authorized to perform: sts:AssumeRole');
  expect(message).toContain(`the target stack (BlueGreenLambdaTarget) of staging is deployed in account ${TARGET}, region eu-west-1`);
  expect(message).toContain(`external id ${PIPELINE_ARN}`);
  expect(targetLambda.calls()).toHaveLength(0);
  expect(targetS3.calls()).toHaveLength(0);
  expect(h.mocks.s3.calls()).toHaveLength(0);
  expect(await h.history.get(`${executionId}/orders-api`)).toMatchObject({ state: 'FAILED', failureReason: message, account: TARGET, region: 'eu-west-1' });
  expect(h.announced()).toEqual(['FAILED']);
  expect(h.metrics().map((m) => [m.Outcome, m.Account, m.Region])).toEqual([['Failed', TARGET, 'eu-west-1']]);
  // The job's artifact credentials go nowhere: not in the failure, the messages or the logs.
  const everything = JSON.stringify([h.jobResults(), h.mocks.sns.calls().map((c) => c.args[0].input), h.logs()]);
  for (const secret of Object.values(SECRET)) expect(everything).not.toContain(secret);
});

test('two deliveries of one job at once publish once in the target', async () => {
  await Promise.all([handler(event(), CONTEXT), handler(event(), CONTEXT)]);
  expect(targetLambda.commandCalls(UpdateFunctionCodeCommand)).toHaveLength(1);
  expect(targetLambda.commandCalls(PublishVersionCommand)).toHaveLength(1);
  expect(targetS3.commandCalls(PutObjectCommand)).toHaveLength(1);
  expect((await h.history.get(`${executionId}/orders-api`))?.state).toBe('STAGED');
});

test('a job of the handler\'s own account records that account (from the invocation\'s function ARN) and its region', async () => {
  h.mocks.lambda.on(GetAliasCommand).resolves(aliasAnswer('3'));
  h.mocks.lambda.on(UpdateFunctionCodeCommand).resolves(functionConfiguration({ codeSha256: 'sha-new', revisionId: 'rev-1', lastUpdateStatus: 'InProgress' }));
  h.mocks.lambda.on(GetFunctionCommand).resolves(getFunctionAnswer({ codeSha256: 'sha-new', revisionId: 'rev-2' }));
  h.mocks.lambda.on(PublishVersionCommand).resolves(functionConfiguration({ version: '4', codeSha256: 'sha-new', revisionId: 'rev-3' }));
  await handler(event({ deployerRoleArn: undefined, region: undefined, bundleBucket: undefined }), CONTEXT);

  expect(sts.calls()).toHaveLength(0);
  expect(targetLambda.calls()).toHaveLength(0);
  expect(h.mocks.lambda.commandCalls(UpdateFunctionCodeCommand)[0].args[0].input).toMatchObject({ S3Bucket: ARTIFACT_BUCKET, S3Key: `bundles/${executionId}/orders-api.zip` });
  expect(await h.history.get(`${executionId}/orders-api`)).toMatchObject({ state: 'STAGED', account: TOOLING, region: 'us-east-1' });
  // The topic's own account and region: the subject stays as it was.
  expect(h.messages()[0].subject).toBe('[orders-api] staged version 4 (live: 3)');
});

test.each([
  ['a deployer role without a bundle bucket', { bundleBucket: undefined }, 'UserParameters deployerRoleArn needs bundleBucket'],
  ['a bundle bucket without a deployer role', { deployerRoleArn: undefined, region: undefined }, 'UserParameters bundleBucket needs deployerRoleArn'],
])('%s fails the job before anything is claimed', async (_name, overrides, message) => {
  await handler(event(overrides), CONTEXT);
  expect(h.jobResults().failures[0].failureDetails?.message).toContain(message);
  expect(await h.history.get(`${executionId}/orders-api`)).toBeUndefined();
  expect(sts.calls()).toHaveLength(0);
});

test('a handler without PIPELINE_ARN fails a target\'s job clearly, before anything is claimed or assumed', async () => {
  await h.deployBlue({ region: 'us-east-1' })(event(), CONTEXT);
  expect(h.jobResults().failures[0].failureDetails?.message).toBe(`job job-1: UserParameters names deployer role ${ROLE_ARN}, but PIPELINE_ARN ` +
    '(the external id it requires) is not set on this handler; update the pipeline stack to this library\'s version');
  expect(await h.history.get(`${executionId}/orders-api`)).toBeUndefined();
  expect(sts.calls()).toHaveLength(0);
});
