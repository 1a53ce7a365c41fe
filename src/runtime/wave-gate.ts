import { describeError } from './codepipeline-job';
import { DeploymentHistoryStore, DeploymentRecord, HistoryConflictError } from './deployment-history-store';
import { inEnvironment } from './environment-scope';
import { defaultLogger, Logger } from './logger';

/** A service whose traffic shift ended for good without going live. */
export interface StoppedService {
  readonly executionId: string;
  readonly service: string;
  readonly wave: number;
  readonly state: 'ROLLED_BACK' | 'FAILED';
  /** Its environment: only that environment's later waves stop (every environment's items share the index). */
  readonly environment?: string;
}

/** What {@link stopLaterWaves} did. */
export interface StoppedWaves {
  /** The items this call moved to NOT_STARTED (each is announced by its caller, once). */
  readonly changed: DeploymentRecord[];
  /** Every item of the execution in the environment as far as this call knows, for the notifications. */
  readonly execution: DeploymentRecord[];
}

/** Why later waves did not start: "wave 1: orders rolled back". */
export function stopReason(stopped: StoppedService): string {
  return `wave ${stopped.wave}: ${stopped.service} ${stopped.state === 'ROLLED_BACK' ? 'rolled back' : 'failed'}`;
}

/**
 * Marks every STAGED item of a later wave of the same execution and environment NOT_STARTED: CodePipeline does not
 * start a higher runOrder once an action of a lower one failed, so those services will not ship in
 * this execution. Each write is conditional on STAGED, so of concurrent or repeated calls (two
 * failures in one wave, duplicate deliveries) exactly one changes each item; an item another job
 * has claimed (STARTING) or moved on is left alone. The same and earlier waves are not touched.
 */
export async function stopLaterWaves(history: DeploymentHistoryStore, stopped: StoppedService,
  logger: Logger = defaultLogger()): Promise<StoppedWaves> {
  const listed = await history.listExecution(stopped.executionId);
  const latest = new Map<string, DeploymentRecord>();
  const changed: DeploymentRecord[] = [];
  for (let record of listed) {
    // The index may project keys only; the item itself has the rest.
    if (record.wave === undefined || record.state === undefined) {
      const item = await history.get(record.deploymentId);
      if (!item) continue;
      record = item;
    }
    if (!inEnvironment(record, stopped.environment)) continue;
    latest.set(record.deploymentId, record);
    // The index lags the table a little: an item it shows STAGING may be STAGED by now.
    if (record.wave === undefined || Number(record.wave) <= stopped.wave || !['STAGED', 'STAGING'].includes(record.state)) continue;
    try {
      const result = await history.transition(record.deploymentId, 'NOT_STARTED', { failureReason: stopReason(stopped) }, { from: ['STAGED'] });
      latest.set(record.deploymentId, result.record);
      if (result.changed) changed.push(result.record);
    } catch (error) {
      if (!(error instanceof HistoryConflictError)) {
        logger.error('could not mark NOT_STARTED', { itemDeploymentId: record.deploymentId, error: describeError(error) });
      }
    }
  }
  return { changed, execution: [...latest.values()] };
}
