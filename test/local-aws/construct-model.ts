import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { BlueGreenLambdaPipeline, BlueGreenLambdaPipelineProps } from '../../src';
import { baseProps, newStack } from '../helpers/stack-fixture';

export type Resources = Record<string, { Type: string; Properties?: any }>;

/** One stack of a synthesized app: its account, region and resources. */
export interface StackModel {
  readonly stackName: string;
  readonly account: string;
  readonly region: string;
  readonly resources: Resources;
}

/** One action of the pipeline after Build, as the template declares it: a Lambda invoke action or a manual approval. */
export interface ActionModel {
  readonly stageName: string;
  readonly actionName: string;
  readonly runOrder: number;
  readonly kind: 'invoke' | 'approval';
  /** The action's variable namespace, if it has one. */
  readonly namespace?: string;
  /** Logical id of the function the action invokes ('' for an approval). */
  readonly handlerLogicalId: string;
  /** UserParameters as the template has them: a string, or an Fn::Join with intrinsics. */
  readonly userParameters: unknown;
  readonly inputArtifacts: string[];
  /** The action's Configuration as the template has it (an approval's NotificationArn, CustomData). */
  readonly configuration: Record<string, unknown>;
}

/** One stage after Build, in pipeline order. */
export interface StageModel {
  readonly name: string;
  readonly actions: ActionModel[];
}

/** One environment of a pipeline with `environments`: its stages and its copy of every service. */
export interface EnvironmentModel {
  readonly name: string;
  /** Its stages in pipeline order: Approve-<env> (with an approval), Deploy-Blue-<env>, Switch-Traffic-<env>. */
  readonly stageNames: string[];
  readonly approval?: ActionModel;
  /** Its services (keys `<env>/<service>`), in the order of its Deploy-Blue actions. */
  readonly services: ServiceModel[];
}

/** One service of the pipeline (in one environment): its actions and what they name. */
export interface ServiceModel {
  readonly name: string;
  /** How the test names it: the service, or `<environment>/<service>` in a pipeline with environments (its history key after the execution id). */
  readonly key: string;
  readonly environment?: string;
  readonly wave: number;
  readonly bundleDirectory: string;
  readonly functionName: string;
  readonly functionLogicalId: string;
  readonly deploymentGroupName: string;
  readonly groupLogicalId: string;
  readonly deployBlue: ActionModel;
  readonly switchTraffic: ActionModel;
  /** The UserParameters of each action with every intrinsic and pipeline variable left as a placeholder. */
  readonly deployBlueParameters: Record<string, string>;
  readonly switchTrafficParameters: Record<string, string>;
  /** The Bake action after the environment's last wave (environments with a bake time). */
  readonly bake?: ActionModel;
  readonly bakeParameters?: Record<string, string>;
  /**
   * The target stack that holds the service (an environment in another account or region: its
   * BlueGreenLambdaTarget's stack, found where the actions' deployerRoleArn and region point);
   * undefined when the pipeline's stack holds it.
   */
  readonly stack?: StackModel;
}

/** A stage handler: its function in the template and the environment the construct gives it. */
export interface HandlerModel {
  readonly logicalId: string;
  readonly functionName: string;
  /** Environment variables, intrinsics unresolved. */
  readonly environment: Record<string, unknown>;
  /** The target stack that holds it (a target's smoke test); undefined for the pipeline's stack. */
  readonly stack?: StackModel;
}

/** What the local AWS test needs from one synthesized construct. */
export interface ConstructModel {
  /** The pipeline stack's resources. */
  readonly resources: Resources;
  /** The pipeline's stack, when the model was read from an app of several (see appModel). */
  readonly pipelineStack?: StackModel;
  /** The stacks of the BlueGreenLambdaTargets (environments in other accounts or regions); none for a single stack. */
  readonly targets: StackModel[];
  readonly handlers: {
    readonly deployBlue: HandlerModel;
    readonly switchTraffic: HandlerModel;
    /** The Bake handler (pipelines with a bake time). */
    readonly bake?: HandlerModel;
    /** The hook functions the Switch-Traffic actions name that the construct created (the built-in smoke test). */
    readonly hooks: HandlerModel[];
  };
  /** The services, in the order of the Deploy-Blue stages' actions (every environment's, in promotion order). */
  readonly services: ServiceModel[];
  /** The Deploy-Blue and Switch-Traffic stages (of the first environment, with environments), every action in template order. */
  readonly stages: { readonly deployBlue: ActionModel[]; readonly switchTraffic: ActionModel[] };
  /** Every stage after Build, in pipeline order: what an execution plays. */
  readonly pipelineStages: StageModel[];
  /** The environments, in promotion order; undefined without `environments`. */
  readonly environments?: EnvironmentModel[];
  /** The Source action: its variable namespace (its CommitId feeds Deploy-Blue's parameters) and configuration. */
  readonly source?: { readonly namespace?: string; readonly provider?: string; readonly configuration: Record<string, unknown> };
  readonly tableLogicalId: string;
  readonly topicLogicalId: string;
  readonly applicationLogicalId: string;
  readonly bucketLogicalId: string;
}

