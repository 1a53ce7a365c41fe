import { createHash } from 'crypto';
import { Aws, Duration, Token } from 'aws-cdk-lib';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import { deployerRoleName } from '../contract/handler-contract';
import { ServiceDeploymentOptions } from '../service-deployment-options';
import { ActionService, StageHandlers } from '../stage-handlers';
import { EnvironmentPlan } from './environment-plans';
import { MAX_ROLE_NAME, ResourceNames, ServiceNames } from './resource-names';

/**
 * The version an `AWS::Lambda::Version` of a newly created function publishes: its first. A target
 * creates every function it deploys, so its bootstrap version is this (the pipeline, in another
 * account, cannot reference it).
 */
const FIRST_VERSION = '1';

/** The pipeline's defaults for what a service or environment does not set. */
export interface ServiceDefaults {
  readonly deploymentConfig: codedeploy.ILambdaDeploymentConfig;
  readonly errorRateThreshold?: number;
  readonly evaluationPeriods?: number;
  readonly alarmPeriod?: Duration;
  readonly keepVersions: number;
}

/**
 * One environment in another account or region, as its pipeline and its `BlueGreenLambdaTarget`
 * both see it: what the target creates, under which names, and whom its deployer role trusts.
 */
export interface TargetPlan {
  readonly environment: string;
  /** Where it was given (`environments[2]`), for errors. */
  readonly path: string;
  readonly account: string;
  readonly region: string;
  /** The environment's settings merged into each service's options. */
  readonly plan: EnvironmentPlan;
  /** The names of the environment's shared resources (`{pipeline service}-{purpose}-{environment}`). */
  readonly names: ResourceNames;
  /** Each service's physical names, in the order of the services. */
  readonly serviceNames: ServiceNames[];
  readonly single: boolean;
  readonly defaults: ServiceDefaults;
  /** What the pipeline's actions name of each service. */
  readonly actionServices: ActionService[];
  /** The CodeDeploy application: the pipeline's name (application names are per account and region). */
  readonly applicationName: string;
  readonly deployerRoleName: string;
  readonly bundleBucketName: string;
  /** The pipeline's handler roles the deployer role trusts, by ARN: Bake's only when the environment bakes. */
  readonly trustedRoleArns: string[];
  /** Whether the environment bakes (its deployer may then override its groups' alarms for a rollback). */
  readonly baked: boolean;
  /** The pipeline's ARN: the external id the deployer role requires. */
  readonly pipelineArn: string;
  readonly pipelineAccount: string;
  /** The pipeline's `tags`, which the target's resources carry too. */
  readonly tags: { readonly [key: string]: string };
}

/** What {@link planTarget} needs. */
export interface PlanTargetProps {
  readonly plan: EnvironmentPlan;
  readonly pipelineNames: ResourceNames;
  readonly single: boolean;
  readonly defaults: ServiceDefaults;
  readonly handlers: StageHandlers;
  readonly pipelineAccount: string;
  readonly tags?: { readonly [key: string]: string };
}

/**
 * Plans an environment in another account or region: the names of everything its target creates,
 * written into the pipeline's actions as text, and the deployer role the handlers may assume.
 */
export function planTarget(props: PlanTargetProps): TargetPlan {
  const { plan, pipelineNames, single, defaults, handlers } = props;
  const target = plan.target!;
  const names = ResourceNames.of(pipelineNames.serviceName, plan.name);
  const roleName = deployerRoleName(pipelineNames.pipeline, plan.name);
  if (roleName.length > MAX_ROLE_NAME) {
    throw new Error(`${plan.path}.name: the deployer role of environment "${plan.name}" would be named "${roleName}" (${roleName.length} characters), but IAM allows ${MAX_ROLE_NAME}; shorten serviceName, environmentSuffix or the environment's name`);
  }
  const deployerRoleArn = `arn:${Aws.PARTITION}:iam::${target.account}:role/${roleName}`;
  const baked = plan.bakeMinutes !== undefined;
  handlers.addDeployerRole(deployerRoleArn, baked);
  const bundleBucketName = bundleBucketNameOf(props.pipelineAccount, pipelineNames.pipeline, plan.name, target);
  const serviceNames = plan.services.map((o, i) => single ? names : names.service(o.serviceName, `services[${i}].serviceName`));
  const actionServices = plan.services.map((o, i): ActionService => {
    const hookName = (hook: ServiceDeploymentOptions['preTrafficHook'], prop: string) => {
      if (!hook) return '';
      if (hook._hookFunction) {
        throw new Error(`${single ? '' : `services[${i}].`}${prop}: environment "${plan.name}" (${plan.path}) is in account ${target.account}, region ${target.region}, where CodeDeploy runs its deployment groups' hooks; a hook function of the pipeline's stack cannot be one there. Use TrafficHook.smokeTest() (each target has its own smoke-test function), or no hook`);
      }
      return names.handler('smoke-test');
    };
    const config = o.deploymentConfig ?? defaults.deploymentConfig;
    if (Token.isUnresolved(config.deploymentConfigName)) {
      throw new Error(`${plan.path}.deploymentConfig (or the service's): environment "${plan.name}" is in account ${target.account}, region ${target.region}; its deployment configuration must be one of CodeDeploy's predefined ones (LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES, ...), because a custom configuration lives in one account and region and the pipeline names it there`);
    }
    return {
      serviceName: o.serviceName,
      functionName: serviceNames[i].serviceFunction,
      bundleDirectory: o.bundleDirectory.replace(/\/+$/, ''),
      wave: o.wave ?? 1,
      deploymentGroupName: serviceNames[i].deploymentGroup,
      deploymentConfigName: config.deploymentConfigName,
      keepVersions: o.keepVersions ?? defaults.keepVersions,
      beforeAllowTrafficHook: hookName(o.preTrafficHook, 'preTrafficHook'),
      afterAllowTrafficHook: hookName(o.postTrafficHook, 'postTrafficHook'),
      bootstrapVersion: FIRST_VERSION,
      stackVersion: FIRST_VERSION,
      target: { deployerRoleArn, region: target.region, bundleBucket: bundleBucketName },
    };
  });
  return {
    environment: plan.name,
    path: plan.path,
    account: target.account,
    region: target.region,
    plan,
    names,
    serviceNames,
    single,
    defaults,
    actionServices,
    applicationName: pipelineNames.codeDeployApplication,
    deployerRoleName: roleName,
    bundleBucketName,
    trustedRoleArns: handlers.trustedRoleArns(baked),
    baked,
    pipelineArn: handlers.pipelineArn,
    pipelineAccount: props.pipelineAccount,
    tags: props.tags ?? {},
  };
}

/**
 * The target's bundle bucket: bucket names are global, so a digest of the pipeline and environment
 * (not their names, which could exceed S3's 63 characters) with the account and region.
 */
function bundleBucketNameOf(pipelineAccount: string, pipelineName: string, environment: string, target: { account: string; region: string }): string {
  const digest = createHash('sha256').update(`${pipelineAccount}/${pipelineName}/${environment}`).digest('hex').slice(0, 10);
  return `bundles-${digest}-${target.account}-${target.region}`;
}
