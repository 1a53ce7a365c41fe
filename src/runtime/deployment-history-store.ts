import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';

/** The states of one pipeline deployment. */
export type DeploymentState = 'STAGED' | 'SHIFTING' | 'SUCCEEDED' | 'ROLLED_BACK' | 'FAILED' | 'SKIPPED';

/** Marks a state that may also be the first one of a new item. */
const NEW = 'NEW';

/**
 * Which states each state may be entered from. A retried stage starts a new attempt, so FAILED
 * and ROLLED_BACK may move on again; SUCCEEDED and SKIPPED are final.
 */
const PREDECESSORS: Record<DeploymentState, Array<DeploymentState | typeof NEW>> = {
  STAGED: [NEW, 'STAGED', 'FAILED'],
  SHIFTING: ['STAGED', 'FAILED', 'ROLLED_BACK'],
  SUCCEEDED: ['SHIFTING'],
  ROLLED_BACK: ['SHIFTING'],
  FAILED: [NEW, 'STAGED', 'SHIFTING'],
  SKIPPED: ['STAGED', 'FAILED', 'ROLLED_BACK'],
};

export const FINAL_STATES: DeploymentState[] = ['SUCCEEDED', 'SKIPPED'];

/** One item of the history table. */
export interface DeploymentRecord {
  readonly deploymentId: string;
  readonly state: DeploymentState;
  readonly service?: string;
  readonly startedAt?: string;
  readonly updatedAt?: string;
  readonly finishedAt?: string;
  readonly commitId?: string;
  readonly repository?: string;
  readonly branch?: string;
  readonly currentVersion?: string;
  readonly targetVersion?: string;
  readonly codeDeployDeploymentId?: string;
  readonly deploymentConfig?: string;
  readonly failureReason?: string;
  readonly lastJobId?: string;
}

type Attributes = Omit<Partial<DeploymentRecord>, 'deploymentId' | 'state' | 'startedAt' | 'updatedAt' | 'finishedAt'>;

/** The record after a transition, and whether this call changed it. */
export interface TransitionResult {
  readonly record: DeploymentRecord;
  readonly changed: boolean;
}

/** A transition the state machine does not allow. */
export class HistoryConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HistoryConflictError';
  }
}

/**
 * The deployment history table. Every write is conditional on the previous state, so a
 * replayed invocation is a no-op and an out-of-order one is refused instead of overwriting.
 */
export class DeploymentHistoryStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async get(deploymentId: string): Promise<DeploymentRecord | undefined> {
    const result = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { deploymentId }, ConsistentRead: true }));
    return result.Item as DeploymentRecord | undefined;
  }

  /**
   * Moves a deployment to `state`, writing `attributes` with it.
   * @returns the record after the write, and whether this call changed it
   */
  async transition(deploymentId: string, state: DeploymentState, attributes: Attributes = {}): Promise<TransitionResult> {
    const now = this.now().toISOString();
    const names: Record<string, string> = { '#state': 'state', '#updatedAt': 'updatedAt', '#startedAt': 'startedAt' };
    const values: Record<string, unknown> = { ':state': state, ':now': now };
    const sets = ['#state = :state', '#updatedAt = :now', '#startedAt = if_not_exists(#startedAt, :now)'];
    if (state !== 'STAGED' && state !== 'SHIFTING') {
      names['#finishedAt'] = 'finishedAt';
      sets.push('#finishedAt = :now');
    }
    for (const [key, value] of Object.entries(attributes)) {
      if (value === undefined) continue;
      names[`#${key}`] = key;
      values[`:${key}`] = value;
      sets.push(`#${key} = :${key}`);
    }
    const allowed = PREDECESSORS[state];
    const conditions: string[] = [];
    if (allowed.includes(NEW)) conditions.push('attribute_not_exists(deploymentId)');
    const previous = allowed.filter((s): s is DeploymentState => s !== NEW);
    previous.forEach((s, i) => { values[`:from${i}`] = s; });
    conditions.push(`#state IN (${previous.map((_, i) => `:from${i}`).join(', ')})`);

    try {
      const result = await this.client.send(new UpdateCommand({
        TableName: this.tableName,
        Key: { deploymentId },
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: conditions.join(' OR '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }));
      return { record: result.Attributes as DeploymentRecord, changed: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException) && (error as Error)?.name !== 'ConditionalCheckFailedException') throw error;
      const existing = await this.get(deploymentId);
      // A replay of a write that already happened is a no-op, as long as it says the same thing.
      const conflicting = Object.entries(attributes).filter(([key, value]) => value !== undefined
        && key !== 'lastJobId' && key !== 'failureReason'
        && (existing as any)?.[key] !== undefined && (existing as any)?.[key] !== value);
      if (existing?.state === state && (FINAL_STATES.includes(state) || conflicting.length === 0)) {
        return { record: existing, changed: false };
      }
      throw new HistoryConflictError(
        `deployment ${deploymentId} is ${existing ? existing.state : 'not recorded'}; it cannot become ${state} ` +
        `(allowed from: ${allowed.map((s) => s === NEW ? 'no record' : s).join(', ')})`);
    }
  }
}
