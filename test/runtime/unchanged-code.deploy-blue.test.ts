/**
 * Issue #14 item 5, deploy only what changed: a 20-service monorepo rebuilt with one service
 * changed runs one shift, not twenty. Deploy-Blue and Switch-Traffic run as in the pipeline, on
 * dynalite, with a stateful Lambda fake that answers as the Lambda API reference documents.
 */
import { createHash } from 'crypto';
import {
  CreateDeploymentCommand,
  CreateDeploymentCommandInput,
  GetDeploymentCommand,
  ListDeploymentsCommand,
} from '@aws-sdk/client-codedeploy';
import {
  DeleteFunctionCommand,
  GetAliasCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  ListAliasesCommand,
  ListVersionsByFunctionCommand,
  PublishVersionCommand,
  ResourceNotFoundException,
  UpdateFunctionCodeCommand,
} from '@aws-sdk/client-lambda';
import { deployBlueParameters, switchTrafficParameters } from '../helpers/action-parameters';
import { HistoryTableFixture, startHistoryTable } from '../helpers/dynalite-history-table';
import { aliasAnswer, deploymentInfo, functionConfiguration, handlerHarness, versionedBucket } from '../helpers/handler-harness';
import { pipelineJobEvent } from '../helpers/pipeline-job-event';
import { fileEntry, writeZip } from '../helpers/raw-zip';
import { artifactZip, HAS_ZIP_CLI } from '../helpers/zip-fixtures';

const SERVICES = Array.from({ length: 20 }, (_, i) => `svc${String(i + 1).padStart(2, '0')}`);
const ARTIFACT_BUCKET = 'shop-artifacts-dev';
const BOOTSTRAP_SHA = 'bootstrap-placeholder-sha';

let fixture: HistoryTableFixture;
let h: ReturnType<typeof handlerHarness>;
let bucket: ReturnType<typeof versionedBucket>;

/** One function as Lambda keeps it: $LATEST's code, its published versions, and the alias `live`. */
interface FakeFunction {
  latestSha: string;
  /** $LATEST's memory: the one setting these tests change (a stack update would). */
  memory: number;
  revision: number;
  versions: Map<string, { codeSha256: string; description: string; memory: number }>;
  live: string;
}
const functions = new Map<string, FakeFunction>();
const created: CreateDeploymentCommandInput[] = [];

const fn = (name: string) => {
  const found = functions.get(name);
  // Lambda's answer for a function or version that does not exist (@throws in each command's .d.ts).
  if (!found) throw new ResourceNotFoundException({ message: `Function not found: ${name}`, Type: 'User', $metadata: { httpStatusCode: 404 } });
  return found;
};
const shaOf = (body: Buffer) => createHash('sha256').update(body).digest('base64');

