/**
 * The CloudWatch metrics the handlers' log lines carry, read as CloudWatch Logs reads them: a log
 * event is an embedded metric format (EMF) document when it is, as a whole, a JSON object with
 * `_aws.CloudWatchMetrics`; CloudWatch then publishes one datum per metric and dimension set.
 * Every document is checked against the EMF specification (`emfProblems`, shared with the unit
 * tests); a line that carries a document inside something else (a console call wrapped by
 * Lambda's runtime, a prefix) is one CloudWatch would not extract, and counts as invalid.
 */
import type { HandlerFunction } from './handler-function';
import { emfProblems } from '../helpers/emf-validation';

/** One EMF document a handler invocation wrote (or a line that tried to be one). */
export interface EmfRecord {
  readonly functionName: string;
  /** The Lambda request id of the invocation; undefined for a line outside any invocation. */
  readonly requestId?: string;
  /** The CodePipeline job or CodeDeploy deployment the invocation handled. */
  readonly jobId?: string;
  readonly line: string;
  /** The parsed document; undefined when the line is not one CloudWatch would extract. */
  readonly document?: Record<string, any>;
  /** Broken rules of the EMF specification, or why CloudWatch would not see the document; [] when valid. */
  readonly problems: string[];
}

/** One metric datum CloudWatch extracts from a document: one metric under one dimension set. */
export interface MetricDatum {
  readonly namespace: string;
  readonly metric: string;
  readonly dimensions: Record<string, string>;
  readonly value: unknown;
  readonly unit?: string;
  readonly timestamp: number;
}

/** The Deployments document of one service deployment that ended. */
export interface DeploymentMetric {
  readonly deploymentId: string;
  readonly executionId?: string;
  readonly service: string;
  readonly outcome: string;
  readonly deployments: unknown;
  readonly shiftDuration?: number;
  readonly leadTime?: number;
  readonly timestamp: number;
  readonly record: EmfRecord;
}

/**
 * What issues #10 and #16 define: the namespace, and each metric's unit and dimension sets, always
 * within one pipeline and environment.
 */
export const METRICS_CONTRACT = {
  namespace: 'BlueGreenLambdaPipeline',
  outcomes: ['Succeeded', 'RolledBack', 'Failed', 'Skipped', 'NotStarted'],
  metrics: {
    Deployments: { unit: 'Count', dimensions: [['Pipeline', 'Environment', 'Service', 'Outcome'], ['Pipeline', 'Environment', 'Outcome']] },
    ShiftDuration: { unit: 'Seconds', dimensions: [['Pipeline', 'Environment', 'Service'], ['Pipeline', 'Environment']] },
    LeadTime: { unit: 'Seconds', dimensions: [['Pipeline', 'Environment', 'Service'], ['Pipeline', 'Environment']] },
  },
} as const;

function jobIdOf(event: any): string | undefined {
  return event?.['CodePipeline.job']?.id ?? event?.DeploymentId;
}

/** The EMF document a log line is, undefined when it is none, or a problem when it hides one. */
export function readEmfLine(line: string): { document?: Record<string, any>; problems: string[] } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    parsed = undefined;
  }
  const isObject = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
  if (isObject && (parsed as any)._aws !== undefined) {
    return { document: parsed as Record<string, any>, problems: emfProblems(parsed) };
  }
  if (line.includes('CloudWatchMetrics')) {
    // A metrics document inside another log event: CloudWatch extracts nothing from it.
    const where = isObject && 'message' in (parsed as object) ? 'the message of a console log event (the runtime wrapped it)' : 'part of a longer line';
    return { problems: [`an EMF document CloudWatch would not extract: it is ${where}, not a log event of its own`] };
  }
  return undefined;
}

/** Every EMF document the handlers wrote, in invocation order, with lines outside any invocation last. */
export function emfRecords(functions: ReadonlyArray<HandlerFunction | undefined>): EmfRecord[] {
  const records: EmfRecord[] = [];
  for (const fn of functions) {
    if (!fn) continue;
    for (const invocation of fn.invocations) {
      for (const line of invocation.output) {
        const read = readEmfLine(line);
        if (read) records.push({ functionName: fn.functionName, requestId: invocation.requestId, jobId: jobIdOf(invocation.event), line, ...read });
      }
    }
    for (const stray of fn.strayLines) {
      const read = readEmfLine(stray.line);
      if (read) records.push({ functionName: fn.functionName, line: stray.line, document: read.document, problems: [...read.problems, 'written outside any invocation'] });
    }
  }
  return records;
}

