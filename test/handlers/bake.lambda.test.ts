import {
  CloudWatchServiceException,
  CompositeAlarm,
  DescribeAlarmsCommand,
  DescribeAlarmsCommandInput,
  GetMetricDataCommand,
  GetMetricDataCommandInput,
  InternalServiceFault,
  MetricAlarm,
  StateValue,
} from '@aws-sdk/client-cloudwatch';
import {
  CodeDeployServiceException,
  CreateDeploymentCommand,
  CreateDeploymentCommandInput,
  DeploymentDoesNotExistException,
  DeploymentLimitExceededException,
  DeploymentStatus,
  GetDeploymentCommand,
  GetDeploymentCommandInput,
  GetDeploymentGroupCommand,
  GetDeploymentGroupCommandInput,
  DeploymentGroupInfo,
  InvalidRoleException,
  ListDeploymentsCommand,
  ListDeploymentsCommandInput,
  ThrottlingException,
} from '@aws-sdk/client-codedeploy';
import { ThrottlingException as DynamoDBThrottlingException } from '@aws-sdk/client-dynamodb';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { BakeParameters } from '../../src/contract/handler-contract';
import { createBakeHandler } from '../../src/handlers/bake.lambda';
import { DeploymentHistoryStore } from '../../src/runtime/deployment-history-store';
import { historyKey } from '../../src/runtime/service-parameters';
import { bakeParameters } from '../helpers/action-parameters';
import { HistoryTableFixture, startHistoryTable } from '../helpers/dynalite-history-table';
import { ACCOUNT, deploymentInfo, handlerHarness, REGION, stagedRecord } from '../helpers/handler-harness';
import { pipelineJobEvent } from '../helpers/pipeline-job-event';

let fixture: HistoryTableFixture;
let h: ReturnType<typeof handlerHarness>;
/** The tests' clock: the history store and the handler read it, the tests move it. */
let clockMs = Date.parse('2026-12-06T10:00:00Z');
const clock = () => new Date(clockMs);
const advance = (ms: number) => { clockMs += ms; };
const MINUTE = 60_000;
/** The bake waits this long past its time for Lambda's late metrics and the alarms on them. */
const SETTLE = 3 * MINUTE;
let history: DeploymentHistoryStore;
let handler: ReturnType<typeof createBakeHandler>;
let executions = 0;
/** The pipeline execution whose bake the test watches. */
let executionId: string;
/** Its orders-api item in staging. */
let deploymentId: string;

const SECRET = { accessKeyId: 'ASIA-BAKE-TEST', secretAccessKey: 'bake-secret-access-key', sessionToken: 'bake-session-token' };

/** The UserParameters of a Bake action of this test's execution. */
const parameters = (overrides: Partial<BakeParameters> = {}, environment = 'staging') => bakeParameters(executionId, {
  beforeAllowTrafficHook: 'orders-api-smoke-test-staging', ...overrides,
}, environment);
/** A first delivery of a Bake job (no continuation token). */
const first = (jobId = 'job-1', overrides: Partial<BakeParameters> = {}, environment = 'staging') =>
  handler(pipelineJobEvent({ jobId, artifact: null, userParameters: parameters(overrides, environment), artifactCredentials: SECRET }));
/** A continuation job of the bake `holder` holds. */
const poll = (jobId: string, holder = 'job-1', overrides: Partial<BakeParameters> = {}, environment = 'staging') =>
  handler(pipelineJobEvent({ jobId, artifact: null, userParameters: parameters(overrides, environment), continuationToken: `bake:${holder}`, artifactCredentials: SECRET }));

const paymentsOverrides: Partial<BakeParameters> = { service: 'payments', functionName: 'payments-staging', deploymentGroupName: 'payments-live-staging' };

/**
 * An item as Deploy-Blue and Switch-Traffic leave it for `service` in `environment` of this
 * execution: SUCCEEDED from current to target, or SKIPPED (its version was live already).
 */
async function released(options: {
  service?: string;
  environment?: string;
  currentVersion?: string;
  targetVersion?: string;
  state?: 'SUCCEEDED' | 'SKIPPED' | 'SHIFTING';
  execution?: string;
} = {}) {
  const service = options.service ?? 'orders-api';
  const environment = options.environment ?? 'staging';
  const execution = options.execution ?? executionId;
  const key = historyKey(execution, service, environment);
  const currentVersion = options.currentVersion ?? '3';
  const targetVersion = options.targetVersion ?? (options.state === 'SKIPPED' ? currentVersion : '4');
  await stagedRecord(history, key, {
    executionId: execution, service, wave: 1, environment, functionName: `${service}-${environment}`, aliasName: 'live', currentVersion, targetVersion,
  });
  const jobId = `switch-${key}`;
  await history.claim(key, { state: 'STARTING', jobId, jobSet: 'switchTrafficJobIds', from: ['STAGED'], holdMs: 120_000 });
  if (options.state === 'SKIPPED') {
    await history.transition(key, 'SKIPPED', {}, { claimJobId: jobId });
  } else {
    await history.transition(key, 'SHIFTING', { codeDeployDeploymentId: `d-SHIFT-${service}-${environment}` }, { claimJobId: jobId });
    if (options.state !== 'SHIFTING') await history.transition(key, 'SUCCEEDED', {}, { from: ['SHIFTING'] });
  }
  return key;
}

/** Each alarm's state, as CloudWatch keeps it; every deployment group watches `<service>-error-rate-<environment>`. */
const alarmStates = new Map<string, StateValue>();
const alarmOf = (group: string) => group.replace('-live-', '-error-rate-');
/** Invocations CloudWatch has for each alias (`<function>:live`) in any window asked for. */
const invocations = new Map<string, number>();
/** Each CodeDeploy deployment's status; each group's one active deployment. */
const deployments = new Map<string, DeploymentStatus>();
const active = new Map<string, string>();
/** What CreateDeployment was given for each deployment: its group and description. */
const created = new Map<string, { group: string; description?: string }>();
let nextDeploymentIds: string[];
/** Runs when CreateDeployment is called, before it answers. */
let beforeCreate: (input: CreateDeploymentCommandInput) => Promise<void>;
/** An error the named AWS call answers once, instead of its answer. */
const failOnce = new Map<'GetDeploymentGroup' | 'DescribeAlarms' | 'GetMetricData', Error>();
function throwIfFailing(call: 'GetDeploymentGroup' | 'DescribeAlarms' | 'GetMetricData') {
  const error = failOnce.get(call);
  failOnce.delete(call);
  if (error) throw error;
}
/** What the history item said when the first AWS call of an invocation came. */
let bakeStateAtFirstCall: Array<string | undefined>;

/**
 * GetDeploymentGroup's answer (deploymentGroupInfo in GetDeploymentGroupCommand.d.ts) for a Lambda
 * group as the construct makes it: its alarm in alarmConfiguration, auto-rollback on failure and alarm.
 */
