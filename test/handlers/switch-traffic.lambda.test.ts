import {
  CreateDeploymentCommand,
  CreateDeploymentCommandInput,
  DeploymentInfo,
  DeploymentLimitExceededException,
  DeploymentStatus,
  GetDeploymentCommand,
  ListDeploymentsCommand,
  ListDeploymentsCommandInput,
} from '@aws-sdk/client-codedeploy';
import {
  DeleteFunctionCommand,
  GetAliasCommand,
  ListAliasesCommand,
  ListVersionsByFunctionCommand,
  TooManyRequestsException,
} from '@aws-sdk/client-lambda';
import { PublishCommand } from '@aws-sdk/client-sns';
import { SwitchTrafficParameters } from '../../src/contract/handler-contract';
import { createSwitchTrafficHandler } from '../../src/handlers/switch-traffic.lambda';
import { DeploymentHistoryStore } from '../../src/runtime/deployment-history-store';
import { pipelineVersionDescription } from '../../src/runtime/version-retention';
import { switchTrafficParameters } from '../helpers/action-parameters';
import { HistoryTableFixture, startHistoryTable } from '../helpers/dynalite-history-table';
import { aliasAnswer, deploymentInfo, functionConfiguration, handlerHarness, stagedRecord } from '../helpers/handler-harness';
import { pipelineJobEvent } from '../helpers/pipeline-job-event';

let fixture: HistoryTableFixture;
let h: ReturnType<typeof handlerHarness>;
let handler: ReturnType<typeof createSwitchTrafficHandler>;
let executions = 0;
/** The pipeline execution of the test. */
let executionId: string;
/** Its history item for orders-api. */
let deploymentId: string;

const LINEAR = 'CodeDeployDefault.LambdaLinear10PercentEvery10Minutes';
const ALL_AT_ONCE = 'CodeDeployDefault.LambdaAllAtOnce';

/** The UserParameters the construct gives orders-api's Switch-Traffic action. */
const parameters = (overrides: Partial<SwitchTrafficParameters> = {}) => switchTrafficParameters(executionId, {
  deploymentConfigName: LINEAR,
  beforeAllowTrafficHook: 'orders-api-smoke-test-dev',
  afterAllowTrafficHook: '',
  bootstrapVersion: '',
  keepVersions: '10',
  ...overrides,
});

beforeAll(async () => {
  fixture = await startHistoryTable();
  h = handlerHarness(fixture);
  handler = h.switchTraffic();
});
afterAll(() => fixture.stop());

/** Each deployment group's one active deployment, as CodeDeploy tracks it. */
const active = new Map<string, string>();
let nextDeploymentIds: string[];

/** A function with versions 1..4 and the alias on 4, as version retention finds it after a shift. */
function answerVersionListing() {
  // ListVersionsByFunction lists $LATEST too (ListVersionsByFunctionCommand.d.ts example).
  h.mocks.lambda.on(ListVersionsByFunctionCommand).resolves({ Versions: ['$LATEST', '1', '2', '3', '4'].map((version) => functionConfiguration({ version })) });
  h.mocks.lambda.on(ListAliasesCommand).resolves({ Aliases: [aliasAnswer('4')] });
  h.mocks.lambda.on(DeleteFunctionCommand).resolves({ StatusCode: 204 });
}

beforeEach(async () => {
  h.reset();
  executionId = `exec-${++executions}`;
  deploymentId = `${executionId}/orders-api`;
  await stagedRecord(h.history, deploymentId, {
    executionId, service: 'orders-api', wave: 1, functionName: 'orders-api-dev', currentVersion: '3', targetVersion: '4',
  });
  // GetAlias: AliasArn/Name/FunctionVersion/RevisionId, RoutingConfig only when set (GetAliasCommand.d.ts example).
  h.mocks.lambda.on(GetAliasCommand).resolves(aliasAnswer('3'));
  active.clear();
  nextDeploymentIds = ['d-ABC', 'd-RETRY'];
  // CreateDeployment answers { deploymentId }; a second active deployment in the group answers
  // DeploymentLimitExceededException (CreateDeploymentCommand.d.ts @throws).
  h.mocks.codeDeploy.on(CreateDeploymentCommand).callsFake(async (input: CreateDeploymentCommandInput) => {
    const group = input.deploymentGroupName!;
    if (active.has(group)) {
      throw new DeploymentLimitExceededException({
        message: `The Deployment Group '${group}' already has an active Deployment '${active.get(group)}'`, $metadata: { httpStatusCode: 400 },
      });
    }
    const id = group === 'orders-api-live-dev' && nextDeploymentIds.length > 0 ? nextDeploymentIds.shift()! : `d-${group.toUpperCase()}`;
    active.set(group, id);
    return { deploymentId: id };
  });
  // ListDeployments answers the ids of the group's deployments in the statuses asked for
  // (ListDeploymentsCommand.d.ts: deployments, nextToken); the group's one active deployment here.
  h.mocks.codeDeploy.on(ListDeploymentsCommand).callsFake(async (input: ListDeploymentsCommandInput) => {
    const id = active.get(input.deploymentGroupName!);
    return { deployments: id && input.includeOnlyStatuses?.includes('InProgress') ? [id] : [] };
  });
  answerVersionListing();
});

const start = (jobId = 'job-1', run = handler, context?: { getRemainingTimeInMillis(): number }, overrides: Partial<SwitchTrafficParameters> = {}) =>
  run(pipelineJobEvent({ jobId, artifact: null, userParameters: parameters(overrides) }), context);
const poll = (jobId = 'job-2', token = 'd-ABC', overrides: Partial<SwitchTrafficParameters> = {}, run = handler) =>
  run(pipelineJobEvent({ jobId, artifact: null, userParameters: parameters(overrides), continuationToken: token }));

