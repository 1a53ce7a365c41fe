import { CodeDeployServiceException, InvalidRoleException, ThrottlingException } from '@aws-sdk/client-codedeploy';
import { ProvisionedThroughputExceededException, ReplicatedWriteConflictException } from '@aws-sdk/client-dynamodb';
import { isTransientError } from '../../src/runtime/transient-error';

// Errors as the SDK throws them: AWS's named exceptions with the HTTP status the SDK records in $metadata.
describe('isTransientError', () => {
  test.each([
    ['CodeDeploy ThrottlingException (400)', new ThrottlingException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } })],
    ['DynamoDB ProvisionedThroughputExceededException (400)', new ProvisionedThroughputExceededException({ message: 'exceeded', $metadata: { httpStatusCode: 400 } })],
    // The DynamoDB model marks this one retryable: the SDK sets $retryable.
    ['a modeled retryable error', new ReplicatedWriteConflictException({ message: 'conflict', $metadata: { httpStatusCode: 400 } })],
    ['a 503 answer', new CodeDeployServiceException({ name: 'ServiceUnavailable', $fault: 'server', message: 'unavailable', $metadata: { httpStatusCode: 503 } })],
    ['a 429 answer', new CodeDeployServiceException({ name: 'TooManyRequests', $fault: 'client', message: 'slow down', $metadata: { httpStatusCode: 429 } })],
    ['a socket timeout', Object.assign(new Error('Socket timed out'), { name: 'TimeoutError' })],
    ['a reset connection', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
    ['a reset connection as the cause', new Error('request failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) })],
  ])('%s is transient', (_, error) => {
    expect(isTransientError(error)).toBe(true);
  });

  test.each([
    ['InvalidRoleException (400)', new InvalidRoleException({ message: 'cannot assume the role', $metadata: { httpStatusCode: 400 } })],
    ['AccessDeniedException (400)', new CodeDeployServiceException({ name: 'AccessDeniedException', $fault: 'client', message: 'not authorized', $metadata: { httpStatusCode: 400 } })],
    ['an aborted request', Object.assign(new Error('aborted'), { name: 'AbortError', code: 'ECONNRESET' })],
    ['a plain error', new Error('CodeDeploy CreateDeployment returned no deployment id')],
    ['not an error', 'ThrottlingException'],
  ])('%s is not', (_, error) => {
    expect(isTransientError(error)).toBe(false);
  });
});