function deploymentGroupInfo(group: string): DeploymentGroupInfo {
  return {
    applicationName: 'orders-api-dev',
    deploymentGroupId: '0fe1c3a2-0000-4000-8000-000000000001',
    deploymentGroupName: group,
    deploymentConfigName: 'CodeDeployDefault.LambdaLinear10PercentEvery10Minutes',
    serviceRoleArn: `arn:aws:iam::${ACCOUNT}:role/orders-api-codedeploy`,
    alarmConfiguration: { enabled: true, ignorePollAlarmFailure: false, alarms: [{ name: alarmOf(group) }] },
    autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_ALARM'] },
    deploymentStyle: { deploymentType: 'BLUE_GREEN', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
    computePlatform: 'Lambda',
  };
}

/**
 * A metric alarm as DescribeAlarms answers it (MetricAlarm in DescribeAlarmsCommand.d.ts): the
 * error-rate alarm is metric math, so it has Metrics and no MetricName/Namespace of its own.
 */
function metricAlarm(name: string, state: StateValue): MetricAlarm {
  return {
    AlarmName: name,
    AlarmArn: `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${name}`,
    ActionsEnabled: true,
    OKActions: [],
    AlarmActions: [`arn:aws:sns:${REGION}:${ACCOUNT}:orders-api-deployments-dev`],
    InsufficientDataActions: [],
    StateValue: state,
    StateReason: state === 'ALARM' ? 'Threshold Crossed: 2 out of the last 2 datapoints were greater than the threshold (5.0).' : 'Threshold Crossed: no datapoints were greater than the threshold (5.0).',
    StateUpdatedTimestamp: new Date('2026-12-06T10:00:00Z'),
    EvaluationPeriods: 2,
    DatapointsToAlarm: 2,
    Threshold: 5,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'notBreaching',
    Metrics: [{ Id: 'rate', Expression: 'IF(invocations > 0, 100 * errors / invocations, 0)', ReturnData: true }],
    StateTransitionedTimestamp: new Date('2026-12-06T10:00:00Z'),
  };
}

beforeAll(async () => {
  fixture = await startHistoryTable();
  h = handlerHarness(fixture);
  history = new DeploymentHistoryStore(fixture.doc, fixture.tableName, clock);
  handler = h.bake({ history, now: clock });
});
afterAll(() => fixture.stop());

beforeEach(async () => {
  h.reset();
  advance(24 * 60 * MINUTE);
  executionId = `exec-${++executions}`;
  deploymentId = await released();
  advance(MINUTE);
  alarmStates.clear();
  invocations.clear();
  deployments.clear();
  active.clear();
  created.clear();
  failOnce.clear();
  nextDeploymentIds = ['d-ROLLBACK', 'd-ROLLBACK-2'];
  beforeCreate = async () => {};
  bakeStateAtFirstCall = [];
  for (const group of ['orders-api-live-staging', 'payments-live-staging', 'billing-live-staging', 'orders-api-live-dev']) alarmStates.set(alarmOf(group), 'OK');
  answerAws();
});

/** The harness' reset, then AWS's answers again. */
function reset() {
  h.reset();
  answerAws();
}

/** AWS as these tests know it: alarms, metrics and deployments from the maps above. */
function answerAws() {
  h.mocks.codeDeploy.on(GetDeploymentGroupCommand).callsFake(async (input: GetDeploymentGroupCommandInput) => {
    bakeStateAtFirstCall.push((await history.get(deploymentId))?.bakeState);
    throwIfFailing('GetDeploymentGroup');
    return { deploymentGroupInfo: deploymentGroupInfo(input.deploymentGroupName!) };
  });
  // DescribeAlarms answers the named alarms that exist; without AlarmTypes, metric alarms only
  // (DescribeAlarmsInput.AlarmTypes in the CloudWatch model).
  h.mocks.cloudWatch.on(DescribeAlarmsCommand).callsFake(async (input: DescribeAlarmsCommandInput) => {
    throwIfFailing('DescribeAlarms');
    const names = (input.AlarmNames ?? []).filter((name) => alarmStates.has(name));
    const types = input.AlarmTypes ?? ['MetricAlarm'];
    return {
      ...(types.includes('MetricAlarm') ? { MetricAlarms: names.map((name) => metricAlarm(name, alarmStates.get(name)!)) } : {}),
      ...(types.includes('CompositeAlarm') ? { CompositeAlarms: [] as CompositeAlarm[] } : {}),
    };
  });
  // GetMetricData answers one MetricDataResult per query, echoing its Id, with the data points
  // found: none at all when Lambda published no Invocations (GetMetricDataCommand.d.ts).
  h.mocks.cloudWatch.on(GetMetricDataCommand).callsFake(async (input: GetMetricDataCommandInput) => (throwIfFailing('GetMetricData'), {
    MetricDataResults: input.MetricDataQueries!.map((query) => {
      const resource = query.MetricStat?.Metric?.Dimensions?.find((d) => d.Name === 'Resource')?.Value ?? '';
      const count = invocations.get(resource) ?? 0;
      return {
        Id: query.Id,
        Label: 'Invocations',
        StatusCode: 'Complete' as const,
        Timestamps: count > 0 ? [input.StartTime!] : [],
        Values: count > 0 ? [count] : [],
        Messages: [],
      };
    }),
    Messages: [],
  }));
  // CreateDeployment answers { deploymentId }; a second active deployment in the group answers
  // DeploymentLimitExceededException (CreateDeploymentCommand.d.ts @throws).
  h.mocks.codeDeploy.on(CreateDeploymentCommand).callsFake(async (input: CreateDeploymentCommandInput) => {
    await beforeCreate(input);
    const group = input.deploymentGroupName!;
    if (active.has(group)) {
      throw new DeploymentLimitExceededException({
        message: `The Deployment Group '${group}' already has an active Deployment '${active.get(group)}'`, $metadata: { httpStatusCode: 400 },
      });
    }
    const id = nextDeploymentIds.shift() ?? `d-${group.toUpperCase()}`;
    startDeployment(group, id, input.description);
    return { deploymentId: id };
  });
  // GetDeployment answers deploymentInfo with the group and the description it was created with
  // (DeploymentInfo in GetDeploymentCommand.d.ts); an unknown id, DeploymentDoesNotExistException (@throws).
  h.mocks.codeDeploy.on(GetDeploymentCommand).callsFake(async (input: GetDeploymentCommandInput) => {
    const status = deployments.get(input.deploymentId!);
    if (!status) {
      throw new DeploymentDoesNotExistException({ message: `Deployment ${input.deploymentId} does not exist`, $metadata: { httpStatusCode: 400 } });
    }
    const { group, description } = created.get(input.deploymentId!) ?? { group: 'orders-api-live-staging' };
    return {
      deploymentInfo: {
        ...deploymentInfo({ deploymentId: input.deploymentId!, status, deploymentConfigName: 'CodeDeployDefault.LambdaAllAtOnce' }),
        deploymentGroupName: group,
        ...(description !== undefined ? { description } : {}),
      },
    };
  });
  // ListDeployments answers the ids of the group's deployments in the statuses asked for (deployments in
  // ListDeploymentsCommand.d.ts); CodeDeploy runs one active deployment per group.
  h.mocks.codeDeploy.on(ListDeploymentsCommand).callsFake(async (input: ListDeploymentsCommandInput) => ({
    deployments: [...created].filter(([id, c]) => c.group === input.deploymentGroupName
      && (!input.includeOnlyStatuses || input.includeOnlyStatuses.includes(deployments.get(id)!))).map(([id]) => id),
  }));
}

/** CodeDeploy starts a deployment in a group: it holds the group until it ends. */
function startDeployment(group: string, id: string, description?: string) {
  active.set(group, id);
  deployments.set(id, 'InProgress');
  created.set(id, { group, description });
}

/** CodeDeploy ends a deployment: the group is free again. */
function deploymentEnds(id: string, status: DeploymentStatus) {
  deployments.set(id, status);
  for (const [group, activeId] of active) if (activeId === id) active.delete(group);
}

const record = (key = deploymentId) => history.get(key);
const creates = () => h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand).map((c) => c.args[0].input);
const failureMessages = () => h.jobResults().failures.map((f) => f.failureDetails?.message);
const ALARM_NAME = 'orders-api-error-rate-staging';

