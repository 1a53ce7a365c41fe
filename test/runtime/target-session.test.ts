import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { AssumeRoleCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { InvalidJobError, PipelineJob } from '../../src/runtime/codepipeline-job';
import {
  DeployerRoleError,
  describePlacement,
  roleSessionName,
  TargetParameters,
  TargetSessions,
} from '../../src/runtime/target-session';

const TOOLING = '111111111111';
const TARGET = '222222222222';
const PIPELINE_ARN = `arn:aws:codepipeline:us-east-1:${TOOLING}:orders-pipeline`;
const ROLE_ARN = `arn:aws:iam::${TARGET}:role/orders-pipeline-deployer-staging`;
const FUNCTION_ARN = `arn:aws:lambda:us-east-1:${TOOLING}:function:orders-pipeline-bake`;

const sts = mockClient(STSClient);
afterAll(() => sts.restore());

/**
 * AssumeRole's answer (AssumeRoleResponse in @aws-sdk/client-sts AssumeRoleCommand.d.ts and its
 * documented example): Credentials with AccessKeyId, SecretAccessKey, SessionToken and Expiration
 * (all required), AssumedRoleUser, PackedPolicySize.
 */
function assumeRoleAnswer(expiresInMs = 3_600_000, key = 'ASIAEXAMPLETARGET') {
  return {
    Credentials: {
      AccessKeyId: key,
      SecretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY',
      SessionToken: 'AQoDYXdzEPT//////////wEXAMPLE',
      Expiration: new Date(Date.now() + expiresInMs),
    },
    AssumedRoleUser: {
      Arn: `arn:aws:sts::${TARGET}:assumed-role/orders-pipeline-deployer-staging/bake-exec-1`,
      AssumedRoleId: 'AROA3XFRBF535PLBIFPI4:bake-exec-1',
    },
    PackedPolicySize: 8,
  };
}

/**
 * STS refuses a caller the role does not trust with the error code AccessDenied (HTTP 403). It is not
 * one of AssumeRole's modeled exceptions (AssumeRoleCommand.d.ts lists ExpiredToken,
 * MalformedPolicyDocument, PackedPolicyTooLarge, RegionDisabled...), so the SDK raises its base
 * STSServiceException named after the code, with the message STS sends.
 */
function accessDenied() {
  return new STSServiceException({
    name: 'AccessDenied',
    $fault: 'client',
    $metadata: { httpStatusCode: 403 },
    message: `User: arn:aws:sts::${TOOLING}:assumed-role/orders-pipeline-bake/orders-pipeline-bake is not authorized to perform: sts:AssumeRole on resource: ${ROLE_ARN}`,
  });
}

const own = { codeDeploy: new CodeDeployClient({ region: 'us-east-1' }), cloudWatch: new CloudWatchClient({ region: 'us-east-1' }) };
const sessions = (options: { pipelineArn?: string } = { pipelineArn: PIPELINE_ARN }) => new TargetSessions({
  handler: 'bake', own, uses: ['codeDeploy', 'cloudWatch'], region: 'us-east-1', ...options,
});
const job = (userParameters: TargetParameters): PipelineJob<TargetParameters> => ({ id: 'job-1', userParameters, inputArtifacts: [] });
const STAGING = { deployerRoleArn: ROLE_ARN, region: 'eu-west-1' };
const request = (executionId = 'exec-1') => ({ jobId: 'job-1', executionId, environment: 'staging', invokedFunctionArn: FUNCTION_ARN });

beforeEach(() => {
  sts.reset();
  sts.on(AssumeRoleCommand).resolves(assumeRoleAnswer());
});

test('without a deployer role, a job acts with the handler\'s own clients, in its own account and region, and assumes nothing', async () => {
  const session = sessions().sessionFor(job({}), request());
  expect(session.codeDeploy).toBe(own.codeDeploy);
  expect(session.cloudWatch).toBe(own.cloudWatch);
  expect(session).toMatchObject({ account: TOOLING, region: 'us-east-1' });
  expect(session.deployerRoleArn).toBeUndefined();
  await session.ready();
  expect(sts.calls()).toHaveLength(0);
});

test('with one, the clients are the target region\'s, with credentials from AssumeRole carrying the pipeline\'s ARN as external id', async () => {
  const session = sessions().sessionFor(job(STAGING), request('8d4a6b1e-1f0c-4a1e-9d5c-7f0d2f6a9b3e'));
  expect(session).toMatchObject({ account: TARGET, region: 'eu-west-1', deployerRoleArn: ROLE_ARN });
  expect(session.codeDeploy).not.toBe(own.codeDeploy);
  expect(await session.codeDeploy.config.region()).toBe('eu-west-1');
  expect(await session.cloudWatch.config.region()).toBe('eu-west-1');
  await session.ready();

  const inputs = sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input);
  expect(inputs.length).toBeGreaterThan(0);
  for (const input of inputs) {
    expect(input).toEqual({
      RoleArn: ROLE_ARN,
      ExternalId: PIPELINE_ARN,
      RoleSessionName: 'bake-8d4a6b1e-1f0c-4a1e-9d5c-7f0d2f6a9b3e',
    });
  }
  // The clients sign with the assumed role's keys, not the handler's.
  expect(await session.codeDeploy.config.credentials()).toMatchObject({ accessKeyId: 'ASIAEXAMPLETARGET', sessionToken: 'AQoDYXdzEPT//////////wEXAMPLE' });
});