/** GetDeployment's answer for one deployment (deploymentInfo in GetDeploymentCommand.d.ts). */
function codeDeployReports(id: string, status: DeploymentStatus, extra: Partial<Parameters<typeof deploymentInfo>[0]> = {}) {
  if (['Succeeded', 'Failed', 'Stopped'].includes(status)) {
    for (const [group, activeId] of active) if (activeId === id) active.delete(group);
  }
  h.mocks.codeDeploy.on(GetDeploymentCommand, { deploymentId: id })
    .resolves({ deploymentInfo: deploymentInfo({ deploymentId: id, status, ...extra }) });
}
/** An alarm stopped d-ABC and CodeDeploy started rollback d-ROLLBACK (creator codeDeployRollback). */
function alarmRollback(rollbackStatus: DeploymentStatus, rollbackError?: DeploymentInfo['errorInformation'], id = 'd-ABC', rollbackId = 'd-ROLLBACK') {
  codeDeployReports(id, 'Stopped', {
    errorInformation: { code: 'ALARM_ACTIVE', message: 'One or more alarms have been activated: orders-api-error-rate-dev' },
    rollbackInfo: { rollbackDeploymentId: rollbackId, rollbackMessage: 'Deployment was stopped because an alarm was activated' },
  });
  codeDeployReports(rollbackId, rollbackStatus, {
    creator: 'codeDeployRollback', rollbackInfo: { rollbackTriggeringDeploymentId: id }, ...(rollbackError ? { errorInformation: rollbackError } : {}),
  });
}

test('starts a CodeDeploy deployment of the live alias, current -> target, and continues with its id', async () => {
  await expect(start()).resolves.toEqual({ kind: 'continue', codeDeployDeploymentId: 'd-ABC' });

  const input = h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)[0].args[0].input;
  expect(input).toMatchObject({ applicationName: 'orders-api-dev', deploymentGroupName: 'orders-api-live-dev' });
  expect(input.deploymentConfigName).toBeUndefined(); // the group's configured shift
  expect(input.revision?.revisionType).toBe('AppSpecContent');
  const content = input.revision!.appSpecContent!.content!;
  expect(content).toMatch(/^\{"version":0\.0,/);
  expect(JSON.parse(content)).toEqual({
    version: 0,
    Resources: [{ 'orders-api-dev': { Type: 'AWS::Lambda::Function', Properties: { Name: 'orders-api-dev', Alias: 'live', CurrentVersion: '3', TargetVersion: '4' } } }],
    Hooks: [{ BeforeAllowTraffic: 'orders-api-smoke-test-dev' }],
  });
  expect(h.jobResults()).toEqual({ successes: [{ jobId: 'job-1', continuationToken: 'd-ABC' }], failures: [] });
  const record = await h.history.get(deploymentId);
  expect(record).toMatchObject({
    deploymentId: `${executionId}/orders-api`, state: 'SHIFTING', codeDeployDeploymentId: 'd-ABC', deploymentConfig: LINEAR, switchTrafficJobIds: new Set(['job-1']),
  });
  expect(record?.claimJobId).toBeUndefined();
  expect(h.announced()).toEqual(['STARTED']);
});

test.each(['Created', 'Queued', 'InProgress', 'Baking', 'Ready'] as DeploymentStatus[])('keeps polling while the deployment is %s', async (status) => {
  await start();
  h.reset();
  codeDeployReports('d-ABC', status);
  await expect(poll()).resolves.toEqual({ kind: 'continue', codeDeployDeploymentId: 'd-ABC' });
  expect(h.jobResults().successes).toEqual([{ jobId: 'job-2', continuationToken: 'd-ABC' }]);
  expect((await h.history.get(deploymentId))?.state).toBe('SHIFTING');
});

test('a succeeded deployment succeeds the job, records SUCCEEDED and announces it once', async () => {
  await start();
  h.reset();
  // after the reset, Lambda still answers the listing as AWS would (never with nothing at all)
  answerVersionListing();
  codeDeployReports('d-ABC', 'Succeeded');
  await expect(poll()).resolves.toMatchObject({ kind: 'succeeded' });
  expect(h.jobResults()).toEqual({ successes: [{ jobId: 'job-2' }], failures: [] });
  expect(await h.history.get(deploymentId)).toMatchObject({ state: 'SUCCEEDED', finishedAt: expect.any(String) });
  expect(h.announced()).toEqual(['SUCCEEDED']);

  // the same poll delivered again: same answer, no second announcement
  await poll('job-2');
  expect(h.jobResults().successes).toEqual([{ jobId: 'job-2' }, { jobId: 'job-2' }]);
  expect(h.announced()).toEqual(['SUCCEEDED']);
});

