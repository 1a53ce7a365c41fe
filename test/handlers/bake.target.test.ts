import { CloudWatchClient, DescribeAlarmsCommand, DescribeAlarmsCommandInput } from '@aws-sdk/client-cloudwatch';
import { CodeDeployClient, GetDeploymentGroupCommand, GetDeploymentGroupCommandInput } from '@aws-sdk/client-codedeploy';
import { AssumeRoleCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { createBakeHandler } from '../../src/handlers/bake.lambda';
import { DeploymentHistoryStore } from '../../src/runtime/deployment-history-store';
import { historyKey } from '../../src/runtime/service-parameters';
import { bakeParameters } from '../helpers/action-parameters';
import { HistoryTableFixture, startHistoryTable } from '../helpers/dynalite-history-table';
import { handlerHarness, stagedRecord } from '../helpers/handler-harness';
import { pipelineJobEvent } from '../helpers/pipeline-job-event';
import { DEPLOYER_ROLE_ARN, PIPELINE_ARN, TARGET_ACCOUNT, TOOLING_ACCOUNT, toolingContext } from '../helpers/target-fixture';

// Bake of an environment in another account and region: the deployment group's alarms are read, and a
// rollback would be created, through the deployer role's session (class mocks answer the clients it
// builds); history, SNS and CodePipeline stay on the handler's own clients (the harness's instance mocks).
const TOOLING = TOOLING_ACCOUNT;
const TARGET = TARGET_ACCOUNT;
const ROLE_ARN = DEPLOYER_ROLE_ARN;
const CONTEXT = toolingContext('bake', 120_000);
const SECRET = { accessKeyId: 'ASIA-BAKE-TARGET', secretAccessKey: 'bake-target-secret-access-key', sessionToken: 'bake-target-session-token' };

// The harness's instance mocks can be re-stubbed only while the prototypes are not: each test restores, resets, then mocks.
let sts = mockClient(STSClient);
let targetCodeDeploy = mockClient(CodeDeployClient);
let targetCloudWatch = mockClient(CloudWatchClient);
const restoreClassMocks = () => [sts, targetCodeDeploy, targetCloudWatch].forEach((m) => m.restore());
afterAll(restoreClassMocks);

let fixture: HistoryTableFixture;
let h: ReturnType<typeof handlerHarness>;
let history: DeploymentHistoryStore;
let handler: ReturnType<typeof createBakeHandler>;
let clockMs = Date.parse('2026-12-06T10:00:00Z');
const clock = () => new Date(clockMs);
let executions = 0;
let executionId: string;
let deploymentId: string;

beforeAll(async () => {
  fixture = await startHistoryTable();
  h = handlerHarness(fixture);
  history = new DeploymentHistoryStore(fixture.doc, fixture.tableName, clock);
  handler = h.bake({ history, now: clock, pipelineArn: PIPELINE_ARN, region: 'us-east-1' });
});
afterAll(() => fixture.stop());

beforeEach(async () => {
  restoreClassMocks();
  h.reset();
  sts = mockClient(STSClient);
  targetCodeDeploy = mockClient(CodeDeployClient);
  targetCloudWatch = mockClient(CloudWatchClient);
  clockMs += 24 * 3_600_000;
  executionId = `exec-${++executions}`;
  deploymentId = historyKey(executionId, 'orders-api', 'staging');
  // As Switch-Traffic of the target leaves it: SUCCEEDED, in the target's account and region.
  await stagedRecord(history, deploymentId, {
    executionId,
    service: 'orders-api',
    wave: 1,
    environment: 'staging',
    functionName: 'orders-api-staging',
    aliasName: 'live',
    currentVersion: '3',
    targetVersion: '4',
    account: TARGET,
    region: 'eu-west-1',
  });
  const jobId = `switch-${deploymentId}`;
  await history.claim(deploymentId, { state: 'STARTING', jobId, jobSet: 'switchTrafficJobIds', from: ['STAGED'], holdMs: 120_000 });
  await history.transition(deploymentId, 'SHIFTING', { codeDeployDeploymentId: 'd-SHIFT' }, { claimJobId: jobId });
  await history.transition(deploymentId, 'SUCCEEDED', {}, { from: ['SHIFTING'] });
  clockMs += 60_000;
  // AssumeRoleResponse (AssumeRoleCommand.d.ts): Credentials (all four required), AssumedRoleUser.
  sts.on(AssumeRoleCommand).resolves({
    Credentials: { AccessKeyId: 'ASIATARGET', SecretAccessKey: 'target-secret', SessionToken: 'target-token', Expiration: new Date(Date.now() + 3_600_000) },
    AssumedRoleUser: { Arn: `arn:aws:sts::${TARGET}:assumed-role/orders-pipeline-deployer-staging/bake-${executionId}`, AssumedRoleId: 'AROAEXAMPLE:x' },
  });
  // GetDeploymentGroup (deploymentGroupInfo, GetDeploymentGroupCommand.d.ts) names the group's alarm;
  // DescribeAlarms answers it OK (MetricAlarm in DescribeAlarmsCommand.d.ts, metric math: no MetricName).
  targetCodeDeploy.on(GetDeploymentGroupCommand).callsFake(async (input: GetDeploymentGroupCommandInput) => ({
    deploymentGroupInfo: {
      applicationName: input.applicationName,
      deploymentGroupName: input.deploymentGroupName,
      computePlatform: 'Lambda',
      alarmConfiguration: { enabled: true, ignorePollAlarmFailure: false, alarms: [{ name: 'orders-api-error-rate-staging' }] },
    },
  }));
  targetCloudWatch.on(DescribeAlarmsCommand).callsFake(async (input: DescribeAlarmsCommandInput) => ({
    MetricAlarms: (input.AlarmNames ?? []).map((name) => ({
      AlarmName: name,
      AlarmArn: `arn:aws:cloudwatch:eu-west-1:${TARGET}:alarm:${name}`,
      StateValue: 'OK' as const,
      Metrics: [{ Id: 'rate', Expression: 'IF(invocations > 0, 100 * errors / invocations, 0)', ReturnData: true }],
    })),
    CompositeAlarms: [],
  }));
});

const event = () => pipelineJobEvent({
  jobId: 'job-1',
  artifact: null,
  artifactCredentials: SECRET,
  userParameters: bakeParameters(executionId, { deployerRoleArn: ROLE_ARN, region: 'eu-west-1' }, 'staging'),
});

test('watches the target\'s alarms as the deployer, with a session named after the handler and execution', async () => {
  await expect(handler(event(), CONTEXT)).resolves.toEqual({ kind: 'continue', continuationToken: 'bake:job-1' });
  expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input)).toContainEqual({
    RoleArn: ROLE_ARN, ExternalId: PIPELINE_ARN, RoleSessionName: `bake-${executionId}`,
  });
  expect(targetCodeDeploy.commandCalls(GetDeploymentGroupCommand)).toHaveLength(1);
  expect(await targetCloudWatch.commandCalls(DescribeAlarmsCommand)[0].thisValue.config.region()).toBe('eu-west-1');
  expect(h.mocks.codeDeploy.calls()).toHaveLength(0);
  expect(h.mocks.cloudWatch.calls()).toHaveLength(0);
  expect(h.jobResults().successes).toEqual([{ jobId: 'job-1', continuationToken: 'bake:job-1' }]);
});

