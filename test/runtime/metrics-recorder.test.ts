import * as names from '../../src/contract/deployment-metrics';
import { DeploymentRecord } from '../../src/runtime/deployment-history-store';
import { createLogger } from '../../src/runtime/logger';
import { DeploymentMetricsRecorder, deploymentMetricsDocument, writeToStdout } from '../../src/runtime/metrics-recorder';
import { emfProblems } from '../helpers/emf-validation';

const FALLBACK = new Date('2026-11-22T12:00:00Z');
const PIPELINE = 'orders-api-pipeline-dev';
const base = {
  deploymentId: 'exec-1/orders-api',
  executionId: 'exec-1',
  service: 'orders-api',
  environment: 'dev',
  commitTime: '2026-11-22T09:00:00.000Z',
  shiftStartedAt: '2026-11-22T10:01:00.000Z',
  finishedAt: '2026-11-22T10:31:00.500Z',
};
const DEPLOYMENTS_DIRECTIVE = {
  Namespace: 'BlueGreenLambdaPipeline',
  Dimensions: [['Pipeline', 'Environment', 'Service', 'Outcome'], ['Pipeline', 'Environment', 'Outcome']],
  Metrics: [{ Name: 'Deployments', Unit: 'Count' }],
};
const DURATION_DIMENSIONS = [['Pipeline', 'Environment', 'Service'], ['Pipeline', 'Environment']];
/** The document of one record, as the handlers of PIPELINE publish it. */
const documentOf = (record: DeploymentRecord, fallbackService?: string) =>
  deploymentMetricsDocument(record, FALLBACK, fallbackService, undefined, PIPELINE);

test('the names the dashboard keys on', () => {
  expect(names).toMatchObject({
    METRICS_NAMESPACE: 'BlueGreenLambdaPipeline',
    DEPLOYMENTS_METRIC: 'Deployments',
    SHIFT_DURATION_METRIC: 'ShiftDuration',
    LEAD_TIME_METRIC: 'LeadTime',
    PIPELINE_DIMENSION: 'Pipeline',
    ENVIRONMENT_DIMENSION: 'Environment',
    SERVICE_DIMENSION: 'Service',
    OUTCOME_DIMENSION: 'Outcome',
    DEPLOYMENT_OUTCOMES: ['Succeeded', 'RolledBack', 'Failed', 'Skipped', 'NotStarted'],
    METRIC_UNITS: { Deployments: 'Count', ShiftDuration: 'Seconds', LeadTime: 'Seconds' },
  });
});

test('a success counts once, with its shift duration and its lead time in seconds', () => {
  const record: DeploymentRecord = { ...base, state: 'SUCCEEDED' };
  expect(documentOf(record)).toEqual({
    document: {
      _aws: {
        Timestamp: Date.parse('2026-11-22T10:31:00.500Z'),
        CloudWatchMetrics: [
          DEPLOYMENTS_DIRECTIVE,
          { Namespace: 'BlueGreenLambdaPipeline', Dimensions: DURATION_DIMENSIONS, Metrics: [{ Name: 'ShiftDuration', Unit: 'Seconds' }, { Name: 'LeadTime', Unit: 'Seconds' }] },
        ],
      },
      Pipeline: PIPELINE,
      Environment: 'dev',
      Service: 'orders-api',
      Outcome: 'Succeeded',
      Deployments: 1,
      ShiftDuration: 1800.5,
      LeadTime: 5460.5,
      deploymentId: 'exec-1/orders-api',
      executionId: 'exec-1',
    },
    notes: [],
  });
});

