// Size and module-initialization time of every handler bundle in assets/ (what Lambda loads on a
// cold start): a fresh Node.js process per run, RUNS runs, medians printed one line per handler.
// `sdk-ms` is loading the @aws-sdk/* packages the bundle requires (external: the Lambda runtime
// provides them; here they resolve from node_modules), `own-ms` the bundle's own initialization
// after them, `init-ms` both. The limits apply to the bundle (size, own-ms): the SDK's load time
// is the runtime's and the same for any handler using those clients.
// Usage: handler-cold-start.ts [runs]
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** The limits issue #15 set for a handler bundle. */
const MAX_BUNDLE_BYTES = 250 * 1024;
const MAX_INIT_MS = 150;

const runs = Number(process.argv[2] ?? 15);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`usage: handler-cold-start.ts [runs], a whole number of at least 1; got "${process.argv[2]}"`);

const root = path.join(__dirname, '..');
const bundles = fs.readdirSync(path.join(root, 'assets', 'handlers'))
  .filter((name) => name.endsWith('.lambda'))
  .map((name) => ({ name: name.replace(/\.lambda$/, ''), file: path.join(root, 'assets', 'handlers', name, 'index.js') }));
if (bundles.length === 0) throw new Error('no handler bundles in assets/: run `npx projen bundle` first');

/** Prints `<sdk ms> <own ms>`. */
const probe = (file: string, sdkModules: string[]) => [
  'const { performance } = require("perf_hooks");',
  'const t0 = performance.now();',
  `for (const m of ${JSON.stringify(sdkModules)}) require(m);`,
  'const t1 = performance.now();',
  `const m = require(${JSON.stringify(file)});`,
  'if (typeof m.handler !== "function") throw new Error("no handler export");',
  'process.stdout.write(`${t1 - t0} ${performance.now() - t1}`);',
].join('');
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const failures: string[] = [];
for (const { name, file } of bundles) {
  const bytes = fs.statSync(file).size;
  const sdkModules = [...new Set([...fs.readFileSync(file, 'utf8').matchAll(/require\("(@aws-sdk\/[^"]+)"\)/g)].map((m) => m[1]))].sort();
  const samples = Array.from({ length: runs }, () => execFileSync(process.execPath, ['-e', probe(file, sdkModules)], {
    cwd: root,
    env: { ...process.env, NODE_PATH: path.join(root, 'node_modules'), AWS_REGION: 'us-east-1' },
  }).toString().split(' ').map(Number));
  const sdk = median(samples.map(([s]) => s));
  const own = median(samples.map(([, o]) => o));
  const init = median(samples.map(([s, o]) => s + o));
  console.log(`bench handler=${name} bundle-kb=${(bytes / 1024).toFixed(1)} init-ms=${init.toFixed(1)} sdk-ms=${sdk.toFixed(1)} own-ms=${own.toFixed(1)} sdk-clients=${sdkModules.length} runs=${runs}`);
  if (bytes > MAX_BUNDLE_BYTES) failures.push(`${name}: bundle is ${bytes} bytes, more than ${MAX_BUNDLE_BYTES}`);
  if (own > MAX_INIT_MS) failures.push(`${name}: median initialization of the bundle ${own.toFixed(1)} ms, more than ${MAX_INIT_MS} ms`);
}
if (failures.length > 0) {
  console.error(failures.join('\n'));
  process.exitCode = 1;
}