describe('watching', () => {
  test('the first delivery claims the bake before any AWS call, and continues with a token naming its job', async () => {
    await expect(first('job-1')).resolves.toEqual({ kind: 'continue', continuationToken: 'bake:job-1' });
    expect(bakeStateAtFirstCall).toEqual(['BAKING']);
    expect(await record()).toMatchObject({
      state: 'SUCCEEDED', bakeState: 'BAKING', bakeStartedAt: clock().toISOString(), bakeJobId: 'job-1', bakeJobIds: new Set(['job-1']),
    });
    expect(h.jobResults()).toEqual({ successes: [{ jobId: 'job-1', continuationToken: 'bake:job-1' }], failures: [] });
    expect(h.mocks.codeDeploy.commandCalls(GetDeploymentGroupCommand)[0].args[0].input)
      .toEqual({ applicationName: 'orders-api-dev', deploymentGroupName: 'orders-api-live-staging' });
    expect(h.mocks.cloudWatch.commandCalls(DescribeAlarmsCommand)[0].args[0].input)
      .toMatchObject({ AlarmNames: [ALARM_NAME], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] });
    expect(creates()).toEqual([]);
  });

  test('polls go on while the bake time lasts and the alarms are OK', async () => {
    await first('job-1');
    advance(29 * MINUTE);
    await expect(poll('job-2')).resolves.toEqual({ kind: 'continue', continuationToken: 'bake:job-1' });
    expect(h.jobResults().successes).toContainEqual({ jobId: 'job-2', continuationToken: 'bake:job-1' });
    expect((await record())?.bakeState).toBe('BAKING');
  });

  test('past the bake time the alarms are still watched for 3 minutes (Lambda emits metrics late): an alarm then still rolls back', async () => {
    await first('job-1');
    advance(30 * MINUTE);
    await expect(poll('job-2')).resolves.toEqual({ kind: 'continue', continuationToken: 'bake:job-1' });
    advance(SETTLE - MINUTE);
    alarmStates.set(ALARM_NAME, 'ALARM');
    await expect(poll('job-3')).resolves.toEqual({ kind: 'continue', continuationToken: 'bake:job-1' });
    expect((await record())?.bakeState).toBe('ROLLING_BACK');
    expect(creates()).toHaveLength(1);
  });

  test('when the bake time is over with alarms OK it passes, once; a duplicate and a retry succeed again acting on nothing', async () => {
    await first('job-1');
    advance(30 * MINUTE + SETTLE);
    await expect(poll('job-2')).resolves.toEqual({ kind: 'passed' });
    expect(h.jobResults().successes).toContainEqual({ jobId: 'job-2' });
    expect(await record()).toMatchObject({ state: 'SUCCEEDED', bakeState: 'PASSED', bakeFinishedAt: clock().toISOString() });
    expect(h.messages().map((m) => [m.event, m.subject])).toEqual([['BAKE_PASSED', '[orders-api in staging] passed its bake: version 4']]);
    // 0 invocations required: CloudWatch's metrics are not read.
    expect(h.mocks.cloudWatch.commandCalls(GetMetricDataCommand)).toHaveLength(0);

    reset();
    await expect(poll('job-2')).resolves.toEqual({ kind: 'passed' });
    await expect(first('job-retry')).resolves.toEqual({ kind: 'passed' });
    expect(h.jobResults()).toEqual({ successes: [{ jobId: 'job-2' }, { jobId: 'job-retry' }], failures: [] });
    expect(h.mocks.codeDeploy.calls()).toHaveLength(0);
    expect(h.mocks.cloudWatch.calls()).toHaveLength(0);
    expect(h.announced()).toEqual([]);
    expect((await record())?.bakeJobIds).toEqual(new Set(['job-1']));
  });

  test('minInvocations: the invocations of the live alias over the bake window, one Sum, are enough: PASSED with the count', async () => {
    invocations.set('orders-api-staging:live', 250);
    await first('job-1', { minInvocations: '100' });
    const bakeStartedAt = (await record())!.bakeStartedAt!;
    advance(30 * MINUTE + SETTLE);
    await expect(poll('job-2', 'job-1', { minInvocations: '100' })).resolves.toEqual({ kind: 'passed' });
    expect(await record()).toMatchObject({ bakeState: 'PASSED', bakeInvocations: 250 });
    const input = h.mocks.cloudWatch.commandCalls(GetMetricDataCommand)[0].args[0].input;
    expect(input).toEqual({
      MetricDataQueries: [{
        Id: 'invocations',
        MetricStat: {
          Metric: {
            Namespace: 'AWS/Lambda',
            MetricName: 'Invocations',
            Dimensions: [{ Name: 'FunctionName', Value: 'orders-api-staging' }, { Name: 'Resource', Value: 'orders-api-staging:live' }],
          },
          Period: 1800,
          Stat: 'Sum',
        },
        ReturnData: true,
      }],
      StartTime: new Date(bakeStartedAt),
      EndTime: new Date(Date.parse(bakeStartedAt) + 30 * MINUTE),
    });
  });

  test('minInvocations not reached: FAILED idle, the job fails saying so, nothing rolled back', async () => {
    invocations.set('orders-api-staging:live', 3);
    await first('job-1', { minInvocations: '100', bakeMinutes: '1.5' });
    advance(2 * MINUTE + SETTLE);
    await poll('job-2', 'job-1', { minInvocations: '100', bakeMinutes: '1.5' });
    expect(h.mocks.cloudWatch.commandCalls(GetMetricDataCommand)[0].args[0].input.MetricDataQueries![0].MetricStat!.Period).toBe(120);
    const message = 'Bake of orders-api in staging failed: idle: 3 invocations of orders-api-staging:live during the 1.5-minute bake, ' +
      'at least 100 required; nothing was rolled back';
    expect(failureMessages()).toEqual([message]);
    expect(await record()).toMatchObject({ state: 'SUCCEEDED', bakeState: 'FAILED', bakeInvocations: 3 });
    expect(creates()).toEqual([]);
    expect(h.announced()).toEqual(['BAKE_FAILED']);
    // A retry answers from the record: the same failure, nothing read again.
    reset();
    await first('job-retry', { minInvocations: '100', bakeMinutes: '1.5' });
    expect(failureMessages()).toEqual([message]);
    expect(h.mocks.cloudWatch.calls()).toHaveLength(0);
  });

  test('no data points at all (an idle alias) count as 0 invocations', async () => {
    await first('job-1', { minInvocations: '1' });
    advance(30 * MINUTE + SETTLE);
    await poll('job-2', 'job-1', { minInvocations: '1' });
    expect(await record()).toMatchObject({ bakeState: 'FAILED', bakeInvocations: 0 });
  });
});

