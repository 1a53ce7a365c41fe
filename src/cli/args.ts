import { parseArgs as nodeParseArgs } from 'util';

/** The program name, as npx and the package's bin call it. */
export const PROGRAM = 'blue-green-lambda-pipeline';

export const USAGE_LINE = `usage: ${PROGRAM} <history|dora> (--table NAME | --stack STACK [--output-key KEY]) [options]`;

export const DEFAULT_LIMIT = 20;
export const DEFAULT_SINCE = '30d';

/** The --help text: commands, options and the exit codes scripts may rely on. */
export const USAGE = `${USAGE_LINE}

Reads the deployment history table of a BlueGreenLambdaPipeline with your AWS credentials
(the SDK's default chain: environment variables, shared config and credentials files, SSO,
container or instance role) in your default region.

Commands:
  history              the last deployments, newest first: service, state, versions,
                       commit, start, duration and failure reason
  dora                 DORA measures over the deployments started in a window:
                       deployment frequency, median lead time, change failure rate,
                       mean time to restore, each with how it is computed

The table (one of):
  --table NAME         the history table's name
  --stack STACK        a CloudFormation stack holding the pipeline: the table name is the
                       output whose key ends with HistoryTableName (plus CDK's hash)
  --output-key KEY     with --stack: that output's exact key, when the stack holds several
                       pipelines

Options:
  --service NAME       one service only
  --environment NAME   one environment only (an environments[i].name, or the pipeline's
                       environmentSuffix); DORA's measures are about production: name it
  --limit N            history: how many deployments (default ${DEFAULT_LIMIT})
  --since WHEN         dora: the window's start: Nd (days ago), Nh (hours ago) or an
                       ISO 8601 date or time, UTC unless it has an offset, e.g. 2025-03-01
                       (default ${DEFAULT_SINCE}); the window ends now
  --json               print JSON on stdout (history: an array of deployments; dora: one
                       object with every measure) instead of text
  --region REGION      AWS region (default: AWS_REGION, or your profile's region)
  --profile NAME       a named profile of ~/.aws/config or ~/.aws/credentials
  -h, --help           this text
  -v, --version        the package's version

Exit codes:
  0  success
  1  usage error: unknown command or option, a bad or missing value, neither --table nor
     --stack, or several history outputs in the stack and no --output-key
  2  not found: the table (ResourceNotFoundException), the stack, or its history output
  3  no AWS credentials or region (or credentials AWS rejects as invalid or expired)
  4  empty: no deployment recorded (history) or none started in the window (dora), for the
     service if one was given; a message on stderr, and with --json stdout still gets the
     (empty) answer: [] or the report
  5  any other AWS error (AWS's message is printed)
Messages for codes 1-5 go to stderr (one line; a usage error adds the usage line), no stack trace.
`;

/** A command line the CLI cannot run: exit code 1, with the usage line. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type Command = 'history' | 'dora';

/** A parsed command line. */
export interface CliArgs {
  /** undefined with --help or --version. */
  readonly command?: Command;
  readonly help: boolean;
  readonly version?: boolean;
  readonly table?: string;
  readonly stack?: string;
  readonly outputKey?: string;
  readonly service?: string;
  readonly environment?: string;
  readonly limit: number;
  readonly since: string;
  readonly json: boolean;
  readonly region?: string;
  readonly profile?: string;
}

/** Options that take a value, and the commands that accept them (undefined: every command). */
const VALUE_OPTIONS: Record<string, Command | undefined> = {
  'table': undefined,
  'stack': undefined,
  'output-key': undefined,
  'service': undefined,
  'environment': undefined,
  'limit': 'history',
  'since': 'dora',
  'region': undefined,
  'profile': undefined,
};
const FLAGS = new Set(['json', 'help', 'version']);
const COMMANDS: ReadonlyArray<Command> = ['history', 'dora'];

/** Node's own tokenizer, told every option (`-h`, `-v` included); our rules and messages follow. */
const NODE_OPTIONS = {
  ...Object.fromEntries(Object.keys(VALUE_OPTIONS).map((name) => [name, { type: 'string' as const }])),
  ...Object.fromEntries([...FLAGS].map((name) => [name, { type: 'boolean' as const, ...(name === 'help' ? { short: 'h' } : name === 'version' ? { short: 'v' } : {}) }])),
};

