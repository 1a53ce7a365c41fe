import { awscdk, javascript } from 'projen';
import { UpdateSnapshot } from 'projen/lib/javascript';
import { LockfileGuard } from './projenrc/lockfile-guard';

// aws-cdk-lib 2.257.0: the floor cdk-nag 3 declares, and the last release writing cloud assembly
// schema 53. 2.258.0+ write schema 54, which integ-runner 2.197.10 (the newest) cannot read.
// integ-tests-alpha only exists at some registry versions; 2.245.0-alpha.0 peers on ^2.245.0.
const CDK_VERSION = '2.257.0';
const INTEG_TESTS_ALPHA_VERSION = '2.245.0-alpha.0';
const AWS_SDK_VERSION = '^3.700.0';

const silenceJsii = { JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20' };

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'blue-green-lambda-pipeline',
  description: 'A CDK construct that ships a Lambda service blue/green: GitHub source, CodeBuild tests, an immutable version, and CodeDeploy traffic shifting with automatic rollback on error rate.',
  author: 'blue-green-lambda-pipeline maintainers',
  authorAddress: 'maintainers@example.com',
  repositoryUrl: 'https://github.com/blue-green-lambda-pipeline/blue-green-lambda-pipeline.git',
  keywords: ['cdk', 'aws-cdk', 'lambda', 'codedeploy', 'codepipeline', 'blue-green', 'canary'],
  license: 'Apache-2.0',
  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  minNodeVersion: '20.0.0',

  cdkVersion: CDK_VERSION,
  constructsVersion: '10.5.1',
  jsiiVersion: '~6.0.0',

  // Publishing names for every jsii language; building those packages is proven in a later issue.
  publishToPypi: {
    distName: 'blue-green-lambda-pipeline',
    module: 'blue_green_lambda_pipeline',
  },
  publishToMaven: {
    javaPackage: 'io.github.bluegreenlambdapipeline',
    mavenGroupId: 'io.github.blue-green-lambda-pipeline',
    mavenArtifactId: 'blue-green-lambda-pipeline',
  },
  publishToGo: {
    moduleName: 'github.com/blue-green-lambda-pipeline/blue-green-lambda-pipeline-go',
  },
  publishToNuget: {
    dotNetNamespace: 'BlueGreenLambdaPipeline',
    packageId: 'BlueGreenLambdaPipeline',
  },

  // The handlers are declared below, each with its generated construct in src/handler-functions/.
  lambdaAutoDiscover: false,

  devDeps: [
    '@aws-sdk/client-cloudformation@' + AWS_SDK_VERSION,
    // Bake: DescribeAlarms and GetMetricData.
    '@aws-sdk/client-cloudwatch@' + AWS_SDK_VERSION,
    '@aws-sdk/client-codedeploy@' + AWS_SDK_VERSION,
    '@aws-sdk/client-codepipeline@' + AWS_SDK_VERSION,
    '@aws-sdk/client-dynamodb@' + AWS_SDK_VERSION,
    '@aws-sdk/client-lambda@' + AWS_SDK_VERSION,
    '@aws-sdk/client-s3@' + AWS_SDK_VERSION,
    // Deploy-Blue, Switch-Traffic, Bake: AssumeRole on an other account's or region's deployer role (a client, as the runtime provides).
    '@aws-sdk/client-sts@' + AWS_SDK_VERSION,
    '@aws-sdk/client-sns@' + AWS_SDK_VERSION,
    '@aws-sdk/lib-dynamodb@' + AWS_SDK_VERSION,
    '@types/aws-lambda',
    // Structured JSON logs for the handlers; esbuild bundles it into each handler (not external).
    '@aws-lambda-powertools/logger@^2',
    // EMF metrics for the handlers (Powertools Metrics), bundled the same way.
    '@aws-lambda-powertools/metrics@^2',
    // Deploy-Blue cuts a service's bundle out of the build artifact on disk: yauzl reads, yazl writes.
    'yazl@^3',
    '@types/yazl',
    'aws-sdk-client-mock@^4',
    'dynalite@^4',
    'cdk-nag@^3',
    '@cdklabs/cdk-validator-cfnguard@^0.0.62',
    `@aws-cdk/integ-tests-alpha@${INTEG_TESTS_ALPHA_VERSION}`,
    '@aws-cdk/integ-runner@^2',
    'ts-node@^10',
    // validation/iam-simulation.ts: evaluates the synthesized IAM policies (identity, resource, KMS key policies) as AWS does
    '@cloud-copilot/iam-simulate@^0.1.173',
    // the packaging test reads the npm tarball (tar) and the wheel, jar and Go module (zip)
    'tar@^7',
    'yauzl@^3',
    '@types/yauzl',
    // hoisted so jsii-pacmak resolves them from the root; see the overrides below
    '@aws-cdk/cloud-assembly-schema@53.27.0',
    '@aws-cdk/asset-node-proxy-agent-v6@2.1.2',
  ],

  jestOptions: {
    // Snapshots are evidence, not output: the test task never rewrites them.
    updateSnapshot: UpdateSnapshot.NEVER,
    passWithNoTests: false,
    jestConfig: {
      testTimeout: 30_000,
      snapshotSerializers: ['<rootDir>/test/helpers/asset-hash-serializer.ts'],
    },
  },

  tsconfigDevFile: 'tsconfig.dev.json',
  eslintOptions: { dirs: ['src'], devdirs: ['test', 'examples', 'validation', 'benchmarks', 'projenrc'], tsconfigPath: './tsconfig.dev.json' },
  tsconfigDev: {
    include: ['examples/**/*.ts', 'validation/**/*.ts', 'benchmarks/**/*.ts', '.projenrc.ts'],
    compilerOptions: {},
  },

  gitignore: [
    'cdk.out/',
    // integ snapshots are committed, asset bodies are not (they are rebuilt by `bundle`)
    'test/*.snapshot/asset.*',
    'examples/java/target/',
    '.jsii.tabl.json',
  ],
  npmIgnoreOptions: { ignorePatterns: ['/.ci/', 'examples/', 'validation/', 'benchmarks/', 'rosetta/', 'cdk.out/', '.cfnlintrc.yaml'] },
  sampleCode: false,
});


