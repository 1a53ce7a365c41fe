import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand, QueryCommandInput, ScanCommand, ScanCommandInput } from '@aws-sdk/lib-dynamodb';
import { CliArgs, parseArgs, parseSince, PROGRAM, USAGE, USAGE_LINE, UsageError } from './args';
import { computeDora, DoraWindow } from './dora';
import { doraText, historyJson, historyTable } from './format';
import { HISTORY_ATTRIBUTES, HistoryItem, HistoryScope, newestFirst } from './history-item';
import { packageVersion } from './package-version';
import { HISTORY_TABLE } from '../contract/handler-contract';

/** Exit codes; `--help` documents them (see USAGE). */
export const EXIT = {
  OK: 0,
  USAGE: 1,
  NOT_FOUND: 2,
  NO_CREDENTIALS: 3,
  EMPTY: 4,
  AWS_ERROR: 5,
} as const;

/** The index on (service, startedAt). */
export const SERVICE_INDEX = HISTORY_TABLE.byService.indexName;

/** Segments of a parallel Scan (history and dora without --service read the whole table). */
export const SCAN_SEGMENTS = 4;

/** Where the AWS clients point: flags of the command line, else the SDK's defaults. */
export interface AwsOptions {
  readonly region?: string;
  readonly profile?: string;
}

/** What the CLI talks to; each is replaceable (tests, benchmarks). */
export interface CliDeps {
  /** Makes the DynamoDB document client. Default: the SDK's credential chain and region, with --region and --profile. */
  readonly dynamoDb?: (aws: AwsOptions) => DynamoDBDocumentClient;
  /** Makes the CloudFormation client for --stack. Default: as for DynamoDB. */
  readonly cloudFormation?: (aws: AwsOptions) => CloudFormationClient;
  readonly stdout?: (text: string) => void;
  readonly stderr?: (text: string) => void;
  /** The end of the dora window. Default: the current time. */
  readonly now?: () => Date;
}

/** An error the CLI explains itself, with its exit code. */
export class CliError extends Error {
  constructor(readonly exitCode: number, message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/**
 * Runs one command line (without `node` and the script) and returns the exit code. Never throws:
 * every failure becomes a one-line message on stderr and one of the codes of {@link EXIT}.
 */
export async function main(argv: string[], deps: CliDeps = {}): Promise<number> {
  const stdout = deps.stdout ?? ((text: string) => { process.stdout.write(text); });
  const stderr = deps.stderr ?? ((text: string) => { process.stderr.write(text); });
  const fail = (code: number, message: string) => { stderr(`${PROGRAM}: ${message}\n`); return code; };

  let args: CliArgs;
  try {
    args = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return fail(EXIT.USAGE, usageMessage(error));
  }
  if (args.help) {
    stdout(USAGE);
    return EXIT.OK;
  }
  if (args.version) {
    stdout(`${packageVersion()}\n`);
    return EXIT.OK;
  }

  const aws: AwsOptions = { region: args.region, profile: args.profile };
  const created: Array<{ destroy(): void }> = [];
  const make = <T extends { destroy(): void }>(factory: ((o: AwsOptions) => T) | undefined, fallback: (o: AwsOptions) => T): T => {
    if (factory) return factory(aws);
    const client = fallback(aws);
    created.push(client);
    return client;
  };
  let tableName: string | undefined = args.table;
  let doc: DynamoDBDocumentClient | undefined;
  try {
    const now = (deps.now ?? (() => new Date()))();
    const since = args.command === 'dora' ? parseSince(args.since, now) : undefined;
    if (tableName === undefined) {
      tableName = await tableFromStack(make(deps.cloudFormation, defaultCloudFormation), args.stack!, args.outputKey);
    }
    doc = make(deps.dynamoDb, defaultDynamoDb);
    const reader = new HistoryReader(doc, tableName);
    const scope: HistoryScope = { service: args.service, environment: args.environment };
    const forService = [
      args.service === undefined ? '' : ` for service ${args.service}`,
      args.environment === undefined ? '' : ` in environment ${args.environment}`,
    ].join('');

    if (args.command === 'history') {
      const items = await reader.latest(args.limit, scope);
      stdout(args.json ? JSON.stringify(items.map(historyJson), undefined, 2) + '\n' : items.length > 0 ? historyTable(items) : '');
      if (items.length === 0) return fail(EXIT.EMPTY, `no deployments recorded${forService} in table ${tableName}`);
      return EXIT.OK;
    }

    const window: DoraWindow = { since: since!, until: now };
    const items = await reader.startedBetween(window, scope);
    const report = computeDora(items, window, scope);
    if (args.json) stdout(JSON.stringify(report, undefined, 2) + '\n');
    if (report.items === 0) return fail(EXIT.EMPTY, `no deployments started since ${window.since.toISOString()}${forService} in table ${tableName}`);
    if (!args.json) stdout(doraText(report));
    return EXIT.OK;
  } catch (error) {
    const [code, message] = await explain(error, { tableName, doc, profile: args.profile });
    return fail(code, message);
  } finally {
    for (const client of created) client.destroy();
  }
}

function defaultDynamoDb(aws: AwsOptions): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({ region: aws.region, profile: aws.profile }));
}

