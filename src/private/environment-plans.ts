import { Duration, Token } from 'aws-cdk-lib';
import { MAX_BAKE_MINUTES, REGION_NAME_PATTERN } from '../contract/handler-contract';
import { PipelineEnvironment } from '../pipeline-environment';
import { ServiceDeploymentOptions } from '../service-deployment-options';

const NAME_PATTERN = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const MAX_NAME_LENGTH = 20;
/** CodePipeline allows 50 stages per pipeline (and at least 2). */
export const MAX_STAGES = 50;
/** CodePipeline allows 50 actions per stage. */
export const MAX_ACTIONS_PER_STAGE = 50;
/** A manual approval may wait 5 minutes to 60 days (ActionDeclaration TimeoutInMinutes). */
const APPROVAL_MINUTES = { min: 5, max: 86400 };

/** One environment as the pipeline builds it: its settings and its services' options, merged. */
export interface EnvironmentPlan {
  readonly name: string;
  /** Where it was given (`environments[1]`), for errors. */
  readonly path: string;
  readonly options: PipelineEnvironment;
  /** Each service's options in this environment, in the order of the services. */
  readonly services: ServiceDeploymentOptions[];
  readonly bakeMinutes?: number;
  /** Where its services run, when in another account or region than the pipeline's stack. */
  readonly target?: TargetLocation;
}

/** The account and region of an environment's services outside the pipeline's own. */
export interface TargetLocation {
  readonly account: string;
  readonly region: string;
}

const ACCOUNT_PATTERN = /^\d{12}$/;

/**
 * Checks `environments` and merges each environment's settings into each service's: a service's
 * override in an environment wins over the environment's setting, which wins over the service's
 * own, which wins over the pipeline's default. Extra alarms add up.
 */
export function planEnvironments(environments: readonly PipelineEnvironment[], services: readonly ServiceDeploymentOptions[],
  stagesOutsideEnvironments: number, pipelineLocation: { account: string; region: string }): EnvironmentPlan[] {
  if (environments.length === 0) {
    throw new Error('environments must list at least one environment (in promotion order), or be left out for a single environment');
  }
  const seen = new Map<string, number>();
  const plans = environments.map((environment, i) => {
    const path = `environments[${i}]`;
    const name = environment.name;
    if (typeof name !== 'string' || Token.isUnresolved(name) || !NAME_PATTERN.test(name) || name.length > MAX_NAME_LENGTH) {
      throw new Error(`${path}.name must be 1-${MAX_NAME_LENGTH} lowercase letters, digits and single hyphens (for example "staging"), because it appears in resource and stage names; got "${name}"`);
    }
    if (seen.has(name)) throw new Error(`${path}.name: "${name}" is already the name of environments[${seen.get(name)}]; environment names must be unique`);
    seen.set(name, i);
    checkApproval(environment, path);
    const bakeMinutes = checkBake(environment, path);
    const overrides = new Map<string, number>();
    (environment.serviceOverrides ?? []).forEach((override, j) => {
      const at = `${path}.serviceOverrides[${j}].serviceName`;
      if (!services.some((s) => s.serviceName === override.serviceName)) {
        throw new Error(`${at}: "${override.serviceName}" is not one of the pipeline's services (${services.map((s) => s.serviceName).join(', ')})`);
      }
      if (overrides.has(override.serviceName)) {
        throw new Error(`${at}: "${override.serviceName}" is overridden already by ${path}.serviceOverrides[${overrides.get(override.serviceName)}]; one entry per service`);
      }
      overrides.set(override.serviceName, j);
    });
    return {
      name,
      path,
      options: environment,
      bakeMinutes,
      target: targetOf(environment, path, pipelineLocation),
      services: services.map((service) => mergeService(service, environment)),
    };
  });
  const stages = stagesOutsideEnvironments + plans.reduce((n, p) => n + 2 + (p.options.approval ? 1 : 0), 0);
  if (stages > MAX_STAGES) {
    throw new Error(`environments: ${plans.length} environments make ${stages} stages, but CodePipeline allows ${MAX_STAGES} per pipeline (each environment takes Deploy-Blue and Switch-Traffic, and Approve with an approval); use fewer environments or extra stages`);
  }
  for (const plan of plans) {
    const actions = services.length * (plan.bakeMinutes === undefined ? 1 : 2);
    if (actions > MAX_ACTIONS_PER_STAGE) {
      throw new Error(`${plan.path}.bakeTime: with a bake, stage Switch-Traffic-${plan.name} holds a shift and a Bake action per service, ${actions} for ${services.length} services, but CodePipeline allows ${MAX_ACTIONS_PER_STAGE} actions per stage; bake at most ${MAX_ACTIONS_PER_STAGE / 2} services per pipeline`);
    }
  }
  return plans;
}

