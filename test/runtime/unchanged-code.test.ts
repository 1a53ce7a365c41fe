import { GetAliasCommand, GetFunctionConfigurationCommand, LambdaClient, LambdaServiceException } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { compareWithLive } from '../../src/runtime/unchanged-code';
import { aliasAnswer, FUNCTION_NAME, functionConfiguration } from '../helpers/handler-harness';

const client = new LambdaClient({ region: 'us-east-1' });
const lambda = mockClient(client);
const request = { functionName: FUNCTION_NAME, aliasName: 'live', codeSha256: 'sha-live' };

/** Version 7's and $LATEST's settings (GetFunctionConfigurationCommand.d.ts: with a Qualifier, that version's). */
function configurations(changes: { version?: object; latest?: object } = {}) {
  lambda.on(GetFunctionConfigurationCommand).callsFake(async (input) => input.Qualifier === '7'
    ? { ...functionConfiguration({ version: '7', codeSha256: 'sha-live', revisionId: 'rev-7', description: 'deployment exec-7 commit c0ffee' }), ...changes.version }
    : { ...functionConfiguration({ codeSha256: 'sha-other', revisionId: 'rev-9' }), ...changes.latest });
}

beforeEach(() => {
  lambda.reset();
  lambda.on(GetAliasCommand).resolves(aliasAnswer('7'));
  configurations();
});

test('the same code as the version live serves, with $LATEST\'s settings, is unchanged', async () => {
  await expect(compareWithLive(client, request)).resolves.toEqual({ unchanged: true, version: '7' });
  expect(lambda.commandCalls(GetFunctionConfigurationCommand).map((c) => c.args[0].input.Qualifier).sort()).toEqual(['7', undefined]);
});

test('other code is changed', async () => {
  await expect(compareWithLive(client, { ...request, codeSha256: 'sha-new' })).resolves.toEqual({ unchanged: false, reason: 'version 7 has other code (sha-live)' });
});

test('a split alias is changed: which side stays live is not known yet', async () => {
  lambda.on(GetAliasCommand).resolves(aliasAnswer('7', { 8: 0.2 }));
  await expect(compareWithLive(client, request)).resolves.toMatchObject({ unchanged: false, reason: 'alias live serves 7 and routes to 8' });
});

test('a setting $LATEST has and the version has not (a stack update) is changed; SnapStart\'s optimization status is not a setting', async () => {
  configurations({ latest: { Environment: { Variables: { LEVEL: 'debug' } } } });
  await expect(compareWithLive(client, request)).resolves.toEqual({ unchanged: false, reason: 'version 7 has the same code but other settings than $LATEST' });

  configurations({
    version: { SnapStart: { ApplyOn: 'PublishedVersions', OptimizationStatus: 'On' } },
    latest: { SnapStart: { ApplyOn: 'PublishedVersions', OptimizationStatus: 'Off' } },
  });
  await expect(compareWithLive(client, request)).resolves.toEqual({ unchanged: true, version: '7' });
});

test('what cannot be read (no permission for the version) is changed, never a failure: when in doubt, deploy', async () => {
  lambda.on(GetFunctionConfigurationCommand).rejects(new LambdaServiceException({
    name: 'AccessDeniedException', $fault: 'client', message: `User is not authorized to perform: lambda:GetFunctionConfiguration on resource: ${FUNCTION_NAME}:7`, $metadata: { httpStatusCode: 403 },
  }));
  const result = await compareWithLive(client, request);
  expect(result).toMatchObject({ unchanged: false });
  expect(!result.unchanged && result.reason).toMatch(/^could not compare with the live version: AccessDeniedException: User is not authorized/);
});
