import { CodePipelineClient, GetPipelineExecutionCommand } from '@aws-sdk/client-codepipeline';
import { describeError } from './codepipeline-job';
import { claimLapsed, DeploymentHistoryStore, DeploymentRecord, HistoryConflictError } from './deployment-history-store';
import { inEnvironment } from './environment-scope';
import { executionStartOf } from './execution-order';
import { defaultLogger, Logger } from './logger';

/**
 * Tells whether an execution has ended: its CodePipeline status when it has, undefined while it
 * may still act on the service.
 */
export type ExecutionEnded = (executionId: string) => Promise<string | undefined>;

/** Statuses of an execution that may still run actions (PipelineExecutionStatus in the SDK model). */
const RUNNING = ['InProgress', 'Stopping'];

/**
 * Asks CodePipeline (GetPipelineExecution) whether an execution has ended. An execution CodePipeline
 * no longer knows (PipelineExecutionNotFoundException: its history is kept for 12 months) has ended.
 */
export function endedPerCodePipeline(codePipeline: CodePipelineClient, pipelineName: string): ExecutionEnded {
  return async (executionId) => {
    try {
      const { pipelineExecution } = await codePipeline.send(new GetPipelineExecutionCommand({ pipelineName, pipelineExecutionId: executionId }));
      const status = pipelineExecution?.status;
      if (!status) return undefined;
      return RUNNING.includes(status) ? undefined : status;
    } catch (error) {
      if ((error as Error)?.name === 'PipelineExecutionNotFoundException') return 'no longer known to CodePipeline';
      throw error;
    }
  };
}

/**
 * Switch-Traffic's rule, which needs no call: the construct's pipeline runs QUEUED, so while one
 * execution runs Switch-Traffic every earlier one has left that stage (finished, failed, stopped,
 * or abandoned with its running actions going on); a service it left STAGED will not be shifted
 * by it (a retried stage may still claim a NOT_STARTED item again).
 */
export const endedBeforeSwitchTraffic: ExecutionEnded = async () => 'left Switch-Traffic';

/**
 * Gives each earlier execution's item of this service in this environment (another environment's
 * items are not this stage's to judge) that can no longer move a final state, once its execution
 * has ended: STAGED becomes NOT_STARTED, a STAGING whose Deploy-Blue claim lapsed (its invocation
 * is over) becomes FAILED, each with the reason. Every write is conditional, so concurrent or
 * repeated calls change each item once.
 * @returns the items this call changed, for the caller to count and announce once
 */
export async function settleAbandonedItems(history: DeploymentHistoryStore, mine: DeploymentRecord,
  ended: ExecutionEnded, now: Date = new Date(), logger: Logger = defaultLogger()): Promise<DeploymentRecord[]> {
  const started = executionStartOf(mine);
  if (!mine.service || !started) return [];
  const candidates = (await history.listService(mine.service, { limit: 100 })).filter((r) => r.executionId
    && r.executionId !== mine.executionId
    && inEnvironment(r, mine.environment)
    // Started strictly earlier (in its first environment, for a later environment's item).
    && (executionStartOf(r) ?? started) < started
    && (!r.functionName || !mine.functionName || r.functionName === mine.functionName)
    && (r.state === 'STAGED' || (r.state === 'STAGING' && claimLapsed(r, now))));
  const statuses = new Map<string, string | undefined>();
  const changed: DeploymentRecord[] = [];
  for (const record of candidates) {
    const executionId = record.executionId!;
    if (!statuses.has(executionId)) statuses.set(executionId, await ended(executionId));
    const status = statuses.get(executionId);
    if (!status) continue;
    try {
      const result = record.state === 'STAGED'
        ? await history.transition(record.deploymentId, 'NOT_STARTED', {
          failureReason: `not started: execution ${executionId} ended (${status}) before ${mine.service} was shifted; found by execution ${mine.executionId}`,
        }, { from: ['STAGED'] })
        : await history.transition(record.deploymentId, 'FAILED', {
          failureReason: `Deploy-Blue of execution ${executionId} never finished (its claim lapsed at ${record.claimExpiresAt}; the execution ${status}); found by execution ${mine.executionId}`,
        }, { from: ['STAGING'], claimJobId: record.claimJobId });
      if (result.changed) changed.push(result.record);
    } catch (error) {
      if (!(error instanceof HistoryConflictError)) {
        logger.error('could not settle an abandoned item', { itemDeploymentId: record.deploymentId, error: describeError(error) });
      }
    }
  }
  return changed;
}
