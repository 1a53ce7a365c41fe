/**
 * What the CLI reads of one deployment history item (see src/runtime/deployment-history-store.ts
 * for the writer): one service's deployment in one pipeline execution.
 */
export interface HistoryItem {
  /** `<executionId>/<service>`. */
  readonly deploymentId: string;
  readonly executionId?: string;
  readonly service?: string;
  /** The service's wave (its Switch-Traffic runOrder). */
  readonly wave?: number;
  /** STAGING, STAGED, STARTING, SHIFTING, SUCCEEDED, ROLLED_BACK, FAILED, SKIPPED or NOT_STARTED. */
  readonly state?: string;
  /** ISO 8601. */
  readonly startedAt?: string;
  readonly updatedAt?: string;
  readonly finishedAt?: string;
  readonly commitId?: string;
  /** When the commit was authored (ISO 8601); absent on items written before it was recorded. */
  readonly commitTime?: string;
  readonly repository?: string;
  readonly branch?: string;
  readonly currentVersion?: string;
  readonly targetVersion?: string;
  readonly codeDeployDeploymentId?: string;
  readonly deploymentConfig?: string;
  readonly failureReason?: string;
}

/** The attributes the CLI fetches (a projection: claims and job id sets stay on the server). */
export const HISTORY_ATTRIBUTES: ReadonlyArray<keyof HistoryItem> = [
  'deploymentId', 'executionId', 'service', 'wave', 'state', 'startedAt', 'updatedAt', 'finishedAt',
  'commitId', 'commitTime', 'repository', 'branch', 'currentVersion', 'targetVersion',
  'codeDeployDeploymentId', 'deploymentConfig', 'failureReason',
];

/** The outcomes of a traffic shift: the only states DORA counts as deployments. */
export const OUTCOME_STATES: ReadonlyArray<string> = ['SUCCEEDED', 'ROLLED_BACK', 'FAILED'];

/** Outcomes that count as a failed change. */
export const FAILURE_STATES: ReadonlyArray<string> = ['ROLLED_BACK', 'FAILED'];

/** Milliseconds since the epoch of an ISO 8601 time, or undefined when absent or unreadable. */
export function timeOf(iso: string | undefined): number | undefined {
  if (!iso) return undefined;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Newest first by startedAt; items without one go last, ties broken by deploymentId. */
export function newestFirst(a: HistoryItem, b: HistoryItem): number {
  const sa = timeOf(a.startedAt) ?? -Infinity;
  const sb = timeOf(b.startedAt) ?? -Infinity;
  if (sa !== sb) return sa < sb ? 1 : -1;
  return a.deploymentId < b.deploymentId ? -1 : a.deploymentId > b.deploymentId ? 1 : 0;
}