describe('rolling back', () => {
  test('an alarm in ALARM rolls the service back all at once, from the target to the version it served before, with the hooks', async () => {
    await first('job-1');
    advance(5 * MINUTE);
    alarmStates.set(ALARM_NAME, 'ALARM');
    await expect(poll('job-2')).resolves.toEqual({ kind: 'continue', continuationToken: 'bake:job-1' });

    expect(creates()).toHaveLength(1);
    const input = creates()[0];
    expect(input).toMatchObject({
      applicationName: 'orders-api-dev',
      deploymentGroupName: 'orders-api-live-staging',
      deploymentConfigName: 'CodeDeployDefault.LambdaAllAtOnce',
      overrideAlarmConfiguration: { enabled: false, alarms: [] },
      autoRollbackConfiguration: { enabled: false },
    });
    expect(input.description).toBe(`pipeline deployment ${executionId}: bake rollback in staging, orders-api-staging:live 4 -> 3`);
    expect(JSON.parse(input.revision!.appSpecContent!.content!)).toEqual({
      version: 0,
      Resources: [{ 'orders-api-staging': { Type: 'AWS::Lambda::Function', Properties: { Name: 'orders-api-staging', Alias: 'live', CurrentVersion: '4', TargetVersion: '3' } } }],
      Hooks: [{ BeforeAllowTraffic: 'orders-api-smoke-test-staging' }],
    });
    expect(await record()).toMatchObject({
      state: 'SUCCEEDED', bakeState: 'ROLLING_BACK', bakeFailureReason: `alarm ${ALARM_NAME} in ALARM`, rollbackDeploymentId: 'd-ROLLBACK',
    });
    expect((await record())?.bakeClaimExpiresAt).toBeUndefined();
    // The subject is cut below SNS's 100 characters; the message carries the whole line.
    expect(h.messages().map((m) => m.body.summary)).toEqual([`[orders-api in staging] bake: rolling back to version 3 (alarm ${ALARM_NAME} in ALARM)`]);
  });

  test('the rollback is polled; when it succeeds the item is ROLLED_BACK, counted and announced once, and the job fails naming environment, service and alarm', async () => {
    await first('job-1');
    alarmStates.set(ALARM_NAME, 'ALARM');
    await poll('job-2');
    await expect(poll('job-3')).resolves.toEqual({ kind: 'continue', continuationToken: 'bake:job-1' });
    reset();
    deploymentEnds('d-ROLLBACK', 'Succeeded');
    const message = `Bake of orders-api in staging rolled back: alarm ${ALARM_NAME} in ALARM; traffic is back on version 3 ` +
      '(CodeDeploy deployment d-ROLLBACK). Version 4 will not be promoted.';
    await expect(poll('job-4')).resolves.toEqual({ kind: 'failed', reason: message });
    expect(failureMessages()).toEqual([message]);
    expect(await record()).toMatchObject({
      state: 'ROLLED_BACK', bakeState: 'ROLLED_BACK', failureReason: message, rollbackDeploymentId: 'd-ROLLBACK', bakeFinishedAt: clock().toISOString(),
    });
    expect(h.messages().map((m) => [m.event, m.subject])).toEqual([['ROLLED_BACK', '[orders-api in staging] rolled back to version 3 (4 failed)']]);
    const counted = h.metrics().filter((d: any) => d.Deployments !== undefined);
    expect(counted).toHaveLength(1);
    expect(counted[0]).toMatchObject({ Service: 'orders-api', Outcome: 'RolledBack', Environment: 'staging' });
    // ShiftDuration runs from the shift's start to the end of the rollback (the metrics contract)
    const item = await record();
    expect((counted[0] as any).ShiftDuration).toBe((Date.parse(item!.finishedAt!) - Date.parse(item!.shiftStartedAt!)) / 1000);
    expect((counted[0] as any).ShiftDuration).toBeGreaterThan(0);

    // The same poll again, and a retry of the action: the same failure, nothing acts.
    reset();
    await poll('job-4');
    await first('job-retry');
    expect(failureMessages()).toEqual([message, message]);
    expect(h.mocks.codeDeploy.calls()).toHaveLength(0);
    expect(h.mocks.cloudWatch.calls()).toHaveLength(0);
    expect(h.announced()).toEqual([]);
    expect(h.metrics()).toEqual([]);
  });

  test('a rollback that fails leaves bakeState FAILED and says how to repair the alias; the item stays SUCCEEDED', async () => {
    await first('job-1');
    alarmStates.set(ALARM_NAME, 'ALARM');
    await poll('job-2');
    deploymentEnds('d-ROLLBACK', 'Failed');
    await poll('job-3');
    expect(failureMessages()).toEqual([`Bake of orders-api in staging failed: alarm ${ALARM_NAME} in ALARM; its rollback d-ROLLBACK failed. ` +
      'Alias orders-api-staging:live may still serve version 4; put it back on 3 with ' +
      '"aws lambda update-alias --function-name orders-api-staging --name live --function-version 3 --routing-config \'{}\'"']);
    expect(await record()).toMatchObject({ state: 'SUCCEEDED', bakeState: 'FAILED' });
    expect(h.announced()).toEqual(['BAKE_ROLLING_BACK', 'BAKE_FAILED']);
  });

  test('an item with no version to roll back to fails clearly; nothing is deployed', async () => {
    executionId = `exec-${++executions}`;
    deploymentId = historyKey(executionId, 'orders-api', 'staging');
    await stagedRecord(history, deploymentId, { executionId, service: 'orders-api', environment: 'staging', functionName: 'orders-api-staging', targetVersion: '4' });
    await history.claim(deploymentId, { state: 'STARTING', jobId: 'switch', jobSet: 'switchTrafficJobIds', from: ['STAGED'], holdMs: 120_000 });
    await history.transition(deploymentId, 'SHIFTING', { codeDeployDeploymentId: 'd-S' }, { claimJobId: 'switch' });
    await history.transition(deploymentId, 'SUCCEEDED', {}, { from: ['SHIFTING'] });
    alarmStates.set(ALARM_NAME, 'ALARM');
    await first('job-1');
    expect(failureMessages()[0]).toMatch(new RegExp(`^Bake of orders-api in staging failed: alarm ${ALARM_NAME} in ALARM, but there is no version to roll back to: ` +
      `history item ${deploymentId} records no version it served before\\.`));
    expect(creates()).toEqual([]);
    expect((await record())?.bakeState).toBe('FAILED');
  });

  test('a SKIPPED service (its version was live before) moves nothing: its bake ends ROLLED_BACK and the job fails', async () => {
    executionId = `exec-${++executions}`;
    deploymentId = await released({ state: 'SKIPPED', currentVersion: '4' });
    alarmStates.set(ALARM_NAME, 'ALARM');
    await first('job-1');
    expect(creates()).toEqual([]);
    expect(await record()).toMatchObject({ state: 'SKIPPED', bakeState: 'ROLLED_BACK', bakeFailureReason: `alarm ${ALARM_NAME} in ALARM` });
    expect(failureMessages()).toEqual([`Bake of orders-api in staging rolled back: alarm ${ALARM_NAME} in ALARM; version 4 was live before this execution, ` +
      'so no traffic moved. Version 4 will not be promoted.']);
  });

  test('a group busy with another deployment: the rollback waits (ROLLING_BACK, nothing recorded) and is started by a later poll once the hold lapses', async () => {
    await first('job-1');
    startDeployment('orders-api-live-staging', 'd-SOMEONE', 'hotfix by hand');
    alarmStates.set(ALARM_NAME, 'ALARM');
    await expect(poll('job-2')).resolves.toEqual({ kind: 'continue', continuationToken: 'bake:job-1' });
    expect((await record())?.rollbackDeploymentId).toBeUndefined();
    await poll('job-3'); // within the hold: nobody creates
    expect(creates()).toHaveLength(1);
    deploymentEnds('d-SOMEONE', 'Succeeded');
    advance(3 * MINUTE);
    await poll('job-4');
    expect(creates()).toHaveLength(2);
    expect(await record()).toMatchObject({ bakeState: 'ROLLING_BACK', rollbackDeploymentId: 'd-ROLLBACK' });
  });

  test('a delivery that died after deciding the rollback: later polls wait for its hold, then one of them creates the deployment, once', async () => {
    await first('job-1');
    // The delivery wrote ROLLING_BACK (holding it for 2 minutes and 10 seconds) and died before CreateDeployment.
    await history.startBakeRollback(deploymentId, 'job-1', `alarm ${ALARM_NAME} in ALARM`, 130_000);
    await poll('job-2');
    expect(creates()).toEqual([]);
    advance(3 * MINUTE);
    await Promise.all([poll('job-3'), poll('job-3')]);
    expect(creates()).toHaveLength(1);
    expect(await record()).toMatchObject({ bakeState: 'ROLLING_BACK', rollbackDeploymentId: 'd-ROLLBACK' });
  });
});

