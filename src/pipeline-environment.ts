import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as sns from 'aws-cdk-lib/aws-sns';
import { ManualApprovalOptions } from './manual-approval';
import { ServiceFunctionOptions } from './service-deployment-options';

/**
 * The manual approval before an environment: a stage `Approve-<environment>` ahead of its
 * `Deploy-Blue-<environment>`.
 */
export interface EnvironmentApprovalOptions extends ManualApprovalOptions {
  /**
   * Where the approval request is announced (the approvers' topic).
   * @default - the pipeline's notification topic
   */
  readonly notificationTopic?: sns.ITopic;
  /**
   * How long the approval waits before CodePipeline fails it: 5 minutes to 60 days, whole minutes.
   * @default Duration.days(7)
   */
  readonly timeout?: Duration;
}

/** What one environment changes for one service (`environments[i].serviceOverrides`). */
export interface EnvironmentServiceOverrides {
  /** The service it applies to: one of the pipeline's service names. */
  readonly serviceName: string;
  /**
   * How CodeDeploy shifts this service's traffic in this environment.
   * @default - the environment's `deploymentConfig`
   */
  readonly deploymentConfig?: codedeploy.ILambdaDeploymentConfig;
  /**
   * Error rate of the service's `live` alias in this environment, in percent, that rolls it back.
   * @default - the environment's `errorRateThreshold`
   */
  readonly errorRateThreshold?: number;
  /**
   * More alarms that stop and roll back this service in this environment (with the environment's
   * and the service's own extra alarms, at most 9).
   * @default - none
   */
  readonly extraAlarms?: cloudwatch.IAlarm[];
  /**
   * Function settings in this environment, each replacing the service's own; `environment`
   * variables are merged, these winning.
   * @default - the service's settings
   */
  readonly service?: ServiceFunctionOptions;
  /**
   * Published versions of the service to keep in this environment.
   * @default - the service's `keepVersions`
   */
  readonly keepVersions?: number;
}

/**
 * One environment of a pipeline that promotes one build through several (`environments`), in
 * promotion order. Each gets its own copy of every service (function, `live` alias, alarm,
 * deployment group), named with the environment's name as suffix, and its own stages:
 * `Approve-<name>` (with `approval`), `Deploy-Blue-<name>` and `Switch-Traffic-<name>` (whose
 * Bake actions, with `bakeTime`, follow the last wave).
 */
export interface PipelineEnvironment {
  /**
   * The environment's name: 1-20 lowercase letters, digits and single hyphens (for example
   * "staging"). It suffixes the environment's resource names and its stage names.
   */
  readonly name: string;
  /**
   * The AWS account the environment's services run in (12 digits). An environment in another
   * account or region than the pipeline's stack is a target: its services are created by a
   * {@link BlueGreenLambdaTarget} in a stack of that account and region, and the stage handlers
   * act there through its deployer role.
   * @default - the pipeline stack's account
   */
  readonly account?: string;
  /**
   * The AWS region the environment's services run in (for example "eu-west-1").
   * @default - the pipeline stack's region
   */
  readonly region?: string;
  /**
   * A manual approval before the environment's deployment.
   * @default - no approval
   */
  readonly approval?: EnvironmentApprovalOptions;
  /**
   * How long each service's alarms are watched after its shift succeeded (and 3 minutes more, for
   * the metrics Lambda emits late). An alarm during the bake rolls the environment back to the
   * versions it served before and stops the promotion. At most 23 hours (a Lambda invoke action
   * runs at most 24).
   * @default - no bake
   */
  readonly bakeTime?: Duration;
  /**
   * Invocations of each service's `live` alias the bake must see, so that an idle environment does
   * not pass by silence; too few fails the bake (without rolling back) and stops the promotion.
   * @default 0
   */
  readonly bakeMinInvocations?: number;
  /**
   * How CodeDeploy shifts traffic in this environment.
   * @default - the pipeline's `deploymentConfig`
   */
  readonly deploymentConfig?: codedeploy.ILambdaDeploymentConfig;
  /**
   * Error rate, in percent, that rolls a service of this environment back.
   * @default - the pipeline's `errorRateThreshold`
   */
  readonly errorRateThreshold?: number;
  /**
   * Consecutive periods above the threshold before the alarm fires.
   * @default - the pipeline's `evaluationPeriods`
   */
  readonly evaluationPeriods?: number;
  /**
   * Length of one alarm period in this environment.
   * @default - the pipeline's `alarmPeriod`
   */
  readonly alarmPeriod?: Duration;
  /**
   * More alarms that stop and roll back every service of this environment (with each service's own
   * extra alarms, at most 9 per service).
   * @default - none
   */
  readonly extraAlarms?: cloudwatch.IAlarm[];
  /**
   * Per-service settings in this environment.
   * @default - none
   */
  readonly serviceOverrides?: EnvironmentServiceOverrides[];
}
