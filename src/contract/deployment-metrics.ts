/**
 * The CloudWatch metrics the stage handlers publish (in the embedded metric format, see
 * `metrics-recorder.ts`), named once here so that the construct's dashboard and alarms use the
 * very same strings. This module imports nothing: the construct may import it.
 *
 * | metric | unit | dimension sets | emitted when |
 * |---|---|---|---|
 * | `Deployments` | Count (1) | `Pipeline, Environment, Service, Outcome`; `Pipeline, Environment, Outcome` | a service's history item reaches a final state, once |
 * | `ShiftDuration` | Seconds | `Pipeline, Environment, Service`; `Pipeline, Environment` | the traffic shift ends `Succeeded` or `RolledBack`: SHIFTING to that state |
 * | `LeadTime` | Seconds | `Pipeline, Environment, Service`; `Pipeline, Environment` | the shift ends `Succeeded`: the commit's author date to live |
 *
 * Every document also carries the properties `Account` and `Region` (where the service runs), when the
 * history item records them.
 *
 * A bake that rolls a service back after its shift succeeded reaches a second final state: its
 * `Deployments` datum says `RolledBack` (after the shift's `Succeeded`), with a `ShiftDuration` from
 * the shift's start to the end of the rollback. The history item, and so the CLI's DORA figures,
 * count the deployment once, in its last state.
 */

/** The namespace of every metric. */
export const METRICS_NAMESPACE = 'BlueGreenLambdaPipeline';

/** One per service deployment that ended, by outcome (Count; use Sum). */
export const DEPLOYMENTS_METRIC = 'Deployments';
/** From the start of the traffic shift (SHIFTING) to SUCCEEDED or ROLLED_BACK (Seconds). */
export const SHIFT_DURATION_METRIC = 'ShiftDuration';
/** From the commit's author date to the version going live (Seconds). */
export const LEAD_TIME_METRIC = 'LeadTime';

/** The pipeline (its physical name): two pipelines in one account never share a metric. */
export const PIPELINE_DIMENSION = 'Pipeline';
/** The environment the service was deployed to (the pipeline's `environmentSuffix`). */
export const ENVIRONMENT_DIMENSION = 'Environment';
/** The value of a dimension a history item written before it existed does not carry. */
export const UNKNOWN_DIMENSION_VALUE = 'unknown';
/** The service (the construct's service name, as in the history table). */
export const SERVICE_DIMENSION = 'Service';
/** How the service deployment ended: one of {@link DEPLOYMENT_OUTCOMES}. */
export const OUTCOME_DIMENSION = 'Outcome';

/**
 * Properties (not dimensions) of every document: the account and region the service is deployed to,
 * for CloudWatch Logs Insights. Dashboards and alarms key on the dimensions, which an environment
 * already separates, so an environment in another account or region changes no metric.
 */
export const ACCOUNT_PROPERTY = 'Account';
export const REGION_PROPERTY = 'Region';

/** The values of {@link OUTCOME_DIMENSION}. */
export const DEPLOYMENT_OUTCOMES = ['Succeeded', 'RolledBack', 'Failed', 'Skipped', 'NotStarted'] as const;
export type DeploymentOutcome = typeof DEPLOYMENT_OUTCOMES[number];

/** The unit of each metric, as the embedded metric format and PutMetricData name them. */
export const METRIC_UNITS = {
  [DEPLOYMENTS_METRIC]: 'Count',
  [SHIFT_DURATION_METRIC]: 'Seconds',
  [LEAD_TIME_METRIC]: 'Seconds',
} as const;

/**
 * The dimension sets each metric is published with, always within one pipeline and environment:
 * per service, and across its services (`Deployments` by outcome), so that an alarm can watch all
 * services of an environment without metric math.
 */
export const METRIC_DIMENSIONS = {
  [DEPLOYMENTS_METRIC]: [
    [PIPELINE_DIMENSION, ENVIRONMENT_DIMENSION, SERVICE_DIMENSION, OUTCOME_DIMENSION],
    [PIPELINE_DIMENSION, ENVIRONMENT_DIMENSION, OUTCOME_DIMENSION],
  ],
  [SHIFT_DURATION_METRIC]: [[PIPELINE_DIMENSION, ENVIRONMENT_DIMENSION, SERVICE_DIMENSION], [PIPELINE_DIMENSION, ENVIRONMENT_DIMENSION]],
  [LEAD_TIME_METRIC]: [[PIPELINE_DIMENSION, ENVIRONMENT_DIMENSION, SERVICE_DIMENSION], [PIPELINE_DIMENSION, ENVIRONMENT_DIMENSION]],
} as const;

/** The history state that each outcome is recorded as. */
export const OUTCOME_OF_STATE = {
  SUCCEEDED: 'Succeeded',
  ROLLED_BACK: 'RolledBack',
  FAILED: 'Failed',
  SKIPPED: 'Skipped',
  NOT_STARTED: 'NotStarted',
} as const satisfies Record<string, DeploymentOutcome>;
