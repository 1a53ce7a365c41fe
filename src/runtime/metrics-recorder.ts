import { Metrics } from '@aws-lambda-powertools/metrics';
import type { DeploymentRecord } from './deployment-history-store';
import { defaultLogger, Logger } from './logger';
import {
  ACCOUNT_PROPERTY,
  DEPLOYMENTS_METRIC,
  ENVIRONMENT_DIMENSION,
  DeploymentOutcome,
  LEAD_TIME_METRIC,
  METRIC_DIMENSIONS,
  METRIC_UNITS,
  METRICS_NAMESPACE,
  OUTCOME_DIMENSION,
  OUTCOME_OF_STATE,
  PIPELINE_DIMENSION,
  REGION_PROPERTY,
  SERVICE_DIMENSION,
  SHIFT_DURATION_METRIC,
  UNKNOWN_DIMENSION_VALUE,
} from '../contract/deployment-metrics';

/** Where EMF lines go: one JSON document per call, without a line break. */
export type MetricLineWriter = (line: string) => void;

/**
 * Writes the line to stdout as it is, as Powertools Metrics' own `Console` does. CloudWatch Logs
 * extracts metrics only from a log event that is the EMF document itself. Lambda's Node.js runtime
 * replaces the global console methods: in the text log format they prefix each line, in the JSON
 * log format (what the construct configures) they wrap it as the `message` of another object.
 */
export const writeToStdout: MetricLineWriter = (line) => {
  process.stdout.write(`${line}\n`);
};

/** An embedded metric format document (CloudWatch_Embedded_Metric_Format_Specification). */
export interface MetricDocument {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: ReadonlyArray<{
      readonly Namespace: string;
      readonly Dimensions: ReadonlyArray<readonly string[]>;
      readonly Metrics: ReadonlyArray<{ readonly Name: string; readonly Unit: string }>;
    }>;
  };
  readonly [member: string]: unknown;
}

/** Powertools' `logger` option: where it sends its own warnings (never the EMF lines). */
type PowertoolsLogger = NonNullable<NonNullable<ConstructorParameters<typeof Metrics>[0]>['logger']>;

/**
 * Powertools' messages go to our logger with the item they are about, except the warning our
 * dimension sets always raise: one dimension in two sets (`Outcome` in both of `Deployments`'
 * sets) is what EMF dimension sets are for.
 */
function powertoolsLogger(logger: Logger, itemDeploymentId: string): PowertoolsLogger {
  const sharedDimension = /^EMF key "[^"]*" is defined as both a dimension set and dimension set;/;
  const fields = { itemDeploymentId };
  return {
    debug: (message: unknown) => logger.debug(String(message), fields),
    info: (message: unknown) => logger.info(String(message), fields),
    warn: (message: unknown) => {
      if (!sharedDimension.test(String(message))) logger.warn(String(message), fields);
    },
    error: (message: unknown) => logger.error(String(message), fields),
  };
}

/** Milliseconds between two ISO 8601 instants; undefined when either is missing or unreadable. */
function elapsedMs(from: string | undefined, to: string | undefined): number | undefined {
  if (!from || !to) return undefined;
  const elapsed = Date.parse(to) - Date.parse(from);
  return Number.isFinite(elapsed) ? elapsed : undefined;
}

type MetricName = keyof typeof METRIC_UNITS;

/**
 * One directive built and validated by Powertools (names, units, values, dimension sets, the
 * timestamp's age): the metrics share the dimension sets of the first.
 */
function directiveDocument(metrics: Metrics, timestamp: number, values: Partial<Record<MetricName, number>>,
  dimensions: Record<string, string>, metadata: Record<string, string>): MetricDocument {
  const names = Object.keys(values) as MetricName[];
  metrics.setTimestamp(timestamp);
  // Each set is published on its own; [] is the set with no dimension.
  for (const set of METRIC_DIMENSIONS[names[0]]) {
    metrics.addDimensions(Object.fromEntries(set.map((key) => [key, dimensions[key]])));
  }
  for (const name of names) metrics.addMetric(name, METRIC_UNITS[name], values[name]!);
  for (const [key, value] of Object.entries(metadata)) metrics.addMetadata(key, value);
  try {
    return metrics.serializeMetrics() as MetricDocument;
  } finally {
    metrics.clearMetrics();
    metrics.clearDimensions();
    metrics.clearMetadata();
  }
}

/**
 * The metrics of one service deployment that ended (see `deployment-metrics.ts`), as one EMF
 * document, with notes on what could not be measured. Undefined when the record is not in a
 * final state.
 */
