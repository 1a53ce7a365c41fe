import { DeploymentHistoryStore, DeploymentRecord } from './deployment-history-store';
import { historyKey } from './service-parameters';

/** What the gate needs of one Deploy-Blue job in a pipeline that promotes through several environments. */
export interface PromotionRequest {
  readonly executionId: string;
  readonly service: string;
  /** The environment this job deploys to; one of `environments`. */
  readonly environment: string;
  /** The promotion order. */
  readonly environments: readonly string[];
  /** The environments with a bake, which every item there must have passed. */
  readonly bakedEnvironments: readonly string[];
}

/**
 * Whether the execution's build may be deployed to the environment, with this service's item in
 * the first environment (when the environment is a later one and that item exists): its
 * `codeSha256` is the code every later environment must receive, its start the execution's.
 */
export type PromotionVerdict =
  | { readonly promoted: true; readonly first?: DeploymentRecord }
  | { readonly promoted: false; readonly reason: string; readonly first?: DeploymentRecord };

/** A failure reason quoted in a refusal: long ones are cut, the job message has room for several. */
function quoted(reason: string | undefined): string {
  if (!reason) return '';
  return ` (${reason.length > 300 ? `${reason.slice(0, 297)}...` : reason})`;
}

/** Why one earlier environment's item stops the build, or undefined when it passed. */
function problemOf(record: DeploymentRecord, baked: boolean): string | undefined {
  const service = record.service ?? record.deploymentId;
  switch (record.state) {
    case 'SUCCEEDED':
    case 'SKIPPED':
      break;
    case 'ROLLED_BACK':
      return record.bakeState === 'ROLLED_BACK'
        ? `${service} rolled back during its bake${quoted(record.bakeFailureReason ?? record.failureReason)}`
        : `${service} rolled back${quoted(record.failureReason)}`;
    case 'FAILED':
      return `${service} failed${quoted(record.failureReason)}`;
    case 'NOT_STARTED':
      return `${service} was not started${quoted(record.failureReason)}`;
    default:
      return `${service} has not finished (it is ${record.state ?? 'in no state'})`;
  }
  if (!baked || record.bakeState === 'PASSED') return undefined;
  switch (record.bakeState) {
    case undefined: return `${service} was not baked`;
    case 'BAKING': return `${service} is still baking`;
    case 'FAILED': return `${service} failed its bake${quoted(record.bakeFailureReason)}`;
    default: return `${service} rolled back during its bake${quoted(record.bakeFailureReason)}`;
  }
}

/**
 * The gate that remembers: a build goes to an environment only when, in every environment before it,
 * every service of the execution went live (or was live already) and, where there is a bake, passed
 * it; and this service was deployed there at all. Reads this service's own items with consistent
 * GetItems; the others come from the byExecution index (eventually consistent), and an item the
 * index shows short of passing is read again from the table before it refuses the build.
 */
export async function checkPromotion(history: DeploymentHistoryStore, request: PromotionRequest): Promise<PromotionVerdict> {
  const { executionId, service, environment, environments } = request;
  const position = environments.indexOf(environment);
  if (position <= 0) return { promoted: true };
  const listed = await history.listExecution(executionId);
  let first: DeploymentRecord | undefined;
  for (const earlier of environments.slice(0, position)) {
    const own = await history.get(historyKey(executionId, service, earlier));
    if (earlier === environments[0]) first = own;
    const baked = request.bakedEnvironments.includes(earlier);
    const problems = own ? [] : [`${service} was never deployed there`];
    // The key names the environment; the index's copy of an item may lack other attributes.
    const prefix = historyKey(executionId, '', earlier);
    const items = new Map(listed.filter((r) => r.deploymentId.startsWith(prefix)).map((r) => [r.deploymentId, r]));
    if (own) items.set(own.deploymentId, own);
    const sorted = [...items.values()].sort((a, b) => a.deploymentId.localeCompare(b.deploymentId));
    for (const listedRecord of sorted) {
      let problem = problemOf(listedRecord, baked);
      if (problem && listedRecord !== own) {
        const item = await history.get(listedRecord.deploymentId);
        if (item) problem = problemOf(item, baked);
      }
      if (problem) problems.push(problem);
    }
    if (problems.length > 0) {
      return {
        promoted: false,
        first,
        reason: `Deploy-Blue refused: this build did not pass ${earlier}: ${problems.join('; ')}; it will not be promoted to ${environment}`,
      };
    }
  }
  return { promoted: true, first };
}

/** Why a later environment's code may not be deployed: it is not the code the first environment received. */
export function differentCodeMessage(request: { service: string; environment: string }, codeSha256: string, first: DeploymentRecord): string {
  return `Deploy-Blue refused: the code of ${request.service} for ${request.environment} (CodeSha256 ${codeSha256}) is not the code ` +
    `${first.environment ?? 'the first environment'} received (CodeSha256 ${first.codeSha256}, deployment ${first.deploymentId}); ` +
    `nothing was published; it will not be promoted to ${request.environment}`;
}
