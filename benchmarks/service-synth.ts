// Synthesizes one stack holding a pipeline of N services with the COMPILED library (lib/, what
// users install) and prints one line: services, CloudFormation resources, resources each added
// service costs, synth time (construct tree + synth, module loading excluded) and peak memory.
// With E environments (dev all at once; staging with a bake; prod and the others behind an approval,
// with a bake), the line gives the resources each added environment costs instead.
// Usage: service-synth.ts <services> [environments]
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Duration, Stack } from 'aws-cdk-lib';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { BlueGreenLambdaPipeline } = require('../lib') as typeof import('../src');

/** CloudFormation's limit of resources per stack. */
const MAX_RESOURCES = 500;

/** E environments, promotion order: dev, staging, prod, then prod-2, prod-3, ... */
function environmentList(count: number) {
  return Array.from({ length: count }, (_, i) => {
    const name = ['dev', 'staging', 'prod'][i] ?? `prod-${i - 1}`;
    if (i === 0) return { name };
    const gated = i >= 2 ? { approval: { timeout: Duration.days(2) }, bakeMinInvocations: 100 } : {};
    return { name, bakeTime: Duration.hours(i === 1 ? 1 : 2), ...gated };
  });
}

function synthesize(services: number, environments?: number): { resources: number; ms: number } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'bglp-bench-'));
  const started = process.hrtime.bigint();
  const app = new App({ outdir });
  const stack = new Stack(app, 'Monorepo', { env: { account: '111111111111', region: 'us-east-1' } });
  new BlueGreenLambdaPipeline(stack, 'Pipeline', {
    serviceName: 'shop',
    source: { owner: 'example-org', repo: 'shop', connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789' },
    services: Array.from({ length: services }, (_, i) => ({ serviceName: `svc${i}`, bundleDirectory: `services/svc${i}/dist`, wave: 1 + (i % 3) })),
    ...(environments ? { environments: environmentList(environments) } : {}),
  });
  const assembly = app.synth();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const template = JSON.parse(fs.readFileSync(assembly.getStackByName('Monorepo').templateFullPath, 'utf8'));
  fs.rmSync(outdir, { recursive: true, force: true });
  return { resources: Object.keys(template.Resources).length, ms };
}

const usage = 'usage: service-synth.ts <services> [environments], whole numbers of at least 1';
const services = Number(process.argv[2]);
const environments = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
if (!Number.isInteger(services) || services < 1) throw new Error(`${usage}; got services "${process.argv[2]}"`);
if (environments !== undefined && !(Number.isInteger(environments) && environments >= 1)) throw new Error(`${usage}; got environments "${process.argv[3]}"`);
const measured = synthesize(services, environments);
const peakMb = Math.round(process.resourceUsage().maxRSS / 1024);
if (environments === undefined) {
  // The marginal cost of a service: against one service, or (for one) against two.
  const one = services === 1 ? undefined : synthesize(1);
  const perService = one ? (measured.resources - one.resources) / (services - 1) : synthesize(2).resources - measured.resources;
  console.log(`bench services=${services} resources=${measured.resources} per-service=${Number(perService.toFixed(2))} synth-ms=${Math.round(measured.ms)} peak-mb=${peakMb}`);
} else {
  // The marginal cost of an environment (of all its services): against one environment, or (for one) against two.
  const one = environments === 1 ? undefined : synthesize(services, 1);
  const perEnvironment = one ? (measured.resources - one.resources) / (environments - 1) : synthesize(services, 2).resources - measured.resources;
  console.log(`bench environments=${environments} services=${services} resources=${measured.resources} per-environment=${Number(perEnvironment.toFixed(2))} synth-ms=${Math.round(measured.ms)} peak-mb=${peakMb}`);
}
if (measured.resources >= MAX_RESOURCES) {
  console.error(`${environments ?? 1} environment(s) of ${services} services need ${measured.resources} resources; CloudFormation allows ${MAX_RESOURCES} per stack`);
  process.exit(1);
}
