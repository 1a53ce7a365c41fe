import { CodeDeployClient, CreateDeploymentCommand, GetDeploymentCommand, ListDeploymentsCommand } from '@aws-sdk/client-codedeploy';
import { GetAliasCommand, LambdaClient, ListAliasesCommand, ListVersionsByFunctionCommand } from '@aws-sdk/client-lambda';
import { AssumeRoleCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { SwitchTrafficParameters } from '../../src/contract/handler-contract';
import { createSwitchTrafficHandler } from '../../src/handlers/switch-traffic.lambda';
import { switchTrafficParameters } from '../helpers/action-parameters';
import { HistoryTableFixture, startHistoryTable } from '../helpers/dynalite-history-table';
import { aliasAnswer, deploymentInfo, functionConfiguration, handlerHarness, stagedRecord } from '../helpers/handler-harness';
import { pipelineJobEvent } from '../helpers/pipeline-job-event';
import { DEPLOYER_ROLE_ARN, PIPELINE_ARN, TARGET_ACCOUNT, TOOLING_ACCOUNT, toolingContext } from '../helpers/target-fixture';

// Switch-Traffic of an environment in another account and region: CodeDeploy and Lambda through the
// deployer role's session (class mocks answer the clients it builds), history, SNS and CodePipeline
// on the handler's own clients (the harness's instance mocks). STS answers as AssumeRoleCommand.d.ts documents.
const TOOLING = TOOLING_ACCOUNT;
const TARGET = TARGET_ACCOUNT;
const ROLE_ARN = DEPLOYER_ROLE_ARN;
const CONTEXT = toolingContext('switch-traffic', 120_000);
const SECRET = { accessKeyId: 'ASIA-SWITCH-TEST', secretAccessKey: 'switch-secret-access-key', sessionToken: 'switch-session-token' };

// The harness's instance mocks can be re-stubbed only while the prototypes are not: each test restores, resets, then mocks.
let sts = mockClient(STSClient);
let targetLambda = mockClient(LambdaClient);
let targetCodeDeploy = mockClient(CodeDeployClient);
const restoreClassMocks = () => [sts, targetLambda, targetCodeDeploy].forEach((m) => m.restore());
afterAll(restoreClassMocks);

let fixture: HistoryTableFixture;
let h: ReturnType<typeof handlerHarness>;
let handler: ReturnType<typeof createSwitchTrafficHandler>;
let executions = 0;
let executionId: string;
let deploymentId: string;

beforeAll(async () => {
  fixture = await startHistoryTable();
  h = handlerHarness(fixture);
  handler = h.switchTraffic({ pipelineArn: PIPELINE_ARN, region: 'us-east-1' });
});
afterAll(() => fixture.stop());

beforeEach(async () => {
  restoreClassMocks();
  h.reset();
  sts = mockClient(STSClient);
  targetLambda = mockClient(LambdaClient);
  targetCodeDeploy = mockClient(CodeDeployClient);
  executionId = `exec-${++executions}`;
  deploymentId = `${executionId}/orders-api`;
  // As Deploy-Blue of the target leaves it: STAGED, in the target's account and region.
  await stagedRecord(h.history, deploymentId, {
    executionId,
    service: 'orders-api',
    wave: 1,
    environment: 'staging',
    functionName: 'orders-api-staging',
    currentVersion: '3',
    targetVersion: '4',
    account: TARGET,
    region: 'eu-west-1',
  });
  // AssumeRoleResponse (AssumeRoleCommand.d.ts): Credentials (all four required), AssumedRoleUser.
  sts.on(AssumeRoleCommand).resolves({
    Credentials: { AccessKeyId: 'ASIATARGET', SecretAccessKey: 'target-secret', SessionToken: 'target-token', Expiration: new Date(Date.now() + 3_600_000) },
    AssumedRoleUser: { Arn: `arn:aws:sts::${TARGET}:assumed-role/orders-pipeline-deployer-staging/switch-traffic-${executionId}`, AssumedRoleId: 'AROAEXAMPLE:x' },
  });
  // GetAlias (GetAliasCommand.d.ts example); ListDeployments answers no active deployment; CreateDeployment its id.
  targetLambda.on(GetAliasCommand).resolves(aliasAnswer('3', undefined, 'live', 'orders-api-staging'));
  targetCodeDeploy.on(ListDeploymentsCommand).resolves({ deployments: [] });
  targetCodeDeploy.on(CreateDeploymentCommand).resolves({ deploymentId: 'd-TARGET1' });
});

const parameters = (overrides: Partial<SwitchTrafficParameters> = {}) => switchTrafficParameters(executionId, {
  environment: 'staging',
  functionName: 'orders-api-staging',
  deploymentGroupName: 'orders-api-live-staging',
  deployerRoleArn: ROLE_ARN,
  region: 'eu-west-1',
  ...overrides,
});
const event = (jobId = 'job-1', continuationToken?: string) => pipelineJobEvent({
  jobId, artifact: null, userParameters: parameters(), artifactCredentials: SECRET, ...(continuationToken ? { continuationToken } : {}),
});

test('starts and follows the shift in the target with the deployer\'s CodeDeploy and Lambda; history and the job stay central', async () => {
  await handler(event(), CONTEXT);

  expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input)).toContainEqual({
    RoleArn: ROLE_ARN, ExternalId: PIPELINE_ARN, RoleSessionName: `switch-traffic-${executionId}`,
  });
  // The target's application has the pipeline's name (CODEDEPLOY_APPLICATION_NAME), in the target's region.
  const created = targetCodeDeploy.commandCalls(CreateDeploymentCommand);
  expect(created.map((c) => c.args[0].input)).toEqual([expect.objectContaining({ applicationName: 'orders-api-dev', deploymentGroupName: 'orders-api-live-staging' })]);
  expect(await created[0].thisValue.config.region()).toBe('eu-west-1');
  expect(targetLambda.commandCalls(GetAliasCommand)[0].args[0].input).toEqual({ FunctionName: 'orders-api-staging', Name: 'live' });
  expect(h.mocks.codeDeploy.calls()).toHaveLength(0);
  expect(h.mocks.lambda.calls()).toHaveLength(0);
  expect(h.jobResults().successes).toEqual([{ jobId: 'job-1', continuationToken: 'd-TARGET1' }]);
  expect(await h.history.get(deploymentId)).toMatchObject({ state: 'SHIFTING', codeDeployDeploymentId: 'd-TARGET1', account: TARGET, region: 'eu-west-1' });
  expect(h.messages().map((m) => m.subject)).toEqual([`[orders-api (${TARGET} eu-west-1)] shifting traffic 3 -> 4`]);

  // The next poll asks the target's CodeDeploy; the success is counted with where it ran.
  targetCodeDeploy.on(GetDeploymentCommand).resolves({ deploymentInfo: deploymentInfo({ deploymentId: 'd-TARGET1', status: 'Succeeded' }) });
  targetLambda.on(ListVersionsByFunctionCommand).resolves({ Versions: ['$LATEST', '3', '4'].map((version) => functionConfiguration({ version })) });
  targetLambda.on(ListAliasesCommand).resolves({ Aliases: [aliasAnswer('4')] });
  await handler(event('job-2', 'd-TARGET1'), CONTEXT);
  expect(targetCodeDeploy.commandCalls(GetDeploymentCommand)).toHaveLength(1);
  expect((await h.history.get(deploymentId))?.state).toBe('SUCCEEDED');
  expect(h.metrics().map((m) => [m.Outcome, m.Account, m.Region])).toEqual([['Succeeded', TARGET, 'eu-west-1']]);
  const succeeded = h.mocks.sns.calls().map((c) => (c.args[0] as any).input.MessageAttributes).find((a) => a.event.StringValue === 'SUCCEEDED');
  expect(succeeded).toMatchObject({ account: { StringValue: TARGET }, region: { StringValue: 'eu-west-1' } });
  expect(h.mocks.codeDeploy.calls()).toHaveLength(0);
});

