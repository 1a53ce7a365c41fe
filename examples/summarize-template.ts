// Prints a one-screen summary of the synthesized pipeline: stages, key resources, outputs.
import * as fs from 'fs';
import * as path from 'path';

const outdir = process.argv[2] ?? 'cdk.out/reference';
const templates = fs.readdirSync(outdir).filter((f) => f.endsWith('.template.json'));
if (templates.length === 0) {
  console.error(`no *.template.json in ${outdir}: synthesize the app first`);
  process.exit(1);
}

type Resource = { Type: string; Properties?: any };
// An app of several stacks (a tooling stack and target stacks) deploys each to its own account and region.
const manifest = JSON.parse(fs.readFileSync(path.join(outdir, 'manifest.json'), 'utf8'));
const environmentOf = (file: string): string | undefined => Object.values<any>(manifest.artifacts ?? {})
  .find((a) => a.type === 'aws:cloudformation:stack' && a.properties?.templateFile === file)?.environment;
// A joined ARN reads as one: the partition as aws, other references as \${name}.
const show = (value: any): string => {
  if (typeof value === 'string') return value;
  const join = value?.['Fn::Join'];
  if (Array.isArray(join) && Array.isArray(join[1])) {
    return join[1].map((part: any) => typeof part === 'string' ? part
      : part?.Ref === 'AWS::Partition' ? 'aws' : part?.Ref ? `\${${part.Ref}}` : JSON.stringify(part)).join(join[0]);
  }
  return JSON.stringify(value);
};

for (const file of templates) {
  const template = JSON.parse(fs.readFileSync(path.join(outdir, file), 'utf8'));
  const resources: Record<string, Resource> = template.Resources ?? {};
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const counts = new Map<string, number>();
  Object.values(resources).forEach((r) => counts.set(r.Type, (counts.get(r.Type) ?? 0) + 1));

  console.log(`\n${file} (${Object.keys(resources).length} resources) in ${environmentOf(file) ?? 'an unknown environment'}`);
  for (const [, pipeline] of ofType('AWS::CodePipeline::Pipeline')) {
    const p = pipeline.Properties;
    console.log(`Pipeline ${show(p.Name)} (${p.PipelineType}, ${p.ExecutionMode})`);
    const width = Math.max(15, ...p.Stages.map((stage: any) => stage.Name.length));
    for (const stage of p.Stages) {
      const acts = stage.Actions.map((a: any) => `${a.Name} [${a.ActionTypeId.Category}/${a.ActionTypeId.Provider}]`).join(', ');
      console.log(`  ${stage.Name.padEnd(width)} ${acts}`);
    }
  }
  for (const [, group] of ofType('AWS::CodeDeploy::DeploymentGroup')) {
    const g = group.Properties;
    console.log(`CodeDeploy     ${show(g.DeploymentConfigName)}, style ${g.DeploymentStyle?.DeploymentType}/${g.DeploymentStyle?.DeploymentOption}, ` +
      `rollback on ${g.AutoRollbackConfiguration?.Events?.join(' + ')}, ${g.AlarmConfiguration?.Alarms?.length ?? 0} alarm(s)`);
  }
  for (const [, alarm] of ofType('AWS::CloudWatch::Alarm')) {
    const a = alarm.Properties;
    const expr = a.Metrics?.find((m: any) => m.Expression)?.Expression;
    console.log(`Alarm          ${show(a.AlarmName)}: ${expr ?? a.MetricName} ${a.ComparisonOperator} ${a.Threshold} for ${a.EvaluationPeriods} period(s), missing data ${a.TreatMissingData}`);
  }
  for (const [, table] of ofType('AWS::DynamoDB::Table')) {
    const t = table.Properties;
    console.log(`History table  ${show(t.TableName)}: key ${t.KeySchema.map((k: any) => k.AttributeName).join('+')}, ${t.BillingMode}, ` +
      `PITR ${t.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled}, GSI ${(t.GlobalSecondaryIndexes ?? []).map((i: any) => i.IndexName).join(',')}`);
  }
  for (const [, bucket] of ofType('AWS::S3::Bucket')) {
    const b = bucket.Properties;
    const expiry = b.LifecycleConfiguration?.Rules?.find((r: any) => r.NoncurrentVersionExpiration)?.NoncurrentVersionExpiration?.NoncurrentDays;
    console.log(`Bucket         versioning ${b.VersioningConfiguration?.Status}, ${b.BucketEncryption?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault?.SSEAlgorithm}, ` +
      `noncurrent versions expire after ${expiry} days, public access blocked: ${Object.values(b.PublicAccessBlockConfiguration ?? {}).every(Boolean)}`);
  }
  for (const [, fn] of ofType('AWS::Lambda::Function')) {
    const f = fn.Properties;
    console.log(`Function       ${show(f.FunctionName ?? '(generated name)')}: ${f.Runtime}, ${f.MemorySize ?? 128} MB, timeout ${f.Timeout ?? 3}s`);
  }
  for (const [, alias] of ofType('AWS::Lambda::Alias')) console.log(`Alias          ${alias.Properties.Name}`);
  for (const [, role] of ofType('AWS::IAM::Role')) {
    const trust = role.Properties.AssumeRolePolicyDocument?.Statement ?? [];
    const externalIds = trust.map((t: any) => t.Condition?.StringEquals?.['sts:ExternalId']).filter(Boolean);
    if (externalIds.length === 0) continue;
    const callers = trust.flatMap((t: any) => t.Condition?.ArnEquals?.['aws:PrincipalArn'] ?? []);
    console.log(`Deployer role  ${show(role.Properties.RoleName)}: assumable by ${callers.length} role(s) of ${show(trust[0].Principal?.AWS)} with external id ${show(externalIds[0])}`);
  }
  for (const [name, output] of Object.entries<any>(template.Outputs ?? {})) console.log(`Output         ${name}: ${show(output.Value)}`);
  console.log(`Resource types ${[...counts].map(([t, n]) => `${t.replace('AWS::', '')}×${n}`).join(', ')}`);
}
