import { DeploymentStatus, GetApplicationRevisionCommand, GetDeploymentCommand, PutLifecycleEventHookExecutionStatusCommand } from '@aws-sdk/client-codedeploy';
import { InvokeCommand, UpdateFunctionCodeCommand } from '@aws-sdk/client-lambda';
import { DeployBlueParameters, SwitchTrafficParameters } from '../../src/contract/handler-contract';
import { renderAppSpec } from '../../src/runtime/appspec';
import { createLogger, LOG_SERVICE } from '../../src/runtime/logger';
import { deployBlueParameters, SHOP_COMMIT, switchTrafficParameters } from '../helpers/action-parameters';
import { HistoryTableFixture, startHistoryTable } from '../helpers/dynalite-history-table';
import { answerOneRelease, deploymentInfo, handlerHarness } from '../helpers/handler-harness';
import { captureHandlerOutput, emulateLambdaJsonConsole } from '../helpers/log-capture';
import { pipelineJobEvent } from '../helpers/pipeline-job-event';

/**
 * What the stage handlers log, read as CloudWatch Logs gets it with the JSON log format the
 * construct configures: the console methods are replaced as Lambda's runtime replaces them (a
 * console call becomes `{"timestamp","level","requestId","message"}` with the arguments as the
 * message string), while what a handler writes to stdout and stderr itself stays as it is.
 * - Issue 14 item 10: every line is a structured record with level, message, service and the
 *   invocation's correlation keys at the top level, and a later invocation carries none of an
 *   earlier one's keys.
 * - Issue 14 item 3: no log line, metric, notification, job result or other AWS call carries any
 *   part of the job event's artifactCredentials, even with Powertools' event logging switched on.
 */

/** Distinctive values: none of them may appear anywhere but in the events themselves. */
const CREDENTIALS = {
  accessKeyId: 'ASIAZZLEAKCANARYKEY7Q',
  secretAccessKey: 'leak-canary-secret/9f3c7a1e5b2d4c6e8a0f1b3d5c7e9a2b4d6f8',
  sessionToken: 'IQoJb3JpZ2luX2VjLEAKCANARYSESSIONTOKEN//////////wEaCXVzLWVhc3QtMSJHMEUCIQD',
};
const SECRETS = Object.values(CREDENTIALS);

let fixture: HistoryTableFixture;
let h: ReturnType<typeof handlerHarness>;
let restoreConsole: () => void;
const output = captureHandlerOutput();
let executions = 0;
let executionId: string;
let requests = 0;