test('a denied AssumeRole fails the job readably before any alarm is read, and the job\'s credentials go nowhere', async () => {
  sts.on(AssumeRoleCommand).rejects(new STSServiceException({
    name: 'AccessDenied',
    $fault: 'client',
    $metadata: { httpStatusCode: 403 },
    message: `User: arn:aws:sts::${TOOLING}:assumed-role/orders-pipeline-bake/x is not authorized to perform: sts:AssumeRole on resource: ${ROLE_ARN}`,
  }));
  await expect(handler(event(), CONTEXT)).resolves.toMatchObject({ kind: 'failed' });
  const message = h.jobResults().failures[0].failureDetails?.message ?? '';
  expect(message).toMatch(/^Bake failed: could not assume deployer role /);
  expect(message).toContain(`to deploy to staging (account ${TARGET}, region eu-west-1)`);
  expect(targetCodeDeploy.calls()).toHaveLength(0);
  expect(targetCloudWatch.calls()).toHaveLength(0);
  // A permission error is no transient one: the job fails instead of polling on; no rollback was started.
  expect((await history.get(deploymentId))?.bakeState).toBe('BAKING');
  const everything = JSON.stringify([h.jobResults(), h.mocks.sns.calls().map((c) => c.args[0].input), h.logs()]);
  for (const secret of Object.values(SECRET)) expect(everything).not.toContain(secret);
});