/** A Lambda that answers as the API reference says, for the calls the handlers make. */
function fakeLambda() {
  const m = h.mocks.lambda;
  // GetAlias: FunctionVersion, RoutingConfig only when split (GetAliasCommand.d.ts).
  m.on(GetAliasCommand).callsFake(async (input) => aliasAnswer(fn(input.FunctionName!).live, undefined, input.Name, input.FunctionName));
  // GetFunctionConfiguration: "the version-specific settings of a Lambda function or version",
  // CodeSha256 of that version when Qualifier names one (GetFunctionConfigurationCommand.d.ts).
  m.on(GetFunctionConfigurationCommand).callsFake(async (input) => {
    const f = fn(input.FunctionName!);
    if (!input.Qualifier || input.Qualifier === '$LATEST') {
      return { ...functionConfiguration({ functionName: input.FunctionName, codeSha256: f.latestSha, revisionId: `rev-${f.revision}` }), MemorySize: f.memory };
    }
    const v = f.versions.get(input.Qualifier);
    if (!v) fn(`${input.FunctionName}:${input.Qualifier}`);
    const version = { functionName: input.FunctionName, version: input.Qualifier, codeSha256: v!.codeSha256, description: v!.description };
    return { ...functionConfiguration(version), MemorySize: v!.memory };
  });
  // UpdateFunctionCode from S3: $LATEST gets the object's SHA-256; the update runs on (LastUpdateStatus InProgress).
  m.on(UpdateFunctionCodeCommand).callsFake(async (input) => {
    const f = fn(input.FunctionName!);
    const object = bucket.get(input.S3Bucket!, input.S3Key!);
    if (!object) throw new Error(`no object s3://${input.S3Bucket}/${input.S3Key}`);
    f.latestSha = shaOf(object.body);
    f.revision++;
    return functionConfiguration({ functionName: input.FunctionName, codeSha256: f.latestSha, revisionId: `rev-${f.revision}`, lastUpdateStatus: 'InProgress' });
  });
  // GetFunction (the waiter): the update has finished.
  m.on(GetFunctionCommand).callsFake(async (input) => {
    const f = fn(input.FunctionName!);
    return {
      Configuration: functionConfiguration({ functionName: input.FunctionName, codeSha256: f.latestSha, revisionId: `rev-${f.revision}` }),
      Code: { RepositoryType: 'S3', Location: 'https://awslambda-us-east-1-tasks.s3.us-east-1.amazonaws.com/snapshots/presigned' },
    };
  });
  // PublishVersion: "Lambda doesn't publish a version if the function's configuration and code haven't
  // changed since the last version" (PublishVersionCommand.d.ts); otherwise the next number.
  m.on(PublishVersionCommand).callsFake(async (input) => {
    const f = fn(input.FunctionName!);
    const numbers = [...f.versions.keys()].map(Number);
    const last = f.versions.get(String(Math.max(...numbers)))!;
    if (last.codeSha256 !== f.latestSha || last.memory !== f.memory) {
      f.versions.set(String(Math.max(...numbers) + 1), { codeSha256: f.latestSha, description: input.Description ?? '', memory: f.memory });
    }
    const version = String(Math.max(...[...f.versions.keys()].map(Number)));
    return functionConfiguration({ functionName: input.FunctionName, version, codeSha256: f.versions.get(version)!.codeSha256 });
  });
  // Retention after a shift: list versions and aliases (one page), delete.
  m.on(ListVersionsByFunctionCommand).callsFake(async (input) => {
    const f = fn(input.FunctionName!);
    return {
      Versions: [functionConfiguration({ functionName: input.FunctionName, codeSha256: f.latestSha }),
        ...[...f.versions].map(([version, v]) => functionConfiguration({
          functionName: input.FunctionName, version, codeSha256: v.codeSha256, description: v.description,
        }))],
    };
  });
  m.on(ListAliasesCommand).callsFake(async (input) => ({ Aliases: [aliasAnswer(fn(input.FunctionName!).live, undefined, 'live', input.FunctionName)] }));
  m.on(DeleteFunctionCommand).callsFake(async (input) => {
    fn(input.FunctionName!).versions.delete(input.Qualifier!);
    return { StatusCode: 204 };
  });
}

/** CodeDeploy: every deployment it is asked for shifts the alias and succeeds (GetDeployment: Succeeded). */
function fakeCodeDeploy() {
  const m = h.mocks.codeDeploy;
  // ListDeployments answers deployment ids ("deployments") and a nextToken while more remain (ListDeploymentsCommand.d.ts).
  m.on(ListDeploymentsCommand).resolves({ deployments: [] });
  m.on(CreateDeploymentCommand).callsFake(async (input: CreateDeploymentCommandInput) => {
    created.push(input);
    const spec = JSON.parse(input.revision!.appSpecContent!.content!);
    const properties = Object.values<any>(spec.Resources[0])[0].Properties;
    fn(properties.Name).live = String(properties.TargetVersion);
    return { deploymentId: `d-${created.length}` };
  });
  m.on(GetDeploymentCommand).callsFake(async (input) => ({ deploymentInfo: deploymentInfo({ deploymentId: input.deploymentId!, status: 'Succeeded' }) }));
}

