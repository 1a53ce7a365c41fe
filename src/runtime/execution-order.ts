import { DeploymentHistoryStore, DeploymentRecord } from './deployment-history-store';
import { inEnvironment } from './environment-scope';

/**
 * When the item's execution reached Deploy-Blue: in its first environment (`executionStartedAt`,
 * recorded on every item of a pipeline with environments), else when the item was created.
 */
export function executionStartOf(record: DeploymentRecord): string | undefined {
  return record.executionStartedAt ?? record.startedAt;
}

/**
 * Which of two executions of one pipeline is newer, for one service: the one that reached
 * Deploy-Blue (its first environment's) later. `startedAt` is written once, by the first
 * Deploy-Blue claim of the item, and kept by every retry (`if_not_exists`); a later environment's
 * item carries its first environment's as `executionStartedAt`, because its own `startedAt` says
 * when the stage ran: a retried old execution's prod stage runs after a newer execution's. The construct runs the pipeline in QUEUED mode, where
 * each stage takes one execution at a time in the order they started, so the order in which
 * executions reach Deploy-Blue is the order of their source revisions. Published version numbers
 * are not: a retried Deploy-Blue of an older execution publishes a higher number for older code.
 * CodePipeline's ListPipelineExecutions would tell the same order, at the cost of a pipeline name,
 * a permission and paging through every execution since.
 */
export function isNewer(record: DeploymentRecord, than: DeploymentRecord): boolean {
  const started = executionStartOf(record);
  const thanStarted = executionStartOf(than);
  if (!started || !thanStarted) return false;
  return started > thanStarted || (started === thanStarted && (record.executionId ?? '') > (than.executionId ?? ''));
}

/** States of an item whose execution has moved (or is moving) the service's traffic, or found its build already live. */
const RELEASED = ['STARTING', 'SHIFTING', 'SUCCEEDED', 'SKIPPED'];

/**
 * A newer execution's item for the same service, environment and function that has shifted the
 * service, is shifting it, or found its own build live: the newest such, or undefined. Reads the
 * byService index (sorted by `startedAt`, which is never earlier than an item's execution start),
 * which lags the table a little; the claim that follows is what makes the start exclusive.
 */
export async function newerRelease(history: DeploymentHistoryStore, mine: DeploymentRecord): Promise<DeploymentRecord | undefined> {
  const started = executionStartOf(mine);
  if (!mine.service || !started) return undefined;
  const later = await history.listService(mine.service, { after: started });
  return later.find((record) => record.executionId !== mine.executionId
    && inEnvironment(record, mine.environment)
    && (!record.functionName || !mine.functionName || record.functionName === mine.functionName)
    && isNewer(record, mine)
    && RELEASED.includes(record.state));
}

/** Why an older execution may not shift: names the newer execution and its version. */
export function olderExecutionMessage(mine: DeploymentRecord, newer: DeploymentRecord): string {
  const did = newer.state === 'SUCCEEDED' ? `has already shifted ${mine.service} to version ${newer.targetVersion}`
    : newer.state === 'SKIPPED' ? `found its version ${newer.targetVersion} of ${mine.service} already live`
      : `is shifting ${mine.service} to version ${newer.targetVersion} (${newer.state})`;
  const where = mine.environment && newer.environment ? ` in ${mine.environment}` : '';
  return `Switch-Traffic refused: execution ${newer.executionId} is newer (it reached Deploy-Blue at ${executionStartOf(newer)}, ` +
    `execution ${mine.executionId} at ${executionStartOf(mine)}) and ${did}${where}; shifting to version ${mine.targetVersion} would move traffic ` +
    'back to an older build. Traffic was not changed. To ship this build, start a new pipeline execution.';
}
