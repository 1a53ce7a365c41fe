import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { IConstruct } from 'constructs';
import { TrafficHook } from './traffic-hook';

/**
 * Settings of the service function when the construct creates it.
 *
 * Changes to these settings reach live traffic only with the next pipeline deployment:
 * CloudFormation updates the function's unpublished `$LATEST`, and the `live` alias keeps serving
 * the immutable version the pipeline published last. The bootstrap version and the alias never
 * change with these settings, so no stack update moves live traffic.
 */
export interface ServiceFunctionOptions {
  /**
   * The runtime.
   * @default lambda.Runtime.NODEJS_24_X
   */
  readonly runtime?: lambda.Runtime;
  /**
   * The handler, relative to the root of the service's bundle.
   * @default "index.handler"
   */
  readonly handler?: string;
  /**
   * Memory in MB.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Timeout.
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * Reserved concurrent executions.
   * @default - unreserved
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Environment variables. Like every other setting here, a change reaches live traffic only
   * with the next pipeline deployment: CloudFormation updates the unpublished function
   * (`$LATEST`), and the `live` alias keeps serving the published version it points to.
   * @default - none
   */
  readonly environment?: { [key: string]: string };
  /**
   * X-Ray tracing of the service.
   * @default lambda.Tracing.ACTIVE
   */
  readonly tracing?: lambda.Tracing;
  /**
   * The code the function starts with, before the pipeline's first deployment. Later pipeline
   * deployments replace it; CloudFormation puts it back only if you change this prop.
   * @default - a placeholder that answers 503 "no release deployed yet"
   */
  readonly bootstrapCode?: lambda.Code;
}

/** One service of a pipeline that deploys several (`BlueGreenLambdaPipelineProps.services`). */
export interface ServiceDeploymentOptions {
  /**
   * Name of the service: lowercase letters, digits and hyphens, unique in the pipeline. Names
   * the service's function (`{serviceName}-{suffix}`), alarm and deployment group.
   */
  readonly serviceName: string;
  /**
   * Directory of the build output that holds this service's bundle (the Lambda handler file at its
   * root), relative to the repository root, for example `services/orders/dist`.
   */
  readonly bundleDirectory: string;
  /**
   * The wave the service shifts traffic in. Waves run in ascending order, the services of one wave
   * in parallel; a wave in which any service rolls back or fails stops the later waves.
   * @default 1
   */
  readonly wave?: number;
  /**
   * Settings of the service function the construct creates. Mutually exclusive with `serviceFunction`.
   * @default - Node.js 24, 512 MB, `index.handler`, a placeholder bootstrap code
   */
  readonly service?: ServiceFunctionOptions;
  /**
   * Your own function to deploy instead of creating one; it must have an explicit `functionName`.
   * @default - the construct creates the function
   */
  readonly serviceFunction?: lambda.Function;
  /**
   * How CodeDeploy shifts this service's traffic.
   * @default - the pipeline's `deploymentConfig`
   */
  readonly deploymentConfig?: codedeploy.ILambdaDeploymentConfig;
  /**
   * Error rate of the service's `live` alias, in percent, above which its deployment rolls back.
   * @default - the pipeline's `errorRateThreshold`
   */
  readonly errorRateThreshold?: number;
  /**
   * Consecutive periods above the threshold before the alarm fires.
   * @default - the pipeline's `evaluationPeriods`
   */
  readonly evaluationPeriods?: number;
  /**
   * Length of one alarm period; a whole number of minutes.
   * @default - the pipeline's `alarmPeriod`
   */
  readonly alarmPeriod?: Duration;
  /**
   * More alarms that stop and roll back this service's deployment (at most 9).
   * @default - none
   */
  readonly extraAlarms?: cloudwatch.IAlarm[];
  /**
   * Hook run before any traffic reaches the new version.
   * @default - none
   */
  readonly preTrafficHook?: TrafficHook;
  /**
   * Hook run after all traffic has moved to the new version.
   * @default - none
   */
  readonly postTrafficHook?: TrafficHook;
  /**
   * Published versions of this service to keep.
   * @default - the pipeline's `keepVersions`
   */
  readonly keepVersions?: number;
}

/** One service as the pipeline deploys it. */
export interface IServiceDeployment extends IConstruct {
  /** The service name. */
  readonly serviceName: string;
  /** The service function. */
  readonly serviceFunction: lambda.Function;
  /** The version the `live` alias was created with, before any pipeline deployment. */
  readonly bootstrapVersion: lambda.Version;
  /** The `live` alias that receives production traffic. */
  readonly alias: lambda.Alias;
  /** The error-rate alarm of the `live` alias. */
  readonly errorRateAlarm: cloudwatch.Alarm;
  /** The CodeDeploy deployment group that shifts the alias. */
  readonly deploymentGroup: codedeploy.LambdaDeploymentGroup;
  /** The wave the service shifts traffic in. */
  readonly wave: number;
  /** Where the service's bundle is in the build output (`""`: the whole output). */
  readonly bundleDirectory: string;
  /** The environment it is deployed to: an `environments[i].name`, or the pipeline's `environmentSuffix`. */
  readonly environment: string;
}
