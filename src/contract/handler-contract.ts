/**
 * The contract between the constructs, which configure the stage handlers, and the handlers and the
 * history CLI, which read that configuration: environment variable names, the history table's keys
 * and indexes, names AWS and the pipeline agree on, and the typed UserParameters of each action.
 * Both sides import it, so a mismatch is a compile error, not a job that fails at run time. It
 * imports nothing (the construct, the handler bundles and the CLI all load it), and a test checks
 * that none of its strings is written anywhere else in `src/`.
 */

/** Environment variables the construct sets on the stage handlers. */
export const HANDLER_ENVIRONMENT = {
  /** Deploy-Blue, Switch-Traffic and Bake: the deployment history table. */
  historyTableName: 'HISTORY_TABLE_NAME',
  /** Deploy-Blue and Switch-Traffic: the lifecycle notification topic. */
  notificationTopicArn: 'NOTIFICATION_TOPIC_ARN',
  /** Deploy-Blue: the artifact bucket, where it writes each service's bundle under {@link BUNDLES_PREFIX}. */
  artifactBucketName: 'ARTIFACT_BUCKET_NAME',
  /** Deploy-Blue and Switch-Traffic: the pipeline (a metric dimension; Deploy-Blue asks CodePipeline whether an earlier execution has ended). */
  pipelineName: 'PIPELINE_NAME',
  /** Switch-Traffic and Bake: the CodeDeploy application of the pipeline's deployment groups. */
  codeDeployApplicationName: 'CODEDEPLOY_APPLICATION_NAME',
  /** The smoke-test hook: JSON object of each service's function name to its test event. */
  smokeTestEvents: 'SMOKE_TEST_EVENTS',
  /**
   * Deploy-Blue, Switch-Traffic and Bake of a pipeline with an environment in another account or
   * region: the pipeline's ARN, the external id every deployer role requires (its trust policy's
   * `sts:ExternalId` condition), so a deployer role trusts this pipeline's handlers and no other.
   */
  pipelineArn: 'PIPELINE_ARN',
} as const;

/**
 * The name of the role a target account's {@link TARGET_PARAMETERS.deployerRoleArn} names:
 * `<pipeline>-deployer-<environment>` is fixed, so the pipeline can name it without a
 * cross-account reference, and the target's trust policy can be written before the pipeline exists.
 */
export function deployerRoleName(pipelineName: string, environment: string): string {
  return `${pipelineName}-deployer-${environment}`;
}

/** An AWS region name (`eu-west-1`): what `PipelineEnvironment.region` and the actions' `region` may be. */
export const REGION_NAME_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/**
 * UserParameters of the Deploy-Blue, Switch-Traffic and Bake actions of an environment in another
 * account or region (a `BlueGreenLambdaTarget`). Without them, the handler acts in its own
 * account and region with its own role.
 */
export const TARGET_PARAMETERS = {
  /** The target's deployer role, which the handler assumes (external id: the pipeline's ARN) to act there. */
  deployerRoleArn: 'deployerRoleArn',
  /** The target's region (clients are built for it). */
  region: 'region',
  /**
   * Deploy-Blue only: the target's bundle bucket (in the target's account and region), where the
   * deployer writes the service's bundle for UpdateFunctionCode, which reads S3 only in the
   * function's own region.
   */
  bundleBucket: 'bundleBucket',
} as const;

/**
 * The deployment history table: one item per service and execution (and environment), keyed by
 * `deploymentId`: `<execution id>/<service>`, or `<execution id>/<environment>/<service>` in a
 * pipeline that promotes through several environments; with an index for one service's items in start order and one for
 * one execution's items.
 */
export const HISTORY_TABLE = {
  partitionKey: 'deploymentId',
  byService: { indexName: 'byService', partitionKey: 'service', sortKey: 'startedAt' },
  byExecution: { indexName: 'byExecution', partitionKey: 'executionId', sortKey: 'service' },
} as const;

/** The alias every service's callers invoke, which CodeDeploy shifts. */
export const ALIAS_NAME = 'live';

/** The predefined configuration that shifts all traffic at once (a first release over the placeholder). */
export const ALL_AT_ONCE_CONFIG = 'CodeDeployDefault.LambdaAllAtOnce';

/** Where Deploy-Blue writes the bundle it cuts out of the build artifact for one service. */
export const BUNDLES_PREFIX = 'bundles/';

/**
 * The object key of one service's bundle for one execution, and for one environment in a pipeline
 * with several (`bundles/<execution>/<environment>/<service>.zip`): each environment's Deploy-Blue
 * writes its own object, so a retried stage never overwrites the one another environment deployed.
 */
export function bundleKey(executionId: string, service: string, environment?: string): string {
  return environment === undefined
    ? `${BUNDLES_PREFIX}${executionId}/${service}.zip`
    : `${BUNDLES_PREFIX}${executionId}/${environment}/${service}.zip`;
}