/** The monorepo's build output: every service's dist/, with the file times and order the build gave them. */
function build(release: (service: string) => string, options: { mtime: Date; reverse?: boolean }): Buffer {
  const files: Record<string, string> = { 'package.json': '{"private":true}\n' };
  const services = options.reverse ? [...SERVICES].reverse() : SERVICES;
  for (const service of services) {
    files[`services/${service}/dist/index.js`] = `exports.handler = async () => ${JSON.stringify(`${service} ${release(service)}`)};\n`;
    files[`services/${service}/dist/lib/util.js`] = `module.exports = ${JSON.stringify(service)};\n`;
  }
  // Info-ZIP stamps each entry with the file's time (and an extended-timestamp extra field), as a build's zip does.
  return artifactZip(files, { mtime: options.mtime });
}

/**
 * Plays one pipeline execution: every Deploy-Blue action, then every Switch-Traffic action until it
 * settles. Each service's bundle is its directory of the monorepo, or the whole artifact (`whole`).
 */
async function execute(executionId: string, artifactKey: string, services: readonly string[] = SERVICES, whole = false) {
  const deployBlue = h.deployBlue({ artifactBucketName: ARTIFACT_BUCKET });
  const switchTraffic = h.switchTraffic({ applicationName: 'shop-dev' });
  const artifact = { bucketName: ARTIFACT_BUCKET, objectKey: artifactKey };
  const staged = new Map<string, { currentVersion: string; targetVersion: string }>();
  for (const service of services) {
    const out = await deployBlue(pipelineJobEvent({
      jobId: `${executionId}-deploy-${service}`,
      artifact,
      userParameters: deployBlueParameters(executionId, { service, functionName: `${service}-dev`, bundleDirectory: whole ? '' : `services/${service}/dist` }),
    }));
    if (!out) throw new Error(`Deploy-Blue of ${service} failed: ${JSON.stringify(h.jobResults().failures)}`);
    staged.set(service, out);
  }
  for (const service of services) {
    const userParameters = switchTrafficParameters(executionId, {
      service,
      functionName: `${service}-dev`,
      targetVersion: staged.get(service)!.targetVersion,
      deploymentGroupName: `${service}-live-dev`,
      keepVersions: '3',
    });
    let outcome = await switchTraffic(pipelineJobEvent({ jobId: `${executionId}-switch-${service}`, artifact: null, userParameters }));
    for (let poll = 1; outcome.kind === 'continue'; poll++) {
      outcome = await switchTraffic(pipelineJobEvent({
        jobId: `${executionId}-switch-${service}-${poll}`, artifact: null, userParameters, continuationToken: outcome.codeDeployDeploymentId,
      }));
    }
    if (outcome.kind !== 'succeeded' && outcome.kind !== 'skipped') throw new Error(`Switch-Traffic of ${service}: ${JSON.stringify(outcome)}`);
  }
  return staged;
}

beforeAll(async () => {
  fixture = await startHistoryTable();
  h = handlerHarness(fixture);
});
afterAll(() => fixture.stop());

beforeEach(() => {
  h.reset();
  bucket = versionedBucket(h.mocks.s3);
  functions.clear();
  created.length = 0;
  // What CloudFormation created: each function with the placeholder as version 1, `live` on it.
  for (const service of [...SERVICES, 'orders-api']) {
    functions.set(`${service}-dev`, {
      latestSha: BOOTSTRAP_SHA,
      memory: 512,
      revision: 1,
      live: '1',
      versions: new Map([['1', { codeSha256: BOOTSTRAP_SHA, description: 'Bootstrap version; the pipeline publishes the following ones', memory: 512 }]]),
    });
  }
  fakeLambda();
  fakeCodeDeploy();
});

