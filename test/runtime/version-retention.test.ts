import {
  DeleteFunctionCommand,
  LambdaClient,
  ListAliasesCommand,
  ListVersionsByFunctionCommand,
  ResourceConflictException,
  ResourceNotFoundException,
  TooManyRequestsException,
} from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { DEFAULT_KEEP_VERSIONS, isPipelineVersion, parseKeepVersions, pipelineVersionDescription, pruneVersions } from '../../src/runtime/version-retention';
import { aliasAnswer, FUNCTION_NAME, functionConfiguration } from '../helpers/handler-harness';

const client = new LambdaClient({ region: 'us-east-1' });
const lambda = mockClient(client);

/**
 * A function whose versions live in `versions`; DeleteFunction removes them the way Lambda does.
 * Each version carries the description Deploy-Blue publishes with, unless `descriptions` says otherwise.
 */
function functionWithVersions(versions: number[], aliases: ReturnType<typeof aliasAnswer>[], descriptions: Record<number, string> = {}) {
  const existing = new Set(versions.map(String));
  // ListVersionsByFunction lists $LATEST too, at most 50 per page, with NextMarker while more remain
  // (ListVersionsByFunctionCommand.d.ts); we page by 3 to exercise the paging.
  const all = ['$LATEST', ...versions.map(String)];
  lambda.on(ListVersionsByFunctionCommand).callsFake(async (input) => {
    const from = Number(input.Marker ?? 0);
    const page = all.slice(from, from + 3);
    const more = from + 3 < all.length ? { NextMarker: String(from + 3) } : {};
    // Each version's FunctionConfiguration carries its Description; $LATEST the function's own.
    const description = (version: string) => version === '$LATEST' ? '' : descriptions[Number(version)] ?? pipelineVersionDescription(`exec-${version}`, 'c0ffee');
    return { Versions: page.map((version) => functionConfiguration({ version, description: description(version) })), ...more };
  });
  // ListAliases pages the same way (ListAliasesCommand.d.ts).
  lambda.on(ListAliasesCommand).callsFake(async (input) => {
    const from = Number(input.Marker ?? 0);
    return { Aliases: aliases.slice(from, from + 1), ...(from + 1 < aliases.length ? { NextMarker: String(from + 1) } : {}) };
  });
  lambda.on(DeleteFunctionCommand).callsFake(async (input) => {
    if (!existing.has(input.Qualifier!)) {
      // A version that is gone answers ResourceNotFoundException (DeleteFunctionCommand.d.ts @throws).
      throw new ResourceNotFoundException({ message: `Function not found: arn:aws:lambda:us-east-1:111111111111:function:${FUNCTION_NAME}:${input.Qualifier}`, Type: 'User', $metadata: { httpStatusCode: 404 } });
    }
    existing.delete(input.Qualifier!);
    return { StatusCode: 204 }; // DeleteFunctionResponse: the HTTP status, 204 with an empty body
  });
  return existing;
}

const deletedQualifiers = () => lambda.commandCalls(DeleteFunctionCommand).map((c) => c.args[0].input);

beforeEach(() => lambda.reset());

test('keeps the newest N numbered versions and deletes older ones one qualified call at a time, oldest first', async () => {
  const existing = functionWithVersions([1, 2, 3, 4, 5, 6, 7, 8], [aliasAnswer('8')]);
  const result = await pruneVersions(client, { functionName: FUNCTION_NAME, keepVersions: '3', targetVersion: '8', currentVersion: '7' });
  expect(result).toEqual({ deleted: ['1', '2', '3', '4', '5'], alreadyGone: [], failed: [], deferred: [] });
  expect([...existing].sort()).toEqual(['6', '7', '8']);
  expect(deletedQualifiers()).toEqual(['1', '2', '3', '4', '5'].map((Qualifier) => ({ FunctionName: FUNCTION_NAME, Qualifier })));
});