describe('rollbacks', () => {
  test('an alarm-triggered rollback keeps the job polling until the rollback deployment has finished', async () => {
    await start();
    h.reset();
    alarmRollback('InProgress');
    await expect(poll('job-2')).resolves.toEqual({ kind: 'continue', codeDeployDeploymentId: 'd-ABC' });
    expect(h.jobResults()).toEqual({ successes: [{ jobId: 'job-2', continuationToken: 'd-ABC' }], failures: [] });
    expect((await h.history.get(deploymentId))?.state).toBe('SHIFTING');
    expect(h.announced()).toEqual([]);
  });

  test('a rollback that succeeded fails the job with CodeDeploy\'s reason and records ROLLED_BACK', async () => {
    await start();
    h.reset();
    alarmRollback('Succeeded');
    await expect(poll('job-3')).resolves.toMatchObject({ kind: 'failed' });
    const message = h.jobResults().failures[0].failureDetails?.message;
    expect(message).toBe('CodeDeploy deployment d-ABC stopped: ALARM_ACTIVE: One or more alarms have been activated: orders-api-error-rate-dev; ' +
      'traffic rolled back by d-ROLLBACK (Deployment was stopped because an alarm was activated)');
    expect(await h.history.get(deploymentId)).toMatchObject({ state: 'ROLLED_BACK', failureReason: message, rollbackDeploymentId: 'd-ROLLBACK' });
    expect(h.announced()).toEqual(['ROLLED_BACK']);
  });

  test.each(['Failed', 'Stopped'] as DeploymentStatus[])('a rollback that %s records FAILED and says the alias may be split and how to repair it', async (status) => {
    await start();
    h.reset();
    alarmRollback(status, { code: 'INTERNAL_ERROR', message: 'An internal error occurred' });
    await poll('job-3');
    const message = h.jobResults().failures[0].failureDetails?.message;
    expect(message).toBe('CodeDeploy deployment d-ABC stopped: ALARM_ACTIVE: One or more alarms have been activated: orders-api-error-rate-dev ' +
      `(Deployment was stopped because an alarm was activated); its rollback d-ROLLBACK ${status.toLowerCase()}: INTERNAL_ERROR: An internal error occurred. ` +
      'Alias orders-api-dev:live may still split traffic between versions 3 and 4. ' +
      'Repair it with "aws lambda update-alias --function-name orders-api-dev --name live --function-version 3 --routing-config \'{}\'", then retry the stage');
    expect(await h.history.get(deploymentId)).toMatchObject({ state: 'FAILED', failureReason: message, rollbackDeploymentId: 'd-ROLLBACK' });
    expect(h.announced()).toEqual(['FAILED']);
  });

  test('a deployment stopped by a user without rollback is FAILED', async () => {
    await start();
    h.reset();
    codeDeployReports('d-ABC', 'Stopped', { errorInformation: { code: 'MANUAL_STOP', message: 'stopped by user' } });
    await poll();
    expect(h.jobResults().failures[0].failureDetails?.message).toBe('CodeDeploy deployment d-ABC stopped: MANUAL_STOP: stopped by user');
    expect((await h.history.get(deploymentId))?.state).toBe('FAILED');
  });

  test('a retried stage (new job) after a rollback starts a new deployment', async () => {
    await start('job-1');
    alarmRollback('Succeeded');
    await poll('job-2');
    await expect(start('job-3')).resolves.toEqual({ kind: 'continue', codeDeployDeploymentId: 'd-RETRY' });
    expect(await h.history.get(deploymentId)).toMatchObject({ state: 'SHIFTING', codeDeployDeploymentId: 'd-RETRY' });
  });

  test('a late poll of the first attempt does not overwrite the retry\'s shift', async () => {
    await start('job-1');
    alarmRollback('Succeeded');
    await poll('job-2');
    await start('job-3');
    await poll('job-2'); // job-2 delivered again, after the retry started d-RETRY
    expect(await h.history.get(deploymentId)).toMatchObject({ state: 'SHIFTING', codeDeployDeploymentId: 'd-RETRY' });
  });

  test('a late poll of another CodeDeploy deployment gets that deployment\'s answer and leaves history alone', async () => {
    await start('job-1');
    codeDeployReports('d-EARLIER', 'Succeeded');
    await expect(poll('job-0', 'd-EARLIER')).resolves.toEqual({ kind: 'succeeded' });
    expect(await h.history.get(deploymentId)).toMatchObject({ state: 'SHIFTING', codeDeployDeploymentId: 'd-ABC' });
    expect(h.mocks.lambda.commandCalls(DeleteFunctionCommand)).toHaveLength(0);
  });
});

test('the same version already live is SKIPPED: no deployment, job succeeds', async () => {
  h.mocks.lambda.on(GetAliasCommand).resolves(aliasAnswer('4'));
  await expect(start()).resolves.toMatchObject({ kind: 'skipped' });
  expect(h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)).toHaveLength(0);
  expect(h.jobResults()).toEqual({ successes: [{ jobId: 'job-1' }], failures: [] });
  expect((await h.history.get(deploymentId))?.state).toBe('SKIPPED');
  expect(h.announced()).toEqual(['SKIPPED']);
});

/** A deployment someone started by hand holds the group: GetDeployment shows creator user and their description. */
function someoneElsesDeployment(id = 'd-SOMEONE-ELSE') {
  active.set('orders-api-live-dev', id);
  h.mocks.codeDeploy.on(GetDeploymentCommand, { deploymentId: id }).resolves({
    deploymentInfo: { ...deploymentInfo({ deploymentId: id, status: 'InProgress', creator: 'user' }), description: 'hotfix by hand' },
  });
}

test('a deployment someone started by hand fails the job saying whose it is and how to repair; a retry can start again', async () => {
  someoneElsesDeployment();
  await start('job-1');
  const message = 'Switch-Traffic failed: deployment group orders-api-live-dev has an active CodeDeploy deployment d-SOMEONE-ELSE (InProgress, ' +
    'creator user, "hotfix by hand") that this pipeline did not start; CodeDeploy runs one deployment per group at a time. Let it finish, ' +
    'or stop it with "aws deploy stop-deployment --deployment-id d-SOMEONE-ELSE --auto-rollback-enabled"; check that alias orders-api-dev:live ' +
    'serves one version, then retry the stage.';
  expect(h.jobResults()).toEqual({ successes: [], failures: [{ jobId: 'job-1', failureDetails: { type: 'JobFailed', message } }] });
  expect(await h.history.get(deploymentId)).toMatchObject({ state: 'FAILED', failureReason: message });
  expect(h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)).toHaveLength(0);
  active.clear();
  await expect(start('job-2')).resolves.toEqual({ kind: 'continue', codeDeployDeploymentId: 'd-ABC' });
});

test('a deployment started between listing and creating is looked at again', async () => {
  // ListDeployments saw none; CreateDeployment then answers DeploymentLimitExceededException.
  h.mocks.codeDeploy.on(ListDeploymentsCommand).resolvesOnce({ deployments: [] }).callsFake(async () => ({ deployments: ['d-SOMEONE-ELSE'] }));
  someoneElsesDeployment();
  await start('job-1');
  expect(h.jobResults().failures[0].failureDetails?.message).toMatch(/^Switch-Traffic failed: deployment group orders-api-live-dev has an active CodeDeploy deployment d-SOMEONE-ELSE .*did not start/);
  expect(h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)).toHaveLength(1);
});