// The stage handlers (src/handlers/*.lambda.ts), bundled by esbuild into assets/handlers/; the Lambda
// runtime provides @aws-sdk/*. Their generated constructs live apart from the hand-written ones.
// Whitespace and syntax minified, identifiers kept (stack traces still name our functions): Deploy-Blue,
// with yauzl, yazl and Powertools, stays well below the 250 KB a handler may weigh. LambdaFunction
// passes its bundling options on to the bundler, whose own options include esbuildArgs.
const handlerBundling: javascript.BundlingOptions & Pick<javascript.AddBundleOptions, 'esbuildArgs'> = {
  sourcemap: false,
  esbuildArgs: { '--minify-whitespace': true, '--minify-syntax': true },
};
for (const handler of ['deploy-blue', 'switch-traffic', 'smoke-test-hook', 'bake']) {
  new awscdk.LambdaFunction(project, {
    entrypoint: `src/handlers/${handler}.lambda.ts`,
    constructFile: `src/handler-functions/${handler}-function.ts`,
    cdkDeps: project.cdkDeps,
    runtime: awscdk.LambdaRuntime.NODEJS_24_X,
    bundlingOptions: handlerBundling,
    // AWS_NODEJS_CONNECTION_REUSE_ENABLED is an SDK v2 switch; v3 reuses connections by default.
    awsSdkConnectionReuse: false,
  });
}

// Handlers import @aws-sdk/* (devDependencies): esbuild bundles them as externals and the Lambda
// runtime provides them; the published construct never loads these files. The history CLI bundles
// the SDK into its single file (the package's bin).
project.eslint?.addOverride({
  files: ['src/handlers/**/*.ts', 'src/runtime/**/*.ts', 'src/cli/**/*.ts'],
  rules: { 'import/no-extraneous-dependencies': ['error', { devDependencies: true, optionalDependencies: false, peerDependencies: true }] },
});

// Type-aware lint for src, test and examples through tsconfig.dev.json (the project service would
// look for a tsconfig.json beside each file).
const eslintrc = project.tryFindObjectFile('.eslintrc.json');
eslintrc?.addOverride('parserOptions.projectService', undefined);
eslintrc?.addOverride('parserOptions.project', './tsconfig.dev.json');

