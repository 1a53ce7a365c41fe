import { CodeDeployClient, DeploymentInfo, GetDeploymentCommand, ListDeploymentsCommand } from '@aws-sdk/client-codedeploy';
import { DeploymentHistoryStore, DeploymentRecord } from './deployment-history-store';
import { inEnvironment } from './environment-scope';
import { historyKey } from './service-parameters';

/** CodeDeploy's deployment statuses that hold a deployment group (DeploymentStatus in the SDK model). */
export const ACTIVE_STATUSES = ['Created', 'Queued', 'InProgress', 'Baking', 'Ready'] as const;

/** The deployment that holds a deployment group, and whose it is. */
export type ActiveDeployment =
  | { readonly kind: 'none' }
  /**
   * Started by this pipeline for `record` (an execution's item of this service); `awaited` is the
   * deployment that settles the item: the one the item records, also when the active one is
   * CodeDeploy's rollback of it.
   */
  | { readonly kind: 'pipeline'; readonly info: DeploymentInfo; readonly record: DeploymentRecord; readonly awaited: string }
  /** Started by someone else: by hand, or by another tool. */
  | { readonly kind: 'foreign'; readonly info: DeploymentInfo };

/** The description Switch-Traffic gives the deployments it creates. */
export function pipelineDeploymentDescription(executionId: string, summary: string): string {
  return `pipeline deployment ${executionId}: ${summary}`.slice(0, 256);
}

/**
 * Finds the group's active deployment (CodeDeploy runs one per group) and tells whether this
 * pipeline started it. GetDeployment's `creator` is `user` for any CreateDeployment call, ours or
 * a person's, so it cannot tell; the history does: an item of this service that recorded the
 * deployment (or the deployment a CodeDeploy rollback undoes) is ours. A description in our
 * format names the execution, for a deployment whose SHIFTING write was lost.
 */
export async function activeDeploymentOf(codeDeploy: CodeDeployClient, history: DeploymentHistoryStore, options: {
  readonly applicationName: string;
  readonly deploymentGroupName: string;
  readonly service: string;
  /** The group's environment: only its items are this group's. */
  readonly environment?: string;
  /** The pipeline's environments, when it has several: history keys then name the environment. */
  readonly environments?: readonly string[];
}): Promise<ActiveDeployment> {
  const listed = await codeDeploy.send(new ListDeploymentsCommand({
    applicationName: options.applicationName,
    deploymentGroupName: options.deploymentGroupName,
    includeOnlyStatuses: [...ACTIVE_STATUSES],
  }));
  const id = listed.deployments?.[0];
  if (!id) return { kind: 'none' };
  const { deploymentInfo: info } = await codeDeploy.send(new GetDeploymentCommand({ deploymentId: id }));
  if (!info) throw new Error(`CodeDeploy GetDeployment returned nothing for ${id}`);
  const undone = info.creator === 'codeDeployRollback' ? info.rollbackInfo?.rollbackTriggeringDeploymentId : undefined;
  const owner = undone ?? id;
  const items = (await history.listService(options.service, { limit: 50 })).filter((r) => inEnvironment(r, options.environment));
  const recorded = items.find((r) => r.codeDeployDeploymentId === owner || r.rollbackDeploymentId === id);
  if (recorded) return { kind: 'pipeline', info, record: recorded, awaited: recorded.codeDeployDeploymentId ?? owner };
  const described = /^pipeline deployment (\S+): /.exec(info.description ?? '')?.[1];
  if (described && !undone) {
    const keyEnvironment = options.environments?.length ? options.environment : undefined;
    const record = await history.get(historyKey(described, options.service, keyEnvironment));
    if (record) return { kind: 'pipeline', info, record, awaited: id };
  }
  return { kind: 'foreign', info };
}

/** Why a deployment someone else started blocks the shift, and what to do. */
export function foreignDeploymentMessage(info: DeploymentInfo, functionName: string, aliasName: string): string {
  return `deployment group ${info.deploymentGroupName} has an active CodeDeploy deployment ${info.deploymentId} (${info.status}, ` +
    `creator ${info.creator ?? 'unknown'}${info.description ? `, "${info.description}"` : ''}) that this pipeline did not start; ` +
    'CodeDeploy runs one deployment per group at a time. Let it finish, or stop it with ' +
    `"aws deploy stop-deployment --deployment-id ${info.deploymentId} --auto-rollback-enabled"; check that alias ${functionName}:${aliasName} ` +
    'serves one version, then retry the stage.';
}
