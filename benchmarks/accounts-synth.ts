// Synthesizes a tooling-account pipeline of N services and one target stack per environment in
// another account or region (dev, staging, prod in three accounts, prod in a second region) with
// the COMPILED library (lib/), and prints one line: the tooling stack's resources, the largest
// target stack's, the resources each service costs a target, synth time and peak memory.
// Usage: accounts-synth.ts <services>
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Duration, Stack } from 'aws-cdk-lib';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { BlueGreenLambdaPipeline, BlueGreenLambdaTarget } = require('../lib') as typeof import('../src');

/** CloudFormation's limit of resources per stack. */
const MAX_RESOURCES = 500;
const TOOLING = { account: '111111111111', region: 'us-east-1' };
const TARGETS = [
  { name: 'dev', account: '222222222222', region: 'us-east-1' },
  { name: 'staging', account: '333333333333', region: 'us-east-1', bakeTime: Duration.hours(1) },
  { name: 'prod', account: '444444444444', region: 'us-east-1', bakeTime: Duration.hours(2), approval: { timeout: Duration.days(2) } },
  { name: 'prod-eu', account: '444444444444', region: 'eu-west-1', bakeTime: Duration.hours(2) },
];

function synthesize(services: number): { tooling: number; targets: number[]; ms: number } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'bglp-bench-'));
  const started = process.hrtime.bigint();
  const app = new App({ outdir });
  const pipeline = new BlueGreenLambdaPipeline(new Stack(app, 'Tooling', { env: TOOLING }), 'Pipeline', {
    serviceName: 'shop',
    source: { owner: 'example-org', repo: 'shop', connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789' },
    services: Array.from({ length: services }, (_, i) => ({ serviceName: `svc${i}`, bundleDirectory: `services/svc${i}/dist`, wave: 1 + (i % 3) })),
    environments: TARGETS,
  });
  for (const { name, account, region } of TARGETS) {
    new BlueGreenLambdaTarget(new Stack(app, `Target-${name}`, { env: { account, region } }), 'Target', { pipeline, environment: name });
  }
  const assembly = app.synth();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const resources = (stack: string) => Object.keys(JSON.parse(fs.readFileSync(assembly.getStackByName(stack).templateFullPath, 'utf8')).Resources).length;
  const result = { tooling: resources('Tooling'), targets: TARGETS.map((t) => resources(`Target-${t.name}`)), ms };
  fs.rmSync(outdir, { recursive: true, force: true });
  return result;
}

const services = Number(process.argv[2]);
if (!(Number.isInteger(services) && services >= 1)) throw new Error(`usage: accounts-synth.ts <services>, a whole number of at least 1; got "${process.argv[2]}"`);
const measured = synthesize(services);
const one = synthesize(1);
const perService = (Math.max(...measured.targets) - Math.max(...one.targets)) / Math.max(1, services - 1);
const peakMb = Math.round(process.resourceUsage().maxRSS / 1024);
console.log(`bench accounts=${new Set(TARGETS.map((t) => t.account)).size} targets=${TARGETS.length} services=${services} tooling-resources=${measured.tooling} target-resources=${Math.max(...measured.targets)} per-service-per-target=${Number(perService.toFixed(2))} synth-ms=${Math.round(measured.ms)} peak-mb=${peakMb}`);
const largest = Math.max(measured.tooling, ...measured.targets);
if (largest > MAX_RESOURCES) {
  console.error(`a stack of ${services} services needs ${largest} resources; CloudFormation allows ${MAX_RESOURCES} per stack`);
  process.exitCode = 1;
}
