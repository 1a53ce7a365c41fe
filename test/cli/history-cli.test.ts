import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CloudFormationClient, CloudFormationServiceException, DescribeStacksCommand, Output } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient, DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { HISTORY, LONG_REASON, NOW, putItems, sha } from './history-fixture';
import { USAGE, USAGE_LINE } from '../../src/cli/args';
import { AwsOptions, CliDeps, main } from '../../src/cli/history-cli';
import { HistoryTableFixture, startHistoryTable } from '../helpers/dynalite-history-table';

/**
 * The known history of ./history-fixture.ts (HISTORY), seeded into dynalite. "Now" is 2025-03-31T00:00:00Z, so `--since 30d` is the window
 * [2025-03-01T00:00:00Z, 2025-03-31T00:00:00Z], 30 days.
 *
 *   id   execution/service  state        started (Mar)  finished     commitTime        note
 *   o1   e01/orders         SUCCEEDED    Feb 20 10:00   Feb 20 10:20 Feb 20 09:00      outside the window
 *   o2   e02/orders         SUCCEEDED    02 10:00       02 10:30     02 08:00          lead 2h30m = 9000 s
 *   p1   e02/payments       SUCCEEDED    02 10:40       02 11:00     02 08:00          lead 3h    = 10800 s
 *   o3   e03/orders         ROLLED_BACK  05 12:00       05 12:20     05 11:00          failure (orders)
 *   p2   e03/payments       NOT_STARTED  05 11:50       05 12:21     -                 wave 2 after o3's rollback
 *   o4   e04/orders         SUCCEEDED    05 14:00       05 14:40     05 13:40          lead 1h = 3600 s; restores o3
 *   o5   e05/orders         SKIPPED      10 09:00       10 09:01     -                 nothing to deploy
 *   o6   e06/orders         SUCCEEDED    12 09:00       12 09:25     (none)            no commit time
 *   p3   e07/payments       FAILED       20 10:00       20 10:05     20 09:00          failure (payments)
 *   p4   e08/payments       ROLLED_BACK  21 10:00       21 10:15     21 09:00          failure, same incident as p3
 *   p5   e09/payments       SUCCEEDED    22 10:00       22 10:05     22 06:05          lead 4h = 14400 s; restores p3
 *   p6   e10/payments       FAILED       28 10:00       28 10:10     28 09:30          never restored
 *   p7   e11/payments       SHIFTING     30 10:00       -            30 09:00          in progress
 */
let fixture: HistoryTableFixture;
beforeAll(async () => {
  fixture = await startHistoryTable();
  await putItems(fixture.doc, fixture.tableName, HISTORY);
});
afterAll(() => fixture.stop());

interface Run { code: number; out: string; err: string; aws: AwsOptions[] }
async function run(argv: string[], deps: CliDeps = {}): Promise<Run> {
  let out = '';
  let err = '';
  const aws: AwsOptions[] = [];
  const code = await main(argv, {
    dynamoDb: (options) => { aws.push(options); return fixture.doc; },
    now: () => NOW,
    stdout: (text) => { out += text; },
    stderr: (text) => { err += text; },
    ...deps,
  });
  return { code, out, err, aws };
}
const table = () => ['--table', fixture.tableName];

