// The handler fault matrix: what the pipeline does when AWS or its input misbehaves. Faults the
// per-handler suites already cover are listed in SECURITY.md; this file holds the rest. CodeDeploy
// faults go through a real SDK client and a scripted HTTP endpoint, so the SDK's own retry
// strategy (with the production CLIENT_CONFIG) is what is tested.
import { CodeDeployClient, GetDeploymentCommand } from '@aws-sdk/client-codedeploy';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  GetAliasCommand,
  GetFunctionCommand,
  InvalidParameterValueException,
  ListAliasesCommand,
  ListVersionsByFunctionCommand,
  PublishVersionCommand,
  UpdateFunctionCodeCommand,
} from '@aws-sdk/client-lambda';
import { GetObjectCommand, NoSuchKey } from '@aws-sdk/client-s3';
import { InternalErrorException, PublishCommand } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeploymentHistoryStore } from '../../src/runtime/deployment-history-store';
import { CLIENT_CONFIG } from '../../src/runtime/handler-environment';
import { deployBlueParameters, switchTrafficParameters } from '../helpers/action-parameters';
import { HistoryTableFixture, startHistoryTable } from '../helpers/dynalite-history-table';
import { closedPort, internalError, ScriptedResponse, startFakeAwsEndpoint, throttled, unavailable } from '../helpers/fake-aws-endpoint';
import { aliasAnswer, deploymentInfo, functionConfiguration, getFunctionAnswer, handlerHarness, shiftingRecord, stagedRecord, versionedBucket } from '../helpers/handler-harness';
import { pipelineJobEvent } from '../helpers/pipeline-job-event';
import { artifactZip } from '../helpers/zip-fixtures';

let fixture: HistoryTableFixture;
let h: ReturnType<typeof handlerHarness>;
let executions = 0;
let executionId: string;
/** The history item of orders-api in this execution. */
let deploymentId: string;

beforeAll(async () => {
  fixture = await startHistoryTable();
  h = handlerHarness(fixture);
});
afterAll(() => fixture.stop());

let artifacts: ReturnType<typeof versionedBucket>;

beforeEach(() => {
  h.reset();
  executionId = `fault-${++executions}`;
  deploymentId = `${executionId}/orders-api`;
  // Answers shaped as the Lambda SDK model documents them (see handler-harness.ts for each).
  h.mocks.lambda.on(GetAliasCommand).resolves(aliasAnswer('3'));
  h.mocks.lambda.on(UpdateFunctionCodeCommand).resolves(functionConfiguration({ codeSha256: 'sha-new', lastUpdateStatus: 'InProgress' }));
  h.mocks.lambda.on(GetFunctionCommand).resolves(getFunctionAnswer({ codeSha256: 'sha-new', revisionId: 'rev-2' }));
  h.mocks.lambda.on(PublishVersionCommand).resolves(functionConfiguration({ version: '4', codeSha256: 'sha-new', revisionId: 'rev-3' }));
  h.mocks.lambda.on(ListVersionsByFunctionCommand).resolves({ Versions: ['$LATEST', '3', '4'].map((version) => functionConfiguration({ version })) });
  h.mocks.lambda.on(ListAliasesCommand).resolves({ Aliases: [aliasAnswer('4')] });
  // The single-service build output Deploy-Blue reads (and re-zips) before UpdateFunctionCode.
  artifacts = versionedBucket(h.mocks.s3);
  artifacts.put('artifact-bucket', 'orders-api-pipeline/BuildOutpu/abc123', artifactZip({ 'index.js': 'exports.handler = async () => 1;\n' }));
});

const fakeCredentials = { accessKeyId: 'test', secretAccessKey: 'test' };

/** A history store whose DynamoDB does not answer (nothing listens on the port). */
async function unreachableHistory() {
  const client = new DynamoDBClient({ ...CLIENT_CONFIG, region: 'us-east-1', endpoint: `http://127.0.0.1:${await closedPort()}`, credentials: fakeCredentials });
  return new DeploymentHistoryStore(DynamoDBDocumentClient.from(client), 'history-under-test');
}