describe('at-least-once delivery', () => {
  test('a duplicate first invocation resumes the running deployment instead of starting another', async () => {
    await start('job-1');
    codeDeployReports('d-ABC', 'InProgress');
    await expect(start('job-1')).resolves.toEqual({ kind: 'continue', codeDeployDeploymentId: 'd-ABC' });
    expect(h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)).toHaveLength(1);
    expect(h.jobResults().failures).toEqual([]);
  });

  test('two deliveries of the first job at once start one deployment, and neither fails the job', async () => {
    codeDeployReports('d-ABC', 'InProgress');
    const outcomes = await Promise.all([start('job-1'), start('job-1')]);
    expect(h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)).toHaveLength(1);
    expect(outcomes).toEqual([
      { kind: 'continue', codeDeployDeploymentId: 'd-ABC' },
      { kind: 'continue', codeDeployDeploymentId: 'd-ABC' },
    ]);
    expect(h.jobResults().failures).toEqual([]);
    expect(h.jobResults().successes).toEqual([
      { jobId: 'job-1', continuationToken: 'd-ABC' },
      { jobId: 'job-1', continuationToken: 'd-ABC' },
    ]);
    expect(await h.history.get(deploymentId)).toMatchObject({ state: 'SHIFTING', codeDeployDeploymentId: 'd-ABC' });
    expect(h.announced()).toEqual(['STARTED']);
  });

  test('a delivery that finds the start claimed by a crashed invocation leaves it alone until the claim lapses, then takes over', async () => {
    let clock = Date.parse('2026-11-22T10:00:00Z');
    const now = () => new Date(clock);
    const history = new DeploymentHistoryStore(fixture.doc, fixture.tableName, now);
    const run = h.switchTraffic({ history, now, sleep: async (ms) => { clock += ms; }, claimPollMs: 5_000 });
    // job-1's first invocation claimed the start with its whole 2-minute timeout, then died
    await history.claim(deploymentId, {
      state: 'STARTING', jobId: 'job-1', jobSet: 'switchTrafficJobIds', from: ['STAGED'], matching: { targetVersion: '4' }, holdMs: 130_000,
    });

    // a duplicate delivery in the meantime waits what it can, then leaves the job to the holder
    clock += 20_000;
    await expect(start('job-1', run, { getRemainingTimeInMillis: () => 60_000 })).resolves.toMatchObject({ kind: 'left' });
    expect(h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)).toHaveLength(0);
    expect(h.jobResults()).toEqual({ successes: [], failures: [] });

    // Lambda retries the crashed event a minute later; it waits for the claim to lapse and takes over
    clock += 40_000;
    await expect(start('job-1', run, { getRemainingTimeInMillis: () => 120_000 })).resolves.toEqual({ kind: 'continue', codeDeployDeploymentId: 'd-ABC' });
    expect(h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)).toHaveLength(1);
    expect(h.jobResults()).toEqual({ successes: [{ jobId: 'job-1', continuationToken: 'd-ABC' }], failures: [] });
  });

  test('a duplicate of a failed job reports the same failure and starts nothing new', async () => {
    someoneElsesDeployment();
    await start('job-1');
    active.clear();
    await start('job-1');
    expect(h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)).toHaveLength(0);
    const [first, second] = h.jobResults().failures.map((f) => f.failureDetails?.message);
    expect(second).toBe(first);
  });
});

describe('first release (bootstrapVersion)', () => {
  test('while the alias serves the bootstrap version, the shift goes all at once, hooks included, and history says so', async () => {
    h.mocks.lambda.on(GetAliasCommand).resolves(aliasAnswer('1'));
    await start('job-1', handler, undefined, { bootstrapVersion: '1' });
    const input = h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)[0].args[0].input;
    expect(input.deploymentConfigName).toBe(ALL_AT_ONCE);
    expect(JSON.parse(input.revision!.appSpecContent!.content!).Hooks).toEqual([{ BeforeAllowTraffic: 'orders-api-smoke-test-dev' }]);
    expect(await h.history.get(deploymentId)).toMatchObject({ state: 'SHIFTING', currentVersion: '1', deploymentConfig: ALL_AT_ONCE });
  });

  test.each([
    ['a later release', '1', '3'],
    ['no bootstrapVersion (the user brought the function)', '', '1'],
  ])('%s uses the group\'s configured shift', async (_name, bootstrapVersion, live) => {
    h.mocks.lambda.on(GetAliasCommand).resolves(aliasAnswer(live));
    await start('job-1', handler, undefined, { bootstrapVersion });
    expect(h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)[0].args[0].input.deploymentConfigName).toBeUndefined();
    expect((await h.history.get(deploymentId))?.deploymentConfig).toBe(LINEAR);
  });
});

describe('version retention (keepVersions)', () => {
  test('after a successful shift, versions beyond the newest N are deleted, never the protected ones', async () => {
    const settings = { keepVersions: '2', bootstrapVersion: '1' };
    await start('job-1', handler, undefined, settings);
    codeDeployReports('d-ABC', 'Succeeded');
    // Versions 2 to 5 are the pipeline's (Deploy-Blue's description); 1 is the construct's placeholder.
    const published = (version: string) => functionConfiguration({ version, description: version === '1' || version === '$LATEST' ? '' : pipelineVersionDescription(`exec-${version}`) });
    h.mocks.lambda.on(ListVersionsByFunctionCommand).resolves({ Versions: ['$LATEST', '1', '2', '3', '4', '5'].map(published) });
    await poll('job-2', 'd-ABC', settings);
    // newest two are 5 and 4; 3 was live before (current), 1 is the bootstrap version, 5 is newer than the target
    expect(h.mocks.lambda.commandCalls(DeleteFunctionCommand).map((c) => c.args[0].input)).toEqual([{ FunctionName: 'orders-api-dev', Qualifier: '2' }]);
    // a duplicate of the poll does not prune again
    await poll('job-2', 'd-ABC', settings);
    expect(h.mocks.lambda.commandCalls(DeleteFunctionCommand)).toHaveLength(1);
  });

  test('the version the stack names (stackVersion) is never deleted, even one the pipeline published', async () => {
    // A user's own function: no placeholder (bootstrapVersion ''), the stack's AWS::Lambda::Version is 2.
    const settings = { keepVersions: '1', bootstrapVersion: '', stackVersion: '2' };
    await start('job-1', handler, undefined, settings);
    codeDeployReports('d-ABC', 'Succeeded');
    const published = (version: string) => functionConfiguration({ version, description: version === '$LATEST' ? '' : pipelineVersionDescription(`exec-${version}`) });
    h.mocks.lambda.on(ListVersionsByFunctionCommand).resolves({ Versions: ['$LATEST', '1', '2', '3', '4'].map(published) });
    await poll('job-2', 'd-ABC', settings);
    // keep 4 (the target) and 3 (live before); 2 is the stack's; 1 goes
    expect(h.mocks.lambda.commandCalls(DeleteFunctionCommand).map((c) => c.args[0].input)).toEqual([{ FunctionName: 'orders-api-dev', Qualifier: '1' }]);
  });

  test('a pruning failure is logged and never fails the job', async () => {
    await start('job-1', handler, undefined, { keepVersions: '1' });
    codeDeployReports('d-ABC', 'Succeeded');
    h.mocks.lambda.on(ListVersionsByFunctionCommand).rejects(new TooManyRequestsException({ message: 'Rate exceeded', Type: 'User', $metadata: { httpStatusCode: 429 } }));
    await expect(poll('job-2', 'd-ABC', { keepVersions: '1' })).resolves.toMatchObject({ kind: 'succeeded' });
    expect(h.jobResults().failures).toEqual([]);
    expect(h.mocks.lambda.commandCalls(DeleteFunctionCommand)).toHaveLength(0);
  });

  test('an invalid keepVersions fails the job naming the field, before anything is shifted', async () => {
    await start('job-1', handler, undefined, { keepVersions: 'ten' });
    expect(h.jobResults().failures[0].failureDetails?.message).toBe(
      'Switch-Traffic failed: job job-1: UserParameters keepVersions must be a whole number of versions to keep, at least 1; got "ten"');
    expect(h.mocks.codeDeploy.calls()).toHaveLength(0);
    expect((await h.history.get(deploymentId))?.state).toBe('STAGED');
  });
});