// Snapshots are updated only on purpose, with `npx projen test -u`; no task passes --updateSnapshot.
project.tasks.removeTask('test:update');

// The history CLI: one file with the AWS SDK inside, so the package needs no runtime dependency.
const bundleCli = project.addTask('bundle:cli', {
  description: 'Bundle the history CLI with the AWS SDK into one file (the package bin)',
  exec: 'esbuild --bundle src/cli/bin.ts --target=node20 --platform=node --minify --outfile=assets/cli/bin.js --tsconfig=tsconfig.dev.json',
});
project.tasks.tryFind('bundle')?.spawn(bundleCli);
project.addBins({ 'blue-green-lambda-pipeline': 'assets/cli/bin.js' });

// `test` must work on a fresh clone: the handler bundles are what the construct deploys.
const bundle = project.tasks.tryFind('bundle')!;
project.testTask.prependSpawn(bundle);

// A package without assets/ cannot synthesize («CannotFindAsset»): every packaging task bundles the
// handlers and the CLI first, whatever ran before it.
for (const language of ['js', 'python', 'java', 'go', 'dotnet']) project.tasks.tryFind(`package:${language}`)?.prependSpawn(bundle);

// The lockfile must install on a fresh machine: projen's install paths repair entries npm wrote
// without a version (after `npx projen`'s own install, see LockfileGuard, and after `install`).
new LockfileGuard(project);
project.tasks.tryFind('install')?.exec(LockfileGuard.COMMAND);
const checkLockfile = project.addTask('check:lockfile', {
  description: 'Every package-lock.json of the project: no entry without a version, and npm ci --dry-run with an empty cache under npm 10 and npm 11',
  exec: 'node projenrc/check-lockfile.mjs',
});
// The upgrade workflow ends with `npx projen` (the guard), then proves the new lockfile installs.
project.tasks.tryFind('post-upgrade')?.spawn(checkLockfile);

// The integ snapshot is verified offline on every test run; `integ:update` rewrites it on purpose.
const integVerify = project.addTask('integ:verify', {
  description: 'Verify the committed integ snapshots (offline, no AWS credentials needed)',
  exec: 'integ-runner --language typescript --directory test',
});
project.addTask('integ:update', {
  description: 'Re-synthesize integ snapshots without deploying (review the diff before committing)',
  exec: 'integ-runner --language typescript --directory test --update-on-failed --dry-run --force',
});
project.testTask.spawn(integVerify);

/** Steps that create (once) a Python virtual environment and install requirements into it. */
const pythonVenv = (dir: string, requirements: string) => [
  { exec: `[ -x ${dir}/bin/python ] || python3 -m venv ${dir}` },
  { exec: `${dir}/bin/pip install --quiet --disable-pip-version-check -r ${requirements}` },
];

// The bundled handlers (esbuild output) against moto's server (Lambda, S3, DynamoDB, SNS, SQS) and
// small fakes of CodePipeline, CodeDeploy and Lambda Invoke, on loopback: no Docker, no AWS account.
project.addTask('test:local-aws', {
  description: 'Run the bundled stage handlers against moto\'s server and fakes of CodePipeline and CodeDeploy (offline)',
  // Its own JUnit file: test-reports/junit.xml stays the main suite's.
  env: { MOTO_SERVER_BIN: 'cdk.out/venv-moto/bin/moto_server', JEST_JUNIT_OUTPUT_NAME: 'local-aws.xml' },
  steps: [
    { spawn: 'bundle' },
    ...pythonVenv('cdk.out/venv-moto', 'test/local-aws/requirements.txt'),
    { exec: 'jest --ci --coverage=false --testMatch \'<rootDir>/test/local-aws/**/*.local-aws.ts\'' },
  ],
});

// The packages as users get them: what the npm tarball, wheel, jar and Go module hold (run
// package-all first), and the npm tarball installed into a fresh CDK app outside the checkout and
// synthesized by the newest AWS CDK CLI.
project.addTask('test:packages', {
  description: 'Check the contents of every built package in dist/ (run package-all first)',
  env: { JEST_JUNIT_OUTPUT_NAME: 'packages.xml' },
  exec: 'jest --ci --coverage=false --testMatch \'<rootDir>/test/packages/**/*.packages.ts\'',
});
project.addTask('test:consumer', {
  description: 'Install dist/js\'s tarball into a fresh CDK app outside the checkout, synthesize the README\'s quick start with the AWS CDK CLI and run the package\'s bin (run package:js first)',
  exec: 'ts-node --project tsconfig.dev.json test/packages/tarball-consumer.ts',
});