/** orders-api's Switch-Traffic UserParameters, as the construct sets them. */
const switchParameters = () => switchTrafficParameters(executionId, {
  deploymentConfigName: 'CodeDeployDefault.LambdaLinear10PercentEvery10Minutes',
  beforeAllowTrafficHook: '',
  afterAllowTrafficHook: '',
  bootstrapVersion: '',
  keepVersions: '10',
});

const LIST_DEPLOYMENTS = 'CodeDeploy_20141006.ListDeployments';

/**
 * Switch-Traffic's first invocation against a CodeDeploy endpoint: ListDeployments (is another
 * deployment in progress?) finds none, and CreateDeployment answers from `script` (call 1, 2, ...).
 */
async function startShiftAgainst(script: (call: number) => ScriptedResponse) {
  await stagedRecord(h.history, deploymentId, { executionId, service: 'orders-api', wave: 1, currentVersion: '3', targetVersion: '4' });
  let creates = 0;
  // ListDeploymentsOutput: `deployments`, a list of deployment ids (ListDeploymentsCommand.d.ts).
  const endpoint = await startFakeAwsEndpoint((_call, target) =>
    (target === LIST_DEPLOYMENTS ? { status: 200, body: { deployments: [] } } : script(++creates)));
  const codeDeploy = new CodeDeployClient({ ...CLIENT_CONFIG, region: 'us-east-1', endpoint: endpoint.url, credentials: fakeCredentials });
  try {
    const outcome = await h.switchTraffic({ codeDeploy })(pipelineJobEvent({ artifact: null, userParameters: switchParameters() }));
    return { outcome, calls: endpoint.calls.filter((c) => c.target !== LIST_DEPLOYMENTS) };
  } finally {
    codeDeploy.destroy();
    await endpoint.stop();
  }
}

const created: ScriptedResponse = { status: 200, body: { deploymentId: 'd-RETRIED' } };

describe('CodeDeploy throttling and 5xx', () => {
  test('throttling is retried with backoff and the traffic shift starts', async () => {
    const { outcome, calls } = await startShiftAgainst((call) => (call <= 2 ? throttled : created));
    expect(outcome).toEqual({ kind: 'continue', codeDeployDeploymentId: 'd-RETRIED' });
    expect(calls.map((c) => c.target)).toEqual(Array(3).fill('CodeDeploy_20141006.CreateDeployment'));
    expect(h.jobResults()).toEqual({ successes: [{ jobId: 'job-1', continuationToken: 'd-RETRIED' }], failures: [] });
    expect(await h.history.get(deploymentId)).toMatchObject({ state: 'SHIFTING', codeDeployDeploymentId: 'd-RETRIED' });
  });

  test('500 and 503 answers are retried and the traffic shift starts', async () => {
    const { outcome, calls } = await startShiftAgainst((call) => [internalError, unavailable][call - 1] ?? created);
    expect(outcome).toMatchObject({ kind: 'continue' });
    expect(calls).toHaveLength(3);
  });

  test('retries are bounded: after CLIENT_CONFIG.maxAttempts the job fails with CodeDeploy\'s message and history says FAILED', async () => {
    const { outcome, calls } = await startShiftAgainst(() => throttled);
    expect(CLIENT_CONFIG.maxAttempts).toBe(5);
    expect(calls).toHaveLength(5);
    expect(outcome).toMatchObject({ kind: 'failed', reason: 'Switch-Traffic failed: ThrottlingException: Rate exceeded', settled: { state: 'FAILED', changed: true } });
    expect(h.jobResults().failures).toEqual([{ jobId: 'job-1', failureDetails: expect.objectContaining({ message: 'Switch-Traffic failed: ThrottlingException: Rate exceeded' }) }]);
    expect(await h.history.get(deploymentId)).toMatchObject({ state: 'FAILED', failureReason: 'Switch-Traffic failed: ThrottlingException: Rate exceeded' });
  }, 60_000);
});