describe('history', () => {
  test('the last N deployments across services, newest first, as an aligned table', async () => {
    const { code, out, err } = await run(['history', ...table(), '--limit', '6']);
    expect(err).toBe('');
    expect(code).toBe(0);
    // Columns two spaces apart, each as wide as its widest cell; the reason is last and unpadded,
    // whitespace runs folded, cut at 100 characters with "...". Durations: finishedAt - startedAt.
    expect(out).toBe([
      'SERVICE   ENVIRONMENT  STATE        VERSIONS  COMMIT   STARTED (UTC)     DURATION  REASON',
      'payments  prod         SHIFTING     9 -> 10   4444444  2025-03-30 10:00  -',
      `payments  prod         FAILED       9 -> 10   3333333  2025-03-28 10:00  10m 00s   ${LONG_REASON.slice(0, 97)}...`,
      'payments  prod         SUCCEEDED    8 -> 9    2222222  2025-03-22 10:00  5m 00s',
      'payments  prod         ROLLED_BACK  8 -> 9    1111111  2025-03-21 10:00  15m 00s   alarm payments-errors went to ALARM',
      'payments  prod         FAILED       8 -> 9    fffffff  2025-03-20 10:00  5m 00s    BeforeAllowTraffic hook failed: smoke test returned 500',
      'orders    prod         SUCCEEDED    4 -> 5    eeeeeee  2025-03-12 09:00  25m 00s',
      '',
    ].join('\n'));
  });

  test('the default limit is 20: all 13 items, the one without a target version shown as "4 -> -"', async () => {
    const { code, out } = await run(['history', ...table()]);
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(1 + 13);
    expect(lines[7]).toBe('orders    prod         SKIPPED      4 -> -    ddddddd  2025-03-10 09:00  1m 00s');
    expect(lines[9]).toBe('orders    prod         ROLLED_BACK  3 -> 4    bbbbbbb  2025-03-05 12:00  20m 00s   alarm orders-errors went to ALARM; CodeDeploy rolled back');
    expect(lines[13]).toMatch(/^orders {4}prod {9}SUCCEEDED {4}1 -> 2 {4}0000000 {2}2025-02-20 10:00 {2}20m 00s$/);
  });

  test('--service reads the byService index, newest first', async () => {
    const { code, out } = await run(['history', ...table(), '--service', 'orders', '--limit', '3']);
    expect(code).toBe(0);
    expect(out.trimEnd().split('\n').map((line) => line.split(/ {2,}/).slice(0, 3).join(' '))).toEqual([
      'SERVICE ENVIRONMENT STATE', 'orders prod SUCCEEDED', 'orders prod SKIPPED', 'orders prod SUCCEEDED',
    ]);
    expect(out).toContain('2025-03-12 09:00');
    expect(out).not.toContain('payments');
  });

  test('--json prints an array of deployments: every recorded attribute and durationSeconds', async () => {
    const { code, out } = await run(['history', ...table(), '--limit', '2', '--json']);
    expect(code).toBe(0);
    const json = JSON.parse(out);
    expect(json).toHaveLength(2);
    expect(json[0]).toEqual({
      deploymentId: 'e11/payments',
      executionId: 'e11',
      service: 'payments',
      environment: 'prod',
      wave: 2,
      state: 'SHIFTING',
      startedAt: '2025-03-30T10:00:00.000Z',
      updatedAt: '2025-03-30T10:00:00.000Z',
      commitId: sha('4'),
      commitTime: '2025-03-30T09:00:00.000Z',
      repository: 'example-org/shop',
      branch: 'main',
      currentVersion: '9',
      targetVersion: '10',
      codeDeployDeploymentId: 'd-PAYMENTS11',
      deploymentConfig: 'CodeDeployDefault.LambdaCanary10Percent5Minutes',
    });
    expect(json[1]).toMatchObject({ deploymentId: 'e10/payments', state: 'FAILED', durationSeconds: 600, failureReason: LONG_REASON });
  });

  test('--region and --profile reach the client factory', async () => {
    const { code, aws } = await run(['history', ...table(), '--limit=1', '--region', 'eu-west-1', '--profile=ops']);
    expect(code).toBe(0);
    expect(aws).toEqual([{ region: 'eu-west-1', profile: 'ops' }]);
  });
});