/** The data CloudWatch would publish from a valid document. */
export function metricData(document: Record<string, any>): MetricDatum[] {
  const data: MetricDatum[] = [];
  for (const directive of document._aws?.CloudWatchMetrics ?? []) {
    for (const metric of directive.Metrics ?? []) {
      for (const set of directive.Dimensions ?? []) {
        data.push({
          namespace: directive.Namespace,
          metric: metric.Name,
          dimensions: Object.fromEntries((set as string[]).map((key) => [key, document[key]])),
          value: document[metric.Name],
          unit: metric.Unit,
          timestamp: document._aws.Timestamp,
        });
      }
    }
  }
  return data;
}

/** The Deployments documents among the records (one per service deployment that ended). */
export function deploymentMetrics(records: readonly EmfRecord[], executionId?: string): DeploymentMetric[] {
  return records
    .filter((r) => r.document && (r.document._aws?.CloudWatchMetrics ?? []).some((d: any) => (d.Metrics ?? []).some((m: any) => m.Name === 'Deployments')))
    .map((r) => {
      const d = r.document!;
      return {
        deploymentId: d.deploymentId,
        executionId: d.executionId,
        service: d.Service,
        outcome: d.Outcome,
        deployments: d.Deployments,
        shiftDuration: d.ShiftDuration,
        leadTime: d.LeadTime,
        timestamp: d._aws.Timestamp,
        record: r,
      };
    })
    .filter((m) => executionId === undefined || m.executionId === executionId);
}

/**
 * How a document departs from the metrics contract of issue #10 (beyond the EMF rules): its
 * namespace, metric names, units and dimension sets, the outcome, and which durations an outcome
 * carries. [] when it keeps it.
 */
export function contractProblems(document: Record<string, any>): string[] {
  const problems: string[] = [];
  const contract = METRICS_CONTRACT;
  const outcome = document.Outcome;
  if (!(contract.outcomes as readonly string[]).includes(outcome)) problems.push(`Outcome ${JSON.stringify(outcome)} is not one of ${contract.outcomes.join(', ')}`);
  if (document.Deployments !== 1) problems.push(`Deployments is ${JSON.stringify(document.Deployments)}, not 1`);
  // The template names the pipeline (PIPELINE_NAME) and the environment (UserParameters): never "unknown" here.
  for (const dimension of ['Pipeline', 'Environment']) {
    if (typeof document[dimension] !== 'string' || !document[dimension] || document[dimension] === 'unknown') {
      problems.push(`${dimension} is ${JSON.stringify(document[dimension])}, not the one the template names`);
    }
  }
  const expectDuration = (name: 'ShiftDuration' | 'LeadTime', wanted: boolean) => {
    const value = document[name];
    if (wanted && !(typeof value === 'number' && value >= 0)) problems.push(`${outcome} without a ${name} >= 0 (got ${JSON.stringify(value)})`);
    if (!wanted && value !== undefined) problems.push(`${outcome} with a ${name} (${JSON.stringify(value)})`);
  };
  expectDuration('ShiftDuration', outcome === 'Succeeded' || outcome === 'RolledBack');
  expectDuration('LeadTime', outcome === 'Succeeded');
  const service = typeof document.deploymentId === 'string' ? document.deploymentId.slice(document.deploymentId.lastIndexOf('/') + 1) : undefined;
  if (document.Service !== service) problems.push(`Service ${JSON.stringify(document.Service)} is not the service of deployment ${document.deploymentId}`);
  for (const directive of document._aws?.CloudWatchMetrics ?? []) {
    if (directive.Namespace !== contract.namespace) problems.push(`namespace ${directive.Namespace}, not ${contract.namespace}`);
    for (const metric of directive.Metrics ?? []) {
      const wanted = (contract.metrics as Record<string, { unit: string; dimensions: readonly (readonly string[])[] }>)[metric.Name];
      if (!wanted) {
        problems.push(`unknown metric ${metric.Name}`);
        continue;
      }
      if (metric.Unit !== wanted.unit) problems.push(`${metric.Name} in ${metric.Unit}, not ${wanted.unit}`);
      if (JSON.stringify(directive.Dimensions) !== JSON.stringify(wanted.dimensions)) {
        problems.push(`${metric.Name} by ${JSON.stringify(directive.Dimensions)}, not ${JSON.stringify(wanted.dimensions)}`);
      }
    }
  }
  return problems;
}

/** A datum as one line of the report. */
export function formatDatum(datum: MetricDatum): string[] {
  const dimensions = Object.entries(datum.dimensions).map(([k, v]) => `${k}=${v}`).join(', ') || '(none)';
  return [datum.namespace, datum.metric, dimensions, String(datum.value), datum.unit ?? ''];
}