describe('the environment rolls back together', () => {
  test('another service of this execution and environment rolling back rolls this one back too, naming the service and alarm', async () => {
    const payments = await released({ service: 'payments', currentVersion: '8', targetVersion: '9' });
    await first('job-1');
    await first('job-p1', paymentsOverrides);
    alarmStates.set(ALARM_NAME, 'ALARM');
    await poll('job-2');
    expect((await record())?.bakeState).toBe('ROLLING_BACK');

    // payments' own alarm is OK.
    await expect(poll('job-p2', 'job-p1', paymentsOverrides)).resolves.toEqual({ kind: 'continue', continuationToken: 'bake:job-p1' });
    expect(await record(payments)).toMatchObject({
      bakeState: 'ROLLING_BACK', bakeFailureReason: `the environment rolls back: orders-api alarmed (alarm ${ALARM_NAME} in ALARM)`, rollbackDeploymentId: 'd-ROLLBACK-2',
    });
    expect(creates().map((c) => [c.deploymentGroupName, JSON.parse(c.revision!.appSpecContent!.content!).Resources[0]])).toEqual([
      ['orders-api-live-staging', { 'orders-api-staging': expect.objectContaining({ Properties: expect.objectContaining({ CurrentVersion: '4', TargetVersion: '3' }) }) }],
      ['payments-live-staging', { 'payments-staging': expect.objectContaining({ Properties: expect.objectContaining({ CurrentVersion: '9', TargetVersion: '8' }) }) }],
    ]);
    deploymentEnds('d-ROLLBACK-2', 'Succeeded');
    await poll('job-p3', 'job-p1', paymentsOverrides);
    expect(failureMessages()).toContain(`Bake of payments in staging rolled back: the environment rolls back: orders-api alarmed (alarm ${ALARM_NAME} in ALARM); ` +
      'traffic is back on version 8 (CodeDeploy deployment d-ROLLBACK-2). Version 9 will not be promoted.');
  });

  test('a third service names the service whose alarm started it, not the one that followed', async () => {
    const payments = await released({ service: 'payments' });
    const billing = await released({ service: 'billing' });
    await history.claimBake(payments, 'job-p1');
    await history.startBakeRollback(payments, 'job-p1', `the environment rolls back: orders-api alarmed (alarm ${ALARM_NAME} in ALARM)`, 0);
    await history.claimBake(billing, 'job-b1');
    const billingOverrides = { service: 'billing', functionName: 'billing-staging', deploymentGroupName: 'billing-live-staging' };
    await first('job-b1', billingOverrides);
    expect((await record(billing))?.bakeFailureReason).toBe(`the environment rolls back: orders-api alarmed (alarm ${ALARM_NAME} in ALARM)`);
  });

  test('the same execution in another environment, and another execution, roll nothing back here', async () => {
    // An earlier execution's item here, then this execution's items in dev and staging.
    const other = await released({ execution: `exec-${++executions}` });
    executionId = `exec-${++executions}`;
    advance(MINUTE);
    const dev = await released({ environment: 'dev' });
    deploymentId = await released();
    await history.claimBake(dev, 'job-d1');
    await history.startBakeRollback(dev, 'job-d1', 'alarm orders-api-error-rate-dev in ALARM', 0);
    await history.claimBake(other, 'job-o1');
    await history.startBakeRollback(other, 'job-o1', `alarm ${ALARM_NAME} in ALARM`, 0);
    await expect(first('job-1')).resolves.toEqual({ kind: 'continue', continuationToken: 'bake:job-1' });
    expect((await record())?.bakeState).toBe('BAKING');
    expect(creates()).toEqual([]);
  });
});