function single(resources: Resources, type: string): string {
  const ids = Object.keys(resources).filter((id) => resources[id].Type === type);
  if (ids.length !== 1) throw new Error(`expected one ${type}, found ${ids.join(', ') || 'none'}`);
  return ids[0];
}

function byProperty(resources: Resources, type: string, property: string, value: string, what: string): string {
  const ids = Object.keys(resources).filter((id) => resources[id].Type === type && resources[id].Properties?.[property] === value);
  if (ids.length !== 1) throw new Error(`${what}: expected one ${type} with ${property} "${value}", found ${ids.join(', ') || 'none'}`);
  return ids[0];
}

/** UserParameters with intrinsics as `<Ref ...>` placeholders, parsed: what the template says per service. */
function placeholderParameters(value: unknown, where: string): Record<string, string> {
  const text = resolveIntrinsic(value, (logicalId, attribute) => `<${logicalId}${attribute ? `.${attribute}` : ''}>`, where);
  return JSON.parse(text);
}

const cache = new Map<string, ConstructModel>();

/** Synthesizes the construct (once per set of props) and reads what CloudFormation would create and CodePipeline would run. */
export function constructModel(overrides: Partial<BlueGreenLambdaPipelineProps> = {}, cacheKey = JSON.stringify(overrides)): ConstructModel {
  const cached = cache.get(cacheKey);
  if (cached) return cached;
  const stack = newStack(new App());
  new BlueGreenLambdaPipeline(stack, 'Pipeline', baseProps(overrides));
  const model = readModel(Template.fromStack(stack).toJSON().Resources as Resources, []);
  cache.set(cacheKey, model);
  return model;
}

/**
 * Synthesizes an app of several stacks (once per key): the pipeline's, and the stacks of its
 * BlueGreenLambdaTargets in other accounts and regions; reads every stack of the cloud assembly.
 */
export function appModel(build: (app: App) => void, cacheKey: string): ConstructModel {
  const cached = cache.get(cacheKey);
  if (cached) return cached;
  const app = new App();
  build(app);
  const stacks: StackModel[] = app.synth().stacks.map((s) => ({
    stackName: s.stackName,
    account: s.environment.account,
    region: s.environment.region,
    resources: (s.template.Resources ?? {}) as Resources,
  }));
  const holders = stacks.filter((s) => Object.values(s.resources).some((r) => r.Type === 'AWS::CodePipeline::Pipeline'));
  if (holders.length !== 1) throw new Error(`expected one stack with a pipeline, found ${holders.map((s) => s.stackName).join(', ') || 'none'}`);
  const model = readModel(holders[0].resources, stacks.filter((s) => s !== holders[0]), holders[0]);
  cache.set(cacheKey, model);
  return model;
}

const ROLE_ACCOUNT = /^arn:[^:]+:iam::(\d{12}):role\//;