describe('Deploy-Blue faults', () => {
  const event = () => pipelineJobEvent({ userParameters: deployBlueParameters(executionId) });

  test('an artifact that is not a zip fails the job with Lambda\'s reason, records FAILED and publishes nothing', async () => {
    // A non-zip artifact answers InvalidParameterValueException (UpdateFunctionCodeCommand.d.ts @throws).
    // Deploy-Blue cannot re-zip it either, so it passes it on as built and Lambda judges it.
    artifacts.put('artifact-bucket', 'orders-api-pipeline/BuildOutpu/abc123', Buffer.from('<html>not a zip</html>'));
    h.mocks.lambda.on(UpdateFunctionCodeCommand).rejects(new InvalidParameterValueException({ message: 'Could not unzip uploaded file. Please check your file, then try to upload again.', Type: 'User', $metadata: { httpStatusCode: 400 } }));
    await h.deployBlue()(event());
    const message = 'Deploy-Blue failed: InvalidParameterValueException: Could not unzip uploaded file. Please check your file, then try to upload again.';
    expect(h.jobResults().failures[0].failureDetails?.message).toBe(message);
    expect(await h.history.get(deploymentId)).toMatchObject({ state: 'FAILED', failureReason: message });
    expect(h.mocks.lambda.commandCalls(PublishVersionCommand)).toHaveLength(0);
  });

  test('DynamoDB unavailable: the job still fails with a readable reason (never left hanging), and nothing is published without a claim', async () => {
    await h.deployBlue({ history: await unreachableHistory() })(event());
    const failures = h.jobResults().failures;
    expect(failures).toHaveLength(1);
    expect(failures[0].failureDetails?.message).toMatch(
      new RegExp(`^Deploy-Blue failed: could not claim deployment ${deploymentId} in the history table, so nothing was published: .*(ECONNREFUSED|connect)`));
    expect(h.jobResults().successes).toEqual([]);
    expect(h.mocks.lambda.commandCalls(UpdateFunctionCodeCommand)).toHaveLength(0);
    expect(h.mocks.lambda.commandCalls(PublishVersionCommand)).toHaveLength(0);
  }, 60_000);

  test('a build artifact that is gone (expired by the bucket\'s lifecycle) fails the job saying which', async () => {
    // A missing key answers NoSuchKey (GetObjectCommand.d.ts @throws).
    h.mocks.s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } }));
    await h.deployBlue()(pipelineJobEvent({ userParameters: deployBlueParameters(executionId, { bundleDirectory: 'services/orders/dist' }) }));
    expect(h.jobResults().failures[0].failureDetails?.message).toBe('Deploy-Blue failed: could not read the build artifact ' +
      's3://artifact-bucket/orders-api-pipeline/BuildOutpu/abc123: NoSuchKey: The specified key does not exist.');
    expect(h.mocks.lambda.commandCalls(UpdateFunctionCodeCommand)).toHaveLength(0);
    expect(await h.history.get(deploymentId)).toMatchObject({ state: 'FAILED' });
  });

  test('a job event without "data" fails the job and names the missing field', async () => {
    const broken = pipelineJobEvent({ userParameters: deployBlueParameters(executionId) }) as any;
    delete broken['CodePipeline.job'].data;
    await h.deployBlue()(broken);
    expect(h.jobResults().failures[0].failureDetails?.message).toBe('job job-1: "data" is missing');
    expect(h.mocks.lambda.calls()).toHaveLength(0);
  });

  test('a job event whose UserParameters are absent fails the job and says what is expected', async () => {
    const broken = pipelineJobEvent({ userParameters: deployBlueParameters(executionId) }) as any;
    delete broken['CodePipeline.job'].data.actionConfiguration;
    await h.deployBlue()(broken);
    expect(h.jobResults().failures[0].failureDetails?.message).toBe(
      'job job-1: UserParameters is missing; expected a JSON object with deploymentId, service, functionName, aliasName, wave');
  });
});