describe('newer executions: traffic never moves back to an older build', () => {
  /** A newer execution has released orders-api in `environment`: its item, created after this one's. */
  async function newerExecution(environment = 'staging', state: 'SUCCEEDED' | 'SHIFTING' = 'SUCCEEDED') {
    advance(MINUTE);
    const newer = `exec-${++executions}`;
    await released({ execution: newer, environment, currentVersion: '4', targetVersion: '5', state });
    return newer;
  }

  test('a newer execution that released the service here: the bake fails "superseded" and rolls nothing back, even in ALARM', async () => {
    await first('job-1');
    const newer = await newerExecution();
    alarmStates.set(ALARM_NAME, 'ALARM');
    await poll('job-2');
    expect(creates()).toEqual([]);
    expect(failureMessages()).toEqual([`Bake of orders-api in staging failed: superseded: execution ${newer} is newer and has released version 5 ` +
      'of orders-api in staging; version 4 is not rolled back (traffic never moves back to an older build) and will not be promoted']);
    expect(await record()).toMatchObject({ state: 'SUCCEEDED', bakeState: 'FAILED' });
  });

  test('a newer execution in another environment does not supersede this bake', async () => {
    await first('job-1');
    await newerExecution('dev');
    await expect(poll('job-2')).resolves.toEqual({ kind: 'continue', continuationToken: 'bake:job-1' });
    expect((await record())?.bakeState).toBe('BAKING');
  });

  test('a newer execution that starts shifting while the rollback is being created: CodeDeploy refuses ours, and the next attempt stops "superseded"', async () => {
    await first('job-1');
    alarmStates.set(ALARM_NAME, 'ALARM');
    let newer = '';
    beforeCreate = async (input) => {
      if (newer) return;
      // The newer execution claimed the group first: its item is SHIFTING and its deployment active.
      newer = await newerExecution('staging', 'SHIFTING');
      startDeployment(input.deploymentGroupName!, 'd-NEWER', `pipeline deployment ${newer}: orders-api-staging:live 4 -> 5`);
    };
    await expect(poll('job-2')).resolves.toEqual({ kind: 'continue', continuationToken: 'bake:job-1' });
    advance(3 * MINUTE);
    await poll('job-3');
    expect(creates()).toHaveLength(1); // the one CodeDeploy refused
    expect(failureMessages()).toEqual([`Bake of orders-api in staging failed: alarm ${ALARM_NAME} in ALARM; superseded: execution ${newer} is newer and ` +
      'is shifting to version 5 (SHIFTING) of orders-api in staging; version 4 is not rolled back (traffic never moves back to an older build) and will not be promoted']);
    expect(await record()).toMatchObject({ state: 'SUCCEEDED', bakeState: 'FAILED' });
  });
});

describe('duplicate and concurrent deliveries', () => {
  test('the first delivery twice at once: one claim, both continue the same bake', async () => {
    const outcomes = await Promise.all([first('job-1'), first('job-1')]);
    expect(outcomes).toEqual([{ kind: 'continue', continuationToken: 'bake:job-1' }, { kind: 'continue', continuationToken: 'bake:job-1' }]);
    expect(await record()).toMatchObject({ bakeState: 'BAKING', bakeJobId: 'job-1', bakeJobIds: new Set(['job-1']) });
    // The second report of the job is refused by CodePipeline and dropped.
    expect(h.jobResults().successes).toHaveLength(2);
    expect(bakeStateAtFirstCall).toEqual(['BAKING', 'BAKING']);
  });

  test('a duplicate of the first delivery later keeps the bake start', async () => {
    await first('job-1');
    const { bakeStartedAt } = (await record())!;
    advance(10 * MINUTE);
    await first('job-1');
    expect((await record())?.bakeStartedAt).toBe(bakeStartedAt);
  });

  test('polls in ALARM delivered at once create one rollback deployment and announce it once', async () => {
    await first('job-1');
    alarmStates.set(ALARM_NAME, 'ALARM');
    const outcomes = await Promise.all([poll('job-2'), poll('job-2'), first('job-1')]);
    expect(outcomes.every((o) => o.kind === 'continue')).toBe(true);
    expect(creates()).toHaveLength(1);
    expect(h.announced()).toEqual(['BAKE_ROLLING_BACK']);
  });

  test('the poll that finds the rollback done, delivered twice at once, counts and announces it once', async () => {
    await first('job-1');
    alarmStates.set(ALARM_NAME, 'ALARM');
    await poll('job-2');
    deploymentEnds('d-ROLLBACK', 'Succeeded');
    reset();
    const outcomes = await Promise.all([poll('job-3'), poll('job-3')]);
    expect(outcomes.map((o) => o.kind)).toEqual(['failed', 'failed']);
    expect(h.announced()).toEqual(['ROLLED_BACK']);
    expect(h.metrics().filter((d: any) => d.Outcome === 'RolledBack')).toHaveLength(1);
  });

  test('the final poll twice at once passes once', async () => {
    await first('job-1');
    advance(30 * MINUTE + SETTLE);
    await Promise.all([poll('job-2'), poll('job-2')]);
    expect(h.announced()).toEqual(['BAKE_PASSED']);
  });

  test('a retried action (new job) takes over a bake whose job is over, keeping its start; the old job\'s late continuation acts on nothing', async () => {
    await first('job-1');
    const { bakeStartedAt } = (await record())!;
    advance(10 * MINUTE);
    await expect(first('job-9')).resolves.toEqual({ kind: 'continue', continuationToken: 'bake:job-9' });
    expect(await record()).toMatchObject({ bakeState: 'BAKING', bakeJobId: 'job-9', bakeJobIds: new Set(['job-1', 'job-9']), bakeStartedAt });

    alarmStates.set(ALARM_NAME, 'ALARM');
    await expect(poll('job-2', 'job-1')).resolves.toEqual({
      kind: 'failed', reason: 'Bake of orders-api in staging: job job-9 has taken the bake over; this continuation of job job-1 stops',
    });
    // A late first delivery of the old job does not take it back either.
    await expect(first('job-1')).resolves.toMatchObject({ kind: 'failed' });
    expect(creates()).toEqual([]);
    expect((await record())?.bakeJobId).toBe('job-9');
  });
});

describe('bad input and secrets', () => {
  test.each([
    [{ bakeMinutes: '0' }, 'UserParameters bakeMinutes must be a number of minutes above 0 and at most 1380, got "0"'],
    [{ bakeMinutes: 'thirty' }, 'UserParameters bakeMinutes must be a number of minutes above 0 and at most 1380, got "thirty"'],
    [{ bakeMinutes: '1381' }, 'UserParameters bakeMinutes must be a number of minutes above 0 and at most 1380, got "1381"'],
    [{ minInvocations: '-1' }, 'UserParameters minInvocations must be a whole number from 0, got "-1"'],
    [{ minInvocations: '2.5' }, 'UserParameters minInvocations must be a whole number from 0, got "2.5"'],
    [{ environment: 'qa' }, 'UserParameters environment "qa" must be one of environments "dev,staging,prod"'],
  ] as Array<[Partial<BakeParameters>, string]>)('%j fails the job naming the key; nothing is claimed', async (overrides, message) => {
    await first('job-1', overrides);
    expect(failureMessages()).toEqual([`Bake failed: job job-1: ${message}`]);
    expect((await record())?.bakeState).toBeUndefined();
    expect(h.mocks.codeDeploy.calls()).toHaveLength(0);
  });

  test('a service whose shift did not succeed is not baked: the job fails, nothing claimed or called', async () => {
    executionId = `exec-${++executions}`;
    deploymentId = await released({ state: 'SHIFTING' });
    await first('job-1');
    expect(failureMessages()).toEqual([`Bake failed: deployment ${deploymentId} is SHIFTING; only a service whose shift succeeded (or found its version live) is baked`]);
    expect((await record())?.bakeState).toBeUndefined();
    expect(h.mocks.codeDeploy.calls()).toHaveLength(0);
  });

  test('no history item: the job fails saying so', async () => {
    executionId = `exec-${++executions}`;
    await first('job-1');
    expect(failureMessages()).toEqual([`Bake failed: deployment ${executionId}/staging/orders-api has no history record; Deploy-Blue and Switch-Traffic record it first`]);
  });

  test('an alarm the deployment group watches that CloudWatch does not return fails the job naming it; the bake stays BAKING for a retry', async () => {
    alarmStates.delete(ALARM_NAME);
    await first('job-1');
    expect(failureMessages()[0]).toMatch(new RegExp(`^Bake failed: deployment group orders-api-live-staging watches alarm ${ALARM_NAME}, which CloudWatch DescribeAlarms did not return`));
    expect((await record())?.bakeState).toBe('BAKING');
  });

  test('a continuation token that is not a Bake token fails the job', async () => {
    await handler(pipelineJobEvent({ jobId: 'job-x', artifact: null, userParameters: parameters(), continuationToken: 'd-ABC' }));
    expect(failureMessages()).toEqual(['Bake failed: job job-x: continuation token "d-ABC" is not a Bake token']);
  });

  test('the job event\'s credentials are never logged nor sent, through a whole rollback', async () => {
    await first('job-1');
    alarmStates.set(ALARM_NAME, 'ALARM');
    await poll('job-2');
    deploymentEnds('d-ROLLBACK', 'Succeeded');
    await poll('job-3');
    expect(h.logs().length).toBeGreaterThan(3);
    const written = JSON.stringify([h.logs(), h.messages(), h.metrics()]);
    for (const secret of Object.values(SECRET)) expect(written).not.toContain(secret);
  });
});