export function deploymentMetricsDocument(record: DeploymentRecord, fallbackTime: Date, fallbackService?: string,
  logger: Logger = defaultLogger(), pipeline?: string): { document: MetricDocument; notes: string[] } | undefined {
  const outcome: DeploymentOutcome | undefined = (OUTCOME_OF_STATE as Record<string, DeploymentOutcome>)[record.state];
  if (!outcome) return undefined;
  // `||`: Powertools drops an empty dimension, which would leave `Deployments` counted twice by Outcome alone.
  const service = record.service || fallbackService || record.deploymentId.split('/').pop() || record.deploymentId;
  const notes: string[] = [];
  const durations: Partial<Record<MetricName, number>> = {};
  if (outcome === 'Succeeded' || outcome === 'RolledBack') {
    const shift = elapsedMs(record.shiftStartedAt, record.finishedAt);
    if (shift !== undefined && shift >= 0) durations[SHIFT_DURATION_METRIC] = shift / 1000;
    else notes.push(`no ${SHIFT_DURATION_METRIC}: the record has no usable shiftStartedAt/finishedAt`);
  }
  if (outcome === 'Succeeded') {
    const lead = elapsedMs(record.commitTime, record.finishedAt);
    if (lead !== undefined && lead >= 0) durations[LEAD_TIME_METRIC] = lead / 1000;
    else if (record.commitTime) notes.push(`no ${LEAD_TIME_METRIC}: commitTime ${record.commitTime} is after finishedAt ${record.finishedAt}`);
    else notes.push(`no ${LEAD_TIME_METRIC}: the record has no commitTime`);
  }
  const finished = record.finishedAt ? Date.parse(record.finishedAt) : NaN;
  // The moment the item reached its final state, not now.
  const timestamp = Number.isFinite(finished) ? finished : fallbackTime.getTime();
  const dimensions = {
    // `||` again: an empty value would drop the dimension, and the set with it.
    [PIPELINE_DIMENSION]: pipeline || UNKNOWN_DIMENSION_VALUE,
    [ENVIRONMENT_DIMENSION]: record.environment || UNKNOWN_DIMENSION_VALUE,
    [SERVICE_DIMENSION]: service,
    [OUTCOME_DIMENSION]: outcome,
  };
  // Not dimensions: context for CloudWatch Logs Insights.
  const metadata: Record<string, string> = {
    deploymentId: record.deploymentId,
    ...(record.executionId ? { executionId: record.executionId } : {}),
    ...(record.account ? { [ACCOUNT_PROPERTY]: record.account } : {}),
    ...(record.region ? { [REGION_PROPERTY]: record.region } : {}),
  };

  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, logger: powertoolsLogger(logger, record.deploymentId) });
  metrics.clearDefaultDimensions(); // its `service` dimension is no dimension of ours
  const documents = [directiveDocument(metrics, timestamp, { [DEPLOYMENTS_METRIC]: 1 }, dimensions, metadata)];
  if (Object.keys(durations).length > 0) documents.push(directiveDocument(metrics, timestamp, durations, dimensions, metadata));
  // Powertools writes one directive per document; EMF takes several (each with its own dimension
  // sets) in one, so a deployment that ended stays one document, counted as one line.
  const document: MetricDocument = {
    ...Object.assign({}, ...documents),
    _aws: { Timestamp: timestamp, CloudWatchMetrics: documents.flatMap((d) => d._aws.CloudWatchMetrics) },
  };
  return { document, notes };
}

/**
 * Publishes the deployment metrics as EMF lines on stdout. Callers report a deployment only from
 * the invocation whose conditional write moved its history item into the final state (the
 * write's `changed`), so duplicate and concurrent deliveries count it once. Never throws: a
 * metric must not fail a deployment.
 */
export class DeploymentMetricsRecorder {
  constructor(
    private readonly write: MetricLineWriter = writeToStdout,
    private readonly now: () => Date = () => new Date(),
    private readonly logger: Logger = defaultLogger(),
    /** The pipeline's name, the Pipeline dimension. */
    private readonly pipeline?: string,
  ) {}

  /**
   * Emits `Deployments` (and `ShiftDuration`, `LeadTime` where they apply) for a record that
   * this invocation just moved into a final state.
   * @param fallbackService the service name, should the record not carry one
   * @returns the document written, or undefined
   */
  deploymentEnded(record: DeploymentRecord, fallbackService?: string): MetricDocument | undefined {
    try {
      const metrics = deploymentMetricsDocument(record, this.now(), fallbackService, this.logger, this.pipeline);
      if (!metrics) {
        this.logger.error('no deployment metrics: the record is not in a final state', { itemDeploymentId: record.deploymentId, state: record.state });
        return undefined;
      }
      this.write(JSON.stringify(metrics.document));
      if (metrics.notes.length > 0) this.logger.info('deployment metrics incomplete', { itemDeploymentId: record.deploymentId, notes: metrics.notes });
      return metrics.document;
    } catch (error) {
      this.logger.error('could not emit deployment metrics', { itemDeploymentId: record?.deploymentId, error: String(error) });
      return undefined;
    }
  }
}
