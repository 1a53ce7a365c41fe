import {
  CodeDeployClient,
  DeploymentDoesNotExistException,
  GetApplicationRevisionCommand,
  GetDeploymentCommand,
  LifecycleEventAlreadyCompletedException,
  PutLifecycleEventHookExecutionStatusCommand,
} from '@aws-sdk/client-codedeploy';
import { InvokeCommand, LambdaClient, LambdaServiceException } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { createSmokeTestHandler, testEventFor } from '../../src/handlers/smoke-test-hook.lambda';
import { renderAppSpec } from '../../src/runtime/appspec';
import { deploymentInfo } from '../helpers/handler-harness';
import { captureHandlerOutput } from '../helpers/log-capture';

const lambda = mockClient(LambdaClient);
const codeDeploy = mockClient(CodeDeployClient);
/** SMOKE_TEST_EVENTS as the construct sets it: one event per service function of the pipeline. */
const TEST_EVENTS = JSON.stringify({ 'orders-api-dev': { rawPath: '/health' }, 'billing-dev': { source: 'smoke-test', detail: [1, 2] }, 'emails-dev': 'ping' });
const smokeTest = (testEvents: string | undefined) => createSmokeTestHandler({
  lambda: new LambdaClient({ region: 'us-east-1' }),
  codeDeploy: new CodeDeployClient({ region: 'us-east-1' }),
  testEvents,
});
const handler = smokeTest(TEST_EVENTS);
const hookEvent = { DeploymentId: 'd-ABC', LifecycleEventHookExecutionId: 'hook-1' };
const reported = () => codeDeploy.commandCalls(PutLifecycleEventHookExecutionStatusCommand).map((c) => c.args[0].input);
const { content, sha256 } = renderAppSpec({ functionName: 'orders-api-dev', aliasName: 'live', currentVersion: '3', targetVersion: '4' });

/** CodeDeploy serving the AppSpec of a deployment of `functionName` (GetDeployment + GetApplicationRevision, shaped as below). */
function deploymentOf(functionName: string, targetVersion = '4') {
  const spec = renderAppSpec({ functionName, aliasName: 'live', currentVersion: '3', targetVersion });
  codeDeploy.on(GetDeploymentCommand).resolves({ deploymentInfo: deploymentInfo({ deploymentId: 'd-ABC', status: 'InProgress', sha256: spec.sha256 }) });
  codeDeploy.on(GetApplicationRevisionCommand).resolves({
    applicationName: 'orders-api-dev',
    revision: { revisionType: 'AppSpecContent', appSpecContent: spec },
    revisionInfo: { deploymentGroups: [`${functionName}-live`], firstUsedTime: new Date('2026-11-22T10:00:00Z'), lastUsedTime: new Date('2026-11-22T10:00:00Z'), registerTime: new Date('2026-11-22T10:00:00Z') },
  });
}
const encode = (text: string) => new TextEncoder().encode(text) as any;

beforeEach(() => {
  lambda.reset();
  codeDeploy.reset();
  // GetDeployment names the revision by sha256 and leaves appSpecContent.content null (GetDeploymentCommand.d.ts note).
  codeDeploy.on(GetDeploymentCommand).resolves({ deploymentInfo: deploymentInfo({ deploymentId: 'd-ABC', status: 'InProgress', sha256 }) });
  // GetApplicationRevision returns the stored revision with its content (GetApplicationRevisionCommand.d.ts).
  codeDeploy.on(GetApplicationRevisionCommand).resolves({
    applicationName: 'orders-api-dev',
    revision: { revisionType: 'AppSpecContent', appSpecContent: { content, sha256 } },
    revisionInfo: { deploymentGroups: ['orders-api-live-dev'], firstUsedTime: new Date('2026-11-22T10:00:00Z'), lastUsedTime: new Date('2026-11-22T10:00:00Z'), registerTime: new Date('2026-11-22T10:00:00Z') },
  });
  // PutLifecycleEventHookExecutionStatus echoes the hook execution id (PutLifecycleEventHookExecutionStatusCommand.d.ts).
  codeDeploy.on(PutLifecycleEventHookExecutionStatusCommand).resolves({ lifecycleEventHookExecutionId: 'hook-1' });
  // A synchronous Invoke answers StatusCode 200, the version it ran and the payload (InvokeCommand.d.ts).
  lambda.on(InvokeCommand).resolves({ StatusCode: 200, ExecutedVersion: '4', Payload: encode('{"statusCode":200}') });
});

