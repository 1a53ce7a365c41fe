// Runs the Build stage's buildspec, exactly as BlueGreenLambdaPipeline synthesizes it, against the
// example service repositories, and checks that its output is what Deploy-Blue consumes.
// Usage (from the project root): npx ts-node --project tsconfig.dev.json examples/service-repo/run-default-buildspec.ts
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { BlueGreenLambdaPipeline } from '../../src';
import { cutBundle } from '../../src/runtime/bundle-archive';
import { contentOf, fileEntry, readZip, writeZip } from '../../test/helpers/raw-zip';
import { monorepoApp } from '../typescript/monorepo-app';

type Json = any;

interface BuildSpec {
  readonly version: string;
  readonly env?: { shell?: string };
  readonly phases: Record<string, { 'runtime-versions'?: Record<string, string>; 'commands'?: string[]; 'on-failure'?: string }>;
  readonly reports?: Record<string, { 'files': string[]; 'base-directory'?: string; 'file-format'?: string }>;
  readonly artifacts: { 'files': string[]; 'base-directory'?: string };
}

/** One service as the synthesized pipeline deploys it. */
interface DeployedService {
  readonly service: string;
  readonly functionName: string;
  /** '' when the whole artifact is the bundle. */
  readonly bundleDirectory: string;
  readonly handler: string;
  readonly environment: Record<string, string>;
  /** The event the pipeline's smoke test sends, if the service has one. */
  readonly smokeTestEvent?: Json;
}

interface PipelineUnderTest {
  readonly buildSpec: BuildSpec;
  readonly services: DeployedService[];
}

interface BuildRun {
  readonly ok: boolean;
  readonly failedCommand?: string;
  readonly timings: Array<{ command: string; seconds: number }>;
  readonly log: string;
}

const HERE = __dirname;
const PHASES = ['install', 'pre_build', 'build', 'post_build'];
const HEALTH_EVENT = { rawPath: '/health', requestContext: { http: { method: 'GET' } } };
const SOURCE = {
  owner: 'example-org',
  branch: 'main',
  connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789',
};

const failures: string[] = [];
const tempDirs: string[] = [];

function fail(message: string): void {
  failures.push(message);
  console.log(`  FAIL ${message}`);
}

function tempDir(label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `service-repo-${label}-`));
  tempDirs.push(dir);
  return dir;
}

/** A template value as text; CloudFormation tokens (the report group ARN) become a placeholder. */
function literal(value: Json): string {
  if (typeof value === 'string') return value;
  if (value && Array.isArray(value['Fn::Join'])) {
    const [separator, parts] = value['Fn::Join'];
    return (parts as Json[]).map((part) => typeof part === 'string' ? part : 'TOKEN').join(separator);
  }
  throw new Error(`expected a string or Fn::Join, got ${JSON.stringify(value).slice(0, 200)}`);
}

/** The Build project's buildspec and the services Deploy-Blue publishes, read from the synthesized template. */
function pipelineUnderTest(stack: Stack): PipelineUnderTest {
  const template = Template.fromStack(stack);
  const pipelines = Object.values<Json>(template.findResources('AWS::CodePipeline::Pipeline'));
  if (pipelines.length !== 1) throw new Error(`expected one pipeline, found ${pipelines.length}`);
  const stages: Json[] = pipelines[0].Properties.Stages;
  const stage = (name: string) => {
    const found = stages.find((s) => s.Name === name);
    if (!found) throw new Error(`the pipeline has no ${name} stage`);
    return found;
  };
  const buildActions: Json[] = stage('Build').Actions;
  if (buildActions.length !== 1) throw new Error(`expected one Build action, found ${buildActions.length}`);
  const project = template.toJSON().Resources[buildActions[0].Configuration.ProjectName.Ref];
  const buildSpec: BuildSpec = JSON.parse(literal(project.Properties.Source.BuildSpec));

  const functions = Object.values<Json>(template.findResources('AWS::Lambda::Function')).map((f) => f.Properties);
  const smokeTestEvents: Record<string, Json> = Object.assign({}, ...functions
    .map((f) => f.Environment?.Variables?.SMOKE_TEST_EVENTS)
    .filter((events): events is string => typeof events === 'string')
    .map((events) => JSON.parse(events)));
  const services = stage('Deploy-Blue').Actions.map((action: Json): DeployedService => {
    const parameters = JSON.parse(literal(action.Configuration.UserParameters));
    const fn = functions.find((f) => f.FunctionName === parameters.functionName);
    if (!fn) throw new Error(`no function named ${parameters.functionName} in the template`);
    const environment = Object.fromEntries(Object.entries<Json>(fn.Environment?.Variables ?? {}).filter(([, v]) => typeof v === 'string'));
    return {
      service: parameters.service,
      functionName: parameters.functionName,
      bundleDirectory: parameters.bundleDirectory,
      handler: fn.Handler,
      environment,
      smokeTestEvent: smokeTestEvents[parameters.functionName],
    };
  });
  return { buildSpec, services };
}