test('a deployment Deploy-Blue never staged fails the job', async () => {
  await start('job-1', handler, undefined, { service: 'never-staged' });
  expect(h.jobResults().failures[0].failureDetails?.message).toBe(`deployment ${executionId}/never-staged has no history record; Deploy-Blue must stage it first`);
  expect(h.mocks.codeDeploy.calls()).toHaveLength(0);
});

test('a job for another version than the one staged fails without touching history', async () => {
  const before = await h.history.get(deploymentId);
  await start('job-1', handler, undefined, { targetVersion: '5' });
  expect(h.jobResults().failures[0].failureDetails?.message).toBe(`deployment ${deploymentId} staged version 4, but Switch-Traffic was asked for 5`);
  expect(await h.history.get(deploymentId)).toEqual(before);
});

test('an alias left split with no deployment in progress fails the job, saying so and how to repair, before any deployment', async () => {
  h.mocks.lambda.on(GetAliasCommand).resolves(aliasAnswer('3', { 2: 0.5 }));
  await start();
  expect(h.jobResults().failures[0].failureDetails?.message).toBe('Switch-Traffic failed: alias orders-api-dev:live still routes traffic to {"2":0.5} ' +
    'besides version 3, but no CodeDeploy deployment is in progress in deployment group orders-api-live-dev: an interrupted deployment or a hand edit ' +
    'left it split. Choose the version that should serve all traffic and repair the alias with "aws lambda update-alias --function-name orders-api-dev ' +
    '--name live --function-version <version> --routing-config \'{}\'", then retry the stage.');
  expect(h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)).toHaveLength(0);
  expect((await h.history.get(deploymentId))?.state).toBe('FAILED');
});

test.each([
  ['without targetVersion', { targetVersion: '' }, 'UserParameters lacks targetVersion'],
  ['without deploymentGroupName', { deploymentGroupName: '' }, 'UserParameters lacks deploymentGroupName'],
  ['with targetVersion $LATEST', { targetVersion: '$LATEST' }, 'UserParameters targetVersion must be a published version number, got "$LATEST"'],
  ['with a bootstrapVersion that is no version', { bootstrapVersion: 'v1' }, 'UserParameters bootstrapVersion must be a published version number or "", got "v1"'],
  ['with wave "first"', { wave: 'first' }, 'UserParameters wave must be a whole number from 1 (the action\'s runOrder), got "first"'],
  // A key the contract lacks: only a raw UserParameters object can carry it.
  ['with an unknown key', { hook: 'x' } as Record<string, string>, 'UserParameters has unknown key hook; expected deploymentId, service, targetVersion, functionName, aliasName, ' +
    'deploymentGroupName, wave, deploymentConfigName, beforeAllowTrafficHook, afterAllowTrafficHook, bootstrapVersion, stackVersion, keepVersions, environment, environments, deployerRoleArn, region'],
])('a job %s fails naming the field, touching nothing', async (_name, overrides, message) => {
  await start('job-1', handler, undefined, overrides);
  expect(h.jobResults().failures[0].failureDetails?.message).toBe(`Switch-Traffic failed: job job-1: ${message}`);
  expect(h.mocks.codeDeploy.calls()).toHaveLength(0);
  expect((await h.history.get(deploymentId))?.state).toBe('STAGED');
});

test('a job for another function than the one staged fails without touching history', async () => {
  await start('job-1', handler, undefined, { functionName: 'payments-dev' });
  expect(h.jobResults().failures[0].failureDetails?.message).toBe(
    `deployment ${deploymentId} staged function orders-api-dev, but Switch-Traffic was asked to shift payments-dev`);
  expect(h.mocks.codeDeploy.calls()).toHaveLength(0);
});