test('a 20-service monorepo rebuilt with one service changed runs one shift, not twenty; the other 19 are SKIPPED without a publish', async () => {
  bucket.put(ARTIFACT_BUCKET, 'shop/BuildOutpu/first', build(() => 'r1', { mtime: new Date('2026-11-23T08:00:00Z') }));
  await execute('exec-1', 'shop/BuildOutpu/first');
  expect(created).toHaveLength(20);
  expect(SERVICES.map((s) => functions.get(`${s}-dev`)!.live)).toEqual(SERVICES.map(() => '2'));

  // The next build: new file times and another entry order; only svc07 has new code.
  h.reset();
  bucket = versionedBucket(h.mocks.s3);
  fakeLambda();
  fakeCodeDeploy();
  created.length = 0;
  bucket.put(ARTIFACT_BUCKET, 'shop/BuildOutpu/second',
    build((service) => service === 'svc07' ? 'r2' : 'r1', { mtime: new Date('2026-11-24T17:31:00Z'), reverse: true }));
  const staged = await execute('exec-2', 'shop/BuildOutpu/second');

  expect(created.map((c) => c.deploymentGroupName)).toEqual(['svc07-live-dev']);
  expect(h.mocks.lambda.commandCalls(UpdateFunctionCodeCommand).map((c) => c.args[0].input.FunctionName)).toEqual(['svc07-dev']);
  expect(h.mocks.lambda.commandCalls(PublishVersionCommand).map((c) => c.args[0].input.FunctionName)).toEqual(['svc07-dev']);
  expect(staged.get('svc07')).toEqual({ currentVersion: '2', targetVersion: '3' });
  expect(staged.get('svc01')).toEqual({ currentVersion: '2', targetVersion: '2' });
  const states = Object.fromEntries(await Promise.all(SERVICES.map(async (s) => [s, (await h.history.get(`exec-2/${s}`))?.state])));
  expect(states).toEqual(Object.fromEntries(SERVICES.map((s) => [s, s === 'svc07' ? 'SUCCEEDED' : 'SKIPPED'])));
  expect(SERVICES.map((s) => functions.get(`${s}-dev`)!.live)).toEqual(SERVICES.map((s) => s === 'svc07' ? '3' : '2'));
  // Every job got one success; no STAGED announcement for the unchanged ones, one SKIPPED each.
  expect(h.jobResults().failures).toEqual([]);
  const announced = h.announced();
  expect(announced.filter((e) => e === 'SKIPPED')).toHaveLength(19);
  expect(announced.filter((e) => e === 'STAGED')).toHaveLength(1);
});

test('same code but a configuration change on $LATEST (a stack update) is published and shifted', async () => {
  bucket.put(ARTIFACT_BUCKET, 'shop/BuildOutpu/first', build(() => 'r1', { mtime: new Date('2026-11-23T08:00:00Z') }));
  await execute('exec-3', 'shop/BuildOutpu/first');
  h.reset();
  bucket = versionedBucket(h.mocks.s3);
  fakeLambda();
  fakeCodeDeploy();
  created.length = 0;
  // A stack update gave svc03's $LATEST 1024 MB; its published versions keep 512.
  functions.get('svc03-dev')!.memory = 1024;
  bucket.put(ARTIFACT_BUCKET, 'shop/BuildOutpu/second', build(() => 'r1', { mtime: new Date('2026-11-24T17:31:00Z') }));
  await execute('exec-4', 'shop/BuildOutpu/second');
  expect(created.map((c) => c.deploymentGroupName)).toEqual(['svc03-live-dev']);
});

