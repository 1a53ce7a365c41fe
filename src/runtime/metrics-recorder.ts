import type { DeploymentRecord } from './deployment-history-store';
import { defaultLogger, Logger } from './logger';
import {
  DEPLOYMENTS_METRIC,
  DeploymentOutcome,
  LEAD_TIME_METRIC,
  METRIC_DIMENSIONS,
  METRIC_UNITS,
  METRICS_NAMESPACE,
  OUTCOME_DIMENSION,
  OUTCOME_OF_STATE,
  SERVICE_DIMENSION,
  SHIFT_DURATION_METRIC,
} from '../contract/deployment-metrics';

/** Where EMF lines go: one JSON document per call, without a line break. */
export type MetricLineWriter = (line: string) => void;

/**
 * Writes the line to stdout as it is. CloudWatch Logs extracts metrics only from a log event that
 * is the EMF document itself, with nothing before or after it. Lambda's Node.js runtime replaces
 * the console methods: in the text log format they prefix each line with time, request id and
 * level, and in the JSON log format (what the construct configures) they wrap it as the `message`
 * of another JSON object. Either hides the document, so it bypasses the console, as Powertools
 * Metrics and aws-embedded-metrics (4.1.1+, for the JSON log format) do.
 */
export const writeToStdout: MetricLineWriter = (line) => {
  process.stdout.write(`${line}\n`);
};

/** An embedded metric format document (CloudWatch_Embedded_Metric_Format_Specification). */
export interface MetricDocument {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: Array<{
      readonly Namespace: string;
      readonly Dimensions: ReadonlyArray<readonly string[]>;
      readonly Metrics: Array<{ readonly Name: string; readonly Unit: string }>;
    }>;
  };
  readonly [member: string]: unknown;
}

/** Milliseconds between two ISO 8601 instants; undefined when either is missing or unreadable. */
function elapsedMs(from: string | undefined, to: string | undefined): number | undefined {
  if (!from || !to) return undefined;
  const elapsed = Date.parse(to) - Date.parse(from);
  return Number.isFinite(elapsed) ? elapsed : undefined;
}

/**
 * The metrics of one service deployment that ended (see `deployment-metrics.ts`), as an EMF
 * document, with notes on what could not be measured. Undefined when the record is not in a
 * final state.
 */
export function deploymentMetricsDocument(record: DeploymentRecord, fallbackTime: Date, fallbackService?: string):
{ document: MetricDocument; notes: string[] } | undefined {
  const outcome: DeploymentOutcome | undefined = (OUTCOME_OF_STATE as Record<string, DeploymentOutcome>)[record.state];
  if (!outcome) return undefined;
  const service = record.service ?? fallbackService ?? record.deploymentId.split('/').pop() ?? record.deploymentId;
  const notes: string[] = [];
  const durations: Record<string, number> = {};
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
  const directives: Array<MetricDocument['_aws']['CloudWatchMetrics'][number]> = [{
    Namespace: METRICS_NAMESPACE,
    Dimensions: METRIC_DIMENSIONS[DEPLOYMENTS_METRIC].map((set) => [...set]),
    Metrics: [{ Name: DEPLOYMENTS_METRIC, Unit: METRIC_UNITS[DEPLOYMENTS_METRIC] }],
  }];
  const measured = Object.keys(durations) as Array<typeof SHIFT_DURATION_METRIC | typeof LEAD_TIME_METRIC>;
  if (measured.length > 0) {
    directives.push({
      Namespace: METRICS_NAMESPACE,
      // Both durations have the same dimension sets.
      Dimensions: METRIC_DIMENSIONS[SHIFT_DURATION_METRIC].map((set) => [...set]),
      Metrics: measured.map((name) => ({ Name: name, Unit: METRIC_UNITS[name] })),
    });
  }
  const document: MetricDocument = {
    _aws: {
      // The moment the item reached its final state; CloudWatch takes milliseconds since the epoch.
      Timestamp: Number.isFinite(finished) ? finished : fallbackTime.getTime(),
      CloudWatchMetrics: directives,
    },
    [SERVICE_DIMENSION]: service,
    [OUTCOME_DIMENSION]: outcome,
    [DEPLOYMENTS_METRIC]: 1,
    ...durations,
    // Not dimensions: context for CloudWatch Logs Insights.
    deploymentId: record.deploymentId,
    ...(record.executionId ? { executionId: record.executionId } : {}),
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
  ) {}

  /**
   * Emits `Deployments` (and `ShiftDuration`, `LeadTime` where they apply) for a record that
   * this invocation just moved into a final state.
   * @param fallbackService the service name, should the record not carry one
   * @returns the document written, or undefined
   */
  deploymentEnded(record: DeploymentRecord, fallbackService?: string): MetricDocument | undefined {
    try {
      const metrics = deploymentMetricsDocument(record, this.now(), fallbackService);
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
