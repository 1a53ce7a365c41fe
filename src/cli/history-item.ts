import type { DeploymentRecord } from '../runtime/deployment-history-store';

/**
 * What the CLI reads of one deployment history item, as the handlers write it: one service's
 * deployment in one pipeline execution (claims and job id sets stay on the server).
 */
export type HistoryItem = Pick<DeploymentRecord, 'deploymentId'> & {
  /** Any state the table holds, including ones this CLI does not know yet. */
  readonly state?: string;
} & Partial<Pick<DeploymentRecord,
'executionId' | 'service' | 'environment' | 'account' | 'region' | 'wave' | 'startedAt' | 'updatedAt' | 'finishedAt' | 'commitId' | 'commitTime'
| 'repository' | 'branch' | 'currentVersion' | 'targetVersion' | 'codeDeployDeploymentId' | 'deploymentConfig' | 'failureReason'>>;

/** The attributes the CLI fetches (a projection: claims and job id sets stay on the server). */
export const HISTORY_ATTRIBUTES: ReadonlyArray<keyof HistoryItem> = [
  // account, region: where the service runs (an environment in another account or region); absent on older items.
  'deploymentId', 'executionId', 'service', 'environment', 'account', 'region', 'wave', 'state', 'startedAt', 'updatedAt', 'finishedAt',
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

/** Which items a command reads: one service, one environment, both or neither. */
export interface HistoryScope {
  readonly service?: string;
  readonly environment?: string;
}

/** Whether the item is in the scope. */
export function inScope(item: HistoryItem, scope: HistoryScope): boolean {
  return (scope.service === undefined || item.service === scope.service)
    && (scope.environment === undefined || item.environment === scope.environment);
}