// The example service repositories: the Build stage's own buildspec run against them (npm ci, build,
// test on the service runtime's Node.js), their bundles checked as Deploy-Blue takes them.
project.addTask('test:service-repo', {
  description: 'Run the Build stage\'s buildspec against examples/service-repo/{single,monorepo} and check the bundles Deploy-Blue would publish (needs the npm registry)',
  steps: [
    { spawn: 'bundle' },
    { exec: 'ts-node --project tsconfig.dev.json examples/service-repo/run-default-buildspec.ts' },
  ],
});

// Synth cost of many services, measured with the compiled library (lib/) as users get it.
project.addTask('bench', {
  description: 'Synthesize 1, 10, 25 and 40 services, 10 services in 3 environments and in 4 target accounts/regions, with the compiled library, run the history CLI on 10,000 items, and time each handler bundle\'s initialization; one line each',
  steps: [
    { spawn: 'compile' },
    ...[1, 10, 25, 40].map((services) => ({ exec: `ts-node --transpile-only --project tsconfig.dev.json benchmarks/service-synth.ts ${services}` })),
    // One build promoted through dev, staging, prod: 10 services in 3 environments, under 500 resources.
    { exec: 'ts-node --transpile-only --project tsconfig.dev.json benchmarks/service-synth.ts 10 3' },
    // The same 10 services from a tooling account into 4 targets (3 accounts, prod in 2 regions).
    { exec: 'ts-node --transpile-only --project tsconfig.dev.json benchmarks/accounts-synth.ts 10' },
    // The history CLI on 10,000 items in dynalite: history and dora through the real code path.
    { exec: 'ts-node --transpile-only --project tsconfig.dev.json benchmarks/history-cli.ts' },
    // Each handler bundle's size and initialization (a fresh process per run); fails past 250 KB or 150 ms.
    { spawn: 'bundle' },
    { exec: 'ts-node --transpile-only --project tsconfig.dev.json benchmarks/handler-cold-start.ts 15' },
  ],
});

// The library must run on Node 20, 22 and 24: the jest suite again under the other two, with
// Node binaries from the npm registry (the `node` package).
project.addTask('test:node-versions', {
  description: 'Run the jest suite under Node 22 and Node 24',
  steps: ['22', '24'].map((major) => ({
    exec: `npx -y -p node@${major} -- node node_modules/jest/bin/jest.js --ci --coverage=false --silent`,
    name: `jest on Node ${major}`,
  })),
});

/**
 * A step that runs `command` and then prints how long it took, in milliseconds. It runs in bash:
 * the built-in task shell has no `$(...)`.
 */
const timed = (label: string, command: string, options: { cwd?: string; env?: { [name: string]: string } } = {}) => ({
  exec: `start=$(date +%s%N) && ${command} && echo "::timing ${label} $(( ($(date +%s%N) - start) / 1000000 ))ms"`,
  shell: ['bash', '-c'],
  ...options,
});

// The examples: the reference app (one service), the monorepo app (three services, two waves), the
// environments app (two services promoted through dev, staging and prod) and the accounts app (a
// tooling stack and four target stacks in three accounts and two regions); each synthesizes its
// templates and prints a one-screen summary.
project.addTask('example', {
  description: 'Synthesize the reference, monorepo, environments and accounts example apps to cdk.out/reference, cdk.out/monorepo, cdk.out/environments and cdk.out/accounts, and print a summary of each',
  steps: [
    { spawn: 'bundle' },
    { exec: 'ts-node --project tsconfig.dev.json examples/typescript/reference-app.ts' },
    { exec: 'ts-node --project tsconfig.dev.json examples/summarize-template.ts cdk.out/reference' },
    timed('monorepo-synth-typescript', 'ts-node --project tsconfig.dev.json examples/typescript/monorepo-app.ts'),
    { exec: 'ts-node --project tsconfig.dev.json examples/summarize-template.ts cdk.out/monorepo' },
    timed('environments-synth-typescript', 'ts-node --project tsconfig.dev.json examples/typescript/environments-app.ts'),
    { exec: 'ts-node --project tsconfig.dev.json examples/summarize-template.ts cdk.out/environments' },
    timed('accounts-synth-typescript', 'ts-node --project tsconfig.dev.json examples/typescript/accounts-app.ts'),
    { exec: 'ts-node --project tsconfig.dev.json examples/summarize-template.ts cdk.out/accounts' },
  ],
});

