import { execFile } from 'child_process';
import { readFileSync } from 'fs';
import * as path from 'path';
import { HISTORY, putItems } from './history-fixture';
import { USAGE } from '../../src/cli/args';
import { HistoryTableFixture, startHistoryTable } from '../helpers/dynalite-history-table';

// The entry point as a process: exit codes and output as a script sees them. The SDK reaches
// dynalite through AWS_ENDPOINT_URL_DYNAMODB, the SDK's own setting, with the default client.
const root = path.join(__dirname, '..', '..');
let fixture: HistoryTableFixture;
let endpoint: string;
beforeAll(async () => {
  fixture = await startHistoryTable();
  await putItems(fixture.doc, fixture.tableName, HISTORY);
  const url = await fixture.doc.config.endpoint!();
  endpoint = `${url.protocol}//${url.hostname}:${url.port}`;
});
afterAll(() => fixture.stop());

function bin(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/cli/bin.ts', ...args], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        TS_NODE_PROJECT: 'tsconfig.dev.json',
        AWS_ENDPOINT_URL_DYNAMODB: endpoint,
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_REGION: 'us-east-1',
      },
    }, (error, stdout, stderr) => resolve({ status: error ? (error.code as number) : 0, stdout, stderr }));
  });
}

test('--help: exit 0, the usage on stdout', async () => {
  expect(await bin(['--help'])).toEqual({ status: 0, stdout: USAGE, stderr: '' });
});

test('history --json against the table: exit 0, every item on stdout', async () => {
  const { status, stdout, stderr } = await bin(['history', '--table', fixture.tableName, '--json']);
  expect(stderr).toBe('');
  expect(status).toBe(0);
  expect(JSON.parse(stdout)).toHaveLength(HISTORY.length);
});

test('a bad flag exits 1, a missing table 2, an empty service 4: no stack traces', async () => {
  const results = await Promise.all([
    bin(['history', '--tabel', 'x']),
    bin(['history', '--table', 'no-such-table']),
    bin(['history', '--table', fixture.tableName, '--service', 'inventory']),
  ]);
  expect(results.map((r) => r.status)).toEqual([1, 2, 4]);
  for (const { stderr } of results) {
    expect(stderr).toMatch(/^blue-green-lambda-pipeline: /);
    expect(stderr).not.toMatch(/\n\s+at /);
  }
});

test('--version and -v: exit 0, the package.json version on stdout', async () => {
  const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  expect(version).toMatch(/^\d+\.\d+\.\d+/);
  const results = await Promise.all([bin(['--version']), bin(['-v']), bin(['history', '--version'])]);
  for (const result of results) expect(result).toEqual({ status: 0, stdout: `${version}\n`, stderr: '' });
});