test('reads the AppSpec with GetApplicationRevision, invokes the target version with the test event and reports Succeeded', async () => {
  await expect(handler(hookEvent)).resolves.toBe('Succeeded');
  expect(codeDeploy.commandCalls(GetApplicationRevisionCommand)[0].args[0].input).toEqual({
    applicationName: 'orders-api-dev',
    revision: { revisionType: 'AppSpecContent', appSpecContent: { sha256 } },
  });
  const invoke = lambda.commandCalls(InvokeCommand)[0].args[0].input;
  expect(invoke).toMatchObject({ FunctionName: 'orders-api-dev', Qualifier: '4' });
  expect(new TextDecoder().decode(invoke.Payload as Uint8Array)).toBe('{"rawPath":"/health"}');
  expect(reported()).toEqual([{ deploymentId: 'd-ABC', lifecycleEventHookExecutionId: 'hook-1', status: 'Succeeded' }]);
});

test('a function error in the new version reports Failed', async () => {
  // An unhandled error still answers 200, with FunctionError and the error document as payload (InvokeCommand.d.ts).
  lambda.on(InvokeCommand).resolves({
    StatusCode: 200,
    FunctionError: 'Unhandled',
    ExecutedVersion: '4',
    Payload: encode('{"errorType":"Error","errorMessage":"boom","trace":[]}'),
  });
  await expect(handler(hookEvent)).resolves.toBe('Failed');
  expect(reported()[0].status).toBe('Failed');
});

test('an invocation that cannot be made reports Failed rather than leaving CodeDeploy waiting', async () => {
  // IAM denial is not in Lambda's model; the SDK surfaces it as LambdaServiceException named AccessDeniedException.
  lambda.on(InvokeCommand).rejects(new LambdaServiceException({
    name: 'AccessDeniedException',
    $fault: 'client',
    $metadata: { httpStatusCode: 403 },
    message: 'User: arn:aws:sts::111111111111:assumed-role/smoke-test/x is not authorized to perform: lambda:InvokeFunction',
  }));
  await expect(handler(hookEvent)).resolves.toBe('Failed');
  expect(reported()[0].status).toBe('Failed');
});

test('a deployment whose revision is not AppSpecContent reports Failed and names what is missing', async () => {
  const info = deploymentInfo({ deploymentId: 'd-ABC', status: 'InProgress' });
  codeDeploy.on(GetDeploymentCommand).resolves({ deploymentInfo: { ...info, revision: { revisionType: 'S3', s3Location: { bucket: 'b', key: 'k', bundleType: 'zip' } } } });
  await expect(handler(hookEvent)).resolves.toBe('Failed');
  expect(lambda.calls()).toHaveLength(0);
  expect(codeDeploy.commandCalls(GetApplicationRevisionCommand)).toHaveLength(0);
});

test('a deployment that does not exist reports Failed with CodeDeploy\'s reason', async () => {
  codeDeploy.on(GetDeploymentCommand).rejects(new DeploymentDoesNotExistException({ message: 'The deployment d-ABC could not be found', $metadata: { httpStatusCode: 400 } }));
  await expect(handler(hookEvent)).resolves.toBe('Failed');
  expect(lambda.calls()).toHaveLength(0);
});

test('a duplicate hook delivery whose status is already reported does not throw', async () => {
  await handler(hookEvent);
  // A second status for a completed hook answers LifecycleEventAlreadyCompletedException
  // (PutLifecycleEventHookExecutionStatusCommand.d.ts @throws).
  codeDeploy.on(PutLifecycleEventHookExecutionStatusCommand).rejects(new LifecycleEventAlreadyCompletedException({
    message: 'The lifecycle event hook execution hook-1 has already completed', $metadata: { httpStatusCode: 400 },
  }));
  await expect(handler(hookEvent)).resolves.toBe('Succeeded');
  expect(reported()).toHaveLength(2);
});