// jsii-pacmak makes the Go package require each jsii dependency's Go module at the npm package's
// version. The Go module proxy does not serve cloud-assembly-schema-go v53.28.0 or
// nodeproxyagentv6 v2.1.3 (403), so pin the npm packages to versions it serves.
project.package.addField('overrides', {
  '@aws-cdk/cloud-assembly-schema': '$@aws-cdk/cloud-assembly-schema',
  '@aws-cdk/asset-node-proxy-agent-v6': '$@aws-cdk/asset-node-proxy-agent-v6',
});

// ---- Independent validators on the reference template and the integ snapshot ----
project.addTask('validate', {
  description: 'cfn-lint, checkov, cfn-guard (Control Tower rules), cdk-nag (AwsSolutions, Serverless), parliament (IAM) and the IAM policy simulator; one line of counts each',
  steps: [
    { spawn: 'bundle' },
    ...pythonVenv('cdk.out/venv-validators', 'validation/requirements.txt'),
    { exec: 'ts-node --project tsconfig.dev.json validation/run-validators.ts cdk.out/venv-validators/bin' },
    // Least privilege evaluated: allow and deny expectations on the synthesized policies (@cloud-copilot/iam-simulate).
    { exec: 'ts-node --project tsconfig.dev.json validation/iam-simulation.ts cdk.out/iam-simulation' },
  ],
});

// ---- Python, Java and Go packages, and the consumer apps that prove them ----

// The Go module proxy reachable here serves aws-cdk-go v2.257.0 and cloud-assembly-schema-go
// v53.27.0, but its checksum database has no entry for them (404). Only these two module paths skip
// the checksum database; examples/go/go.sum pins their hashes.
const goNoSumDb = { GONOSUMDB: 'github.com/aws/aws-cdk-go,github.com/cdklabs/cloud-assembly-schema-go' };
project.tasks.tryFind('package:go')?.env('GONOSUMDB', goNoSumDb.GONOSUMDB);

// Every language this machine has a toolchain for; .NET only where the dotnet SDK exists.
const packageAll = project.tasks.tryFind('package-all')!;
packageAll.reset();
for (const language of ['js', 'python', 'java', 'go']) packageAll.spawn(project.tasks.tryFind(`package:${language}`)!);
packageAll.spawn(project.tasks.tryFind('package:dotnet')!, { condition: 'command -v dotnet >/dev/null' });
packageAll.exec('echo "package:dotnet skipped: no dotnet SDK on this machine, so no NuGet package was built"', {
  condition: '! command -v dotnet >/dev/null',
});

// Every TypeScript snippet in README.md compiles (rosetta/default.ts-fixture), and the tablet it
// writes gives jsii-pacmak the Python, Java, Go and C# translations of those snippets.
const rosetta = project.addTask('rosetta:extract', {
  description: 'Compile the README\'s TypeScript snippets with jsii-rosetta (strict) and write the translation tablet',
  exec: 'jsii-rosetta extract --strict',
});
project.tasks.tryFind('post-compile')?.spawn(rosetta);