test('two deliveries of one job at once start one deployment in the target', async () => {
  await Promise.all([handler(event(), CONTEXT), handler(event(), CONTEXT)]);
  expect(targetCodeDeploy.commandCalls(CreateDeploymentCommand)).toHaveLength(1);
  expect((await h.history.get(deploymentId))?.state).toBe('SHIFTING');
});

test('a denied AssumeRole fails the job readably, releases the start as FAILED and announces it, without the ListDeployments hint', async () => {
  sts.on(AssumeRoleCommand).rejects(new STSServiceException({
    name: 'AccessDenied',
    $fault: 'client',
    $metadata: { httpStatusCode: 403 },
    message: `User: arn:aws:sts::${TOOLING}:assumed-role/orders-pipeline-switch-traffic/x is not authorized to perform: sts:AssumeRole on resource: ${ROLE_ARN}`,
  }));
  await handler(event(), CONTEXT);

  const message = h.jobResults().failures[0].failureDetails?.message ?? '';
  expect(message).toMatch(/^Switch-Traffic failed: could not assume deployer role /);
  expect(message).toContain(`to deploy to staging (account ${TARGET}, region eu-west-1)`);
  expect(message).toContain(`external id ${PIPELINE_ARN}`);
  expect(message).not.toContain('codedeploy:ListDeployments');
  expect(targetCodeDeploy.calls()).toHaveLength(0);
  expect(targetLambda.calls()).toHaveLength(0);
  expect(await h.history.get(deploymentId)).toMatchObject({ state: 'FAILED', failureReason: message });
  expect(h.announced()).toEqual(['FAILED']);
  const everything = JSON.stringify([h.jobResults(), h.mocks.sns.calls().map((c) => c.args[0].input), h.logs()]);
  for (const secret of Object.values(SECRET)) expect(everything).not.toContain(secret);
});
