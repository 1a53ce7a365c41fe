import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import type { DeploymentRecord } from '../../src/runtime/deployment-history-store';
import { executionOutcomes, headline, LifecycleNotifier } from '../../src/runtime/lifecycle-notifier';
import { createLogger } from '../../src/runtime/logger';

const sns = mockClient(SNSClient);
const TOPIC_ARN = 'arn:aws:sns:us-east-1:111111111111:deployments';
const notifier = new LifecycleNotifier(new SNSClient({ region: 'us-east-1' }), TOPIC_ARN);
const published = () => sns.commandCalls(PublishCommand).map((c) => c.args[0].input);

beforeEach(() => {
  sns.reset();
  // Publish answers MessageId (PublishCommand.d.ts).
  sns.on(PublishCommand).resolves({ MessageId: '5b2b1c2d-0000-4000-8000-000000000001' });
});

const record = (overrides: Partial<DeploymentRecord> = {}): DeploymentRecord => ({
  deploymentId: 'exec-1/orders', executionId: 'exec-1', service: 'orders', wave: 1, state: 'STAGED', currentVersion: '3', targetVersion: '4', ...overrides,
});

/** An item of a pipeline that promotes through several environments: its key names the environment. */
const inStaging = { deploymentId: 'exec-1/staging/orders', environment: 'staging' } as const;

test('a subscriber can filter on the environment (a message attribute)', async () => {
  await notifier.announce('ROLLED_BACK', record({ ...inStaging, state: 'ROLLED_BACK' }));
  expect(published()[0].MessageAttributes).toMatchObject({ environment: { DataType: 'String', StringValue: 'staging' } });
});

test('every message says where the service runs (account and region attributes); a subject names them only outside the topic\'s', async () => {
  await notifier.announce('SUCCEEDED', record({ ...inStaging, account: '111111111111', region: 'us-east-1' }));
  await notifier.announce('SUCCEEDED', record({ ...inStaging, account: '222222222222', region: 'eu-west-1' }));
  await notifier.announce('SUCCEEDED', record({ ...inStaging, account: '111111111111', region: 'eu-west-1' }));
  expect(published().map((p) => [p.Subject, p.MessageAttributes?.account?.StringValue, p.MessageAttributes?.region?.StringValue])).toEqual([
    ['[orders in staging] went live: version 4 (was 3)', '111111111111', 'us-east-1'],
    ['[orders in staging (222222222222 eu-west-1)] went live: version 4 (was 3)', '222222222222', 'eu-west-1'],
    ['[orders in staging (111111111111 eu-west-1)] went live: version 4 (was 3)', '111111111111', 'eu-west-1'],
  ]);
  expect(JSON.parse(published()[1].Message!)).toMatchObject({ account: '222222222222', region: 'eu-west-1' });
});

test('the message lists the job ids that claimed the deployment', async () => {
  await notifier.announce('STAGED', record({ deployBlueJobIds: new Set(['job-1', 'job-2']) }));
  const message = JSON.parse(published()[0].Message!);
  expect(message).toMatchObject({ event: 'STAGED', deploymentId: 'exec-1/orders', deployBlueJobIds: ['job-1', 'job-2'] });
});

test.each([
  ['STAGED', {}, '[orders] staged version 4 (live: 3)'],
  ['STARTED', {}, '[orders] shifting traffic 3 -> 4'],
  ['SUCCEEDED', {}, '[orders] went live: version 4 (was 3)'],
  ['SKIPPED', {}, '[orders] skipped: version 4 is already live'],
  ['ROLLED_BACK', {}, '[orders] rolled back to version 3 (4 failed)'],
  ['FAILED', {}, '[orders] deployment failed: 3 -> 4'],
  ['NOT_STARTED', { service: 'billing', failureReason: 'wave 1: orders rolled back' }, '[billing] never started: wave 1: orders rolled back'],
  ['BAKE_PASSED', { ...inStaging }, '[orders in staging] passed its bake: version 4'],
  ['BAKE_ROLLING_BACK', { ...inStaging, bakeFailureReason: 'alarm x in ALARM' }, '[orders in staging] bake: rolling back to version 3 (alarm x in ALARM)'],
  ['BAKE_FAILED', { ...inStaging, bakeFailureReason: 'idle' }, '[orders in staging] bake failed: idle'],
  ['ROLLED_BACK', { ...inStaging }, '[orders in staging] rolled back to version 3 (4 failed)'],
  // one environment: its items' keys carry none, and the subjects stay as they were
  ['SUCCEEDED', { environment: 'dev' }, '[orders] went live: version 4 (was 3)'],
] as const)('%s says per service what happened', async (event, overrides, subject) => {
  expect(headline(event, record(overrides))).toBe(subject);
  await notifier.announce(event, record(overrides));
  expect(published()[0]).toMatchObject({ Subject: subject, MessageAttributes: { event: { DataType: 'String', StringValue: event } } });
  expect(JSON.parse(published()[0].Message!).summary).toBe(subject);
});

test('subjects stay under 100 characters without line breaks, as Publish requires (PublishInput.Subject)', async () => {
  await notifier.announce('NOT_STARTED', record({ failureReason: `wave 1: ${'a-very-long-service-name-'.repeat(6)}\nrolled back` }));
  const subject = published()[0].Subject!;
  expect(subject.length).toBeLessThan(100);
  expect(subject).toMatch(/^\[orders\] never started: wave 1: a-very-long.*\.\.\.$/);
  expect(subject).not.toMatch(/[\r\n]/);
});

test('the execution is listed waves first, each service with what happened to it', () => {
  expect(executionOutcomes([
    record({ deploymentId: 'exec-1/shipping', service: 'shipping', wave: 2, state: 'NOT_STARTED' }),
    record({ deploymentId: 'exec-1/payments', service: 'payments', wave: 1, state: 'SUCCEEDED' }),
    record({ state: 'ROLLED_BACK' }),
  ]).map((o) => [o.service, o.wave, o.outcome])).toEqual([
    ['orders', 1, 'rolled back'], ['payments', 1, 'went live'], ['shipping', 2, 'never started'],
  ]);
});

test('a failed Publish is logged, never thrown', async () => {
  sns.on(PublishCommand).rejects(new Error('SNS is down'));
  const logger = createLogger();
  const error = jest.spyOn(logger, 'error').mockImplementation(() => undefined);
  await expect(new LifecycleNotifier(new SNSClient({ region: 'us-east-1' }), TOPIC_ARN, logger).announce('SUCCEEDED', record())).resolves.toBe(false);
  expect(error).toHaveBeenCalledWith('lifecycle notification failed', { event: 'SUCCEEDED', itemDeploymentId: 'exec-1/orders', error: 'Error: SNS is down' });
});

test('without a topic nothing is published', async () => {
  await expect(new LifecycleNotifier(new SNSClient({ region: 'us-east-1' }), undefined).announce('SUCCEEDED', record())).resolves.toBe(false);
  expect(published()).toEqual([]);
});