test('two deliveries of the same hook at once: one status is taken, neither delivery throws', async () => {
  let taken = false;
  codeDeploy.on(PutLifecycleEventHookExecutionStatusCommand).callsFake(async () => {
    if (taken) throw new LifecycleEventAlreadyCompletedException({ message: 'The lifecycle event hook execution hook-1 has already completed', $metadata: { httpStatusCode: 400 } });
    taken = true;
    return { lifecycleEventHookExecutionId: 'hook-1' };
  });
  await expect(Promise.all([handler(hookEvent), handler(hookEvent)])).resolves.toEqual(['Succeeded', 'Succeeded']);
});

test('other reporting errors still throw, so Lambda retries the hook', async () => {
  codeDeploy.on(PutLifecycleEventHookExecutionStatusCommand).rejects(new DeploymentDoesNotExistException({ message: 'The deployment d-ABC could not be found', $metadata: { httpStatusCode: 400 } }));
  await expect(handler(hookEvent)).rejects.toThrow(/could not be found/);
});

test('an event that is not a lifecycle hook throws', async () => {
  await expect(handler({} as any)).rejects.toThrow(/DeploymentId and LifecycleEventHookExecutionId are required/);
  expect(reported()).toHaveLength(0);
});

describe('one hook for every service: the test event is looked up by the AppSpec\'s function', () => {
  const invoked = () => lambda.commandCalls(InvokeCommand).map(({ args: [{ input }] }) =>
    [input.FunctionName, input.Qualifier, new TextDecoder().decode(input.Payload as Uint8Array)]);

  test.each([
    ['billing-dev', '{"source":"smoke-test","detail":[1,2]}'],
    ['emails-dev', '"ping"'],
  ])('%s is invoked with its own event', async (functionName, payload) => {
    deploymentOf(functionName, '8');
    await expect(handler(hookEvent)).resolves.toBe('Succeeded');
    expect(invoked()).toEqual([[functionName, '8', payload]]);
  });

  test('a function without a test event reports Failed naming it and the known ones, and invokes nothing', async () => {
    deploymentOf('payments-dev');
    const output = captureHandlerOutput();
    output.clear();
    await expect(handler(hookEvent)).resolves.toBe('Failed');
    expect(output.records).toEqual([expect.objectContaining({
      level: 'WARN',
      message: 'smoke test',
      codeDeployDeploymentId: 'd-ABC',
      functionName: 'payments-dev',
      failure: 'SMOKE_TEST_EVENTS has no test event for function payments-dev; it has events for: orders-api-dev, billing-dev, emails-dev',
    })]);
    expect(lambda.calls()).toHaveLength(0);
    expect(reported()).toEqual([{ deploymentId: 'd-ABC', lifecycleEventHookExecutionId: 'hook-1', status: 'Failed' }]);
  });

  test.each([
    ['unset', undefined, 'SMOKE_TEST_EVENTS is not set; this function must be deployed by BlueGreenLambdaPipeline'],
    ['not JSON', '{orders', 'SMOKE_TEST_EVENTS is not valid JSON: {orders'],
    ['not an object', '[{"rawPath":"/"}]', 'SMOKE_TEST_EVENTS must be a JSON object mapping function names to test events'],
  ])('SMOKE_TEST_EVENTS %s reports Failed with the reason, never leaving CodeDeploy waiting', async (_name, testEvents, failure) => {
    expect(testEventFor(testEvents, 'orders-api-dev')).toEqual({ failure });
    await expect(smokeTest(testEvents)(hookEvent)).resolves.toBe('Failed');
    expect(lambda.calls()).toHaveLength(0);
  });

  test('an inherited property name is not a test event', () => {
    expect(testEventFor('{}', 'constructor')).toEqual({ failure: 'SMOKE_TEST_EVENTS has no test event for function constructor; it has events for: (none)' });
  });
});

test('renderAppSpec refuses $LATEST and non-numbered versions', () => {
  expect(() => renderAppSpec({ functionName: 'f', aliasName: 'live', currentVersion: '$LATEST', targetVersion: '4' }))
    .toThrow(/currentVersion must be a published version number/);
  expect(() => renderAppSpec({ functionName: 'f', aliasName: 'live', currentVersion: '3', targetVersion: '0' }))
    .toThrow(/targetVersion must be a published version number/);
});
