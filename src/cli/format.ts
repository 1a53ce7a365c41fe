import { DoraReport, plural } from './dora';
import { HISTORY_ATTRIBUTES, HistoryItem, timeOf } from './history-item';

/** Longest failure reason the text table shows; --json has it whole. */
export const MAX_REASON = 100;

/** `45s`, `12m 05s`, `2h 45m`, `3d 4h`: rounded to the second, two units at most. */
export function formatDuration(ms: number): string {
  if (ms < 0) return `-${formatDuration(-ms)}`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${pad(seconds % 60)}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${pad(minutes % 60)}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

/** `2025-03-05 14:00` (UTC), or `-` when absent or unreadable. */
export function formatTime(iso: string | undefined): string {
  const ms = timeOf(iso);
  return ms === undefined ? '-' : new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

/** The first 7 characters of a commit id, as git abbreviates it. */
export function shortCommit(commitId: string | undefined): string {
  return commitId ? commitId.slice(0, 7) : '-';
}

/** finishedAt - startedAt in milliseconds; undefined for a deployment still going on. */
export function durationMs(item: HistoryItem): number | undefined {
  const started = timeOf(item.startedAt);
  const finished = timeOf(item.finishedAt);
  return started === undefined || finished === undefined ? undefined : finished - started;
}

/** `3 -> 4`, with `-` for a version not recorded. */
export function formatVersions(item: HistoryItem): string {
  if (!item.currentVersion && !item.targetVersion) return '-';
  return `${item.currentVersion ?? '-'} -> ${item.targetVersion ?? '-'}`;
}

/** One line: whitespace runs become one space, and long reasons end in `...`. */
export function formatReason(reason: string | undefined, max = MAX_REASON): string {
  if (!reason) return '';
  const line = reason.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}

/** Left-aligned columns two spaces apart; the last column is not padded. */
export function alignColumns(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length); });
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd()).join('\n') + '\n';
}

export const HISTORY_HEADER = ['SERVICE', 'ENVIRONMENT', 'STATE', 'VERSIONS', 'COMMIT', 'STARTED (UTC)', 'DURATION', 'REASON'];

/** The `history` text table, in the order given (newest first). */
export function historyTable(items: HistoryItem[]): string {
  return alignColumns([HISTORY_HEADER, ...items.map((item) => {
    const ms = durationMs(item);
    return [
      item.service ?? '-',
      item.environment ?? '-',
      item.state ?? '-',
      formatVersions(item),
      shortCommit(item.commitId),
      formatTime(item.startedAt),
      ms === undefined ? '-' : formatDuration(ms),
      formatReason(item.failureReason),
    ];
  })]);
}

/** One deployment of `history --json`: the item's attributes (absent ones left out) and its duration. */
export function historyJson(item: HistoryItem): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  for (const attribute of HISTORY_ATTRIBUTES) {
    if (item[attribute] !== undefined) json[attribute] = item[attribute];
  }
  const ms = durationMs(item);
  if (ms !== undefined) json.durationSeconds = ms / 1000;
  return json;
}

/** The `dora` text report: the window, what was counted, then each measure and how it is computed. */
export function doraText(report: DoraReport): string {
  const s = report.states;
  const count = (state: string) => s[state] ?? 0;
  const inProgress = Object.entries(s)
    .filter(([state]) => !['SUCCEEDED', 'ROLLED_BACK', 'FAILED', 'SKIPPED', 'NOT_STARTED'].includes(state))
    .reduce((sum, [, n]) => sum + n, 0);
  const f = report.deploymentFrequency;
  const l = report.leadTime;
  const c = report.changeFailureRate;
  const r = report.timeToRestore;
  const seconds = (value: number | null) => (value === null ? 'n/a' : formatDuration(value * 1000));
  const lines = [
    `DORA, ${report.service ? `service ${report.service}` : 'all services'}, ${report.environment ? `environment ${report.environment}` : 'all environments'}: deployments started ${formatTime(report.since)} .. ${formatTime(report.until)} UTC (${trim(report.days)} days)`,
    `${report.items} history items: ${count('SUCCEEDED')} succeeded, ${count('ROLLED_BACK')} rolled back, ${count('FAILED')} failed; ` +
      `not deployments: ${count('SKIPPED')} skipped, ${count('NOT_STARTED')} not started, ${inProgress} in progress`,
    '',
  ];
  const measures: Array<[string, string, string]> = [
    ['Deployment frequency', `${formatRate(f.perDay)}/day (${formatRate(f.perWeek)}/week)`, f.howComputed],
    ['Median lead time', seconds(l.medianSeconds), l.howComputed],
    ['Change failure rate', c.rate === null ? 'n/a' : `${trim(c.rate * 100, 1)}% (${c.failures} of ${c.outcomes})`, c.howComputed],
    ['Mean time to restore', r.meanSeconds === null ? 'n/a' : `${seconds(r.meanSeconds)} (${plural(r.restores, 'restore')})`, r.howComputed],
  ];
  const width = Math.max(...measures.map(([name]) => name.length));
  for (const [name, value, how] of measures) {
    lines.push(`${name.padEnd(width)}  ${value}`, `${' '.repeat(width)}  how: ${how}`);
  }
  return lines.join('\n') + '\n';
}

/** A rate: two decimals from 1 up, two significant digits below (0.0047, not 0). */
export function formatRate(value: number): string {
  if (value === 0) return '0';
  return value >= 1 ? trim(value) : String(Number(value.toPrecision(2)));
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** A number with at most `digits` decimals, trailing zeros dropped. */
function trim(value: number, digits = 2): string {
  return String(Number(value.toFixed(digits)));
}