describe('a single-service pipeline (no bundleDirectory: the whole build output is the bundle)', () => {
  /** The service's build output, stamped with the time the build ran, files written in `order`. */
  const singleBuild = (release: string, mtime: Date, reverse = false) => {
    const files: Record<string, string> = {
      'index.js': `exports.handler = async () => ${JSON.stringify(`orders ${release}`)};\n`,
      'lib/util.js': 'module.exports = "orders";\n',
      'node_modules/left-pad/index.js': 'module.exports = (s) => s;\n',
    };
    const ordered = Object.fromEntries(reverse ? Object.entries(files).reverse() : Object.entries(files));
    // Info-ZIP stamps each entry with the file's time, as CodeBuild's artifact zip does; without it, the time is set by hand.
    if (HAS_ZIP_CLI) return artifactZip(ordered, { mtime });
    // MS-DOS date and time (APPNOTE 4.4.6).
    const dosDate = (mtime.getUTCFullYear() - 1980) * 512 + (mtime.getUTCMonth() + 1) * 32 + mtime.getUTCDate();
    const dosTime = mtime.getUTCHours() * 2048 + mtime.getUTCMinutes() * 32;
    return writeZip(Object.entries(ordered).map(([name, content]) => ({ ...fileEntry(name, Buffer.from(content)), dosDate, dosTime })));
  };
  const fresh = () => {
    h.reset();
    bucket = versionedBucket(h.mocks.s3);
    fakeLambda();
    fakeCodeDeploy();
    created.length = 0;
  };

  test('the same code built again at another time is SKIPPED: no code update, no version, no deployment', async () => {
    const monday = singleBuild('r1', new Date('2026-11-23T08:00:00Z'));
    bucket.put(ARTIFACT_BUCKET, 'orders/BuildOutpu/first', monday);
    await execute('exec-s1', 'orders/BuildOutpu/first', ['orders-api'], true);
    expect(created).toHaveLength(1);
    expect(functions.get('orders-api-dev')!.live).toBe('2');

    fresh();
    const tuesday = singleBuild('r1', new Date('2026-11-24T17:31:00Z'), true);
    // CodeBuild's zip of unchanged code differs from the last one: its file times (and here its order) changed.
    expect(shaOf(tuesday)).not.toBe(shaOf(monday));
    bucket.put(ARTIFACT_BUCKET, 'orders/BuildOutpu/second', tuesday);
    const staged = await execute('exec-s2', 'orders/BuildOutpu/second', ['orders-api'], true);

    expect(staged.get('orders-api')).toEqual({ currentVersion: '2', targetVersion: '2' });
    expect(h.mocks.lambda.commandCalls(UpdateFunctionCodeCommand)).toHaveLength(0);
    expect(h.mocks.lambda.commandCalls(PublishVersionCommand)).toHaveLength(0);
    expect(created).toHaveLength(0);
    expect((await h.history.get('exec-s2/orders-api'))?.state).toBe('SKIPPED');
    expect([...functions.get('orders-api-dev')!.versions.keys()]).toEqual(['1', '2']);
    expect(h.jobResults().failures).toEqual([]);
    expect(h.announced()).toEqual(['SKIPPED']);
  });

  test('changed code in a single-service build is published and shifted', async () => {
    bucket.put(ARTIFACT_BUCKET, 'orders/BuildOutpu/first', singleBuild('r1', new Date('2026-11-23T08:00:00Z')));
    await execute('exec-s3', 'orders/BuildOutpu/first', ['orders-api'], true);
    fresh();
    bucket.put(ARTIFACT_BUCKET, 'orders/BuildOutpu/second', singleBuild('r2', new Date('2026-11-24T17:31:00Z')));
    const staged = await execute('exec-s4', 'orders/BuildOutpu/second', ['orders-api'], true);
    expect(staged.get('orders-api')).toEqual({ currentVersion: '2', targetVersion: '3' });
    expect(created.map((c) => c.deploymentGroupName)).toEqual(['orders-api-live-dev']);
    expect((await h.history.get('exec-s4/orders-api'))?.state).toBe('SUCCEEDED');
  });
});
