// Runs the five independent validators on the reference, monorepo, environments and accounts examples and the integ snapshot and
// prints one line of counts per tool (parliament, the fifth, lives in iam-policies.ts). Exits non-zero on any unacknowledged finding.
// Usage: run-validators.ts <python-venv-bin-dir>
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NagPack, ServerlessChecks } from 'cdk-nag';
import { parliamentValidator } from './iam-policies';
import { accountsApp } from '../examples/typescript/accounts-app';
import { environmentsApp } from '../examples/typescript/environments-app';
import { monorepoApp } from '../examples/typescript/monorepo-app';
import { referenceApp } from '../examples/typescript/reference-app';

const venvBin = process.argv[2] ?? 'cdk.out/venv-validators/bin';
const REFERENCE_OUT = 'cdk.out/validate';
const MONOREPO_OUT = 'cdk.out/validate-monorepo';
const ENVIRONMENTS_OUT = 'cdk.out/validate-environments';
const ACCOUNTS_OUT = 'cdk.out/validate-accounts';
const INTEG_TEMPLATE = 'test/integ.blue-green-pipeline.ts.snapshot/BlueGreenLambdaPipelineInteg.template.json';

interface Result { readonly line: string; readonly ok: boolean }

type Template = { Resources: Record<string, { Type: string; Metadata?: any }> };
const readTemplate = (file: string): Template => JSON.parse(fs.readFileSync(file, 'utf8'));

function cfnLint(templates: string[]): Result {
  // cfn-lint exits non-zero when it reports anything; the JSON it prints is what we count.
  const run = spawnSync(path.join(venvBin, 'cfn-lint'), ['--format', 'json', ...templates], { encoding: 'utf8' });
  if (run.error || !run.stdout.trim().startsWith('[')) throw new Error(`cfn-lint did not run: ${run.error ?? run.stderr}`);
  const matches: Array<{ Level: string; Rule: { Id: string }; Location: { Path: string[] }; Filename: string }> = JSON.parse(run.stdout);
  const count = (level: string) => matches.filter((m) => m.Level === level).length;
  for (const m of matches) console.error(`  cfn-lint ${m.Level} ${m.Rule.Id} ${m.Filename} ${m.Location.Path.join('/')}`);
  return {
    ok: count('Error') === 0 && count('Warning') === 0,
    line: `cfn-lint: ${count('Error')} errors, ${count('Warning')} warnings, ${count('Informational')} informational (W3005 ignored in .cfnlintrc.yaml with its reason)`,
  };
}

function checkov(templates: string[]): Result {
  const run = spawnSync(path.join(venvBin, 'checkov'),
    ['--framework', 'cloudformation', '--output', 'json', '--skip-download', ...templates.flatMap((t) => ['--file', t])],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.error || !run.stdout.trim()) throw new Error(`checkov did not run: ${run.error ?? run.stderr}`);
  const parsed = JSON.parse(run.stdout);
  const reports: any[] = Array.isArray(parsed) ? parsed : [parsed];
  const failed = reports.flatMap((r) => r.results.failed_checks);
  const skipped = reports.flatMap((r) => r.results.skipped_checks);
  const passed = reports.reduce((n, r) => n + r.summary.passed, 0);
  const withoutReason = skipped.filter((c) => !(c.check_result?.suppress_comment ?? '').trim()
    || c.check_result.suppress_comment === 'No comment provided');
  for (const c of failed) console.error(`  checkov FAILED ${c.check_id} ${c.resource} (${c.file_path})`);
  for (const c of withoutReason) console.error(`  checkov skip without a reason: ${c.check_id} ${c.resource}`);
  return {
    ok: failed.length === 0 && withoutReason.length === 0,
    line: `checkov: ${passed} passed, ${failed.length} failed, ${skipped.length} skipped on the resource with a reason (${withoutReason.length} without)`,
  };
}

function cfnGuard(templates: string[]): Result {
  const validator = new CfnGuardValidator();
  const report = validator.validate({ templatePaths: templates.map((t) => path.resolve(t)) });
  let acknowledged = 0;
  const unacknowledged: string[] = [];
  for (const violation of report.violations) {
    for (const resource of violation.violatingResources) {
      const metadata = readTemplate(resource.templatePath).Resources[resource.resourceLogicalId]?.Metadata?.guard;
      const reason = metadata?.Reasons?.[violation.ruleName];
      if (metadata?.SuppressedRules?.includes(violation.ruleName) && typeof reason === 'string' && reason.trim()) {
        acknowledged++;
      } else {
        unacknowledged.push(`${violation.ruleName} @ ${resource.resourceLogicalId} (${path.basename(resource.templatePath)})`);
      }
    }
  }
  for (const u of unacknowledged) console.error(`  cfn-guard unacknowledged: ${u}`);
  return {
    ok: unacknowledged.length === 0,
    line: `cfn-guard (Control Tower proactive controls, ${(validator.ruleIds ?? []).length} rules): ${acknowledged + unacknowledged.length} violations, ${acknowledged} acknowledged on the resource, ${unacknowledged.length} unacknowledged`,
  };
}

function cdkNag(apps: App[]): Result {
  const acknowledgedIds = apps.flatMap((app) => app.node.findAll()).flatMap((c) => c.node.metadata
    .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((m) => Object.keys(m.data as object)));
  const parts: string[] = [];
  let ok = true;
  for (const name of ['AwsSolutions', 'Serverless']) {
    const findings = apps.flatMap((app) => {
      const pack: NagPack = name === 'AwsSolutions' ? new AwsSolutionsChecks(app) : new ServerlessChecks(app);
      return pack.validateScope(app).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} @ ${(r as any).constructPath}`));
    });
    for (const f of findings) console.error(`  cdk-nag unacknowledged: ${f}`);
    ok &&= findings.length === 0;
    parts.push(`${name} ${findings.length} unacknowledged (${acknowledgedIds.filter((id) => id.startsWith(`${name}-`)).length} acknowledged)`);
  }
  return { ok, line: `cdk-nag: ${parts.join(', ')}` };
}

// The reference app (one service), the monorepo example (three services, two waves), the environments
// example (dev, staging, prod), the accounts example (a tooling stack and four target stacks in three
// accounts and two regions) and the integ snapshot.
const apps = [referenceApp(REFERENCE_OUT), monorepoApp(MONOREPO_OUT), environmentsApp(ENVIRONMENTS_OUT), accountsApp(ACCOUNTS_OUT)];
const templates = [...apps.flatMap((app) => app.synth().stacks.map((s) => s.templateFullPath)), INTEG_TEMPLATE];
console.log(`validating ${templates.join(', ')}`);
const results = [cfnLint(templates), checkov(templates), cfnGuard(templates), cdkNag(apps), parliamentValidator(venvBin, templates)];
for (const r of results) console.log(`${r.ok ? 'PASS' : 'FAIL'} ${r.line}`);
if (results.some((r) => !r.ok)) process.exit(1);
