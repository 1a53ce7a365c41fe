import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { BlueGreenLambdaPipeline, BlueGreenLambdaPipelineProps } from '../../src';
import { baseProps, newStack } from '../stack-fixture';

/** What the local AWS test needs from one synthesized construct. */
export interface ConstructModel {
  readonly resources: Record<string, { Type: string; Properties?: any }>;
  /** Environment variables of each pipeline handler, intrinsics unresolved. */
  readonly handlers: {
    readonly deployBlue: Record<string, unknown>;
    readonly switchTraffic: Record<string, unknown>;
    readonly smokeTest?: Record<string, unknown>;
  };
  readonly serviceLogicalId: string;
  readonly tableLogicalId: string;
  readonly groupLogicalId: string;
}

function byLogicalId(resources: ConstructModel['resources'], type: string, prefix: string): string {
  const matches = Object.keys(resources).filter((id) => resources[id].Type === type && new RegExp(`^${prefix}[0-9A-F]{8}$`).test(id));
  if (matches.length !== 1) throw new Error(`expected one ${type} named ${prefix}*, found ${matches.join(', ') || 'none'}`);
  return matches[0];
}

const cache = new Map<string, ConstructModel>();

/** Synthesizes the construct (once per set of props) and reads what CloudFormation would create. */
export function constructModel(overrides: Partial<BlueGreenLambdaPipelineProps> = {}, cacheKey = JSON.stringify(overrides)): ConstructModel {
  const cached = cache.get(cacheKey);
  if (cached) return cached;
  const stack = newStack(new App());
  new BlueGreenLambdaPipeline(stack, 'Pipeline', baseProps(overrides));
  const resources = Template.fromStack(stack).toJSON().Resources as ConstructModel['resources'];
  const envOf = (prefix: string) => resources[byLogicalId(resources, 'AWS::Lambda::Function', prefix)].Properties?.Environment?.Variables ?? {};
  const smoke = Object.keys(resources).some((id) => /^PipelineSmokeTest[0-9A-F]{8}$/.test(id) && resources[id].Type === 'AWS::Lambda::Function');
  const model: ConstructModel = {
    resources,
    handlers: {
      deployBlue: envOf('PipelineDeployBlue'),
      switchTraffic: envOf('PipelineSwitchTraffic'),
      smokeTest: smoke ? envOf('PipelineSmokeTest') : undefined,
    },
    serviceLogicalId: byLogicalId(resources, 'AWS::Lambda::Function', 'PipelineService'),
    tableLogicalId: byLogicalId(resources, 'AWS::DynamoDB::Table', 'PipelineHistoryTable'),
    groupLogicalId: byLogicalId(resources, 'AWS::CodeDeploy::DeploymentGroup', 'PipelineDeploymentGroup'),
  };
  cache.set(cacheKey, model);
  return model;
}

/** Resolves CloudFormation intrinsics the way the deployed stack would, with the test's physical names. */
export function resolveIntrinsic(value: unknown, resolve: (logicalId: string, attribute?: string) => string, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const ref = (value as any)?.Ref;
  if (typeof ref === 'string') return resolve(ref);
  const getAtt = (value as any)?.['Fn::GetAtt'];
  if (Array.isArray(getAtt) && getAtt.length === 2) return resolve(getAtt[0], getAtt[1]);
  const join = (value as any)?.['Fn::Join'];
  if (Array.isArray(join) && join.length === 2) {
    return (join[1] as unknown[]).map((part, i) => resolveIntrinsic(part, resolve, `${where}[${i}]`)).join(join[0]);
  }
  throw new Error(`${where}: cannot resolve ${JSON.stringify(value)}; teach test/local-aws/construct-model.ts this intrinsic`);
}