function defaultCloudFormation(aws: AwsOptions): CloudFormationClient {
  return new CloudFormationClient({ region: aws.region, profile: aws.profile });
}

/** An output key the construct's `HistoryTableName` output gets: the construct path, the id, CDK's 8-character hash. */
const HISTORY_OUTPUT = /HistoryTableName(?:[0-9A-F]{8})?$/;

/**
 * The history table's name from a stack's outputs: the one output whose key ends with
 * HistoryTableName (CDK appends a hash to the construct path), or exactly `outputKey`.
 */
export async function tableFromStack(cloudFormation: CloudFormationClient, stackName: string, outputKey?: string): Promise<string> {
  let stacks;
  try {
    ({ Stacks: stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName })));
  } catch (error) {
    // DescribeStacks answers a ValidationError "Stack with id X does not exist" for an unknown stack.
    if ((error as Error).name === 'ValidationError' && /does not exist/.test((error as Error).message)) {
      throw new CliError(EXIT.NOT_FOUND, `stack ${stackName} not found (${(error as Error).message})`);
    }
    throw error;
  }
  const stack = stacks?.[0];
  if (!stack) throw new CliError(EXIT.NOT_FOUND, `stack ${stackName} not found`);
  const outputs = stack.Outputs ?? [];
  const candidates = outputs.filter((o) => o.OutputKey && HISTORY_OUTPUT.test(o.OutputKey));
  const list = (keys: typeof outputs) => keys.map((o) => o.OutputKey).join(', ');
  if (outputKey !== undefined) {
    const output = outputs.find((o) => o.OutputKey === outputKey);
    if (!output?.OutputValue) {
      throw new CliError(EXIT.NOT_FOUND, `stack ${stackName} has no output ${outputKey}` +
        (candidates.length > 0 ? `; its history outputs: ${list(candidates)}` : ''));
    }
    return output.OutputValue;
  }
  if (candidates.length === 0) {
    throw new CliError(EXIT.NOT_FOUND, `stack ${stackName} has no output whose key ends with HistoryTableName; ` +
      `is the pipeline in another stack? (its outputs: ${list(outputs) || 'none'})`);
  }
  if (candidates.length > 1) {
    throw new CliError(EXIT.USAGE, `stack ${stackName} holds ${candidates.length} pipelines; choose one with --output-key: ${list(candidates)}`);
  }
  return candidates[0].OutputValue!;
}

/** Reads the history table: the index on (service, startedAt) for one service, a parallel Scan for all. */
export class HistoryReader {
  constructor(private readonly doc: DynamoDBDocumentClient, private readonly tableName: string) {}

  /** The last `limit` deployments (by startedAt), newest first. */
  async latest(limit: number, scope: HistoryScope = {}): Promise<HistoryItem[]> {
    if (scope.service !== undefined) {
      return this.query(scope.service, scope.environment, limit);
    }
    const items = await this.scan(scope.environment);
    return items.sort(newestFirst).slice(0, limit);
  }

  /** Every deployment started in the window (DORA), in no particular order. */
  async startedBetween(window: DoraWindow, scope: HistoryScope = {}): Promise<HistoryItem[]> {
    const between = { since: window.since.toISOString(), until: window.until.toISOString() };
    if (scope.service !== undefined) return this.query(scope.service, scope.environment, undefined, between);
    return this.scan(scope.environment, between);
  }