test('where the service runs is a property of every document, not a dimension: dashboards and alarms see no new metric', () => {
  const { document } = documentOf({ ...base, state: 'SUCCEEDED', account: '222222222222', region: 'eu-west-1' })!;
  expect(document).toMatchObject({ [names.ACCOUNT_PROPERTY]: '222222222222', [names.REGION_PROPERTY]: 'eu-west-1' });
  expect(names).toMatchObject({ ACCOUNT_PROPERTY: 'Account', REGION_PROPERTY: 'Region' });
  for (const directive of document._aws.CloudWatchMetrics) expect(directive.Dimensions.flat()).not.toEqual(expect.arrayContaining(['Account']));
  expect(document._aws.CloudWatchMetrics.flatMap((d) => d.Dimensions.flat())).not.toContain('Region');
  expect(emfProblems(document)).toEqual([]);
  // An item written before it recorded them has neither.
  expect(Object.keys(documentOf({ ...base, state: 'SUCCEEDED' })!.document)).not.toEqual(expect.arrayContaining(['Account']));
});

test('a rollback has a shift duration and no lead time', () => {
  const { document } = documentOf({ ...base, state: 'ROLLED_BACK' })!;
  expect(document).toMatchObject({ Outcome: 'RolledBack', Deployments: 1, ShiftDuration: 1800.5 });
  expect(document).not.toHaveProperty('LeadTime');
  expect(document._aws.CloudWatchMetrics[1].Metrics).toEqual([{ Name: 'ShiftDuration', Unit: 'Seconds' }]);
});

test.each([
  ['FAILED', 'Failed'],
  ['SKIPPED', 'Skipped'],
  ['NOT_STARTED', 'NotStarted'],
] as const)('%s counts as %s, with no duration', (state, outcome) => {
  const { document, notes } = documentOf({ ...base, state })!;
  expect(document).toEqual({
    _aws: { Timestamp: Date.parse(base.finishedAt), CloudWatchMetrics: [DEPLOYMENTS_DIRECTIVE] },
    Pipeline: PIPELINE,
    Environment: 'dev',
    Service: 'orders-api',
    Outcome: outcome,
    Deployments: 1,
    deploymentId: 'exec-1/orders-api',
    executionId: 'exec-1',
  });
  expect(notes).toEqual([]);
});

test('what cannot be measured is left out and said why; the count stays', () => {
  const { document, notes } = documentOf({ deploymentId: 'exec-1/orders-api', state: 'SUCCEEDED' }, 'orders-api')!;
  expect(document).toEqual({
    _aws: { Timestamp: FALLBACK.getTime(), CloudWatchMetrics: [DEPLOYMENTS_DIRECTIVE] },
    Pipeline: PIPELINE,
    // An item written before items carried their environment.
    Environment: 'unknown',
    Service: 'orders-api',
    Outcome: 'Succeeded',
    Deployments: 1,
    deploymentId: 'exec-1/orders-api',
  });
  expect(notes).toEqual(['no ShiftDuration: the record has no usable shiftStartedAt/finishedAt', 'no LeadTime: the record has no commitTime']);

  const future = deploymentMetricsDocument({ ...base, state: 'SUCCEEDED', commitTime: '2026-11-22T11:00:00.000Z' }, FALLBACK)!;
  expect(future.document).not.toHaveProperty('LeadTime');
  expect(future.notes).toEqual(['no LeadTime: commitTime 2026-11-22T11:00:00.000Z is after finishedAt 2026-11-22T10:31:00.500Z']);
});

test.each(['STAGING', 'STAGED', 'STARTING', 'SHIFTING'] as const)('%s is no final state: no document', (state) => {
  expect(deploymentMetricsDocument({ ...base, state }, FALLBACK)).toBeUndefined();
  const lines: string[] = [];
  const logger = createLogger();
  const error = jest.spyOn(logger, 'error').mockImplementation(() => undefined);
  expect(new DeploymentMetricsRecorder((line) => lines.push(line), undefined, logger).deploymentEnded({ ...base, state })).toBeUndefined();
  expect(lines).toEqual([]);
  expect(error).toHaveBeenCalledTimes(1);
});

test('every document meets the embedded metric format specification', () => {
  for (const state of ['SUCCEEDED', 'ROLLED_BACK', 'FAILED', 'SKIPPED', 'NOT_STARTED'] as const) {
    expect(emfProblems(deploymentMetricsDocument({ ...base, state }, FALLBACK)!.document)).toEqual([]);
  }
  // the validator does catch what CloudWatch would refuse
  expect(emfProblems({ _aws: { Timestamp: 1, CloudWatchMetrics: [{ Namespace: 'N', Dimensions: [['Service']], Metrics: [{ Name: 'M', Unit: 'Seconds' }] }] } }))
    .toEqual(['dimension Service must be a top-level string member of 1-1024 characters', 'metric M must be a top-level number (or array of numbers)']);
});