const examplePython = project.addTask('example:python', {
  description: 'Synthesize the reference, monorepo, environments and accounts pipelines from Python, with the wheel in dist/python (run package:python first)',
  steps: [
    ...pythonVenv('cdk.out/venv-python', 'examples/python/requirements.txt'),
    { exec: 'cdk.out/venv-python/bin/pip install --quiet --disable-pip-version-check --force-reinstall --no-deps dist/python/blue_green_lambda_pipeline-*.whl' },
    { exec: 'CDK_OUTDIR=cdk.out/python cdk.out/venv-python/bin/python examples/python/app.py' },
    timed('monorepo-synth-python', 'cdk.out/venv-python/bin/python examples/python/monorepo_app.py', { env: { CDK_OUTDIR: 'cdk.out/python-monorepo' } }),
    timed('environments-synth-python', 'cdk.out/venv-python/bin/python examples/python/environments_app.py', { env: { CDK_OUTDIR: 'cdk.out/python-environments' } }),
    timed('accounts-synth-python', 'cdk.out/venv-python/bin/python examples/python/accounts_app.py', { env: { CDK_OUTDIR: 'cdk.out/python-accounts' } }),
  ],
});
const exampleJava = project.addTask('example:java', {
  description: 'Synthesize the reference, monorepo, environments and accounts pipelines from Java, with the Maven repository in dist/java (run package:java first)',
  steps: [
    // Maven never re-reads a release version it has cached: drop our own artifact (only ours) so
    // the jar just built in dist/java is the one used.
    { exec: 'rm -rf "$HOME/.m2/repository/io/github/blue-green-lambda-pipeline"' },
    { exec: 'mvn --batch-mode --quiet -Dstyle.color=never compile exec:java', cwd: 'examples/java', env: { CDK_OUTDIR: '../../cdk.out/java' } },
    // the pom's `monorepo` execution runs com.example.shop.ShopPipelineApp
    timed('monorepo-synth-java', 'mvn --batch-mode --quiet -Dstyle.color=never compile exec:java@monorepo', { cwd: 'examples/java', env: { CDK_OUTDIR: '../../cdk.out/java-monorepo' } }),
    // its `environments` execution com.example.storefront.StorefrontPipelineApp
    timed('environments-synth-java', 'mvn --batch-mode --quiet -Dstyle.color=never compile exec:java@environments', { cwd: 'examples/java', env: { CDK_OUTDIR: '../../cdk.out/java-environments' } }),
    // and its `accounts` execution com.example.accounts.StorefrontAccountsApp
    timed('accounts-synth-java', 'mvn --batch-mode --quiet -Dstyle.color=never compile exec:java@accounts', { cwd: 'examples/java', env: { CDK_OUTDIR: '../../cdk.out/java-accounts' } }),
  ],
});
const exampleGo = project.addTask('example:go', {
  description: 'Synthesize the reference, monorepo, environments and accounts pipelines from Go, with the module in dist/go (run package:go first)',
  env: goNoSumDb,
  steps: [
    { exec: 'go run .', cwd: 'examples/go', env: { CDK_OUTDIR: '../../cdk.out/go' } },
    // more main packages in the same module
    timed('monorepo-synth-go', 'go run ./monorepo', { cwd: 'examples/go', env: { CDK_OUTDIR: '../../cdk.out/go-monorepo' } }),
    timed('environments-synth-go', 'go run ./environments', { cwd: 'examples/go', env: { CDK_OUTDIR: '../../cdk.out/go-environments' } }),
    timed('accounts-synth-go', 'go run ./accounts', { cwd: 'examples/go', env: { CDK_OUTDIR: '../../cdk.out/go-accounts' } }),
  ],
});
const parityOf = (reference: string, suffix: string) =>
  `ts-node --project tsconfig.dev.json examples/template-parity.ts cdk.out/${reference} ` +
  ['python', 'java', 'go'].map((language) => `${language}${suffix}=cdk.out/${language}${suffix}`).join(' ');
const exampleParity = project.addTask('example:parity', {
  description: 'Assert the Python, Java and Go templates of the reference, monorepo, environments and accounts apps (every stack) equal the TypeScript ones (asset hashes and paths normalized)',
  steps: [
    { exec: parityOf('reference', '') },
    { exec: parityOf('monorepo', '-monorepo') },
    { exec: parityOf('environments', '-environments') },
    { exec: parityOf('accounts', '-accounts') },
  ],
});
project.addTask('parity', {
  description: 'Build every language package, synthesize the reference, monorepo, environments and accounts pipelines in each and compare the templates',
  steps: [
    { spawn: 'example' },
    { spawn: 'compile' },
    { spawn: packageAll.name },
    { spawn: examplePython.name },
    { spawn: exampleJava.name },
    { spawn: exampleGo.name },
    { spawn: exampleParity.name },
  ],
});

for (const [key, value] of Object.entries(silenceJsii)) project.tasks.addEnvironment(key, value);


project.synth();