/** Lambda's context object, as the runtime passes it to the handler. */
const lambdaContext = (functionName: string) => ({
  functionName,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:us-east-1:111111111111:function:${functionName}`,
  memoryLimitInMB: '256',
  awsRequestId: `request-${++requests}`,
  logGroupName: `/aws/lambda/${functionName}`,
  logStreamName: '2026/11/22/[$LATEST]0123456789abcdef',
  getRemainingTimeInMillis: () => 60_000,
});

const deployParameters = (overrides: Partial<DeployBlueParameters> = {}) => deployBlueParameters(executionId, { ...SHOP_COMMIT, ...overrides });
const switchParameters = (overrides: Partial<SwitchTrafficParameters> = {}) => switchTrafficParameters(executionId, { keepVersions: '2', ...overrides });
const jobEvent = (jobId: string, userParameters: Record<string, string>, options: { artifact?: null; continuationToken?: string } = {}) =>
  pipelineJobEvent({ jobId, userParameters, artifactCredentials: CREDENTIALS, ...options });

/** GetDeployment's deploymentInfo for one deployment (GetDeploymentCommand.d.ts). */
function codeDeployReports(id: string, status: DeploymentStatus, extra: Partial<Parameters<typeof deploymentInfo>[0]> = {}) {
  h.mocks.codeDeploy.on(GetDeploymentCommand, { deploymentId: id })
    .resolves({ deploymentInfo: deploymentInfo({ deploymentId: id, status, ...extra }) });
}

/** Every line an invocation wrote (EMF documents aside), parsed; the invocation's writes are kept for the secrets check. */
const written: string[] = [];
async function linesOf(run: () => Promise<unknown>): Promise<Array<Record<string, any>>> {
  output.clear();
  await run();
  written.push(...output.writes);
  return output.lines.filter((line) => !line.startsWith('{"_aws"')).map((line) => JSON.parse(line));
}

/**
 * Each line is a record with level, message and service at the top level, and `keys` besides
 * (the message is text, not a JSON document wrapped inside another); `absent` keys are not there.
 */
function expectStructured(lines: Array<Record<string, any>>, keys: Record<string, unknown>, absent: string[] = []) {
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) {
    expect({ line, level: ['DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL'].includes(line.level), message: typeof line.message, service: line.service })
      .toEqual({ line, level: true, message: 'string', service: LOG_SERVICE });
    expect({ line, messageIsJson: /^\s*[{[]/.test(line.message) }).toEqual({ line, messageIsJson: false });
    expect(line).toMatchObject(keys);
    for (const key of absent) expect({ line, [key]: line[key] }).toEqual({ line });
  }
}

/** Nothing the handlers wrote or sent anywhere carries any part of the credentials. */
function expectNoCredentials() {
  const decoded = (value: unknown) => JSON.stringify(value, (_key, v) => (v instanceof Uint8Array ? new TextDecoder().decode(v) : v));
  const sent = Object.entries(h.mocks).flatMap(([client, mock]) => mock.calls().map((call) => `${client} ${decoded(call.args[0].input)}`));
  const places = {
    written,
    sent,
    messages: h.messages().map((m) => decoded(m)),
    metrics: h.metrics().map((m) => decoded(m)),
    jobResults: [decoded(h.jobResults())],
  };
  for (const [place, texts] of Object.entries(places)) {
    expect({ place, leaked: texts.filter((text) => SECRETS.some((secret) => text.includes(secret))) }).toEqual({ place, leaked: [] });
  }
  // the check sees what it looks for
  expect(written.length).toBeGreaterThan(0);
  expect(sent.length).toBeGreaterThan(0);
}

beforeAll(async () => {
  fixture = await startHistoryTable();
  h = handlerHarness(fixture);
  restoreConsole = emulateLambdaJsonConsole();
});
afterAll(async () => {
  restoreConsole();
  await fixture.stop();
});

beforeEach(() => {
  h.reset();
  written.length = 0;
  executionId = `exec-${++executions}`;
  answerOneRelease(h);
  // The smoke test's deployment: GetDeployment names the revision by sha256, GetApplicationRevision returns its content.
  const spec = renderAppSpec({ functionName: 'orders-api-dev', aliasName: 'live', currentVersion: '3', targetVersion: '4' });
  h.mocks.codeDeploy.on(GetDeploymentCommand, { deploymentId: 'd-SMOKE' }).resolves({ deploymentInfo: deploymentInfo({ deploymentId: 'd-SMOKE', status: 'InProgress', sha256: spec.sha256 }) });
  h.mocks.codeDeploy.on(GetApplicationRevisionCommand).resolves({ applicationName: 'orders-api-dev', revision: { revisionType: 'AppSpecContent', appSpecContent: spec } });
  h.mocks.codeDeploy.on(PutLifecycleEventHookExecutionStatusCommand).resolves({ lifecycleEventHookExecutionId: 'hook-1' });
  h.mocks.lambda.on(InvokeCommand).resolves({ StatusCode: 200, ExecutedVersion: '4', Payload: new TextEncoder().encode('{"statusCode":200}') as any });
});

describe('every log line is a record Logs Insights can query: level, message, service and correlation keys at the top level', () => {
  test('a release: Deploy-Blue, Switch-Traffic start and polls, the smoke test hook', async () => {
    const deployment = { executionId, deployedService: 'orders-api', deploymentId: `${executionId}/orders-api` };
    const staged = await linesOf(() => h.deployBlue()(jobEvent('deploy-1', deployParameters()), lambdaContext('pipeline-deploy-blue-dev')));
    expectStructured(staged, { handler: 'deploy-blue', jobId: 'deploy-1', ...deployment, function_name: 'pipeline-deploy-blue-dev' });
    expect(staged.map((l) => l.message)).toContain('staged');

    const started = await linesOf(() => h.switchTraffic()(jobEvent('start-1', switchParameters(), { artifact: null }), lambdaContext('pipeline-switch-traffic-dev')));
    expectStructured(started, { handler: 'switch-traffic', jobId: 'start-1', ...deployment, codeDeployDeploymentId: 'd-orders-api-live-dev' });

    codeDeployReports('d-orders-api-live-dev', 'InProgress');
    const polled = await linesOf(() => h.switchTraffic()(jobEvent('poll-1', switchParameters(), { artifact: null, continuationToken: 'd-orders-api-live-dev' })));
    expectStructured(polled, { handler: 'switch-traffic', jobId: 'poll-1', ...deployment, codeDeployDeploymentId: 'd-orders-api-live-dev' });

    const hooked = await linesOf(() => h.smokeTest()({ DeploymentId: 'd-SMOKE', LifecycleEventHookExecutionId: 'hook-1' }, lambdaContext('pipeline-smoke-test-dev')));
    expectStructured(hooked, { handler: 'smoke-test-hook', codeDeployDeploymentId: 'd-SMOKE', lifecycleEventHookExecutionId: 'hook-1', function_request_id: `request-${requests}` },
      ['jobId', 'deploymentId', 'executionId']);

    codeDeployReports('d-orders-api-live-dev', 'Succeeded');
    const live = await linesOf(() => h.switchTraffic()(jobEvent('poll-2', switchParameters(), { artifact: null, continuationToken: 'd-orders-api-live-dev' })));
    expectStructured(live, { handler: 'switch-traffic', jobId: 'poll-2', ...deployment, codeDeployDeploymentId: 'd-orders-api-live-dev' });
    expect(live.map((l) => l.message)).toEqual(expect.arrayContaining(['switch-traffic', 'version pruning']));
    // The same job reported twice: the second result is dropped, and the line says which job.
    const again = await linesOf(() => h.switchTraffic()(jobEvent('poll-2', switchParameters(), { artifact: null, continuationToken: 'd-orders-api-live-dev' })));
    expectStructured(again, { handler: 'switch-traffic', jobId: 'poll-2', ...deployment });
    expect(again.map((l) => l.message)).toContain('job already has a result; this one is dropped');
    expectNoCredentials();
  });

  test('failures: errors are records at ERROR, and a job that names no deployment carries no earlier invocation\'s keys', async () => {
    h.mocks.lambda.on(UpdateFunctionCodeCommand).rejects(Object.assign(new Error('Code storage limit exceeded.'), { name: 'CodeStorageExceededException' }));
    const failed = await linesOf(() => h.deployBlue()(jobEvent('deploy-1', deployParameters())));
    expectStructured(failed, { handler: 'deploy-blue', jobId: 'deploy-1', executionId, deployedService: 'orders-api', deploymentId: `${executionId}/orders-api` });
    expect(failed).toContainEqual(expect.objectContaining({ level: 'ERROR', message: 'job failed', reason: expect.stringContaining('CodeStorageExceededException') }));

    const refused = await linesOf(() => h.switchTraffic()(jobEvent('start-x', switchParameters({ targetVersion: 'latest' }), { artifact: null })));
    expectStructured(refused, { handler: 'switch-traffic', jobId: 'start-x' }, ['deploymentId', 'executionId', 'deployedService', 'codeDeployDeploymentId']);

    const unparsed = await linesOf(() => h.deployBlue()(jobEvent('deploy-y', { deploymentId: executionId })));
    expectStructured(unparsed, { handler: 'deploy-blue', jobId: 'deploy-y' }, ['deploymentId', 'executionId', 'deployedService']);
    expect(unparsed).toContainEqual(expect.objectContaining({ level: 'ERROR', message: 'job failed' }));
    expectNoCredentials();
  });

  test('a rollback: the later waves and the outcome are logged with the deployment\'s keys', async () => {
    await linesOf(() => h.deployBlue()(jobEvent('deploy-1', deployParameters())));
    await linesOf(() => h.switchTraffic()(jobEvent('start-1', switchParameters(), { artifact: null })));
    codeDeployReports('d-orders-api-live-dev', 'Stopped', {
      errorInformation: { code: 'ALARM_ACTIVE', message: 'One or more alarms have been activated: orders-api-error-rate-dev' },
      rollbackInfo: { rollbackDeploymentId: 'd-ROLLBACK', rollbackMessage: 'Deployment was stopped because an alarm was activated' },
    });
    codeDeployReports('d-ROLLBACK', 'Succeeded', { creator: 'codeDeployRollback', rollbackInfo: { rollbackTriggeringDeploymentId: 'd-orders-api-live-dev' } });
    const rolledBack = await linesOf(() => h.switchTraffic()(jobEvent('poll-1', switchParameters(), { artifact: null, continuationToken: 'd-orders-api-live-dev' })));
    expectStructured(rolledBack, { handler: 'switch-traffic', jobId: 'poll-1', executionId, deploymentId: `${executionId}/orders-api`, codeDeployDeploymentId: 'd-orders-api-live-dev' });
    expect(rolledBack).toContainEqual(expect.objectContaining({ message: 'switch-traffic', outcome: 'failed', reason: expect.stringContaining('rolled back by d-ROLLBACK') }));
    expectNoCredentials();
  });
});

describe('no part of the job event\'s artifactCredentials reaches a log line, metric, notification or job result', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  test('even with Powertools\' event logging and DEBUG switched on (the handlers never hand it the event)', async () => {
    process.env.POWERTOOLS_LOGGER_LOG_EVENT = 'true';
    process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
    const logger = createLogger();
    expect(logger.getLogEvent()).toBe(true);
    expect(logger.getLevelName()).toBe('DEBUG');

    await linesOf(() => h.deployBlue({ logger })(jobEvent('deploy-1', deployParameters())));
    await linesOf(() => h.switchTraffic({ logger })(jobEvent('start-1', switchParameters(), { artifact: null })));
    codeDeployReports('d-orders-api-live-dev', 'Succeeded');
    await linesOf(() => h.switchTraffic({ logger })(jobEvent('poll-1', switchParameters(), { artifact: null, continuationToken: 'd-orders-api-live-dev' })));
    // a failure with the event's own parts in its reason: bad UserParameters are quoted back
    await linesOf(() => h.switchTraffic({ logger })(jobEvent('start-x', { ...switchParameters(), extra: 'x' }, { artifact: null })));
    await linesOf(() => h.smokeTest({ logger })({ DeploymentId: 'd-SMOKE', LifecycleEventHookExecutionId: 'hook-1' }));
    expect(h.jobResults().failures).toEqual([expect.objectContaining({ jobId: 'start-x' })]);
    expectNoCredentials();
  });

  test('the logger writes the credentials\' keys as [redacted], wherever a record would carry them', async () => {
    const logger = createLogger();
    const event = jobEvent('job-1', deployParameters());
    const lines = await linesOf(async () => logger.info('by mistake', { event, artifactCredentials: CREDENTIALS, sessionToken: CREDENTIALS.sessionToken }));
    expect(lines).toEqual([expect.objectContaining({
      message: 'by mistake',
      artifactCredentials: '[redacted]',
      sessionToken: '[redacted]',
      event: { 'CodePipeline.job': expect.objectContaining({ data: expect.objectContaining({ artifactCredentials: '[redacted]' }) }) },
    })]);
    expect(written.filter((text) => SECRETS.some((secret) => text.includes(secret)))).toEqual([]);
  });
});