/**
 * The fixed stage names; users, dashboards and notifications key on them. A pipeline with several
 * environments names each environment's stages `<stage>-<environment>` ({@link environmentStageName}).
 */
export const STAGE_NAMES = {
  source: 'Source',
  build: 'Build',
  deployBlue: 'Deploy-Blue',
  approval: 'Approve',
  switchTraffic: 'Switch-Traffic',
} as const;

/** `Deploy-Blue-staging`: one of an environment's stages. */
export function environmentStageName(stage: string, environment: string): string {
  return `${stage}-${environment}`;
}

/** Separates the names in a list-valued UserParameter (`environments`, `bakedEnvironments`). */
export const LIST_SEPARATOR = ',';

/**
 * The UserParameters keys an action requires (present and non-empty) and those it may carry.
 * CodePipeline caps an action configuration value at 1000 characters: short keys, nothing extra.
 */
export interface ParameterKeys<Required extends string, Optional extends string> {
  readonly required: readonly Required[];
  readonly optional: readonly Optional[];
}

/** UserParameters, typed by their keys: every value is text. */
export type Parameters<Keys> = Keys extends ParameterKeys<infer R, infer O>
  ? { readonly [K in R]: string } & { readonly [K in O]?: string }
  : never;

/** One service's Deploy-Blue action. */
export const DEPLOY_BLUE_PARAMETERS = {
  required: ['deploymentId', 'service', 'functionName', 'aliasName', 'wave'],
  // commitTime: when the commit was authored (the source action's AuthorDate), for the LeadTime metric.
  // environment: which of the pipeline's environments the service is deployed to (history and metrics carry it).
  // environments: the promotion order ("dev,staging,prod"), set only when the pipeline has several;
  //   it puts the environment into the history key, and every earlier one is a gate.
  // bakedEnvironments: those of them with a bake, which must have passed it.
  // deployerRoleArn, region, bundleBucket: an environment in another account or region (TARGET_PARAMETERS).
  optional: ['bundleDirectory', 'commitId', 'repository', 'branch', 'commitTime', 'environment', 'environments', 'bakedEnvironments',
    'deployerRoleArn', 'region', 'bundleBucket'],
} as const satisfies ParameterKeys<string, string>;
export type DeployBlueParameters = Parameters<typeof DEPLOY_BLUE_PARAMETERS>;

/** One service's Switch-Traffic action. */
export const SWITCH_TRAFFIC_PARAMETERS = {
  required: ['deploymentId', 'service', 'targetVersion', 'functionName', 'aliasName', 'deploymentGroupName', 'wave'],
  // bootstrapVersion: set only for the construct's own placeholder, whose first release goes live at once.
  // stackVersion: the version the stack's AWS::Lambda::Version names (every function), which retention keeps.
  // environment, environments: as for Deploy-Blue (the history key).
  // deployerRoleArn, region: an environment in another account or region (TARGET_PARAMETERS).
  optional: ['deploymentConfigName', 'beforeAllowTrafficHook', 'afterAllowTrafficHook', 'bootstrapVersion', 'stackVersion', 'keepVersions',
    'environment', 'environments', 'deployerRoleArn', 'region'],
} as const satisfies ParameterKeys<string, string>;
export type SwitchTrafficParameters = Parameters<typeof SWITCH_TRAFFIC_PARAMETERS>;

/**
 * One service's Bake action, in its environment's Switch-Traffic stage after the last wave: it
 * watches the deployment group's alarms for `bakeMinutes` after the shift, and rolls the
 * environment back through CodeDeploy when one fires.
 */
export const BAKE_PARAMETERS = {
  required: ['deploymentId', 'service', 'functionName', 'aliasName', 'deploymentGroupName', 'environment', 'bakeMinutes', 'wave'],
  // minInvocations: invocations of the live alias the bake must see (an idle environment does not pass by silence); 0 by default.
  // environments: as for Deploy-Blue (the history key). Hooks: run by the rollback deployment too.
  // deployerRoleArn, region: an environment in another account or region (TARGET_PARAMETERS).
  optional: ['minInvocations', 'environments', 'beforeAllowTrafficHook', 'afterAllowTrafficHook', 'deployerRoleArn', 'region'],
} as const satisfies ParameterKeys<string, string>;
export type BakeParameters = Parameters<typeof BAKE_PARAMETERS>;

/**
 * The longest bake (`bakeMinutes`): a Lambda invoke action runs at most 24 hours, and an hour of
 * them stays for a rollback deployment and its hooks after the last minute of watching.
 */
export const MAX_BAKE_MINUTES = 23 * 60;

/** The variable a Deploy-Blue action exports: the version it published (or found live). */
export const TARGET_VERSION_VARIABLE = 'targetVersion';
