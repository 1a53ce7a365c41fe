// Synthesizes one stack holding a pipeline of N services with the COMPILED library (lib/, what
// users install) and prints one line: services, CloudFormation resources, resources each added
// service costs, synth time (construct tree + synth, module loading excluded) and peak memory.
// Usage: service-synth.ts <services>
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { BlueGreenLambdaPipeline } = require('../lib') as typeof import('../src');

/** CloudFormation's limit of resources per stack. */
const MAX_RESOURCES = 500;

function synthesize(services: number): { resources: number; ms: number } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'bglp-bench-'));
  const started = process.hrtime.bigint();
  const app = new App({ outdir });
  const stack = new Stack(app, 'Monorepo', { env: { account: '111111111111', region: 'us-east-1' } });
  new BlueGreenLambdaPipeline(stack, 'Pipeline', {
    serviceName: 'shop',
    source: { owner: 'example-org', repo: 'shop', connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789' },
    services: Array.from({ length: services }, (_, i) => ({ serviceName: `svc${i}`, bundleDirectory: `services/svc${i}/dist`, wave: 1 + (i % 3) })),
  });
  const assembly = app.synth();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const template = JSON.parse(fs.readFileSync(assembly.getStackByName('Monorepo').templateFullPath, 'utf8'));
  fs.rmSync(outdir, { recursive: true, force: true });
  return { resources: Object.keys(template.Resources).length, ms };
}

const services = Number(process.argv[2]);
if (!Number.isInteger(services) || services < 1) throw new Error(`usage: service-synth.ts <services>, a whole number of at least 1; got "${process.argv[2]}"`);
// The marginal cost of a service: against one service, or (for one) against two.
const one = services === 1 ? undefined : synthesize(1);
const measured = synthesize(services);
const perService = one ? (measured.resources - one.resources) / (services - 1) : synthesize(2).resources - measured.resources;
const peakMb = Math.round(process.resourceUsage().maxRSS / 1024);
console.log(`bench services=${services} resources=${measured.resources} per-service=${Number(perService.toFixed(2))} synth-ms=${Math.round(measured.ms)} peak-mb=${peakMb}`);
if (measured.resources >= MAX_RESOURCES) {
  console.error(`${services} services need ${measured.resources} resources; CloudFormation allows ${MAX_RESOURCES} per stack`);
  process.exit(1);
}