/**
 * Errors as the SDK throws them (it sets `$metadata.httpStatusCode` from the response, `$fault` from
 * the model or the status, and names an unmodeled error after the code AWS sent). CodeDeploy's
 * throttling is ThrottlingException (@throws in CreateDeploymentCommand.d.ts), HTTP 400; a 5xx
 * answer without a modeled shape is the service's base exception named after AWS's code; a socket
 * timeout is node-http-handler's TimeoutError; a dropped connection is Node's ECONNRESET.
 */
const transientErrors: Array<[string, () => Error]> = [
  ['ThrottlingException', () => new ThrottlingException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } })],
  ['a 500 InternalFailure', () => new CodeDeployServiceException({
    name: 'InternalFailure', $fault: 'server', message: 'An internal error occurred', $metadata: { httpStatusCode: 500 },
  })],
  ['a socket timeout', () => Object.assign(new Error('Socket timed out without establishing a connection within 1000 ms'), { name: 'TimeoutError' })],
  ['a reset connection', () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
];

describe('starting the rollback: transient errors wait, others end the bake', () => {
  test.each(transientErrors)('CreateDeployment answers %s: the bake stays ROLLING_BACK, the job continues, and a later poll starts the rollback', async (_, error) => {
    await first('job-1');
    alarmStates.set(ALARM_NAME, 'ALARM');
    beforeCreate = async () => { throw error(); };
    await expect(poll('job-2')).resolves.toEqual({ kind: 'continue', continuationToken: 'bake:job-1' });
    expect(failureMessages()).toEqual([]);
    expect(await record()).toMatchObject({ state: 'SUCCEEDED', bakeState: 'ROLLING_BACK', bakeFailureReason: `alarm ${ALARM_NAME} in ALARM` });
    expect((await record())?.rollbackDeploymentId).toBeUndefined();
    expect(h.announced()).toEqual(['BAKE_ROLLING_BACK']);
    expect(h.logs()).toContainEqual(expect.objectContaining({ level: 'WARN', message: 'rollback waits: CreateDeployment failed transiently' }));

    beforeCreate = async () => {};
    advance(3 * MINUTE);
    await expect(poll('job-3')).resolves.toEqual({ kind: 'continue', continuationToken: 'bake:job-1' });
    expect(creates()).toHaveLength(2);
    expect(await record()).toMatchObject({ bakeState: 'ROLLING_BACK', rollbackDeploymentId: 'd-ROLLBACK' });
    deploymentEnds('d-ROLLBACK', 'Succeeded');
    await expect(poll('job-4')).resolves.toMatchObject({ kind: 'failed', reason: expect.stringContaining('rolled back') });
    expect((await record())?.bakeState).toBe('ROLLED_BACK');
  });

  // Validation and permission errors do not heal by waiting (CreateDeploymentCommand.d.ts @throws:
  // InvalidRoleException, InvalidRevisionException, DeploymentGroupDoesNotExistException, ...; IAM's
  // AccessDeniedException for a missing permission, HTTP 400 on CodeDeploy's JSON protocol).
  test.each([
    ['InvalidRoleException', () => new InvalidRoleException({
      message: 'AWS CodeDeploy does not have the permissions required to assume the role', $metadata: { httpStatusCode: 400 },
    })],
    ['AccessDeniedException', () => new CodeDeployServiceException({
      name: 'AccessDeniedException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
      message: `User: arn:aws:sts::${ACCOUNT}:assumed-role/bake/fn is not authorized to perform: codedeploy:CreateDeployment`,
    })],
  ] as Array<[string, () => Error]>)('CreateDeployment answers %s: the bake ends FAILED saying how to repair the alias', async (name, error) => {
    await first('job-1');
    alarmStates.set(ALARM_NAME, 'ALARM');
    beforeCreate = async () => { throw error(); };
    await poll('job-2');
    expect(failureMessages()).toEqual([expect.stringMatching(new RegExp(`^Bake of orders-api in staging failed: alarm ${ALARM_NAME} in ALARM; ` +
      `the rollback could not start: ${name}: .*Alias orders-api-staging:live still serves version 4; put it back on 3 with "aws lambda update-alias`))]);
    expect(await record()).toMatchObject({ state: 'SUCCEEDED', bakeState: 'FAILED' });
    expect(h.announced()).toEqual(['BAKE_ROLLING_BACK', 'BAKE_FAILED']);
  });
});