/** Reads the pipeline stack's template and its targets' templates. */
function readModel(resources: Resources, targets: StackModel[], pipelineStack?: StackModel): ConstructModel {
  const pipeline = resources[single(resources, 'AWS::CodePipeline::Pipeline')].Properties;
  const readAction = (stageName: string, a: any): ActionModel => {
    const provider = a.ActionTypeId?.Provider;
    if (a.ActionTypeId?.Category === 'Approval' && provider === 'Manual') {
      return {
        stageName,
        actionName: a.Name,
        runOrder: a.RunOrder ?? 1,
        kind: 'approval',
        handlerLogicalId: '',
        userParameters: undefined,
        inputArtifacts: [],
        configuration: a.Configuration ?? {},
      };
    }
    if (provider !== 'Lambda') throw new Error(`${stageName}/${a.Name} is a ${provider} action; this test plays Lambda invoke actions and manual approvals only`);
    const handlerLogicalId = a.Configuration.FunctionName?.Ref;
    if (typeof handlerLogicalId !== 'string') throw new Error(`${stageName}/${a.Name}: FunctionName is not a Ref: ${JSON.stringify(a.Configuration.FunctionName)}`);
    return {
      stageName,
      actionName: a.Name,
      runOrder: a.RunOrder ?? 1,
      kind: 'invoke',
      namespace: a.Namespace,
      handlerLogicalId,
      userParameters: a.Configuration.UserParameters,
      inputArtifacts: (a.InputArtifacts ?? []).map((i: any) => i.Name),
      configuration: a.Configuration ?? {},
    };
  };
  // Source and Build are played by the test (the artifact, the source variables); every later stage is run.
  const pipelineStages: StageModel[] = (pipeline.Stages as any[]).filter((s) => s.Name !== 'Source' && s.Name !== 'Build')
    .map((s) => ({ name: s.Name, actions: (s.Actions as any[]).map((a) => readAction(s.Name, a)) }));
  const stage = (name: string): ActionModel[] => {
    const found = pipelineStages.find((s) => s.name === name);
    if (!found) throw new Error(`the pipeline has no stage ${name} (stages: ${pipelineStages.map((s) => s.name).join(', ')})`);
    return found.actions;
  };
  const handler = (actions: ActionModel[], what: string): HandlerModel => {
    const ids = [...new Set(actions.map((a) => a.handlerLogicalId))];
    if (ids.length !== 1) throw new Error(`${what}: expected one handler for every action, found ${ids.join(', ')}`);
    const fn = resources[ids[0]];
    return { logicalId: ids[0], functionName: fn.Properties?.FunctionName, environment: fn.Properties?.Environment?.Variables ?? {} };
  };

  /**
   * The target stack an action's parameters point at (its deployerRoleArn's account, its region),
   * or undefined for one of the pipeline's own account and region.
   */
  const targetStackOf = (parameters: Record<string, string>, where: string): StackModel | undefined => {
    if (!parameters.deployerRoleArn) return undefined;
    const account = ROLE_ACCOUNT.exec(parameters.deployerRoleArn.replace('<AWS::Partition>', 'aws'))?.[1];
    const found = targets.filter((t) => t.account === account && t.region === parameters.region);
    if (found.length !== 1) {
      throw new Error(`${where}: deployerRoleArn ${parameters.deployerRoleArn} and region ${parameters.region} name ${found.length} target stacks of the app `
        + `(${targets.map((t) => `${t.stackName}: ${t.account} ${t.region}`).join(', ') || 'none'})`);
    }
    return found[0];
  };

  /** The services of one pair of Deploy-Blue and Switch-Traffic stages (one environment). */
  const servicesOf = (deployBlue: ActionModel[], switchStage: ActionModel[], environment?: string): ServiceModel[] => {
    // A Bake action's UserParameters carry bakeMinutes (BAKE_PARAMETERS), a shift's a targetVersion.
    const isBake = (a: ActionModel) => 'bakeMinutes' in placeholderParameters(a.userParameters, `${a.stageName}/${a.actionName} UserParameters`);
    const shifts = switchStage.filter((a) => !isBake(a));
    const bakes = switchStage.filter(isBake);
    const byService = (actions: ActionModel[]) => new Map(actions.map((a) => [placeholderParameters(a.userParameters, `${a.stageName}/${a.actionName} UserParameters`).service, a]));
    const switchByService = byService(shifts);
    const bakeByService = byService(bakes);
    return deployBlue.map((action) => {
      const parameters = placeholderParameters(action.userParameters, `${action.actionName} UserParameters`);
      const stack = targetStackOf(parameters, `${action.stageName}/${action.actionName}`);
      const holder = stack?.resources ?? resources;
      const shift = switchByService.get(parameters.service);
      if (!shift) throw new Error(`service ${parameters.service} has a Deploy-Blue action but no Switch-Traffic action`);
      const shiftParameters = placeholderParameters(shift.userParameters, `${shift.actionName} UserParameters`);
      const bake = bakeByService.get(parameters.service);
      return {
        name: parameters.service,
        key: environment ? `${environment}/${parameters.service}` : parameters.service,
        environment,
        wave: Number(shiftParameters.wave),
        bundleDirectory: parameters.bundleDirectory ?? '',
        functionName: parameters.functionName,
        functionLogicalId: byProperty(holder, 'AWS::Lambda::Function', 'FunctionName', parameters.functionName, `service ${parameters.service}`),
        deploymentGroupName: shiftParameters.deploymentGroupName,
        groupLogicalId: byProperty(holder, 'AWS::CodeDeploy::DeploymentGroup', 'DeploymentGroupName', shiftParameters.deploymentGroupName, `service ${parameters.service}`),
        deployBlue: action,
        switchTraffic: shift,
        deployBlueParameters: parameters,
        switchTrafficParameters: shiftParameters,
        bake,
        bakeParameters: bake && placeholderParameters(bake.userParameters, `${bake.stageName}/${bake.actionName} UserParameters`),
        stack,
      };
    });
  };

  let services: ServiceModel[];
  let environments: EnvironmentModel[] | undefined;
  let stages: ConstructModel['stages'];
  if (pipelineStages.some((s) => s.name === 'Deploy-Blue')) {
    stages = { deployBlue: stage('Deploy-Blue'), switchTraffic: stage('Switch-Traffic') };
    services = servicesOf(stages.deployBlue, stages.switchTraffic);
  } else {
    // With environments: Deploy-Blue-<env> names each environment, in promotion order.
    const names = pipelineStages.filter((s) => s.name.startsWith('Deploy-Blue-')).map((s) => s.name.slice('Deploy-Blue-'.length));
    if (names.length === 0) throw new Error(`the pipeline has neither a Deploy-Blue stage nor Deploy-Blue-<env> stages: ${pipelineStages.map((s) => s.name).join(', ')}`);
    environments = names.map((name) => {
      const approvalStage = pipelineStages.find((s) => s.name === `Approve-${name}`);
      const envServices = servicesOf(stage(`Deploy-Blue-${name}`), stage(`Switch-Traffic-${name}`), name);
      return {
        name,
        stageNames: [...(approvalStage ? [approvalStage.name] : []), `Deploy-Blue-${name}`, `Switch-Traffic-${name}`],
        approval: approvalStage?.actions.find((a) => a.kind === 'approval'),
        services: envServices,
      };
    });
    services = environments.flatMap((e) => e.services);
    stages = { deployBlue: stage(`Deploy-Blue-${names[0]}`), switchTraffic: stage(`Switch-Traffic-${names[0]}`) };
  }
  const switchActions = services.map((s) => s.switchTraffic);
  const bakeActions = services.flatMap((s) => (s.bake ? [s.bake] : []));
  // Each hook lives with the services that name it (a target has its own smoke test).
  const hookStacks = new Map<string, StackModel | undefined>();
  for (const s of services) {
    for (const name of [s.switchTrafficParameters.beforeAllowTrafficHook, s.switchTrafficParameters.afterAllowTrafficHook].filter(Boolean)) {
      if (!hookStacks.has(name)) hookStacks.set(name, s.stack);
    }
  }
  const hooks = [...hookStacks].map(([name, stack]) => {
    const holder = stack?.resources ?? resources;
    const logicalId = byProperty(holder, 'AWS::Lambda::Function', 'FunctionName', name, 'hook');
    return { logicalId, functionName: name, environment: holder[logicalId].Properties?.Environment?.Variables ?? {}, stack };
  });
  const source = (pipeline.Stages as any[]).find((s) => s.Name === 'Source')?.Actions?.[0];

  return {
    resources,
    pipelineStack,
    targets,
    handlers: {
      deployBlue: handler(services.map((s) => s.deployBlue), 'Deploy-Blue'),
      switchTraffic: handler(switchActions, 'Switch-Traffic'),
      bake: bakeActions.length > 0 ? handler(bakeActions, 'Bake') : undefined,
      hooks,
    },
    services,
    stages,
    pipelineStages,
    environments,
    source: source && { namespace: source.Namespace, provider: source.ActionTypeId?.Provider, configuration: source.Configuration ?? {} },
    tableLogicalId: single(resources, 'AWS::DynamoDB::Table'),
    topicLogicalId: single(resources, 'AWS::SNS::Topic'),
    applicationLogicalId: single(resources, 'AWS::CodeDeploy::Application'),
    bucketLogicalId: single(resources, 'AWS::S3::Bucket'),
  };
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

/**
 * Resolves CodePipeline variables (`#{namespace.name}`) in an action configuration value, as
 * CodePipeline does before it runs the action
 * (https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html). An
 * unknown variable fails loudly: CodePipeline would fail the action.
 */
export function resolveVariables(text: string, variables: Record<string, string>, where: string): string {
  return text.replace(/#\{([^}]+)\}/g, (_match, name: string) => {
    const value = variables[name];
    if (value === undefined) throw new Error(`${where}: CodePipeline cannot resolve #{${name}} (known: ${Object.keys(variables).join(', ')})`);
    return value;
  });
}