  /**
   * One service's items, newest first. DynamoDB applies Limit before the filter on the environment,
   * so pages are read until `limit` items matched or the index ends.
   */
  private async query(service: string, environment?: string, limit?: number, between?: { since: string; until: string }): Promise<HistoryItem[]> {
    const items: HistoryItem[] = [];
    const projection = this.projection();
    const input: QueryCommandInput = {
      TableName: this.tableName,
      IndexName: SERVICE_INDEX,
      KeyConditionExpression: between ? '#service = :service AND #startedAt BETWEEN :since AND :until' : '#service = :service',
      ExpressionAttributeNames: projection.names,
      ExpressionAttributeValues: {
        ':service': service,
        ...(between ? { ':since': between.since, ':until': between.until } : {}),
        ...(environment === undefined ? {} : { ':environment': environment }),
      },
      ...(environment === undefined ? {} : { FilterExpression: '#environment = :environment' }),
      ProjectionExpression: projection.expression,
      ScanIndexForward: false,
    };
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(new QueryCommand({
        ...input,
        ExclusiveStartKey: startKey,
        Limit: limit === undefined ? undefined : limit - items.length,
      }));
      items.push(...(page.Items ?? []) as HistoryItem[]);
      startKey = page.LastEvaluatedKey;
    } while (startKey && (limit === undefined || items.length < limit));
    return items;
  }

  private async scan(environment?: string, between?: { since: string; until: string }): Promise<HistoryItem[]> {
    const projection = this.projection();
    const filters = [
      ...(between ? ['#startedAt BETWEEN :since AND :until'] : []),
      ...(environment === undefined ? [] : ['#environment = :environment']),
    ];
    const values = {
      ...(between ? { ':since': between.since, ':until': between.until } : {}),
      ...(environment === undefined ? {} : { ':environment': environment }),
    };
    const input: ScanCommandInput = {
      TableName: this.tableName,
      ProjectionExpression: projection.expression,
      ExpressionAttributeNames: projection.names,
      ...(filters.length > 0 ? { FilterExpression: filters.join(' AND '), ExpressionAttributeValues: values } : {}),
      TotalSegments: SCAN_SEGMENTS,
    };
    const segments = await Promise.all(Array.from({ length: SCAN_SEGMENTS }, async (_, segment) => {
      const items: HistoryItem[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await this.doc.send(new ScanCommand({ ...input, Segment: segment, ExclusiveStartKey: startKey }));
        items.push(...(page.Items ?? []) as HistoryItem[]);
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      return items;
    }));
    return segments.flat();
  }

  /** Every attribute the CLI shows, through placeholders (several are DynamoDB reserved words). */
  private projection(): { expression: string; names: Record<string, string> } {
    const names: Record<string, string> = {};
    for (const attribute of HISTORY_ATTRIBUTES) names[`#${attribute}`] = attribute;
    return { expression: Object.keys(names).join(', '), names };
  }
}

const CREDENTIAL_ERRORS = new Set(['CredentialsProviderError', 'TokenProviderError']);
/** Errors AWS answers for credentials it does not accept. */
const REJECTED_CREDENTIALS = new Set([
  'UnrecognizedClientException', 'InvalidClientTokenId', 'InvalidSignatureException', 'ExpiredTokenException', 'ExpiredToken',
  'SignatureDoesNotMatch',
]);
/** Node's errors for a host that cannot be reached (the SDK passes them on, sometimes wrapped). */
const NETWORK_ERROR = /\b(ECONNREFUSED|ECONNRESET|ENOTFOUND|ETIMEDOUT|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EPIPE)\b/;
const CREDENTIALS_HELP = 'provide credentials through AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE or --profile ' +
  '(run `aws configure`, or `aws sso login --profile NAME`), or a container/instance role';

function usageMessage(error: UsageError): string {
  return `${error.message}\n${USAGE_LINE}\nRun ${PROGRAM} --help for the options and exit codes.`;
}

/** What a failure is explained with. */
interface FailureContext {
  readonly tableName?: string;
  readonly doc?: DynamoDBDocumentClient;
  readonly profile?: string;
}

/** The exit code and the one-line message of a failure. */
async function explain(error: unknown, { tableName, doc, profile }: FailureContext): Promise<[number, string]> {
  if (error instanceof CliError) return [error.exitCode, error.message];
  if (error instanceof UsageError) return [EXIT.USAGE, usageMessage(error)];
  const e = error as { name?: string; message?: string; code?: string; $metadata?: unknown };
  const name = e?.name ?? 'Error';
  const message = String(e?.message ?? error).split('\n')[0];
  if (CREDENTIAL_ERRORS.has(name) || /Could not load credentials/i.test(message)) {
    const withProfile = profile === undefined ? '' : ` with profile ${profile}`;
    return [EXIT.NO_CREDENTIALS, `no AWS credentials${withProfile} (${name}: ${message}); ${CREDENTIALS_HELP}`];
  }
  if (REJECTED_CREDENTIALS.has(name)) {
    return [EXIT.NO_CREDENTIALS, `AWS rejected the credentials (${name}: ${message}); ${CREDENTIALS_HELP}`];
  }
  if (/^Region is missing/.test(message)) {
    return [EXIT.NO_CREDENTIALS, 'no AWS region: pass --region, set AWS_REGION, or give your profile a region (`aws configure set region REGION`)'];
  }
  if (name === 'ResourceNotFoundException') {
    const region = await regionOf(doc);
    return [EXIT.NOT_FOUND, `table ${tableName} not found${region ? ` in ${region}` : ''} (ResourceNotFoundException: ${message}); ` +
      'check --table/--stack, --region and --profile'];
  }
  if (NETWORK_ERROR.test(`${e?.code ?? ''} ${message}`)) {
    return [EXIT.AWS_ERROR, `cannot reach AWS (${message.replace(/^AWS SDK error wrapper for (Error: )?/, '')})`];
  }
  return [EXIT.AWS_ERROR, `${name}: ${message}`];
}

async function regionOf(doc: DynamoDBDocumentClient | undefined): Promise<string | undefined> {
  try {
    const region = doc?.config.region;
    return typeof region === 'function' ? await region() : region;
  } catch {
    return undefined;
  }
}