describe('a rollback deployment created but not recorded is adopted, never created twice', () => {
  const OUR_DESCRIPTION = () => `pipeline deployment ${executionId}: bake rollback in staging, orders-api-staging:live 4 -> 3`;
  // CodeDeploy's ids are unique, and the history keeps the earlier tests' items, which recorded d-ROLLBACK and d-LOST.
  let LOST: string;
  let ROLLBACK: string;
  beforeEach(() => {
    LOST = `d-LOST-${executionId}`;
    ROLLBACK = `d-ROLLBACK-${executionId}`;
    nextDeploymentIds = [ROLLBACK];
  });

  test('CreateDeployment\'s answer is lost and the SDK\'s retry gets DeploymentLimitExceededException from our own deployment: it is adopted and followed', async () => {
    await first('job-1');
    alarmStates.set(ALARM_NAME, 'ALARM');
    let lost = false;
    beforeCreate = async (input) => {
      // The first attempt created the deployment; its answer never came, and the retry finds the group busy.
      if (!lost) startDeployment(input.deploymentGroupName!, LOST, input.description);
      lost = true;
    };
    await expect(poll('job-2')).resolves.toEqual({ kind: 'continue', continuationToken: 'bake:job-1' });
    expect(creates()).toHaveLength(1);
    expect(await record()).toMatchObject({ bakeState: 'ROLLING_BACK', rollbackDeploymentId: LOST });
    expect(h.mocks.codeDeploy.commandCalls(ListDeploymentsCommand)[0].args[0].input).toEqual({
      applicationName: 'orders-api-dev', deploymentGroupName: 'orders-api-live-staging', includeOnlyStatuses: ['Created', 'Queued', 'InProgress', 'Baking', 'Ready'],
    });
    deploymentEnds(LOST, 'Succeeded');
    await poll('job-3');
    expect(failureMessages()).toEqual([`Bake of orders-api in staging rolled back: alarm ${ALARM_NAME} in ALARM; traffic is back on version 3 ` +
      `(CodeDeploy deployment ${LOST}). Version 4 will not be promoted.`]);
    expect(creates()).toHaveLength(1);
  });

  test('a delivery that died after CreateDeployment, before recording it: the retake adopts its deployment instead of creating another', async () => {
    await first('job-1');
    await history.startBakeRollback(deploymentId, 'job-1', `alarm ${ALARM_NAME} in ALARM`, 130_000);
    startDeployment('orders-api-live-staging', LOST, OUR_DESCRIPTION());
    advance(3 * MINUTE);
    await expect(poll('job-2')).resolves.toEqual({ kind: 'continue', continuationToken: 'bake:job-1' });
    expect(creates()).toEqual([]);
    expect(await record()).toMatchObject({ bakeState: 'ROLLING_BACK', rollbackDeploymentId: LOST });
  });

  test('a deployment someone started by hand is not adopted: the retake waits for it', async () => {
    await first('job-1');
    await history.startBakeRollback(deploymentId, 'job-1', `alarm ${ALARM_NAME} in ALARM`, 130_000);
    startDeployment('orders-api-live-staging', 'd-HOTFIX', 'hotfix by hand');
    advance(3 * MINUTE);
    await expect(poll('job-2')).resolves.toEqual({ kind: 'continue', continuationToken: 'bake:job-1' });
    expect(creates()).toHaveLength(1); // refused: the group is busy
    expect((await record())?.rollbackDeploymentId).toBeUndefined();
  });

  test('a retried action takes the bake over while the rollback is being created: the delivery that lost says so and stops; the new holder adopts the deployment', async () => {
    await first('job-1');
    alarmStates.set(ALARM_NAME, 'ALARM');
    beforeCreate = async () => {
      beforeCreate = async () => {};
      await history.claimBake(deploymentId, 'job-9');
    };
    await expect(poll('job-2')).resolves.toEqual({
      kind: 'failed', reason: 'Bake of orders-api in staging: job job-9 has taken the bake over; this continuation of job job-1 stops',
    });
    expect(h.logs()).toContainEqual(expect.objectContaining({
      level: 'WARN', message: 'rollback deployment not recorded: the bake moved on', rollbackDeploymentId: ROLLBACK, bakeJobId: 'job-9',
    }));
    expect((await record())?.rollbackDeploymentId).toBeUndefined();

    advance(3 * MINUTE);
    await expect(poll('job-10', 'job-9')).resolves.toEqual({ kind: 'continue', continuationToken: 'bake:job-9' });
    expect(creates()).toHaveLength(1);
    expect(await record()).toMatchObject({ bakeState: 'ROLLING_BACK', bakeJobId: 'job-9', rollbackDeploymentId: ROLLBACK });
  });
});

describe('a transient read error while watching waits for the next poll', () => {
  let throttled: jest.SpyInstance | undefined;
  const dynamoThrottles = () => {
    // One Query of the history (on dynalite) answers ThrottlingException, as DynamoDB does for an
    // on-demand table over its throughput (@throws in QueryCommand.d.ts), HTTP 400.
    const send = fixture.doc.send.bind(fixture.doc) as (...args: unknown[]) => Promise<unknown>;
    let thrown = false;
    throttled = jest.spyOn(fixture.doc, 'send').mockImplementation(((command: unknown, ...rest: unknown[]) => {
      if (command instanceof QueryCommand && !thrown) {
        thrown = true;
        return Promise.reject(new DynamoDBThrottlingException({ message: 'Throughput exceeds the current capacity of your table', $metadata: { httpStatusCode: 400 } }));
      }
      return send(command, ...rest);
    }) as never);
  };
  afterEach(() => { throttled?.mockRestore(); throttled = undefined; });

  test.each([
    ['GetDeploymentGroup answers ThrottlingException', 5, {}, () => {
      failOnce.set('GetDeploymentGroup', new ThrottlingException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } }));
    }],
    // CloudWatch's throttling is unmodeled: the SDK names the error after AWS's code, Throttling (HTTP 400).
    ['DescribeAlarms answers Throttling', 5, {}, () => {
      failOnce.set('DescribeAlarms', new CloudWatchServiceException({ name: 'Throttling', $fault: 'client', message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } }));
    }],
    // InternalServiceFault: "Request processing has failed due to some unknown error" (CloudWatch's errors), HTTP 500.
    ['GetMetricData answers InternalServiceFault', 33, { minInvocations: '10' }, () => {
      failOnce.set('GetMetricData', new InternalServiceFault({ message: 'Request processing has failed due to some unknown error', $metadata: { httpStatusCode: 500 } }));
    }],
    ['a DynamoDB query of the history answers ThrottlingException', 5, {}, dynamoThrottles],
  ] as Array<[string, number, Partial<BakeParameters>, () => void]>)('%s: the job continues, the bake stays BAKING, and the next poll goes on', async (_, minutesLater, overrides, fail) => {
    invocations.set('orders-api-staging:live', 50);
    await first('job-1', overrides);
    advance(minutesLater * MINUTE);
    fail();
    await expect(poll('job-2', 'job-1', overrides)).resolves.toEqual({ kind: 'continue', continuationToken: 'bake:job-1' });
    expect(failureMessages()).toEqual([]);
    expect((await record())?.bakeState).toBe('BAKING');
    expect(h.logs()).toContainEqual(expect.objectContaining({ level: 'WARN', message: 'transient error; the next poll tries again' }));
    await expect(poll('job-3', 'job-1', overrides)).resolves.toEqual(minutesLater >= 33 ? { kind: 'passed' } : { kind: 'continue', continuationToken: 'bake:job-1' });
  });

  test('a persistent error (DescribeAlarms AccessDenied) fails the job with a readable message; the bake stays BAKING for a retry', async () => {
    await first('job-1');
    failOnce.set('DescribeAlarms', new CloudWatchServiceException({
      name: 'AccessDenied',
      $fault: 'client',
      $metadata: { httpStatusCode: 403 },
      message: `User: arn:aws:sts::${ACCOUNT}:assumed-role/bake/fn is not authorized to perform: cloudwatch:DescribeAlarms`,
    }));
    await poll('job-2');
    expect(failureMessages()).toEqual([`Bake failed: AccessDenied: User: arn:aws:sts::${ACCOUNT}:assumed-role/bake/fn is not authorized to perform: cloudwatch:DescribeAlarms`]);
    expect((await record())?.bakeState).toBe('BAKING');
  });
});