/**
 * The environment's account and region when either differs from the pipeline stack's. A target
 * needs the pipeline's own to be known at synth time: its deployer role names the pipeline's
 * handler roles, and the pipeline names the target's resources, by ARN.
 */
function targetOf(environment: PipelineEnvironment, path: string, pipeline: { account: string; region: string }): TargetLocation | undefined {
  const { account, region } = environment;
  if (account === undefined && region === undefined) return undefined;
  if (account !== undefined && (Token.isUnresolved(account) || !ACCOUNT_PATTERN.test(account))) {
    throw new Error(`${path}.account must be a 12-digit AWS account id (for example "222222222222"); got "${account}"`);
  }
  if (region !== undefined && (Token.isUnresolved(region) || !REGION_NAME_PATTERN.test(region))) {
    throw new Error(`${path}.region must be an AWS region name (for example "eu-west-1"); got "${region}"`);
  }
  const location = { account: account ?? pipeline.account, region: region ?? pipeline.region };
  if (location.account === pipeline.account && location.region === pipeline.region) return undefined;
  if (Token.isUnresolved(pipeline.account) || Token.isUnresolved(pipeline.region)) {
    throw new Error(`${path}: an environment in another account or region needs the pipeline's stack to name its own account and region (new Stack(app, id, { env: { account, region } })): the target's deployer role trusts the pipeline's handler roles by ARN`);
  }
  return location;
}

function checkApproval(environment: PipelineEnvironment, path: string) {
  const timeout = environment.approval?.timeout;
  if (timeout === undefined) return;
  const minutes = timeout.toMinutes({ integral: false });
  if (!Number.isInteger(minutes) || minutes < APPROVAL_MINUTES.min || minutes > APPROVAL_MINUTES.max) {
    throw new Error(`${path}.approval.timeout must be a whole number of minutes from ${APPROVAL_MINUTES.min} minutes to 60 days (${APPROVAL_MINUTES.max} minutes), as CodePipeline allows for a manual approval; got ${timeout.toHumanString()}`);
  }
}

function checkBake(environment: PipelineEnvironment, path: string): number | undefined {
  const min = environment.bakeMinInvocations;
  if (min !== undefined && !(Number.isInteger(min) && min >= 0)) {
    throw new Error(`${path}.bakeMinInvocations must be a whole number of at least 0; got ${min}`);
  }
  const bake = environment.bakeTime;
  if (bake === undefined) {
    if (min !== undefined && min > 0) throw new Error(`${path}.bakeMinInvocations counts invocations during the bake; set ${path}.bakeTime too`);
    return undefined;
  }
  const minutes = bake.toMinutes({ integral: false });
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_BAKE_MINUTES) {
    throw new Error(`${path}.bakeTime must be a whole number of minutes from 1 to ${MAX_BAKE_MINUTES} (${Duration.minutes(MAX_BAKE_MINUTES).toHumanString()}): the bake is a Lambda invoke action, which CodePipeline stops after 24 hours, and an hour stays for a rollback; got ${bake.toHumanString()}`);
  }
  return minutes;
}

function mergeService(service: ServiceDeploymentOptions, environment: PipelineEnvironment): ServiceDeploymentOptions {
  const override = environment.serviceOverrides?.find((o) => o.serviceName === service.serviceName);
  const own = service.service;
  const settings = override?.service;
  const variables = own?.environment || settings?.environment ? { ...own?.environment, ...settings?.environment } : undefined;
  return {
    ...service,
    deploymentConfig: override?.deploymentConfig ?? environment.deploymentConfig ?? service.deploymentConfig,
    errorRateThreshold: override?.errorRateThreshold ?? environment.errorRateThreshold ?? service.errorRateThreshold,
    evaluationPeriods: environment.evaluationPeriods ?? service.evaluationPeriods,
    alarmPeriod: environment.alarmPeriod ?? service.alarmPeriod,
    extraAlarms: [...(service.extraAlarms ?? []), ...(environment.extraAlarms ?? []), ...(override?.extraAlarms ?? [])],
    keepVersions: override?.keepVersions ?? service.keepVersions,
    service: own || settings ? { ...own, ...settings, ...(variables ? { environment: variables } : {}) } : undefined,
  };
}
