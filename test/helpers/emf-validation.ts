/**
 * The rules of CloudWatch's embedded metric format specification
 * (CloudWatch_Embedded_Metric_Format_Specification) that a document must meet for CloudWatch Logs
 * to extract its metrics. Returns the broken ones; [] for a valid document.
 */
export function emfProblems(document: any): string[] {
  const problems: string[] = [];
  const metadata = document?._aws;
  if (!metadata || typeof metadata !== 'object') return ['the root node has no _aws metadata object'];
  if (!Number.isInteger(metadata.Timestamp) || metadata.Timestamp <= 0) problems.push('_aws.Timestamp must be milliseconds since the epoch');
  if (!Array.isArray(metadata.CloudWatchMetrics)) return [...problems, '_aws.CloudWatchMetrics must be an array of metric directives'];
  const units = new Set(['Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes', 'Bits',
    'Kilobits', 'Megabits', 'Gigabits', 'Terabits', 'Percent', 'Count', 'Bytes/Second', 'Kilobytes/Second', 'Megabytes/Second',
    'Gigabytes/Second', 'Terabytes/Second', 'Bits/Second', 'Kilobits/Second', 'Megabits/Second', 'Gigabits/Second', 'Terabits/Second',
    'Count/Second', 'None']);
  for (const directive of metadata.CloudWatchMetrics) {
    if (typeof directive.Namespace !== 'string' || directive.Namespace.length < 1 || directive.Namespace.length > 1024) problems.push('Namespace must be 1-1024 characters');
    if (!Array.isArray(directive.Dimensions)) problems.push('Dimensions must be an array of dimension sets');
    for (const set of directive.Dimensions ?? []) {
      if (!Array.isArray(set) || set.length > 30) problems.push(`a dimension set must be an array of at most 30 keys: ${JSON.stringify(set)}`);
      for (const key of set ?? []) {
        if (typeof document[key] !== 'string' || document[key].length < 1 || document[key].length > 1024) {
          problems.push(`dimension ${key} must be a top-level string member of 1-1024 characters`);
        }
      }
    }
    if (!Array.isArray(directive.Metrics) || directive.Metrics.length > 100) problems.push('Metrics must be an array of at most 100 metric definitions');
    for (const metric of directive.Metrics ?? []) {
      if (typeof metric.Name !== 'string' || metric.Name.length < 1 || metric.Name.length > 1024) problems.push('a metric Name must be 1-1024 characters');
      if (metric.Unit !== undefined && !units.has(metric.Unit)) problems.push(`unit ${metric.Unit} is not a CloudWatch unit`);
      const value = document[metric.Name];
      const values = Array.isArray(value) ? value : [value];
      if (values.length === 0 || values.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
        problems.push(`metric ${metric.Name} must be a top-level number (or array of numbers)`);
      }
    }
  }
  return problems;
}