test('never deletes $LATEST, aliased or weighted versions, the bootstrap version, current, target, or anything newer than the target', async () => {
  functionWithVersions([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [
    aliasAnswer('8', { 3: 0.1 }),
    aliasAnswer('4', undefined, 'canary'),
  ]);
  // target 7 while 8..10 exist: a later execution staged them
  const result = await pruneVersions(client, { functionName: FUNCTION_NAME, keepVersions: '1', targetVersion: '7', currentVersion: '6', bootstrapVersion: '1' });
  expect(result.deleted).toEqual(['2', '5']);
  const qualifiers = deletedQualifiers().map((input) => input.Qualifier);
  for (const kept of ['$LATEST', '1', '3', '4', '6', '7', '8', '9', '10']) expect(qualifiers).not.toContain(kept);
  expect(deletedQualifiers().every((input) => input.Qualifier !== undefined)).toBe(true);
});

test('a user\'s own function: without bootstrapVersion, the stack\'s bootstrap version and versions published by hand are never deleted', async () => {
  // The user published 1 and 2 before adopting the pipeline; the stack's AWS::Lambda::Version is 3
  // (the construct's description); 4..8 are releases. The construct passed bootstrapVersion "".
  const existing = functionWithVersions([1, 2, 3, 4, 5, 6, 7, 8], [aliasAnswer('8')], {
    1: '', 2: 'hand-made hotfix', 3: 'Bootstrap version; the pipeline publishes the following ones',
  });
  const result = await pruneVersions(client, { functionName: FUNCTION_NAME, keepVersions: '2', targetVersion: '8', currentVersion: '7' });
  expect(result).toEqual({ deleted: ['4', '5', '6'], alreadyGone: [], failed: [], deferred: [] });
  expect([...existing].sort()).toEqual(['1', '2', '3', '7', '8']);
});

test('what Deploy-Blue publishes is recognised as the pipeline\'s, and nothing else is', () => {
  expect(isPipelineVersion(pipelineVersionDescription('3f2a8f3e-6b1c-4a57-9d55-0c6f1e7c2b10', '9fceb02d0ae598e95dc970b74767f19372d61af8'))).toBe(true);
  expect(isPipelineVersion(pipelineVersionDescription('3f2a8f3e-6b1c-4a57-9d55-0c6f1e7c2b10'))).toBe(true);
  for (const other of [undefined, '', 'Bootstrap version; the pipeline publishes the following ones', 'deployment of the hotfix by hand', 'my deployment 3']) {
    expect({ other, ours: isPipelineVersion(other) }).toEqual({ other, ours: false });
  }
});

test('keepVersions unset keeps 10', async () => {
  functionWithVersions(Array.from({ length: 12 }, (_, i) => i + 1), [aliasAnswer('12')]);
  const result = await pruneVersions(client, { functionName: FUNCTION_NAME, targetVersion: '12', currentVersion: '11' });
  expect(DEFAULT_KEEP_VERSIONS).toBe(10);
  expect(result.deleted).toEqual(['1', '2']);
});

test('two runs at once are harmless: what one deleted, the other finds already gone', async () => {
  const existing = functionWithVersions([1, 2, 3, 4, 5, 6], [aliasAnswer('6')]);
  const request = { functionName: FUNCTION_NAME, keepVersions: '2', targetVersion: '6', currentVersion: '5' };
  const [a, b] = await Promise.all([pruneVersions(client, request), pruneVersions(client, request)]);
  expect([...a.deleted, ...b.deleted].sort()).toEqual(['1', '2', '3', '4']);
  expect([...a.alreadyGone, ...b.alreadyGone].sort()).toEqual(['1', '2', '3', '4']);
  expect([...a.failed, ...b.failed]).toEqual([]);
  expect([...existing].sort()).toEqual(['5', '6']);
});

test('a failed delete is reported, not thrown, and the others still go', async () => {
  functionWithVersions([1, 2, 3, 4, 5], [aliasAnswer('5')]);
  lambda.on(DeleteFunctionCommand, { Qualifier: '2' }).rejects(
    // Lambda refuses to delete a version an alias gained since it was listed (DeleteFunctionRequest.Qualifier doc).
    new ResourceConflictException({ message: 'Unable to delete version because the following aliases reference it: [canary]', Type: 'User', $metadata: { httpStatusCode: 409 } }));
  lambda.on(DeleteFunctionCommand, { Qualifier: '3' }).rejects(
    new TooManyRequestsException({ message: 'Rate exceeded', Type: 'User', Reason: 'CallerRateLimitExceeded', $metadata: { httpStatusCode: 429 } }));
  const result = await pruneVersions(client, { functionName: FUNCTION_NAME, keepVersions: '1', targetVersion: '5', currentVersion: '4' });
  expect(result.deleted).toEqual(['1']);
  expect(result.failed).toEqual([
    { version: '2', error: 'ResourceConflictException: Unable to delete version because the following aliases reference it: [canary]' },
    { version: '3', error: 'TooManyRequestsException: Rate exceeded' },
  ]);
});

test('a backlog is deleted a bounded number at a time, oldest first', async () => {
  functionWithVersions(Array.from({ length: 8 }, (_, i) => i + 1), [aliasAnswer('8')]);
  const result = await pruneVersions(client, { functionName: FUNCTION_NAME, keepVersions: '1', targetVersion: '8', currentVersion: '7', maxDeletes: 2 });
  expect(result.deleted).toEqual(['1', '2']);
  expect(result.deferred).toEqual(['3', '4', '5', '6']);
});

test('listing errors throw (the caller logs them); nothing is deleted', async () => {
  lambda.on(ListVersionsByFunctionCommand).rejects(new TooManyRequestsException({ message: 'Rate exceeded', Type: 'User', $metadata: { httpStatusCode: 429 } }));
  await expect(pruneVersions(client, { functionName: FUNCTION_NAME, targetVersion: '8' })).rejects.toThrow(/Rate exceeded/);
  expect(deletedQualifiers()).toEqual([]);
});

test.each([
  ['0'], ['-1'], ['2.5'], ['1e1'], ['ten'],
])('keepVersions "%s" is refused with a message naming it', (raw) => {
  expect(() => parseKeepVersions(raw)).toThrow(`keepVersions must be a whole number of versions to keep, at least 1; got "${raw}"`);
});

test('keepVersions parses whole numbers and defaults when empty', () => {
  expect(parseKeepVersions(undefined)).toBe(10);
  expect(parseKeepVersions('')).toBe(10);
  expect(parseKeepVersions(' 3 ')).toBe(3);
});