/** Refuses buildspec features this runner does not implement, so it never silently runs something else. */
function assertSupported(spec: BuildSpec): void {
  const unknown = (what: string, keys: string[], known: string[]) => {
    const extra = keys.filter((key) => !known.includes(key));
    if (extra.length > 0) throw new Error(`buildspec ${what} has ${extra.join(', ')}, which this runner does not implement`);
  };
  unknown('root', Object.keys(spec), ['version', 'env', 'phases', 'reports', 'artifacts']);
  unknown('env', Object.keys(spec.env ?? {}), ['shell']);
  if ((spec.env?.shell ?? 'bash') !== 'bash') throw new Error(`buildspec shell ${spec.env?.shell}: this runner runs bash`);
  unknown('phases', Object.keys(spec.phases), PHASES);
  for (const [name, phase] of Object.entries(spec.phases)) {
    unknown(`phase ${name}`, Object.keys(phase), ['runtime-versions', 'commands', 'on-failure']);
    if ((phase['on-failure'] ?? 'ABORT') !== 'ABORT') throw new Error(`phase ${name}: on-failure ${phase['on-failure']} is not implemented`);
  }
  unknown('runtime-versions', Object.keys(spec.phases.install?.['runtime-versions'] ?? {}), ['nodejs']);
  unknown('artifacts', Object.keys(spec.artifacts), ['files', 'base-directory']);
  for (const report of Object.values(spec.reports ?? {})) {
    unknown('report', Object.keys(report), ['files', 'base-directory', 'file-format']);
    if (report['file-format'] !== 'JUNITXML') throw new Error(`report format ${report['file-format']} is not implemented`);
  }
}

const nodeBinaries = new Map<string, string>();

/** The directory of a `node` of the given major, as runtime-versions installs it in CodeBuild. */
function nodeBinDir(major: string): string {
  if (process.versions.node.split('.')[0] === major) return path.dirname(process.execPath);
  let dir = nodeBinaries.get(major);
  if (!dir) {
    const execPath = execFileSync('npx', ['-y', '-p', `node@${major}`, '--', 'node', '-p', 'process.execPath'], { encoding: 'utf8', env: cleanEnv() }).trim();
    dir = path.dirname(execPath);
    nodeBinaries.set(major, dir);
  }
  return dir;
}

/** This process's environment without what npx/npm/projen set for it (npm_config_prefix would point npm at this project). */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(npm_|ts_node_|init_cwd$|node_options$|node_path$)/i.test(name)));
}