describe('dora', () => {
  test('over all services: the hand-computed figures of the known history', async () => {
    const { code, out, err } = await run(['dora', ...table(), '--since', '30d', '--json']);
    expect(err).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report).toMatchObject({
      since: '2025-03-01T00:00:00.000Z',
      until: '2025-03-31T00:00:00.000Z',
      days: 30,
      // o1 started Feb 20: outside. In: o2..o6 (5) + p1..p7 (7) = 12 items.
      items: 12,
      states: { SUCCEEDED: 5, ROLLED_BACK: 2, FAILED: 2, SKIPPED: 1, NOT_STARTED: 1, SHIFTING: 1 },
      // SUCCEEDED: o2, o4, o6, p1, p5 = 5 in 30 days. SKIPPED o5 and NOT_STARTED p2 are not deployments.
      deploymentFrequency: { successful: 5, perDay: 5 / 30, perWeek: 5 / 30 * 7 },
      // commitTime -> finishedAt: o4 3600, o2 9000, p1 10800, p5 14400 (sorted); o6 has no commit time.
      // Median of four = (9000 + 10800) / 2 = 9900 s = 2h 45m.
      leadTime: { medianSeconds: 9900, measured: 4, withoutCommitTime: 1 },
      // (ROLLED_BACK o3, p4 + FAILED p3, p6) / (5 + 2 + 2) = 4 / 9. SHIFTING p7, SKIPPED, NOT_STARTED not counted.
      changeFailureRate: { rate: 4 / 9, failures: 4, outcomes: 9 },
      // orders: o3 finished Mar 05 12:20 -> o4 Mar 05 14:40 = 2h20m = 8400 s.
      // payments: p3 finished Mar 20 10:05 (p4 on Mar 21 is the same incident) -> p5 Mar 22 10:05 = 48h = 172800 s.
      // p6 (Mar 28) has no later success: unresolved. Mean (8400 + 172800) / 2 = 90600 s = 25h 10m.
      timeToRestore: { meanSeconds: 90600, restores: 2, unresolved: 1 },
    });
    expect(report.service).toBeUndefined();
    // States in the order a deployment goes through them, whatever order the Scan returned.
    expect(Object.keys(report.states)).toEqual(['SHIFTING', 'SUCCEEDED', 'ROLLED_BACK', 'FAILED', 'SKIPPED', 'NOT_STARTED']);
  });

  test('as text: each measure with a one-line "how computed"', async () => {
    const { code, out } = await run(['dora', ...table(), '--since', '30d']);
    expect(code).toBe(0);
    expect(out).toBe([
      'DORA, all services, all environments: deployments started 2025-03-01 00:00 .. 2025-03-31 00:00 UTC (30 days)',
      '12 history items: 5 succeeded, 2 rolled back, 2 failed; not deployments: 1 skipped, 1 not started, 1 in progress',
      '',
      'Deployment frequency  0.17/day (1.17/week)',
      '                      how: SUCCEEDED deployments started in the window (5) / 30 days; SKIPPED (nothing to deploy), ' +
        'NOT_STARTED (an earlier wave failed or the execution ended first) and in-progress items are not deployments',
      'Median lead time      2h 45m',
      '                      how: median of commitTime -> finishedAt over 4 SUCCEEDED deployments; 1 SUCCEEDED without a commit time left out',
      'Change failure rate   44.4% (4 of 9)',
      '                      how: (ROLLED_BACK + FAILED) / (SUCCEEDED + ROLLED_BACK + FAILED) = 4 / 9; ' +
        'FAILED includes failures before the shift (staging); SKIPPED, NOT_STARTED and in-progress items are not counted',
      'Mean time to restore  25h 10m (2 restores)',
      '                      how: per service and environment, the first ROLLED_BACK/FAILED finishedAt -> the next SUCCEEDED finishedAt ' +
        '(consecutive failures are one incident); mean over 2 restores; 1 not restored yet',
      '',
    ].join('\n'));
  });

  test('--service orders, with the window as an ISO date', async () => {
    const { code, out } = await run(['dora', ...table(), '--since', '2025-03-01', '--service', 'orders', '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({
      service: 'orders',
      days: 30,
      // o2..o6: SUCCEEDED o2, o4, o6; ROLLED_BACK o3; SKIPPED o5.
      items: 5,
      deploymentFrequency: { successful: 3, perDay: 0.1, perWeek: 0.7000000000000001 },
      // o4 3600, o2 9000: median 6300 s; o6 without commit time.
      leadTime: { medianSeconds: 6300, measured: 2, withoutCommitTime: 1 },
      changeFailureRate: { rate: 0.25, failures: 1, outcomes: 4 },
      // o3 -> o4: 8400 s.
      timeToRestore: { meanSeconds: 8400, restores: 1, unresolved: 0 },
    });
  });

  test('--since Nh: the last 40 hours hold only p7 (in progress): measures are n/a, exit 0', async () => {
    const { code, out } = await run(['dora', ...table(), '--since', '40h']);
    expect(code).toBe(0);
    expect(out).toContain('1 history items: 0 succeeded, 0 rolled back, 0 failed; not deployments: 0 skipped, 0 not started, 1 in progress');
    expect(out).toContain('Deployment frequency  0/day (0/week)');
    expect(out).toContain('Median lead time      n/a');
    expect(out).toContain('Change failure rate   n/a');
    expect(out).toContain('Mean time to restore  n/a');
  });
});

