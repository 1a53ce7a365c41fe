import { CodeDeployClient, GetDeploymentCommand, PutLifecycleEventHookExecutionStatusCommand } from '@aws-sdk/client-codedeploy';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { renderAppSpec } from '../src/runtime/appspec';
import { createSmokeTestHandler } from '../src/smoke-test-hook.lambda';

const lambda = mockClient(LambdaClient);
const codeDeploy = mockClient(CodeDeployClient);
const handler = createSmokeTestHandler({
  lambda: new LambdaClient({ region: 'us-east-1' }),
  codeDeploy: new CodeDeployClient({ region: 'us-east-1' }),
  testEvent: '{"rawPath":"/health"}',
});
const hookEvent = { DeploymentId: 'd-ABC', LifecycleEventHookExecutionId: 'hook-1' };
const reported = () => codeDeploy.commandCalls(PutLifecycleEventHookExecutionStatusCommand).map((c) => c.args[0].input);

beforeEach(() => {
  lambda.reset();
  codeDeploy.reset();
  const { content, sha256 } = renderAppSpec({ functionName: 'orders-api-dev', aliasName: 'live', currentVersion: '3', targetVersion: '4' });
  codeDeploy.on(GetDeploymentCommand).resolves({ deploymentInfo: { revision: { revisionType: 'AppSpecContent', appSpecContent: { content, sha256 } } } });
  codeDeploy.on(PutLifecycleEventHookExecutionStatusCommand).resolves({});
});

test('invokes the target version with the test event and reports Succeeded', async () => {
  lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: new TextEncoder().encode('{"statusCode":200}') as any });
  await expect(handler(hookEvent)).resolves.toBe('Succeeded');
  const invoke = lambda.commandCalls(InvokeCommand)[0].args[0].input;
  expect(invoke).toMatchObject({ FunctionName: 'orders-api-dev', Qualifier: '4' });
  expect(new TextDecoder().decode(invoke.Payload as Uint8Array)).toBe('{"rawPath":"/health"}');
  expect(reported()).toEqual([{ deploymentId: 'd-ABC', lifecycleEventHookExecutionId: 'hook-1', status: 'Succeeded' }]);
});

test('a function error in the new version reports Failed', async () => {
  lambda.on(InvokeCommand).resolves({ StatusCode: 200, FunctionError: 'Unhandled', Payload: new TextEncoder().encode('{"errorMessage":"boom"}') as any });
  await expect(handler(hookEvent)).resolves.toBe('Failed');
  expect(reported()[0].status).toBe('Failed');
});

test('an invocation that cannot be made reports Failed rather than leaving CodeDeploy waiting', async () => {
  lambda.on(InvokeCommand).rejects(new Error('AccessDeniedException'));
  await expect(handler(hookEvent)).resolves.toBe('Failed');
  expect(reported()[0].status).toBe('Failed');
});

test('a deployment without AppSpec content reports Failed', async () => {
  codeDeploy.on(GetDeploymentCommand).resolves({ deploymentInfo: {} });
  await expect(handler(hookEvent)).resolves.toBe('Failed');
  expect(lambda.calls()).toHaveLength(0);
});

test('an event that is not a lifecycle hook throws', async () => {
  await expect(handler({} as any)).rejects.toThrow(/DeploymentId and LifecycleEventHookExecutionId are required/);
  expect(reported()).toHaveLength(0);
});

test('renderAppSpec refuses $LATEST and non-numbered versions', () => {
  expect(() => renderAppSpec({ functionName: 'f', aliasName: 'live', currentVersion: '$LATEST', targetVersion: '4' }))
    .toThrow(/currentVersion must be a published version number/);
  expect(() => renderAppSpec({ functionName: 'f', aliasName: 'live', currentVersion: '3', targetVersion: '0' }))
    .toThrow(/targetVersion must be a published version number/);
});
