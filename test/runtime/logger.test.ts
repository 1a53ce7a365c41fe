import { appendCorrelation, createLogger, LOG_SERVICE, withInvocation } from '../../src/runtime/logger';
import { captureHandlerOutput } from '../helpers/log-capture';

const output = captureHandlerOutput();
beforeEach(() => output.clear());

const context = { awsRequestId: 'request-1', functionName: 'pipeline-switch-traffic-dev', functionVersion: '$LATEST', invokedFunctionArn: 'arn:aws:lambda:us-east-1:111111111111:function:pipeline-switch-traffic-dev', memoryLimitInMB: '256' };

test('one JSON object per line: level, message, service and the invocation\'s keys at the top level; none without a value', async () => {
  const logger = createLogger();
  await withInvocation(logger, { handler: 'switch-traffic', jobId: 'job-1', deploymentId: undefined }, context, async () => {
    appendCorrelation(logger, { executionId: 'exec-1', deployedService: 'orders', deploymentId: 'exec-1/orders', codeDeployDeploymentId: '' });
    logger.info('started', { state: 'SHIFTING' });
    logger.error('could not record', { error: 'ConditionalCheckFailedException' });
  });
  expect(output.records).toEqual([
    expect.objectContaining({
      level: 'INFO',
      message: 'started',
      service: LOG_SERVICE,
      handler: 'switch-traffic',
      jobId: 'job-1',
      executionId: 'exec-1',
      deployedService: 'orders',
      deploymentId: 'exec-1/orders',
      state: 'SHIFTING',
      function_request_id: 'request-1',
    }),
    expect.objectContaining({ level: 'ERROR', message: 'could not record', jobId: 'job-1', error: 'ConditionalCheckFailedException' }),
  ]);
  expect(output.records[0]).not.toHaveProperty('codeDeployDeploymentId');
});

test('Lambda reuses the process: the next invocation, and a line after one that threw, carry none of its keys', async () => {
  const logger = createLogger();
  await expect(withInvocation(logger, { handler: 'deploy-blue', jobId: 'job-1', deploymentId: 'exec-1/orders' }, undefined, async () => {
    throw new Error('boom');
  })).rejects.toThrow('boom');
  logger.info('between invocations');
  await withInvocation(logger, { handler: 'deploy-blue', jobId: 'job-2' }, undefined, async () => logger.info('second'));
  expect(output.records.map(({ message, jobId, deploymentId }) => ({ message, jobId, deploymentId }))).toEqual([
    { message: 'between invocations', jobId: undefined, deploymentId: undefined },
    { message: 'second', jobId: 'job-2', deploymentId: undefined },
  ]);
});