describe('waves', () => {
  // orders-api (wave 1) is staged by the outer beforeEach; its peers and later waves here.
  const LATER = ['billing', 'shipping', 'emails'];
  const SERVICES = ['orders-api', 'payments', ...LATER];
  const WAVES: Record<string, number> = { payments: 1, billing: 2, shipping: 2, emails: 3 };
  const paymentsParameters = { service: 'payments', functionName: 'payments-dev', deploymentGroupName: 'payments-live-dev', targetVersion: '9' };
  const billingParameters = { service: 'billing', functionName: 'billing-dev', deploymentGroupName: 'billing-live-dev', targetVersion: '2', wave: '2' };

  beforeEach(async () => {
    for (const [service, wave] of Object.entries(WAVES)) {
      await stagedRecord(h.history, `${executionId}/${service}`, {
        executionId, service, wave, functionName: `${service}-dev`, currentVersion: service === 'payments' ? '8' : '1', targetVersion: service === 'payments' ? '9' : '2',
      });
    }
  });
  const states = async () => Object.fromEntries(await Promise.all(SERVICES.map(async (service) => [service, (await h.history.get(`${executionId}/${service}`))?.state])));
  // This execution's: Switch-Traffic also settles earlier tests' items of the same services (issue 14, item 6).
  const notStartedAnnouncements = () => h.messages().filter((m) => m.event === 'NOT_STARTED' && m.body.executionId === executionId).map((m) => m.service).sort();

  test('a wave-1 rollback marks every later-wave item NOT_STARTED and says per service what happened; same-wave peers are untouched', async () => {
    await start('job-1');
    h.reset();
    alarmRollback('Succeeded');
    await poll('job-2');

    expect(await states()).toEqual({ 'orders-api': 'ROLLED_BACK', 'payments': 'STAGED', 'billing': 'NOT_STARTED', 'shipping': 'NOT_STARTED', 'emails': 'NOT_STARTED' });
    expect(await h.history.get(`${executionId}/billing`)).toMatchObject({ failureReason: 'wave 1: orders-api rolled back', finishedAt: expect.any(String), wave: 2 });
    expect(h.jobResults().failures).toHaveLength(1);

    const messages = h.messages();
    expect(messages.map((m) => [m.event, m.subject])).toEqual([
      ['ROLLED_BACK', '[orders-api] rolled back to version 3 (4 failed)'],
      ['NOT_STARTED', '[billing] never started: wave 1: orders-api rolled back'],
      ['NOT_STARTED', '[emails] never started: wave 1: orders-api rolled back'],
      ['NOT_STARTED', '[shipping] never started: wave 1: orders-api rolled back'],
    ]);
    // every message lists the whole execution: which went live, which rolled back, which never started
    const execution = [
      { service: 'orders-api', wave: 1, state: 'ROLLED_BACK', outcome: 'rolled back', currentVersion: '3', targetVersion: '4' },
      { service: 'payments', wave: 1, state: 'STAGED', outcome: 'staged, not started yet', currentVersion: '8', targetVersion: '9' },
      { service: 'billing', wave: 2, state: 'NOT_STARTED', outcome: 'never started', currentVersion: '1', targetVersion: '2' },
      { service: 'shipping', wave: 2, state: 'NOT_STARTED', outcome: 'never started', currentVersion: '1', targetVersion: '2' },
      { service: 'emails', wave: 3, state: 'NOT_STARTED', outcome: 'never started', currentVersion: '1', targetVersion: '2' },
    ];
    for (const message of messages) expect(message.body.execution).toEqual(execution);
    expect(messages[1].body).toMatchObject({ event: 'NOT_STARTED', deploymentId: `${executionId}/billing`, service: 'billing', state: 'NOT_STARTED' });
    const attributes = h.mocks.sns.commandCalls(PublishCommand)[1].args[0].input.MessageAttributes;
    expect(attributes).toEqual({
      event: { DataType: 'String', StringValue: 'NOT_STARTED' },
      service: { DataType: 'String', StringValue: 'billing' },
      executionId: { DataType: 'String', StringValue: executionId },
      wave: { DataType: 'Number', StringValue: '2' },
    });
  });

  test('two deliveries of the failing poll at once mark each later item exactly once', async () => {
    await start('job-1');
    alarmRollback('Succeeded');
    await Promise.all([poll('job-2'), poll('job-2')]);
    expect(notStartedAnnouncements()).toEqual(['billing', 'emails', 'shipping']);
    expect(h.announced().filter((e) => e === 'ROLLED_BACK')).toHaveLength(1);
    expect(await states()).toMatchObject({ billing: 'NOT_STARTED', shipping: 'NOT_STARTED', emails: 'NOT_STARTED' });
  });

  test('two wave-1 services failing at once mark each later item exactly once, naming whichever stopped it', async () => {
    await start('job-1');
    await start('job-p1', handler, undefined, paymentsParameters);
    alarmRollback('Succeeded');
    codeDeployReports('d-PAYMENTS-LIVE-DEV', 'Failed', { errorInformation: { code: 'HEALTH_CONSTRAINTS', message: 'The overall deployment failed' } });
    await Promise.all([poll('job-2'), poll('job-p2', 'd-PAYMENTS-LIVE-DEV', paymentsParameters)]);

    expect(await states()).toEqual({ 'orders-api': 'ROLLED_BACK', 'payments': 'FAILED', 'billing': 'NOT_STARTED', 'shipping': 'NOT_STARTED', 'emails': 'NOT_STARTED' });
    expect(notStartedAnnouncements()).toEqual(['billing', 'emails', 'shipping']);
    for (const service of LATER) {
      expect(['wave 1: orders-api rolled back', 'wave 1: payments failed']).toContain((await h.history.get(`${executionId}/${service}`))?.failureReason);
    }
  });

  test('a later-wave item already claimed (STARTING) is not touched', async () => {
    await h.history.claim(`${executionId}/billing`, {
      state: 'STARTING', jobId: 'job-b9', jobSet: 'switchTrafficJobIds', from: ['STAGED'], matching: { targetVersion: '2' }, holdMs: 120_000,
    });
    await start('job-1');
    alarmRollback('Succeeded');
    await poll('job-2');
    expect(await h.history.get(`${executionId}/billing`)).toMatchObject({ state: 'STARTING', claimJobId: 'job-b9' });
    expect(notStartedAnnouncements()).toEqual(['emails', 'shipping']);
  });

  test('a start that fails in wave 2 stops wave 3 only', async () => {
    active.set('billing-live-dev', 'd-SOMEONE-ELSE');
    await start('job-b1', handler, undefined, billingParameters);
    expect(await states()).toEqual({ 'orders-api': 'STAGED', 'payments': 'STAGED', 'billing': 'FAILED', 'shipping': 'STAGED', 'emails': 'NOT_STARTED' });
    expect((await h.history.get(`${executionId}/emails`))?.failureReason).toBe('wave 2: billing failed');
    expect(h.messages().map((m) => [m.event, m.service])).toEqual([['FAILED', 'billing'], ['NOT_STARTED', 'emails']]);
  });

  test('a retried stage starts a NOT_STARTED item (a new job claims it)', async () => {
    await start('job-1');
    alarmRollback('Succeeded');
    await poll('job-2');
    await expect(start('job-b1', handler, undefined, billingParameters)).resolves.toEqual({ kind: 'continue', codeDeployDeploymentId: 'd-BILLING-LIVE-DEV' });
    const billing = await h.history.get(`${executionId}/billing`);
    expect(billing).toMatchObject({ state: 'SHIFTING', codeDeployDeploymentId: 'd-BILLING-LIVE-DEV', switchTrafficJobIds: new Set(['job-b1']) });
    expect(billing?.failureReason).toBeUndefined();
  });

  test('a stale poll of an earlier CodeDeploy deployment marks nothing', async () => {
    await start('job-1');
    alarmRollback('Succeeded', undefined, 'd-EARLIER', 'd-EARLIER-ROLLBACK');
    await expect(poll('job-0', 'd-EARLIER')).resolves.toMatchObject({ kind: 'failed' });
    expect(await states()).toMatchObject({ 'orders-api': 'SHIFTING', 'billing': 'STAGED', 'shipping': 'STAGED', 'emails': 'STAGED' });
    expect(notStartedAnnouncements()).toEqual([]);
  });

  test('a repeated delivery completes what a crashed one left undone, announcing nothing twice', async () => {
    await start('job-1');
    alarmRollback('Succeeded');
    // the first delivery recorded ROLLED_BACK, then died before marking the later waves
    await h.history.transition(deploymentId, 'ROLLED_BACK', { failureReason: 'x' }, { from: ['SHIFTING'], matching: { codeDeployDeploymentId: 'd-ABC' } });
    h.mocks.sns.resetHistory();
    await poll('job-2');
    expect(await states()).toMatchObject({ billing: 'NOT_STARTED', shipping: 'NOT_STARTED', emails: 'NOT_STARTED' });
    expect(h.announced()).toEqual(['NOT_STARTED', 'NOT_STARTED', 'NOT_STARTED']);
    await poll('job-2');
    expect(h.announced()).toHaveLength(3);
  });

  test('services of one execution have their own items: shifts at once do not collide, and one going live leaves the others alone', async () => {
    const outcomes = await Promise.all([start('job-1'), start('job-b1', handler, undefined, billingParameters)]);
    expect(outcomes).toEqual([{ kind: 'continue', codeDeployDeploymentId: 'd-ABC' }, { kind: 'continue', codeDeployDeploymentId: 'd-BILLING-LIVE-DEV' }]);
    expect(await h.history.get(deploymentId)).toMatchObject({ state: 'SHIFTING', codeDeployDeploymentId: 'd-ABC', targetVersion: '4' });
    expect(await h.history.get(`${executionId}/billing`)).toMatchObject({ state: 'SHIFTING', codeDeployDeploymentId: 'd-BILLING-LIVE-DEV', targetVersion: '2' });
    const groups = h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand).map((c) => c.args[0].input.deploymentGroupName).sort();
    expect(groups).toEqual(['billing-live-dev', 'orders-api-live-dev']);

    codeDeployReports('d-ABC', 'Succeeded');
    await poll('job-2');
    expect(await states()).toEqual({ 'orders-api': 'SUCCEEDED', 'payments': 'STAGED', 'billing': 'SHIFTING', 'shipping': 'STAGED', 'emails': 'STAGED' });
    expect(h.messages().find((m) => m.event === 'SUCCEEDED')?.subject).toBe('[orders-api] went live: version 4 (was 3)');
  });
});