/**
 * Parses `<command> [--option value | --option=value | --flag]...`; options may come before or
 * after the command. `-h`, `--help` or the command `help` asks for the usage text. Tokenized by
 * `util.parseArgs` (non-strict, so that every mistake gets this CLI's own one-line message).
 * @throws UsageError
 */
export function parseArgs(argv: string[]): CliArgs {
  const values: Record<string, string> = {};
  const flags = new Set<string>();
  const positionals: string[] = [];
  for (const token of nodeParseArgs({ args: argv, options: NODE_OPTIONS, allowPositionals: true, strict: false, tokens: true }).tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
    } else if (token.kind === 'option') {
      const { name, rawName, value, inlineValue } = token;
      if (name in VALUE_OPTIONS) {
        // A value that looks like the next option (`--table --json`) is a missing value.
        if (value === undefined || value === '' || (!inlineValue && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
        values[name] = value;
      } else if (FLAGS.has(name)) {
        if (value !== undefined) throw new UsageError(`--${name} takes no value`);
        flags.add(name);
      } else {
        throw new UsageError(`unknown option ${rawName}`);
      }
    }
  }

  if (flags.has('help') || (positionals.length === 1 && positionals[0] === 'help')) {
    return { help: true, limit: DEFAULT_LIMIT, since: DEFAULT_SINCE, json: false };
  }
  if (flags.has('version')) return { help: false, version: true, limit: DEFAULT_LIMIT, since: DEFAULT_SINCE, json: false };
  if (positionals.length === 0) throw new UsageError('missing command: history or dora');
  if (positionals.length > 1) throw new UsageError(`one command expected, got ${positionals.join(' ')}`);
  const command = positionals[0] as Command;
  if (!COMMANDS.includes(command)) throw new UsageError(`unknown command ${positionals[0]} (history or dora)`);

  for (const name of Object.keys(values)) {
    const only = VALUE_OPTIONS[name];
    if (only !== undefined && only !== command) throw new UsageError(`--${name} is an option of ${only}, not ${command}`);
  }
  if (values.table !== undefined && values.stack !== undefined) throw new UsageError('give --table or --stack, not both');
  if (values.table === undefined && values.stack === undefined) throw new UsageError('which table? give --table NAME or --stack STACK');
  if (values['output-key'] !== undefined && values.stack === undefined) throw new UsageError('--output-key goes with --stack');

  let limit = DEFAULT_LIMIT;
  if (values.limit !== undefined) {
    if (!/^[1-9][0-9]*$/.test(values.limit)) throw new UsageError(`--limit must be a whole number of at least 1, got ${values.limit}`);
    limit = Number(values.limit);
  }
  return {
    command,
    help: false,
    table: values.table,
    stack: values.stack,
    outputKey: values['output-key'],
    service: values.service,
    environment: values.environment,
    limit,
    since: values.since ?? DEFAULT_SINCE,
    json: flags.has('json'),
    region: values.region,
    profile: values.profile,
  };
}

/**
 * The window start `--since` names: `Nd` or `Nh` before `now`, or an ISO 8601 date
 * (`2025-03-01`, midnight UTC) or time (`2025-03-01T12:00:00Z`, UTC without an offset). It must be before `now`.
 * @throws UsageError
 */
export function parseSince(since: string, now: Date): Date {
  const relative = /^([0-9]+)([dh])$/.exec(since);
  let start: Date;
  if (relative) {
    const amount = Number(relative[1]);
    if (amount === 0) throw new UsageError(`--since ${since} is an empty window`);
    start = new Date(now.getTime() - amount * (relative[2] === 'd' ? 86_400_000 : 3_600_000));
  } else if (/^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?$/.test(since)) {
    // A time without an offset is UTC, as a date alone is (JavaScript would read it as local time).
    const iso = since.replace(' ', 'T');
    start = new Date(/T/.test(iso) && !/(Z|[+-][0-9]{2}:?[0-9]{2})$/.test(iso) ? `${iso}Z` : iso);
    // JavaScript rolls 2025-02-30 over to March 2: a day that does not exist is refused instead.
    const day = new Date(`${iso.slice(0, 10)}T00:00:00Z`);
    if (Number.isNaN(start.getTime()) || Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== iso.slice(0, 10)) {
      throw new UsageError(`--since ${since} is not a valid date`);
    }
  } else {
    throw new UsageError(`--since must be Nd, Nh or an ISO 8601 date, got ${since}`);
  }
  if (start.getTime() >= now.getTime()) throw new UsageError(`--since ${since} is not in the past`);
  return start;
}
