// A user's first hour, in CI: the npm tarball from dist/js installed into a fresh CDK app outside
// the checkout (aws-cdk-lib and constructs at our peer floor), the README's TypeScript quick start
// as the app, synthesized by the newest AWS CDK CLI the registry offers, and the package's bin.
// Prints one line of counts; exits non-zero on any failure.
import { execFileSync } from 'child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..', '..');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

/** The lowest version a caret range allows: `^2.257.0` → `2.257.0`. */
function floorOf(range: string, name: string): string {
  const match = /^\^?(\d+\.\d+\.\d+)$/.exec(range ?? '');
  if (!match) throw new Error(`peer dependency ${name}: cannot take the floor of "${range}"`);
  return match[1];
}

/** The first TypeScript block of the README's "Quick start" section: what a new user copies. */
function quickStart(readme: string): string {
  const section = readme.split(/^## /m).find((part) => part.startsWith('Quick start'));
  const code = section && /```ts\n([\s\S]*?)```/.exec(section);
  if (!code) throw new Error('README.md has no ```ts block under "## Quick start"');
  return code[1];
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stdout ?? ''}${stderr ?? ''}`);
  }
}

function seconds(start: bigint): string {
  return `${(Number(process.hrtime.bigint() - start) / 1e9).toFixed(1)}s`;
}

function main() {
  const distJs = path.join(root, 'dist', 'js');
  const tarballs = existsSync(distJs) ? readdirSync(distJs).filter((name) => name.endsWith('.tgz')) : [];
  if (tarballs.length !== 1) throw new Error(`expected one tarball in dist/js, found ${tarballs.length}: run \`npx projen compile && npx projen package:js\` first`);
  const tarball = path.join(distJs, tarballs[0]);

  const app = mkdtempSync(path.join(tmpdir(), 'bglp-consumer-'));
  const cdkLib = floorOf(manifest.peerDependencies['aws-cdk-lib'], 'aws-cdk-lib');
  const constructs = floorOf(manifest.peerDependencies.constructs, 'constructs');
  // The TypeScript toolchain the app runs with: the versions this project itself builds with.
  const typescript = JSON.parse(readFileSync(require.resolve('typescript/package.json'), 'utf8')).version;
  const tsNode = JSON.parse(readFileSync(require.resolve('ts-node/package.json'), 'utf8')).version;
  writeFileSync(path.join(app, 'package.json'), `${JSON.stringify({ name: 'consumer-app', version: '0.0.0', private: true }, null, 2)}\n`);
  writeFileSync(path.join(app, 'tsconfig.json'), `${JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'commonjs', strict: true, skipLibCheck: true, types: ['node'] } }, null, 2)}\n`);
  writeFileSync(path.join(app, 'cdk.json'), `${JSON.stringify({ app: 'npx ts-node --prefer-ts-exts app.ts' }, null, 2)}\n`);
  writeFileSync(path.join(app, 'app.ts'), quickStart(readFileSync(path.join(root, 'README.md'), 'utf8')));

  let start = process.hrtime.bigint();
  run('npm', ['install', '--no-audit', '--no-fund', tarball, `aws-cdk-lib@${cdkLib}`, `constructs@${constructs}`,
    'aws-cdk@latest', `typescript@${typescript}`, `ts-node@${tsNode}`, '@types/node@20'], app);
  const installTime = seconds(start);
  const cli = run('npx', ['cdk', '--version'], app).trim().split(/\s/)[0];

  // No credentials here, as for a user who has not configured any yet: synth needs none. The SDK
  // must not ask the EC2 instance metadata endpoint for them.
  start = process.hrtime.bigint();
  run('npx', ['cdk', 'synth', '--no-notices', '--quiet'], app, { AWS_EC2_METADATA_DISABLED: 'true', CDK_DISABLE_CLI_TELEMETRY: 'true' });
  const synthTime = seconds(start);

  const out = path.join(app, 'cdk.out');
  const templates = readdirSync(out).filter((name) => name.endsWith('.template.json'));
  if (templates.length === 0) throw new Error(`cdk synth wrote no template to ${out}`);
  let resources = 0;
  let functions = 0;
  for (const name of templates) {
    const template = JSON.parse(readFileSync(path.join(out, name), 'utf8'));
    const types = Object.values(template.Resources ?? {}).map((resource) => (resource as { Type: string }).Type);
    resources += types.length;
    functions += types.filter((type) => type === 'AWS::Lambda::Function').length;
  }
  // Every file asset the templates reference must have been staged, the handler bundles among them.
  let bundles = 0;
  for (const name of readdirSync(out).filter((file) => file.endsWith('.assets.json'))) {
    const assets = JSON.parse(readFileSync(path.join(out, name), 'utf8'));
    for (const [hash, asset] of Object.entries(assets.files ?? {}) as Array<[string, { source: { path: string } }]>) {
      if (asset.source.path.endsWith('.template.json')) continue;
      const staged = path.join(out, asset.source.path);
      if (!existsSync(path.join(staged, 'index.js'))) throw new Error(`asset ${hash} was not staged with an index.js at ${staged}`);
      bundles++;
    }
  }
  if (bundles < 3) throw new Error(`expected the three handler bundles among the staged assets, found ${bundles}`);

  const version = run('npx', ['blue-green-lambda-pipeline', '--version'], app).trim();
  if (version !== manifest.version) throw new Error(`npx blue-green-lambda-pipeline --version printed "${version}", the package is ${manifest.version}`);

  console.log(`consumer: ${path.basename(tarball)} with aws-cdk-lib ${cdkLib}, constructs ${constructs}; aws-cdk CLI ${cli} synthesized `
    + `${templates.length} stack(s), ${resources} resources, ${functions} functions, ${bundles} asset bundles staged; `
    + `bin --version ${version}; install ${installTime}, synth ${synthTime}`);
}

try {
  main();
} catch (error) {
  console.error(`consumer: FAILED\n${(error as Error).message}`);
  process.exit(1);
}