describe('--environment', () => {
  // A second table: orders in staging and prod, the five newest in prod, so that the index's Limit
  // (applied before the filter) would return too few staging items if the reader stopped at one page.
  let env: HistoryTableFixture;
  const at = (day: number) => `2025-03-${String(day).padStart(2, '0')}T10:00:00.000Z`;
  const item = (execution: string, environment: string, state: string, day: number) => ({
    deploymentId: `${execution}/orders@${environment}`, executionId: execution, service: 'orders', environment, state, startedAt: at(day), finishedAt: at(day),
  });
  beforeAll(async () => {
    env = await startHistoryTable();
    await putItems(env.doc, env.tableName, [
      item('e1', 'staging', 'SUCCEEDED', 1), item('e2', 'staging', 'ROLLED_BACK', 2), item('e3', 'staging', 'SUCCEEDED', 3),
      ...[4, 5, 6, 7, 8].map((day) => item(`e${day}`, 'prod', 'SUCCEEDED', day)),
    ]);
  });
  afterAll(() => env.stop());
  const runIn = (argv: string[]) => run([...argv, '--table', env.tableName], { dynamoDb: () => env.doc });

  test('history --service --environment reads on past the other environment\'s newer items', async () => {
    const { code, out } = await runIn(['history', '--service', 'orders', '--environment', 'staging', '--limit', '2']);
    expect(code).toBe(0);
    expect(out.trimEnd().split('\n').map((line) => line.split(/ {2,}/).slice(0, 4).join(' '))).toEqual([
      'SERVICE ENVIRONMENT STATE VERSIONS', 'orders staging SUCCEEDED -', 'orders staging ROLLED_BACK -',
    ]);
  });

  test('history --environment across services (a Scan with the filter)', async () => {
    const { code, out } = await runIn(['history', '--environment', 'prod', '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(out).map((i: { deploymentId: string }) => i.deploymentId)).toEqual(['e8', 'e7', 'e6', 'e5', 'e4'].map((e) => `${e}/orders@prod`));
  });

  test('dora --environment names the environment its figures describe', async () => {
    const { code, out } = await runIn(['dora', '--environment', 'staging', '--since', '2025-03-01']);
    expect(code).toBe(0);
    expect(out.split('\n')[0]).toBe('DORA, all services, environment staging: deployments started 2025-03-01 00:00 .. 2025-03-31 00:00 UTC (30 days)');
    expect(out).toContain('Change failure rate   33.3% (1 of 3)');
  });

  test('an environment with no deployment: exit 4, naming it', async () => {
    const { code, err } = await runIn(['history', '--environment', 'qa']);
    expect(code).toBe(4);
    expect(err).toBe(`blue-green-lambda-pipeline: no deployments recorded in environment qa in table ${env.tableName}\n`);
  });
});

describe('exit codes', () => {
  test('--help: the usage text with the exit codes, exit 0', async () => {
    const { code, out } = await run(['--help']);
    expect(code).toBe(0);
    expect(out).toBe(USAGE);
    expect(out).toMatch(/Exit codes:\n {2}0 {2}success\n {2}1 {2}usage error/);
  });

  test.each([
    [['history', '--table', 't', '--bogus'], 'unknown option --bogus'],
    [['history'], 'which table? give --table NAME or --stack STACK'],
    [['history', '--table', 't', '--limit', '0'], '--limit must be a whole number of at least 1, got 0'],
    [['dora', '--table', 't', '--since', 'last week'], '--since must be Nd, Nh or an ISO 8601 date, got last week'],
    [['dora', '--table', 't', '--limit', '3'], '--limit is an option of history, not dora'],
    [['deploy', '--table', 't'], 'unknown command deploy (history or dora)'],
    [[], 'missing command: history or dora'],
  ])('%j is a usage error: exit 1 with the usage line', async (argv, message) => {
    const { code, out, err } = await run(argv);
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toBe(`blue-green-lambda-pipeline: ${message}\n${USAGE_LINE}\nRun blue-green-lambda-pipeline --help for the options and exit codes.\n`);
  });

  test('a table that does not exist: exit 2, naming it', async () => {
    const { code, err } = await run(['history', '--table', 'no-such-table']);
    expect(code).toBe(2);
    expect(err).toBe('blue-green-lambda-pipeline: table no-such-table not found in us-east-1 ' +
      '(ResourceNotFoundException: Requested resource not found); check --table/--stack, --region and --profile\n');
  });

  test('a credentials provider that throws CredentialsProviderError: exit 3, saying how to provide credentials', async () => {
    const noCredentials = new DynamoDBClient({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      maxAttempts: 1,
      credentials: async () => {
        throw Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError', tryNextLink: false });
      },
    });
    const { code, err } = await run(['history', ...table()], { dynamoDb: () => DynamoDBDocumentClient.from(noCredentials) });
    noCredentials.destroy();
    expect(code).toBe(3);
    expect(err).toMatch(/^blue-green-lambda-pipeline: no AWS credentials \(CredentialsProviderError: Could not load credentials from any providers\); provide credentials through AWS_ACCESS_KEY_ID/);
    expect(err).not.toMatch(/\n {4}at /);
  });

  describe('with the SDK\'s default chain and nothing configured', () => {
    const saved = { ...process.env };
    beforeEach(() => {
      for (const name of Object.keys(process.env)) if (name.startsWith('AWS_')) delete process.env[name];
      process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(os.tmpdir(), 'bglp-no-such-credentials');
      process.env.AWS_CONFIG_FILE = path.join(os.tmpdir(), 'bglp-no-such-config');
      process.env.AWS_EC2_METADATA_DISABLED = 'true';
    });
    afterEach(() => { process.env = { ...saved }; });
    const defaults: CliDeps = { dynamoDb: undefined, cloudFormation: undefined };

    test('no credentials: exit 3', async () => {
      const { code, err } = await run(['history', '--table', 't', '--region', 'us-east-1'], defaults);
      expect(code).toBe(3);
      expect(err).toMatch(/^blue-green-lambda-pipeline: no AWS credentials \(CredentialsProviderError: .+\); provide credentials through /);
    });

    test('a profile that does not exist: exit 3, naming the profile', async () => {
      const { code, err } = await run(['history', '--table', 't', '--region', 'us-east-1', '--profile', 'nope'], defaults);
      expect(code).toBe(3);
      expect(err).toMatch(/^blue-green-lambda-pipeline: no AWS credentials with profile nope \(CredentialsProviderError: .+\); provide credentials through /);
    });

    test('--profile: the profile\'s credentials and region (DynamoDB at dynalite through AWS_ENDPOINT_URL_DYNAMODB)', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bglp-profile-'));
      fs.writeFileSync(path.join(dir, 'config'), '[profile ops]\nregion = eu-west-3\n');
      fs.writeFileSync(path.join(dir, 'credentials'), '[ops]\naws_access_key_id = ops\naws_secret_access_key = ops\n');
      const url = await fixture.doc.config.endpoint!();
      process.env.AWS_ENDPOINT_URL_DYNAMODB = `${url.protocol}//${url.hostname}:${url.port}`;
      process.env.AWS_CONFIG_FILE = path.join(dir, 'config');
      process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(dir, 'credentials');
      try {
        const found = await run(['history', ...table(), '--profile', 'ops', '--limit', '1'], defaults);
        expect(found).toMatchObject({ code: 0, err: '' });
        const missing = await run(['history', '--table', 'no-such-table', '--profile', 'ops'], defaults);
        expect(missing.code).toBe(2);
        expect(missing.err).toContain('table no-such-table not found in eu-west-3');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    test('no region: exit 3, saying how to give one', async () => {
      const { code, err } = await run(['history', '--table', 't'], defaults);
      expect(code).toBe(3);
      expect(err).toBe('blue-green-lambda-pipeline: no AWS region: pass --region, set AWS_REGION, or give your profile a region (`aws configure set region REGION`)\n');
    });
  });

  test('no deployments for the service: exit 4 with a message; --json still prints []', async () => {
    const text = await run(['history', ...table(), '--service', 'inventory']);
    expect(text).toMatchObject({ code: 4, out: '', err: `blue-green-lambda-pipeline: no deployments recorded for service inventory in table ${fixture.tableName}\n` });
    const json = await run(['history', ...table(), '--service', 'inventory', '--json']);
    expect(json).toMatchObject({ code: 4, out: '[]\n' });
  });

  test('no deployment started in the window: exit 4; --json still prints the report', async () => {
    const text = await run(['dora', ...table(), '--since', '12h']);
    expect(text).toMatchObject({
      code: 4,
      out: '',
      err: `blue-green-lambda-pipeline: no deployments started since 2025-03-30T12:00:00.000Z in table ${fixture.tableName}\n`,
    });
    const json = await run(['dora', ...table(), '--since', '12h', '--json']);
    expect(json.code).toBe(4);
    expect(JSON.parse(json.out)).toMatchObject({ items: 0, changeFailureRate: { rate: null }, leadTime: { medianSeconds: null } });
  });

  test('AWS out of reach: exit 5 with the network error', async () => {
    const unreachable = new DynamoDBClient({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    const { code, err } = await run(['history', '--table', 't'], { dynamoDb: () => DynamoDBDocumentClient.from(unreachable) });
    unreachable.destroy();
    expect(code).toBe(5);
    expect(err).toMatch(/^blue-green-lambda-pipeline: cannot reach AWS \(.*ECONNREFUSED.*\)\n$/);
  });

  test('any other AWS error: exit 5 with AWS\'s message', async () => {
    const denied = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
    mockClient(denied).on(ScanCommand).rejects(new DynamoDBServiceException({
      name: 'AccessDeniedException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
      message: 'User: arn:aws:iam::111111111111:user/dev is not authorized to perform: dynamodb:Scan on resource: arn:aws:dynamodb:us-east-1:111111111111:table/t',
    }));
    const { code, err } = await run(['history', '--table', 't'], { dynamoDb: () => denied });
    expect(code).toBe(5);
    expect(err).toBe('blue-green-lambda-pipeline: AccessDeniedException: User: arn:aws:iam::111111111111:user/dev ' +
      'is not authorized to perform: dynamodb:Scan on resource: arn:aws:dynamodb:us-east-1:111111111111:table/t\n');
  });
});

describe('--stack', () => {
  // DescribeStacksCommand's doc comment (@aws-sdk/client-cloudformation, dist-types/commands/DescribeStacksCommand.d.ts)
  // documents the answer as { Stacks: [{ StackName, CreationTime, StackStatus, Outputs: [{ OutputKey, OutputValue,
  // Description, ExportName }] }], NextToken }, and "If the stack doesn't exist, a ValidationError is returned".
  // CDK names the output of the construct's CfnOutput 'HistoryTableName' <construct path>HistoryTableName<hash>.
  const cloudFormation = new CloudFormationClient({ region: 'us-east-1' });
  const cfn = mockClient(cloudFormation);
  afterEach(() => cfn.reset());
  const stack = (outputs: Output[]) => ({
    Stacks: [{
      StackName: 'Shop',
      StackId: 'arn:aws:cloudformation:us-east-1:111111111111:stack/Shop/0a1b2c3d',
      CreationTime: new Date('2025-01-01T00:00:00Z'),
      StackStatus: 'UPDATE_COMPLETE' as const,
      Outputs: outputs,
    }],
  });
  const consoleUrl = { OutputKey: 'ShopPipelineConsoleUrl0F0B4B4E', OutputValue: 'https://console.aws.amazon.com/codesuite/codepipeline/pipelines/shop/view' };
  const historyOutput = (key: string, value: string): Output => ({ OutputKey: key, OutputValue: value, Description: 'DynamoDB table recording every deployment' });
  const withStack = { cloudFormation: () => cloudFormation };

  test('reads the table name from the output whose key ends with HistoryTableName (and CDK\'s hash)', async () => {
    cfn.on(DescribeStacksCommand, { StackName: 'Shop' }).resolves(stack([consoleUrl, historyOutput('ShopHistoryTableName42FDB939', fixture.tableName)]));
    const { code, out, err } = await run(['history', '--stack', 'Shop', '--limit', '1'], withStack);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain('payments  prod         SHIFTING');
  });

  test('a stack that does not exist: exit 2', async () => {
    cfn.on(DescribeStacksCommand).rejects(new CloudFormationServiceException({
      name: 'ValidationError', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Stack with id Nope does not exist',
    }));
    const { code, err } = await run(['dora', '--stack', 'Nope'], withStack);
    expect(code).toBe(2);
    expect(err).toBe('blue-green-lambda-pipeline: stack Nope not found (Stack with id Nope does not exist)\n');
  });

  test('a stack without a history output: exit 2, listing its outputs', async () => {
    cfn.on(DescribeStacksCommand).resolves(stack([consoleUrl]));
    const { code, err } = await run(['history', '--stack', 'Shop'], withStack);
    expect(code).toBe(2);
    expect(err).toBe('blue-green-lambda-pipeline: stack Shop has no output whose key ends with HistoryTableName; ' +
      'is the pipeline in another stack? (its outputs: ShopPipelineConsoleUrl0F0B4B4E)\n');
  });

  test('two pipelines in the stack: exit 1 listing both, until --output-key picks one', async () => {
    cfn.on(DescribeStacksCommand).resolves(stack([
      historyOutput('ShopOrdersHistoryTableName661DA3D4', fixture.tableName), historyOutput('ShopBillingHistoryTableName70431B0E', 'billing-history'),
    ]));
    const ambiguous = await run(['history', '--stack', 'Shop'], withStack);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.err).toBe('blue-green-lambda-pipeline: stack Shop holds 2 pipelines; choose one with --output-key: ' +
      'ShopOrdersHistoryTableName661DA3D4, ShopBillingHistoryTableName70431B0E\n');
    const chosen = await run(['history', '--stack', 'Shop', '--output-key', 'ShopOrdersHistoryTableName661DA3D4', '--limit', '1', '--json'], withStack);
    expect(chosen.code).toBe(0);
    expect(JSON.parse(chosen.out)[0].deploymentId).toBe('e11/payments');
    const wrong = await run(['history', '--stack', 'Shop', '--output-key', 'Typo'], withStack);
    expect(wrong.code).toBe(2);
    expect(wrong.err).toContain('stack Shop has no output Typo; its history outputs: ShopOrdersHistoryTableName661DA3D4, ShopBillingHistoryTableName70431B0E');
  });
});
