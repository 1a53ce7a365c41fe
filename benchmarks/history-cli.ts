// Seeds dynalite with 10,000 history items (8 services, 60 days) and times `history` and
// `dora --since 30d` through the CLI's main(): the real code path, the real SDK client over HTTP.
// Prints one line; exits 1 if either command takes longer than 2 s or does not exit 0.
// Usage: history-cli.ts [items]
import { main } from '../src/cli/history-cli';
import { HistoryItem } from '../src/cli/history-item';
import { putItems } from '../test/cli/history-fixture';
import { startHistoryTable } from '../test/helpers/dynalite-history-table';

const BUDGET_MS = 2000;
const DAY_MS = 86_400_000;
const SERVICES = ['orders', 'payments', 'inventory', 'shipping', 'catalog', 'search', 'accounts', 'notifications'];
const STATES = ['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'ROLLED_BACK', 'FAILED', 'SKIPPED', 'NOT_STARTED'];

/** A deterministic history: executions spread evenly over 60 days, each deploying every service. */
function history(count: number, now: number): HistoryItem[] {
  const executions = Math.ceil(count / SERVICES.length);
  const items: HistoryItem[] = [];
  for (let i = 0; i < count; i++) {
    const execution = Math.floor(i / SERVICES.length);
    const service = SERVICES[i % SERVICES.length];
    const started = now - 60 * DAY_MS + execution * (60 * DAY_MS / executions) + (i % SERVICES.length) * 60_000;
    const state = STATES[(i * 7) % STATES.length];
    const id = `exec-${String(execution).padStart(5, '0')}`;
    items.push({
      deploymentId: `${id}/${service}`,
      executionId: id,
      service,
      wave: 1 + (i % 3),
      state,
      startedAt: new Date(started).toISOString(),
      updatedAt: new Date(started + 600_000).toISOString(),
      finishedAt: new Date(started + 600_000).toISOString(),
      commitId: (execution * 2654435761 % 2 ** 32).toString(16).padStart(8, '0').repeat(5),
      ...(i % 5 === 0 ? {} : { commitTime: new Date(started - 3_600_000).toISOString() }),
      repository: 'example-org/shop',
      branch: 'main',
      currentVersion: String(execution),
      targetVersion: String(execution + 1),
      codeDeployDeploymentId: `d-${String(i).padStart(9, '0')}`,
      deploymentConfig: 'CodeDeployDefault.LambdaCanary10Percent5Minutes',
      ...(state === 'ROLLED_BACK' || state === 'FAILED' ? { failureReason: `alarm ${service}-errors went to ALARM during the canary` } : {}),
    });
  }
  return items;
}

async function time(argv: string[]): Promise<number> {
  const started = process.hrtime.bigint();
  const code = await main(argv, { stdout: () => undefined, stderr: (text) => process.stderr.write(text) });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (code !== 0) throw new Error(`${argv.join(' ')} exited ${code}`);
  return ms;
}

async function bench(count: number): Promise<void> {
  // As the bin does: the SDK's notice about the Node versions of its future releases is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const fixture = await startHistoryTable();
  try {
    await putItems(fixture.doc, fixture.tableName, history(count, Date.now()));
    // main() makes its own client from the SDK's default chain, pointed at dynalite.
    const endpoint = await fixture.doc.config.endpoint!();
    process.env.AWS_ENDPOINT_URL_DYNAMODB = `${endpoint.protocol}//${endpoint.hostname}:${endpoint.port}`;
    process.env.AWS_ACCESS_KEY_ID = 'bench';
    process.env.AWS_SECRET_ACCESS_KEY = 'bench';
    const table = ['--table', fixture.tableName, '--region', 'us-east-1'];
    const historyMs = await time(['history', ...table]);
    const doraMs = await time(['dora', ...table, '--since', '30d']);
    console.log(`bench history-cli items=${count} history-ms=${Math.round(historyMs)} dora-ms=${Math.round(doraMs)}`);
    if (historyMs > BUDGET_MS || doraMs > BUDGET_MS) {
      console.error(`history-cli: over the ${BUDGET_MS} ms budget`);
      process.exitCode = 1;
    }
  } finally {
    await fixture.stop();
  }
}

const count = Number(process.argv[2] ?? 10_000);
if (!Number.isInteger(count) || count < 1) throw new Error(`usage: history-cli.ts [items], a whole number of at least 1; got "${process.argv[2]}"`);
bench(count).catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