describe('overlapping executions (issue 14)', () => {
  const V5 = { targetVersion: '5' };
  /** The next execution of the pipeline: its orders-api item, staged by Deploy-Blue after every item so far. */
  async function nextExecution(targetVersion: string, currentVersion = '3') {
    const previous = { executionId, deploymentId };
    executionId = `exec-${++executions}`;
    deploymentId = `${executionId}/orders-api`;
    await stagedRecord(h.history, deploymentId, { executionId, service: 'orders-api', wave: 1, functionName: 'orders-api-dev', currentVersion, targetVersion });
    return previous;
  }

  /** Moves the test's item on as its own Switch-Traffic would: STARTING, then SHIFTING with `codeDeployDeploymentId`. */
  async function shifting(id: string, codeDeployDeploymentId: string, jobId = `switch-${id}`) {
    await h.history.claim(id, { state: 'STARTING', jobId, jobSet: 'switchTrafficJobIds', from: ['STAGED'], holdMs: 120_000 });
    return h.history.transition(id, 'SHIFTING', { currentVersion: '3', codeDeployDeploymentId }, { claimJobId: jobId });
  }

  test('an earlier execution\'s deployment that goes on after its stage was abandoned: the later one waits, records its outcome, then shifts from its final version', async () => {
    // Execution A (this test's first item) shifts 3 -> 4; its stage is stopped and abandoned, CodeDeploy goes on.
    await shifting(deploymentId, 'd-EARLIER');
    active.set('orders-api-live-dev', 'd-EARLIER');
    codeDeployReports('d-EARLIER', 'InProgress');
    h.mocks.lambda.on(GetAliasCommand).resolves(aliasAnswer('3', { 4: 0.3 }));
    const a = await nextExecution('5');

    await expect(start('job-1', handler, undefined, V5)).resolves.toEqual({ kind: 'wait', continuationToken: 'wait:d-EARLIER', waitingFor: a.deploymentId });
    expect(h.jobResults()).toEqual({ successes: [{ jobId: 'job-1', continuationToken: 'wait:d-EARLIER' }], failures: [] });
    expect(await h.history.get(deploymentId)).toMatchObject({ state: 'STARTING', awaitingDeploymentId: 'd-EARLIER' });
    await expect(poll('job-2', 'wait:d-EARLIER', V5)).resolves.toEqual({ kind: 'wait', continuationToken: 'wait:d-EARLIER' });
    expect(h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)).toHaveLength(0);

    // A's deployment ends: live serves 4.
    codeDeployReports('d-EARLIER', 'Succeeded');
    h.mocks.lambda.on(GetAliasCommand).resolves(aliasAnswer('4'));
    await expect(poll('job-3', 'wait:d-EARLIER', V5)).resolves.toEqual({ kind: 'continue', codeDeployDeploymentId: 'd-ABC' });
    expect(await h.history.get(a.deploymentId)).toMatchObject({ state: 'SUCCEEDED', codeDeployDeploymentId: 'd-EARLIER' });
    const appSpec = JSON.parse(h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)[0].args[0].input.revision!.appSpecContent!.content!);
    expect(appSpec.Resources[0]['orders-api-dev'].Properties).toMatchObject({ CurrentVersion: '4', TargetVersion: '5' });
    expect(await h.history.get(deploymentId)).toMatchObject({ state: 'SHIFTING', currentVersion: '4', codeDeployDeploymentId: 'd-ABC' });
    expect((await h.history.get(deploymentId))?.awaitingDeploymentId).toBeUndefined();
    expect(h.messages().map((m) => [m.event, m.body.executionId])).toEqual([['SUCCEEDED', a.executionId], ['STARTED', executionId]]);
    // A duplicate of the resuming poll follows the deployment it started.
    codeDeployReports('d-ABC', 'InProgress');
    await expect(poll('job-3', 'wait:d-EARLIER', V5)).resolves.toEqual({ kind: 'continue', codeDeployDeploymentId: 'd-ABC' });
    expect(h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)).toHaveLength(1);
  });

  test('an earlier execution\'s deployment rolled back while waited for is recorded ROLLED_BACK, and the shift starts from the version it restored', async () => {
    await shifting(deploymentId, 'd-ABC');
    active.set('orders-api-live-dev', 'd-ABC');
    codeDeployReports('d-ABC', 'InProgress');
    const a = await nextExecution('5');
    nextDeploymentIds = ['d-LATER'];
    await expect(start('job-1', handler, undefined, V5)).resolves.toMatchObject({ kind: 'wait', continuationToken: 'wait:d-ABC' });
    alarmRollback('Succeeded');
    await expect(poll('job-2', 'wait:d-ABC', V5)).resolves.toEqual({ kind: 'continue', codeDeployDeploymentId: 'd-LATER' });
    expect(await h.history.get(a.deploymentId)).toMatchObject({ state: 'ROLLED_BACK', rollbackDeploymentId: 'd-ROLLBACK' });
    const appSpec = JSON.parse(h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)[0].args[0].input.revision!.appSpecContent!.content!);
    expect(appSpec.Resources[0]['orders-api-dev'].Properties).toMatchObject({ CurrentVersion: '3', TargetVersion: '5' });
  });

  test.each([
    ['has already shifted it (SUCCEEDED)', 'Succeeded', /and has already shifted orders-api to version 5;/],
    ['is shifting it (SHIFTING)', 'InProgress', /and is shifting orders-api to version 5 \(SHIFTING\);/],
  ])('an older execution\'s retry after a newer one %s is refused, naming it and its version; traffic stays', async (_name, status, said) => {
    // Execution A's first attempt failed (a hand-started deployment held the group).
    someoneElsesDeployment();
    await start('job-1');
    active.clear();
    const a = { executionId, deploymentId };
    // Execution B started later, published 5 and shifted to it.
    await nextExecution('5');
    await shifting(deploymentId, 'd-NEWER');
    if (status === 'Succeeded') {
      await h.history.transition(deploymentId, 'SUCCEEDED', {}, { from: ['SHIFTING'] });
      h.mocks.lambda.on(GetAliasCommand).resolves(aliasAnswer('5'));
    } else {
      active.set('orders-api-live-dev', 'd-NEWER');
      codeDeployReports('d-NEWER', 'InProgress');
    }
    const b = executionId;
    executionId = a.executionId;
    deploymentId = a.deploymentId;
    h.reset();
    answerVersionListing();
    h.mocks.codeDeploy.on(ListDeploymentsCommand).callsFake(async (input: ListDeploymentsCommandInput) => {
      const id = active.get(input.deploymentGroupName!);
      return { deployments: id ? [id] : [] };
    });
    codeDeployReports('d-NEWER', status as DeploymentStatus);

    await start('job-retry');
    const message = h.jobResults().failures[0]?.failureDetails?.message;
    expect(message).toMatch(new RegExp(`^Switch-Traffic refused: execution ${b} is newer \\(it reached Deploy-Blue at .*, execution ${a.executionId} at .*\\)`));
    expect(message).toMatch(said);
    expect(message).toMatch(/shifting to version 4 would move traffic back to an older build\. Traffic was not changed\./);
    expect(h.mocks.codeDeploy.commandCalls(CreateDeploymentCommand)).toHaveLength(0);
    expect(await h.history.get(a.deploymentId)).toMatchObject({ state: 'FAILED', failureReason: message });
  });

  test('an earlier execution\'s item its ended execution left STAGED is marked NOT_STARTED with the reason when a later execution shifts the service', async () => {
    // Execution A: a peer's Deploy-Blue failed, so orders-api stayed STAGED and its Switch-Traffic never ran.
    const a = await nextExecution('5');
    await start('job-1', handler, undefined, V5);
    expect(await h.history.get(a.deploymentId)).toMatchObject({
      state: 'NOT_STARTED',
      failureReason: `not started: execution ${a.executionId} ended (left Switch-Traffic) before orders-api was shifted; found by execution ${executionId}`,
    });
    expect(h.messages().filter((m) => m.body.executionId === a.executionId).map((m) => m.event)).toEqual(['NOT_STARTED']);
    // Counted once in Deployments, as NotStarted for orders-api.
    expect(h.metrics().filter((d: any) => d.Outcome === 'NotStarted' && d.Service === 'orders-api')).toHaveLength(1);
    // A repeated delivery marks nothing twice.
    h.reset();
    answerVersionListing();
    await start('job-1', handler, undefined, V5);
    expect(h.messages().filter((m) => m.body.executionId === a.executionId)).toEqual([]);
  });
});