describe('Switch-Traffic faults', () => {
  test('DynamoDB unavailable: the job fails with a readable reason and no traffic shift starts without a record', async () => {
    const endpoint = await startFakeAwsEndpoint(() => created);
    const codeDeploy = new CodeDeployClient({ region: 'us-east-1', endpoint: endpoint.url, credentials: fakeCredentials });
    try {
      const outcome = await h.switchTraffic({ codeDeploy, history: await unreachableHistory() })(
        pipelineJobEvent({ artifact: null, userParameters: switchParameters() }));
      expect(outcome).toMatchObject({ kind: 'failed', reason: expect.stringMatching(/^Switch-Traffic failed: .*(ECONNREFUSED|connect)/) });
      expect(h.jobResults().failures).toHaveLength(1);
      expect(endpoint.calls).toHaveLength(0);
    } finally {
      codeDeploy.destroy();
      await endpoint.stop();
    }
  }, 60_000);

  test('a table without the byExecution index: the failure is still reported and announced, later waves stay as they are', async () => {
    // A real dynalite table with the key but no indexes: Query answers ValidationException.
    const tableName = `no-index-${executions}`;
    await fixture.doc.send(new CreateTableCommand({
      TableName: tableName,
      KeySchema: [{ AttributeName: 'deploymentId', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'deploymentId', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }));
    const history = new DeploymentHistoryStore(fixture.doc, tableName);
    await shiftingRecord(history, deploymentId, { executionId, service: 'orders-api', wave: 1, currentVersion: '3', targetVersion: '4', codeDeployDeploymentId: 'd-1' });
    await stagedRecord(history, `${executionId}/billing`, { executionId, service: 'billing', wave: 2, currentVersion: '1', targetVersion: '2' });
    h.mocks.codeDeploy.on(GetDeploymentCommand).resolves({ deploymentInfo: deploymentInfo({ deploymentId: 'd-1', status: 'Failed', errorInformation: { code: 'HEALTH_CONSTRAINTS', message: 'failed' } }) });
    const outcome = await h.switchTraffic({ history })(
      pipelineJobEvent({ jobId: 'job-2', artifact: null, userParameters: switchParameters(), continuationToken: 'd-1' }));
    expect(outcome).toMatchObject({ kind: 'failed', reason: 'CodeDeploy deployment d-1 failed: HEALTH_CONSTRAINTS: failed' });
    expect(h.jobResults().failures).toHaveLength(1);
    expect(h.announced()).toEqual(['FAILED']);
    expect(await history.get(`${executionId}/billing`)).toMatchObject({ state: 'STAGED' });
  });

  test('SNS failing does not lose the result: the job succeeds and history says SUCCEEDED', async () => {
    await shiftingRecord(h.history, deploymentId, { executionId, service: 'orders-api', wave: 1, currentVersion: '3', targetVersion: '4', codeDeployDeploymentId: 'd-1' });
    h.mocks.sns.reset();
    // Publish's server fault is InternalErrorException (PublishCommand.d.ts @throws).
    h.mocks.sns.on(PublishCommand).rejects(new InternalErrorException({ message: 'Topic is being deleted', $metadata: { httpStatusCode: 500 } }));
    h.mocks.codeDeploy.on(GetDeploymentCommand).resolves({ deploymentInfo: deploymentInfo({ deploymentId: 'd-1', status: 'Succeeded' }) });
    const outcome = await h.switchTraffic()(
      pipelineJobEvent({ jobId: 'job-2', artifact: null, userParameters: switchParameters(), continuationToken: 'd-1' }));
    expect(outcome).toMatchObject({ kind: 'succeeded' });
    expect(h.jobResults()).toEqual({ successes: [{ jobId: 'job-2' }], failures: [] });
    expect(await h.history.get(deploymentId)).toMatchObject({ state: 'SUCCEEDED' });
    expect(h.mocks.sns.commandCalls(PublishCommand)).toHaveLength(1);
  });
});