test('a session name is 2 to 64 characters of [\\w+=,.@-] (AssumeRoleRequest.RoleSessionName) whatever the execution id', () => {
  for (const executionId of ['exec-1', 'a/b c:d*e', 'x'.repeat(100), '8d4a6b1e-1f0c-4a1e-9d5c-7f0d2f6a9b3e']) {
    for (const handler of ['deploy-blue', 'switch-traffic', 'bake'] as const) {
      const name = roleSessionName(handler, executionId);
      expect(name).toMatch(/^[\w+=,.@-]{2,64}$/);
      expect(name.startsWith(`${handler}-`)).toBe(true);
    }
  }
});

test('a warm container keeps one session per role and region: polls of one execution assume once; another execution gets its own name', async () => {
  const targets = sessions();
  const first = targets.sessionFor(job(STAGING), request('exec-1'));
  await first.ready();
  const assumed = sts.commandCalls(AssumeRoleCommand).length;
  const again = targets.sessionFor(job(STAGING), request('exec-1'));
  expect(again).toBe(first);
  await again.ready();
  expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(assumed);

  const next = targets.sessionFor(job(STAGING), request('exec-2'));
  expect(next).not.toBe(first);
  await next.ready();
  expect(sts.commandCalls(AssumeRoleCommand).slice(assumed).map((c) => c.args[0].input.RoleSessionName)).toEqual(['bake-exec-2']);
  // Another region is another session.
  expect(targets.sessionFor(job({ ...STAGING, region: 'eu-central-1' }), request('exec-2'))).not.toBe(next);
});

test('the clients of a session share one AssumeRole, even asked at once; a failed one is tried again', async () => {
  const session = sessions().sessionFor(job(STAGING), request());
  await Promise.all([session.ready(), session.codeDeploy.config.credentials(), session.cloudWatch.config.credentials()]);
  expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(1);

  sts.reset();
  sts.on(AssumeRoleCommand).rejectsOnce(accessDenied()).resolves(assumeRoleAnswer());
  const retried = sessions().sessionFor(job(STAGING), request());
  await expect(retried.ready()).rejects.toBeInstanceOf(DeployerRoleError);
  await retried.ready();
  expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(2);
});

test('credentials about to expire are assumed again before they are used; fresh ones are kept', async () => {
  sts.on(AssumeRoleCommand).resolvesOnce(assumeRoleAnswer(60_000, 'ASIAEXPIRING')).resolves(assumeRoleAnswer(3_600_000, 'ASIAFRESH'));
  const session = sessions().sessionFor(job(STAGING), request());
  // The SDK's identity cache refreshes credentials that expire within 5 minutes before it hands them out.
  expect(await session.codeDeploy.config.credentials()).toMatchObject({ accessKeyId: 'ASIAFRESH' });
  expect(await session.codeDeploy.config.credentials()).toMatchObject({ accessKeyId: 'ASIAFRESH' });
  expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(2);
});

test('a denied AssumeRole fails with a message naming the role, the environment, its account and region, and what to check', async () => {
  sts.on(AssumeRoleCommand).rejects(accessDenied());
  const session = sessions().sessionFor(job(STAGING), request());
  const error = await session.ready().then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(DeployerRoleError);
  const message = (error as Error).message;
  expect(message).toContain(`could not assume deployer role ${ROLE_ARN} to deploy to staging (account ${TARGET}, region eu-west-1)`);
  expect(message).toContain('AccessDenied: User: arn:aws:sts::111111111111:assumed-role/orders-pipeline-bake/orders-pipeline-bake is not authorized');
  expect(message).toContain(`the target stack (BlueGreenLambdaTarget) of staging is deployed in account ${TARGET}, region eu-west-1`);
  expect(message).toContain(`trust policy names this handler's role and the external id ${PIPELINE_ARN}`);
  // Not transient: the 403 stays reachable for the handlers' retry classification.
  expect(((error as DeployerRoleError).cause as STSServiceException).$metadata.httpStatusCode).toBe(403);
});

test('a job naming a deployer role in a handler without PIPELINE_ARN is refused before anything is assumed', () => {
  expect(() => sessions({}).sessionFor(job(STAGING), request())).toThrow(InvalidJobError);
  expect(() => sessions({}).sessionFor(job(STAGING), request())).toThrow(/PIPELINE_ARN \(the external id it requires\) is not set on this handler/);
  expect(sts.calls()).toHaveLength(0);
});

test.each([
  ['a role without a region', { deployerRoleArn: ROLE_ARN }, 'UserParameters has deployerRoleArn but no region'],
  ['a region without a role', { region: 'eu-west-1' }, 'UserParameters has region but no deployerRoleArn'],
  ['a role that is no role ARN', { deployerRoleArn: 'orders-pipeline-deployer-staging', region: 'eu-west-1' }, 'deployerRoleArn must be an IAM role ARN'],
  ['a region that is no region', { deployerRoleArn: ROLE_ARN, region: 'Ireland' }, 'region must be a region name such as eu-west-1, got "Ireland"'],
])('%s is an invalid job', (_name, parameters, message) => {
  expect(() => sessions().sessionFor(job(parameters), request())).toThrow(message);
});

test('a placement reads as the environment with its account and region', () => {
  expect(describePlacement({ account: TARGET, region: 'eu-west-1' }, 'staging')).toBe(`staging (account ${TARGET}, region eu-west-1)`);
  expect(describePlacement({ region: 'eu-west-1' })).toBe('(region eu-west-1)');
});