test('the recorder writes one JSON line per deployment and never throws', () => {
  const lines: string[] = [];
  const recorder = new DeploymentMetricsRecorder((line) => lines.push(line));
  const document = recorder.deploymentEnded({ ...base, state: 'SKIPPED' });
  expect(lines).toEqual([JSON.stringify(document)]);
  expect(lines[0]).not.toContain('\n');

  const logger = createLogger();
  const error = jest.spyOn(logger, 'error').mockImplementation(() => undefined);
  const failing = new DeploymentMetricsRecorder(() => {
    throw new Error('EPIPE');
  }, undefined, logger);
  expect(failing.deploymentEnded({ ...base, state: 'FAILED' })).toBeUndefined();
  expect(error).toHaveBeenCalledWith('could not emit deployment metrics', expect.objectContaining({ error: 'Error: EPIPE' }));
});

test('the default writer puts the bare document on stdout, not through the console Lambda rewrites', () => {
  const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const log = jest.spyOn(console, 'log');
  try {
    const document = new DeploymentMetricsRecorder().deploymentEnded({ ...base, state: 'FAILED' });
    expect(write).toHaveBeenCalledWith(`${JSON.stringify(document)}\n`);
    expect(log).not.toHaveBeenCalled();
    writeToStdout('{}');
    expect(write).toHaveBeenLastCalledWith('{}\n');
  } finally {
    write.mockRestore();
    log.mockRestore();
  }
});

describe('Powertools Metrics builds each directive', () => {
  const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

  test('and its warnings reach the log with the item: a timestamp CloudWatch would skip', () => {
    const logger = createLogger();
    const warn = jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
    const old = { ...base, state: 'FAILED' as const, finishedAt: minutesAgo(15 * 24 * 60) };
    expect(deploymentMetricsDocument(old, FALLBACK, undefined, logger)!.document._aws.Timestamp).toBe(Date.parse(old.finishedAt));
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('will be skipped by Amazon CloudWatch'), { itemDeploymentId: 'exec-1/orders-api' });
  });

  test('and a document of now, with Outcome in two dimension sets, warns nothing', () => {
    const logger = createLogger();
    const warn = jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
    const fresh = { ...base, commitTime: minutesAgo(90), shiftStartedAt: minutesAgo(30), finishedAt: minutesAgo(1) };
    const { document } = deploymentMetricsDocument({ ...fresh, state: 'SUCCEEDED' }, FALLBACK, undefined, logger)!;
    expect(document._aws.CloudWatchMetrics.map((d) => d.Dimensions)).toEqual([DEPLOYMENTS_DIRECTIVE.Dimensions, DURATION_DIMENSIONS]);
    expect(warn).not.toHaveBeenCalled();
  });

  test('an empty service name falls back, so no dimension is dropped and nothing is counted twice', () => {
    const { document } = deploymentMetricsDocument({ ...base, service: '', state: 'FAILED' }, FALLBACK, 'orders-api')!;
    expect(document).toMatchObject({ Service: 'orders-api', _aws: { CloudWatchMetrics: [DEPLOYMENTS_DIRECTIVE] } });
    expect(deploymentMetricsDocument({ ...base, service: '', state: 'FAILED' }, FALLBACK)!.document.Service).toBe('orders-api');
  });

  test('a pipeline or environment not known is "unknown", so no dimension set loses a dimension', () => {
    const { document } = deploymentMetricsDocument({ ...base, environment: '', state: 'FAILED' }, FALLBACK)!;
    expect(document).toMatchObject({ Pipeline: 'unknown', Environment: 'unknown', _aws: { CloudWatchMetrics: [DEPLOYMENTS_DIRECTIVE] } });
  });
});