/** Runs the phases' commands in order, each in bash, stopping at the first failure (on-failure: ABORT). */
function runBuildSpec(spec: BuildSpec, srcDir: string, npmCache: string): BuildRun {
  const major = spec.phases.install?.['runtime-versions']?.nodejs;
  const env = {
    ...cleanEnv(),
    ...(major ? { PATH: `${nodeBinDir(major)}${path.delimiter}${process.env.PATH}` } : {}),
    CI: 'true',
    CODEBUILD_SRC_DIR: srcDir,
    npm_config_cache: npmCache,
  };
  const log = path.join(srcDir, '..', `${path.basename(srcDir)}.log`);
  const fd = fs.openSync(log, 'w');
  const timings: BuildRun['timings'] = [];
  try {
    for (const phase of PHASES) {
      for (const command of spec.phases[phase]?.commands ?? []) {
        fs.writeSync(fd, `\n[${phase}] ${command}\n`);
        const started = process.hrtime.bigint();
        const result = spawnSync('bash', ['-c', command], { cwd: srcDir, env, stdio: ['ignore', fd, fd] });
        timings.push({ command, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
        if (result.status !== 0) {
          fs.writeSync(fd, `[${phase}] exit ${result.status ?? result.signal}\n`);
          return { ok: false, failedCommand: command, timings, log };
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return { ok: true, timings, log };
}

function globToRegExp(glob: string): RegExp {
  let pattern = '';
  for (let i = 0; i < glob.length; i++) {
    if (glob.startsWith('**/', i)) {
      pattern += '(?:[^/]+/)*';
      i += 2;
    } else if (glob.startsWith('**', i)) {
      pattern += '.*';
      i += 1;
    } else if (glob[i] === '*') {
      pattern += '[^/]*';
    } else if (glob[i] === '?') {
      pattern += '[^/]';
    } else {
      pattern += glob[i].replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${pattern}$`);
}

/** Every file under `dir`, as `/`-separated paths relative to it. */
function filesUnder(dir: string, prefix = ''): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) return filesUnder(path.join(dir, entry.name), relative);
    return entry.isFile() ? [relative] : [];
  });
}

/**
 * The files `base-directory` + `files` select, keyed by their path in the output (relative to
 * the base directory, paths kept). A pattern that matches nothing fails, as it does in CodeBuild.
 */
function selectFiles(srcDir: string, section: { 'files': string[]; 'base-directory'?: string }): Map<string, string> {
  const base = path.join(srcDir, section['base-directory'] ?? '.');
  const all = filesUnder(base);
  const selected = new Map<string, string>();
  for (const glob of section.files) {
    const regexp = globToRegExp(glob.replace(/^\.\//, ''));
    const matched = all.filter((file) => regexp.test(file));
    if (matched.length === 0) throw new Error(`no file under ${section['base-directory'] ?? '.'} matches "${glob}"`);
    for (const file of matched) selected.set(file, path.join(base, file));
  }
  return selected;
}

/** (a) The reports the buildspec names exist and are JUnit XML with at least one test case and no failure. */
function checkReports(spec: BuildSpec, srcDir: string): { testcases: number; failures: number; problems: string[] } {
  let testcases = 0;
  let failed = 0;
  const problems: string[] = [];
  for (const report of Object.values(spec.reports ?? {})) {
    let files: Map<string, string>;
    try {
      files = selectFiles(srcDir, report);
    } catch (error) {
      problems.push(`test reports: ${(error as Error).message}`);
      continue;
    }
    for (const [name, file] of files) {
      const xml = fs.readFileSync(file, 'utf8');
      if (!/^\s*(<\?xml[^>]*\?>\s*)?<testsuites?[\s>]/.test(xml)) problems.push(`${name} is not JUnit XML`);
      const cases = (xml.match(/<testcase[\s>]/g) ?? []).length;
      const broken = (xml.match(/<(failure|error)[\s>]/g) ?? []).length;
      if (cases === 0) problems.push(`${name} has no test case`);
      if (broken > 0) problems.push(`${name} has ${broken} failing test case(s)`);
      testcases += cases;
      failed += broken;
    }
  }
  if (Object.keys(spec.reports ?? {}).length === 0) problems.push('the buildspec has no reports section');
  return { testcases, failures: failed, problems };
}

/** The build output as CodeBuild uploads it: one zip of the artifacts section's files. */
function artifactZip(spec: BuildSpec, srcDir: string): { zip: Buffer; files: string[] } {
  const files = [...selectFiles(srcDir, spec.artifacts)].sort(([a], [b]) => a.localeCompare(b));
  const entries = files.map(([name, file]) => fileEntry(name, fs.readFileSync(file)));
  return { zip: writeZip(entries), files: files.map(([name]) => name) };
}

/**
 * (c) Unzips the bundle into a directory of its own (no node_modules anywhere above it) and calls
 * the handler there, with the buildspec's Node.js major, as Lambda would: `index.handler` is
 * `handler` exported by `index.js`.
 */
function invokeBundle(bundle: Buffer, service: DeployedService, binDir: string): string[] {
  const dir = tempDir(`bundle-${service.service}`);
  for (const entry of readZip(bundle)) {
    const target = path.join(dir, entry.name);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, contentOf(entry));
  }
  const [module, exportName] = [service.handler.slice(0, service.handler.lastIndexOf('.')), service.handler.slice(service.handler.lastIndexOf('.') + 1)];
  const file = ['.js', '.cjs', '.mjs'].map((ext) => path.join(dir, module + ext)).find((candidate) => fs.existsSync(candidate));
  if (!file) return [`handler ${service.handler}: no ${module}.js at the root of the bundle`];
  const events = [HEALTH_EVENT, ...(service.smokeTestEvent ? [service.smokeTestEvent] : [])];
  const script = `
    const [file, name, events] = process.argv.slice(1);
    (async () => {
      const mod = file.endsWith('.mjs') ? await import(require('url').pathToFileURL(file)) : require(file);
      if (typeof mod[name] !== 'function') throw new Error(file + ' exports no function ' + name);
      const results = [];
      for (const event of JSON.parse(events)) results.push(await mod[name](event, {}));
      process.stdout.write(JSON.stringify(results));
    })().catch((error) => { console.error(error && error.stack || error); process.exit(1); });`;
  // Only what Lambda sets: no NODE_PATH, nothing from this project.
  const env = { PATH: `${binDir}${path.delimiter}/usr/bin:/bin`, LAMBDA_TASK_ROOT: dir, AWS_REGION: 'us-east-1', AWS_LAMBDA_FUNCTION_NAME: service.functionName, ...service.environment };
  const result = spawnSync(path.join(binDir, 'node'), ['-e', script, file, exportName, JSON.stringify(events)], { cwd: dir, env, encoding: 'utf8' });
  if (result.status !== 0) return [`handler ${service.handler} failed outside the repository: ${result.stderr.trim().split('\n').slice(0, 3).join(' | ')}`];
  const responses: Json[] = JSON.parse(result.stdout);
  return responses.flatMap((response, i) => response?.statusCode === 200 ? [] :
    [`${events[i] === HEALTH_EVENT ? 'GET /health' : 'the smoke-test event'} answered ${JSON.stringify(response).slice(0, 200)}, not statusCode 200`]);
}

/**
 * Every lockfile entry has a version: npm 11 has written versionless entries for esbuild's platform
 * packages, which npm ci rejects. (`projenrc/check-lockfile.mjs` also runs npm 10 and 11 on them.)
 */
function checkLockfile(repoDir: string): string[] {
  const lock = JSON.parse(fs.readFileSync(path.join(repoDir, 'package-lock.json'), 'utf8'));
  return Object.entries<Json>(lock.packages ?? {})
    .filter(([name, entry]) => name !== '' && !entry.version && !entry.link)
    .map(([name]) => `package-lock.json: ${name} has no version`);
}

/** A copy of the repository as a fresh checkout would have it (no node_modules, dist or test reports). */
function checkout(repo: string): string {
  const dir = path.join(tempDir(repo), repo);
  fs.cpSync(path.join(HERE, repo), dir, {
    recursive: true,
    filter: (src) => !['node_modules', 'dist', 'test-reports'].includes(path.basename(src)),
  });
  return dir;
}

function describeRun(run: BuildRun): string {
  const total = run.timings.reduce((sum, t) => sum + t.seconds, 0);
  return `${run.timings.map((t) => `${t.command} ${t.seconds.toFixed(1)}s`).join(', ')}; total ${total.toFixed(1)}s`;
}

function tail(file: string, lines: number): string {
  return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).map((line) => `    | ${line}`).join('\n');
}

interface Repository {
  readonly repo: string;
  readonly pipeline: () => Stack;
  /** A test file of the repository, made to fail in the negative case. */
  readonly testToBreak: string;
}

const outdir = tempDir('cdk-out');
const repositories: Repository[] = [
  {
    // One service, every Build stage default.
    repo: 'single',
    pipeline: () => {
      const stack = new Stack(new App({ outdir: path.join(outdir, 'single') }), 'OrdersApiPipeline', { env: { account: '111111111111', region: 'us-east-1' } });
      new BlueGreenLambdaPipeline(stack, 'OrdersApi', { serviceName: 'orders-api', environmentSuffix: 'dev', source: { ...SOURCE, repo: 'orders-api' } });
      return stack;
    },
    testToBreak: 'test/handler.test.js',
  },
  {
    // The monorepo example app itself: its services, bundle directories and build commands.
    repo: 'monorepo',
    pipeline: () => monorepoApp(path.join(outdir, 'monorepo')).node.findChild('ShopPipeline') as Stack,
    testToBreak: 'services/billing/test/handler.test.js',
  },
];

async function main(): Promise<void> {
  let built = 0;
  let deployable = 0;
  let bundles = 0;
  let rejected = 0;
  try {
    for (const { repo, pipeline, testToBreak } of repositories) {
      console.log(`\n${repo}:`);
      const { buildSpec, services } = pipelineUnderTest(pipeline());
      assertSupported(buildSpec);
      bundles += services.length;
      const major = buildSpec.phases.install?.['runtime-versions']?.nodejs ?? process.versions.node.split('.')[0];
      const binDir = nodeBinDir(major);
      const nodeVersion = execFileSync(path.join(binDir, 'node'), ['--version'], { encoding: 'utf8' }).trim();
      console.log(`  buildspec: ${[...PHASES.flatMap((p) => buildSpec.phases[p]?.commands ?? [])].join(' && ')}; artifacts ${JSON.stringify(buildSpec.artifacts)}`);
      for (const problem of checkLockfile(path.join(HERE, repo))) fail(`${repo}: ${problem}`);

      const srcDir = checkout(repo);
      const npmCache = tempDir(`npm-cache-${repo}`);

      const run = runBuildSpec(buildSpec, srcDir, npmCache);
      console.log(`  Node ${nodeVersion}, empty npm cache: ${describeRun(run)}`);
      if (!run.ok) {
        fail(`${repo}: "${run.failedCommand}" failed; the Build stage would stop here`);
        console.log(tail(run.log, 30));
        continue;
      }
      const reports = checkReports(buildSpec, srcDir);
      reports.problems.forEach((problem) => fail(`${repo}: ${problem}`));
      let artifact: ReturnType<typeof artifactZip>;
      try {
        artifact = artifactZip(buildSpec, srcDir);
      } catch (error) {
        fail(`${repo}: artifacts: ${(error as Error).message}`);
        continue;
      }
      if (reports.problems.length === 0) built++;
      console.log(`  reports: ${reports.testcases} test cases, ${reports.failures} failed; artifact: ${artifact.files.length} files (${artifact.zip.length} bytes zipped)`);

      for (const service of services) {
        const problems: string[] = [];
        // Deploy-Blue's own cut: a service's directory, or (one service) the whole artifact, normalized.
        let bundle: Buffer = artifact.zip;
        try {
          const dir = tempDir(`cut-${service.service}`);
          fs.writeFileSync(path.join(dir, 'artifact.zip'), artifact.zip);
          await cutBundle(path.join(dir, 'artifact.zip'), service.bundleDirectory, path.join(dir, 'bundle.zip'));
          bundle = fs.readFileSync(path.join(dir, 'bundle.zip'));
        } catch (error) {
          problems.push(`cutBundle: ${(error as Error).message}`);
        }
        const rootFiles = problems.length > 0 ? [] : readZip(bundle).map((entry) => entry.name);
        if (problems.length === 0 && !rootFiles.includes('index.js')) problems.push(`index.js is not at the root of the bundle (it holds ${rootFiles.slice(0, 5).join(', ')})`);
        if (problems.length === 0) problems.push(...invokeBundle(bundle, service, binDir));
        problems.forEach((problem) => fail(`${repo}/${service.service}: ${problem}`));
        if (problems.length > 0) continue;
        deployable++;
        const from = service.bundleDirectory ? `${service.bundleDirectory}/ of the artifact` : 'the artifact root';
        console.log(`  ok   ${service.service}: ${rootFiles.join(', ')} from ${from}; alone in a directory, ${service.handler} answers 200 to GET /health${service.smokeTestEvent ? ' and to its smoke-test event' : ''}`);
      }

      // Negative case: the same buildspec on a copy with one failing test must stop the build.
      const broken = checkout(repo);
      fs.appendFileSync(path.join(broken, testToBreak), "\ntest('deliberately failing', () => assert.fail('made to fail by run-default-buildspec'));\n");
      const negative = runBuildSpec(buildSpec, broken, npmCache);
      const brokenReports = checkReports(buildSpec, broken);
      const lastTestCommand = buildSpec.phases.build.commands?.slice(-1)[0];
      if (negative.ok) {
        fail(`${repo}: a failing test in ${testToBreak} did not fail the build`);
      } else if (negative.failedCommand !== lastTestCommand) {
        fail(`${repo}: with a failing test, "${negative.failedCommand}" failed, not "${lastTestCommand}"`);
        console.log(tail(negative.log, 30));
      } else if (brokenReports.failures === 0) {
        fail(`${repo}: the test reports do not show the failing test`);
      } else {
        rejected++;
        console.log(`  negative: a failing test in ${testToBreak} stops the build at "${negative.failedCommand}" (${describeRun(negative)}); the report shows ${brokenReports.failures} failure(s), no artifact is taken`);
      }
    }
  } catch (error) {
    fail(`unexpected: ${(error as Error).stack ?? error}`);
  } finally {
    for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  }

  if (rejected !== repositories.length) console.log(`negative cases: ${rejected} of ${repositories.length} builds with a failing test were rejected`);
  console.log(`\nservice-repo: ${built} repositories built by the default buildspec, ${deployable} bundles deployable, ${failures.length} failed`);
  if (failures.length > 0 || built !== repositories.length || deployable !== bundles) process.exit(1);
}

void main();
