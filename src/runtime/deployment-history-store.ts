import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { HISTORY_TABLE } from '../contract/handler-contract';

/**
 * The states of one service's deployment in one pipeline execution:
 *
 *   (none) -> STAGING -> STAGED -> STARTING -> SHIFTING -> SUCCEEDED | ROLLED_BACK | FAILED
 *                                  STARTING -> SKIPPED
 *   STAGING | STARTING -> FAILED
 *   STAGED -> NOT_STARTED (an earlier wave failed, or the execution ended first) -> STARTING (a retried stage)
 *
 * STAGING and STARTING are claims: the job named in `claimJobId` owns the item until
 * `claimExpiresAt` (after which the Lambda invocation that holds it is certainly over), and only
 * that job may move it on. A claim is taken with one conditional write before any AWS side
 * effect, so duplicate or concurrent deliveries of a job act once. Each stage remembers every job
 * that ever claimed the item (`deployBlueJobIds`, `switchTrafficJobIds`): a job seen before is a
 * duplicate or a stale delivery and never claims again; a new job id is a pipeline retry.
 */
export type DeploymentState =
  | 'STAGING' | 'STAGED' | 'STARTING' | 'SHIFTING' | 'SUCCEEDED' | 'ROLLED_BACK' | 'FAILED' | 'SKIPPED' | 'NOT_STARTED';

/** The global secondary index on (executionId, service) that lists one execution's items. */
export const BY_EXECUTION_INDEX = HISTORY_TABLE.byExecution.indexName;

/** The global secondary index on (service, startedAt) that lists one service's items in the order their executions reached Deploy-Blue. */
export const BY_SERVICE_INDEX = HISTORY_TABLE.byService.indexName;

/** Marks a state that may also be the first one of a new item. */
const NEW = 'NEW';

/** States that are claims held by one job. */
export const CLAIM_STATES: ReadonlySet<DeploymentState> = new Set<DeploymentState>(['STAGING', 'STARTING']);

/**
 * Which states each state may be entered from. A retried stage starts a new attempt, so FAILED,
 * ROLLED_BACK and NOT_STARTED may be claimed again; SUCCEEDED and SKIPPED are final.
 */
const PREDECESSORS: Record<DeploymentState, Array<DeploymentState | typeof NEW>> = {
  STAGING: [NEW, 'FAILED', 'STAGING'],
  STAGED: ['STAGING'],
  STARTING: ['STAGED', 'FAILED', 'ROLLED_BACK', 'NOT_STARTED', 'STARTING'],
  SHIFTING: ['STARTING'],
  SUCCEEDED: ['SHIFTING'],
  // SUCCEEDED: a bake alarm rolled the environment back after the shift.
  ROLLED_BACK: ['SHIFTING', 'SUCCEEDED'],
  FAILED: ['STAGING', 'STARTING', 'SHIFTING'],
  SKIPPED: ['STARTING'],
  NOT_STARTED: ['STAGED'],
};

export const FINAL_STATES: DeploymentState[] = ['SUCCEEDED', 'SKIPPED'];

/** Predecessors a transition leaves only when its caller names them in `from`: only a bake rolls a SUCCEEDED item back. */
const NAMED_ONLY: Partial<Record<DeploymentState, DeploymentState[]>> = { ROLLED_BACK: ['SUCCEEDED'] };

/** One item of the history table. */
export interface DeploymentRecord {
  /** The table's key; the handlers use `<executionId>/<service>`. */
  readonly deploymentId: string;
  readonly state: DeploymentState;
  /** The pipeline execution (partition key of {@link BY_EXECUTION_INDEX}). */
  readonly executionId?: string;
  /** The service (sort key of {@link BY_EXECUTION_INDEX}). */
  readonly service?: string;
  /** The service's wave: its Switch-Traffic runOrder (a number). */
  readonly wave?: number;
  /** The environment the service is deployed to (the pipeline's environmentSuffix); absent on items older than it. */
  readonly environment?: string;
  /** The account the service is deployed to (a target's deployer role's, or the handler's own); absent on items older than it. */
  readonly account?: string;
  /** The region the service is deployed to; absent on items older than it. */
  readonly region?: string;
  readonly functionName?: string;
  readonly aliasName?: string;
  /** Where the published code came from: `s3://bucket/key`, with `?versionId=` when S3 versions it. */
  readonly codeLocation?: string;
  readonly startedAt?: string;
  readonly updatedAt?: string;
  readonly finishedAt?: string;
  /** When the traffic shift started (the SHIFTING write of the current attempt); ShiftDuration runs from it. */
  readonly shiftStartedAt?: string;
  readonly commitId?: string;
  /** When the commit was authored (ISO 8601, UTC), recorded on STAGED; LeadTime runs from it. */
  readonly commitTime?: string;
  readonly repository?: string;
  readonly branch?: string;
  readonly currentVersion?: string;
  readonly targetVersion?: string;
  readonly codeDeployDeploymentId?: string;
  readonly rollbackDeploymentId?: string;
  readonly deploymentConfig?: string;
  readonly failureReason?: string;
  readonly lastJobId?: string;
  /** The job holding a STAGING or STARTING claim. */
  readonly claimJobId?: string;
  /** When that claim lapses (ISO 8601). */
  readonly claimExpiresAt?: string;
  /** Every Deploy-Blue job that claimed this item. */
  readonly deployBlueJobIds?: Set<string>;
  /** Every Switch-Traffic job that claimed this item. */
  readonly switchTrafficJobIds?: Set<string>;
  /**
   * The code hash of the version published (or found live), as Lambda reports it; in a pipeline with
   * several environments every environment's must equal the first's.
   */
  readonly codeSha256?: string;
  /**
   * When the execution reached its first environment (that item's `startedAt`): which of two
   * executions is newer in every environment, whenever a later environment's item was created.
   */
  readonly executionStartedAt?: string;
  /** The bake after the shift, in an environment that has one. */
  readonly bakeState?: BakeState;
  readonly bakeStartedAt?: string;
  readonly bakeFinishedAt?: string;
  /** Why the bake failed or rolled the environment back. */
  readonly bakeFailureReason?: string;
  /** Invocations of the live alias the bake counted. */
  readonly bakeInvocations?: number;
  /** Every Bake job that claimed this item. */
  readonly bakeJobIds?: Set<string>;
  /** The Bake job that holds the bake now (its continuations carry its id); a retry (new job) takes it over. */
  readonly bakeJobId?: string;
  /**
   * While ROLLING_BACK and no rollback deployment is recorded: when the delivery creating it is
   * certainly over, after which another may create it.
   */
  readonly bakeClaimExpiresAt?: string;
  /**
   * While STARTING: the earlier execution's CodeDeploy deployment this item waits for (it holds the
   * deployment group); whoever clears it with a conditional write starts the shift.
   */
  readonly awaitingDeploymentId?: string;
}

/**
 * The bake of one service in one environment: BAKING (watching) -> PASSED, or -> ROLLING_BACK (an
 * alarm fired, or another service of the environment rolled back) -> ROLLED_BACK | FAILED (the
 * rollback failed), or -> FAILED (too few invocations, or a newer execution took over).
 */
export type BakeState = 'BAKING' | 'PASSED' | 'ROLLING_BACK' | 'ROLLED_BACK' | 'FAILED';

/** The attributes a caller may write. */
export type Attributes = Omit<Partial<DeploymentRecord>,
'deploymentId' | 'state' | 'startedAt' | 'updatedAt' | 'finishedAt' | 'shiftStartedAt' | 'claimJobId' | 'claimExpiresAt' | 'deployBlueJobIds' | 'switchTrafficJobIds'
| 'awaitingDeploymentId'>;

/** The attributes that hold the job ids of each stage's claims. */
export type JobSetAttribute = 'deployBlueJobIds' | 'switchTrafficJobIds';

/** The record after a transition, and whether this call changed it. */
export interface TransitionResult {
  readonly record: DeploymentRecord;
  readonly changed: boolean;
}

/** Options of {@link DeploymentHistoryStore.transition}. */
export interface TransitionOptions {
  /** The states this write may leave; a subset of what the state machine allows. */
  readonly from?: DeploymentState[];
  /** The job holding the claim; without it, no claim state can be left. */
  readonly claimJobId?: string;
  /** Attributes the item must already have with exactly these values. */
  readonly matching?: Partial<Record<keyof DeploymentRecord, string>>;
}

/** What a stage asks for when it claims an item. */
export interface ClaimRequest {
  readonly state: 'STAGING' | 'STARTING';
  readonly jobId: string;
  /** Where this stage records the jobs that claimed the item. */
  readonly jobSet: JobSetAttribute;
  /** The unclaimed states the claim may be taken from. */
  readonly from: Array<DeploymentState | typeof NEW>;
  /** How long the claim holds; past it, Lambda's retry of the same event (or a new job) may take over. */
  readonly holdMs: number;
  readonly attributes?: Attributes;
  /** Attributes the item must already have with exactly these values. */
  readonly matching?: Partial<Record<keyof DeploymentRecord, string>>;
  /** Attributes the item must not have. */
  readonly absent?: Array<keyof DeploymentRecord>;
}

/** The outcome of a claim: the record, and whether this job now holds it. */
export type ClaimResult =
  | { readonly claimed: true; readonly record: DeploymentRecord }
  | { readonly claimed: false; readonly record?: DeploymentRecord };

/** A transition the state machine does not allow. */
export class HistoryConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HistoryConflictError';
  }
}

function isConditionalCheckFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException || (error as Error)?.name === 'ConditionalCheckFailedException';
}

/** Parenthesises a compound term; DynamoDB rejects parentheses around a single one as redundant. */
function term(expression: string): string {
  return / (AND|OR) /.test(expression) ? `(${expression})` : expression;
}
const anyOf = (terms: string[]) => terms.length === 1 ? terms[0] : terms.map(term).join(' OR ');
const allOf = (terms: string[]) => terms.length === 1 ? terms[0] : terms.map(term).join(' AND ');

/** Collects the names and values of one update expression. */
class Expression {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private counter = 0;

  name(attribute: string): string {
    const placeholder = `#${attribute}`;
    this.names[placeholder] = attribute;
    return placeholder;
  }

  value(value: unknown): string {
    const placeholder = `:v${this.counter++}`;
    this.values[placeholder] = value;
    return placeholder;
  }
}

/**
 * The deployment history table. Every write is conditional on the previous state (and, for a
 * claimed item, on the claiming job), so a replayed invocation is a no-op and an out-of-order one
 * is refused instead of overwriting. Nothing here knows how item keys are made.
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
   * Every item of one execution, by service, from {@link BY_EXECUTION_INDEX}. A global secondary
   * index is read eventually consistent (Query rejects ConsistentRead on one), so callers act on
   * these items only through conditional writes.
   * @param pageSize items per Query call (DynamoDB pages at 1 MB otherwise)
   */
  async listExecution(executionId: string, pageSize?: number): Promise<DeploymentRecord[]> {
    const items: DeploymentRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(new QueryCommand({
        TableName: this.tableName,
        IndexName: BY_EXECUTION_INDEX,
        KeyConditionExpression: '#executionId = :executionId',
        ExpressionAttributeNames: { '#executionId': HISTORY_TABLE.byExecution.partitionKey },
        ExpressionAttributeValues: { ':executionId': executionId },
        ExclusiveStartKey: startKey,
        Limit: pageSize,
      }));
      items.push(...(page.Items ?? []) as DeploymentRecord[]);
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  /**
   * One service's items whose `startedAt` is later than `after` (all of them without it), newest
   * first, from {@link BY_SERVICE_INDEX}: eventually consistent, like every index read.
   * @param limit stop after this many items
   */
  async listService(service: string, options: { after?: string; limit?: number } = {}): Promise<DeploymentRecord[]> {
    const items: DeploymentRecord[] = [];
    const limit = options.limit ?? 200;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(new QueryCommand({
        TableName: this.tableName,
        IndexName: BY_SERVICE_INDEX,
        KeyConditionExpression: options.after ? '#service = :service AND #startedAt > :after' : '#service = :service',
        ExpressionAttributeNames: { '#service': HISTORY_TABLE.byService.partitionKey, ...(options.after ? { '#startedAt': HISTORY_TABLE.byService.sortKey } : {}) },
        ExpressionAttributeValues: { ':service': service, ...(options.after ? { ':after': options.after } : {}) },
        ScanIndexForward: false,
        ExclusiveStartKey: startKey,
        Limit: Math.min(limit - items.length, 100),
      }));
      items.push(...(page.Items ?? []) as DeploymentRecord[]);
      startKey = page.LastEvaluatedKey;
    } while (startKey && items.length < limit);
    return items;
  }

  /**
   * Records that the STARTING item `jobId` holds waits for another execution's CodeDeploy
   * deployment, and extends the claim by `holdMs`.
   * @returns false when the job no longer holds the claim
   */
  async awaitDeployment(deploymentId: string, jobId: string, codeDeployDeploymentId: string, holdMs: number): Promise<boolean> {
    const now = this.now();
    try {
      await this.client.send(new UpdateCommand({
        TableName: this.tableName,
        Key: { deploymentId },
        UpdateExpression: 'SET #awaiting = :awaiting, #claimExpiresAt = :expires, #updatedAt = :now, #lastJobId = :job',
        ConditionExpression: '#state = :starting AND #claimJobId = :job',
        ExpressionAttributeNames: {
          '#awaiting': 'awaitingDeploymentId',
          '#claimExpiresAt': 'claimExpiresAt',
          '#updatedAt': 'updatedAt',
          '#lastJobId': 'lastJobId',
          '#state': 'state',
          '#claimJobId': 'claimJobId',
        },
        ExpressionAttributeValues: {
          ':awaiting': codeDeployDeploymentId,
          ':expires': new Date(now.getTime() + holdMs).toISOString(),
          ':now': now.toISOString(),
          ':job': jobId,
          ':starting': 'STARTING',
        },
      }));
      return true;
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw error;
      return false;
    }
  }

  /**
   * Takes the STARTING claim of an item that waited for `awaited` (which has ended) for `jobId`, a
   * continuation job: of concurrent deliveries exactly one clears `awaitingDeploymentId` and
   * starts; a lapsed claim of the same job (its holder died) may be taken again.
   */
  async resumeAfterWait(deploymentId: string, jobId: string, awaited: string, holdMs: number): Promise<ClaimResult> {
    const now = this.now();
    try {
      const result = await this.client.send(new UpdateCommand({
        TableName: this.tableName,
        Key: { deploymentId },
        UpdateExpression: 'SET #claimJobId = :job, #claimExpiresAt = :expires, #updatedAt = :now, #lastJobId = :job '
          + 'REMOVE #awaiting ADD #jobs :jobs',
        ConditionExpression: '#state = :starting AND (#awaiting = :awaited OR (#claimJobId = :job AND #claimExpiresAt < :now))',
        ExpressionAttributeNames: {
          '#awaiting': 'awaitingDeploymentId',
          '#claimExpiresAt': 'claimExpiresAt',
          '#updatedAt': 'updatedAt',
          '#lastJobId': 'lastJobId',
          '#state': 'state',
          '#claimJobId': 'claimJobId',
          '#jobs': 'switchTrafficJobIds',
        },
        ExpressionAttributeValues: {
          ':awaited': awaited,
          ':expires': new Date(now.getTime() + holdMs).toISOString(),
          ':now': now.toISOString(),
          ':job': jobId,
          ':starting': 'STARTING',
          ':jobs': new Set([jobId]),
        },
        ReturnValues: 'ALL_NEW',
      }));
      return { claimed: true, record: result.Attributes as DeploymentRecord };
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw error;
      return { claimed: false, record: await this.get(deploymentId) };
    }
  }

  /**
   * Takes a STAGING or STARTING claim for `jobId`: from one of `from` if this job never claimed the
   * item before, or from a lapsed claim of the same state if the job is the one that held it (a
   * retried invocation) or a new one. Refused claims return the record as it is.
   */
  async claim(deploymentId: string, request: ClaimRequest): Promise<ClaimResult> {
    const now = this.now();
    const e = new Expression();
    const state = e.name('state');
    const jobSet = e.name(request.jobSet);
    const claimJobId = e.name('claimJobId');
    const claimExpiresAt = e.name('claimExpiresAt');
    const job = e.value(request.jobId);
    const nowValue = e.value(now.toISOString());
    const neverClaimedByThisJob = `NOT contains(${jobSet}, ${job})`;

    const unclaimed = request.from.filter((s): s is DeploymentState => s !== NEW && !CLAIM_STATES.has(s));
    const branches: string[] = [];
    if (request.from.includes(NEW)) branches.push('attribute_not_exists(deploymentId)');
    if (unclaimed.length > 0) {
      branches.push(`${state} IN (${unclaimed.map((s) => e.value(s)).join(', ')}) AND ${neverClaimedByThisJob}`);
    }
    if (request.from.includes(request.state)) {
      branches.push(`${state} = ${e.value(request.state)} AND ${claimExpiresAt} < ${nowValue} ` +
        `AND (${claimJobId} = ${job} OR ${neverClaimedByThisJob})`);
    }
    const guards = [
      ...Object.entries(request.matching ?? {}).map(([key, value]) => `${e.name(key)} = ${e.value(value)}`),
      ...(request.absent ?? []).map((key) => `attribute_not_exists(${e.name(key)})`),
    ];
    const condition = allOf([anyOf(branches), ...guards]);

    const sets = [
      `${state} = ${e.value(request.state)}`,
      `${claimJobId} = ${job}`,
      `${claimExpiresAt} = ${e.value(new Date(now.getTime() + request.holdMs).toISOString())}`,
      `${e.name('lastJobId')} = ${job}`,
      `${e.name('updatedAt')} = ${nowValue}`,
      `${e.name('startedAt')} = if_not_exists(${e.name('startedAt')}, ${nowValue})`,
    ];
    for (const [key, value] of Object.entries(request.attributes ?? {})) {
      if (value !== undefined && key !== 'lastJobId') sets.push(`${e.name(key)} = ${e.value(value)}`);
    }
    // A new attempt: the last attempt's outcome no longer describes the item.
    const removes = [e.name('failureReason'), e.name('finishedAt'), e.name('shiftStartedAt'), e.name('awaitingDeploymentId')];

    try {
      const result = await this.client.send(new UpdateCommand({
        TableName: this.tableName,
        Key: { deploymentId },
        UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removes.join(', ')} ADD ${jobSet} ${e.value(new Set([request.jobId]))}`,
        ConditionExpression: condition,
        ExpressionAttributeNames: e.names,
        ExpressionAttributeValues: e.values,
        ReturnValues: 'ALL_NEW',
      }));
      return { claimed: true, record: result.Attributes as DeploymentRecord };
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw error;
      return { claimed: false, record: await this.get(deploymentId) };
    }
  }

  /**
   * Moves a deployment to `state`, writing `attributes` with it. Leaving a claim state needs the
   * claiming job's id, and clears the claim.
   * @returns the record after the write, and whether this call changed it
   */
  async transition(deploymentId: string, state: DeploymentState, attributes: Attributes = {},
    options: TransitionOptions = {}): Promise<TransitionResult> {
    if (CLAIM_STATES.has(state)) throw new Error(`${state} is a claim; take it with claim(), not transition()`);
    const allowed = PREDECESSORS[state].filter((s): s is DeploymentState => s !== NEW);
    const from = options.from ?? allowed.filter((s) => !NAMED_ONLY[state]?.includes(s));
    const illegal = from.filter((s) => !allowed.includes(s));
    if (illegal.length > 0) throw new Error(`${state} cannot be entered from ${illegal.join(', ')} (allowed from: ${allowed.join(', ')})`);

    const now = this.now().toISOString();
    const e = new Expression();
    const stateName = e.name('state');
    const nowValue = e.value(now);
    const sets = [
      `${stateName} = ${e.value(state)}`,
      `${e.name('updatedAt')} = ${nowValue}`,
      `${e.name('startedAt')} = if_not_exists(${e.name('startedAt')}, ${nowValue})`,
    ];
    if (state !== 'STAGED' && state !== 'SHIFTING') sets.push(`${e.name('finishedAt')} = ${nowValue}`);
    if (state === 'SHIFTING') sets.push(`${e.name('shiftStartedAt')} = ${nowValue}`);
    for (const [key, value] of Object.entries(attributes)) {
      if (value !== undefined) sets.push(`${e.name(key)} = ${e.value(value)}`);
    }
    const branches: string[] = [];
    for (const s of from) {
      if (!CLAIM_STATES.has(s)) {
        branches.push(`${stateName} = ${e.value(s)}`);
      } else if (options.claimJobId) {
        branches.push(`${stateName} = ${e.value(s)} AND ${e.name('claimJobId')} = ${e.value(options.claimJobId)}`);
      }
    }
    if (branches.length === 0) throw new Error(`${state} can only be entered from a claim here; pass the claiming job id`);
    const guards = Object.entries(options.matching ?? {}).map(([key, value]) => `${e.name(key)} = ${e.value(value)}`);
    const condition = allOf([anyOf(branches), ...guards]);
    const removes = [e.name('claimJobId'), e.name('claimExpiresAt'), e.name('awaitingDeploymentId')];

    try {
      const result = await this.client.send(new UpdateCommand({
        TableName: this.tableName,
        Key: { deploymentId },
        UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`,
        ConditionExpression: condition,
        ExpressionAttributeNames: e.names,
        ExpressionAttributeValues: e.values,
        ReturnValues: 'ALL_NEW',
      }));
      return { record: result.Attributes as DeploymentRecord, changed: true };
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw error;
      const existing = await this.get(deploymentId);
      // A replay of a write that already happened is a no-op, as long as it says the same thing.
      const expected: Record<string, unknown> = { ...options.matching, ...attributes };
      const conflicting = Object.entries(expected).filter(([key, value]) => value !== undefined
        && key !== 'lastJobId' && key !== 'failureReason'
        && (existing as any)?.[key] !== undefined && (existing as any)?.[key] !== value);
      if (existing?.state === state && (FINAL_STATES.includes(state) || conflicting.length === 0)) {
        return { record: existing, changed: false };
      }
      const holder = existing && CLAIM_STATES.has(existing.state) ? ` (claimed by job ${existing.claimJobId})` : '';
      throw new HistoryConflictError(
        `deployment ${deploymentId} is ${existing ? existing.state : 'not recorded'}${holder}; it cannot become ${state} ` +
        `(allowed from: ${from.join(', ')}${options.matching ? ` with ${JSON.stringify(options.matching)}` : ''})`);
    }
  }

  /**
   * Takes the bake of a SUCCEEDED or SKIPPED item for `jobId`: when no bake has started, or when
   * a bake that has not ended (BAKING, ROLLING_BACK) is held by a job that is over (a retried
   * action is a new job; `jobId` never held the bake before). The bake's start is kept. A refused
   * claim returns the record as it is.
   */
  async claimBake(deploymentId: string, jobId: string): Promise<ClaimResult> {
    const now = this.now().toISOString();
    try {
      const result = await this.client.send(new UpdateCommand({
        TableName: this.tableName,
        Key: { deploymentId },
        UpdateExpression: 'SET #bakeState = if_not_exists(#bakeState, :baking), #bakeStartedAt = if_not_exists(#bakeStartedAt, :now), '
          + '#bakeJobId = :job, #updatedAt = :now, #lastJobId = :job ADD #bakeJobIds :jobs',
        ConditionExpression: '#state IN (:succeeded, :skipped) AND (attribute_not_exists(#bakeState) '
          + 'OR (#bakeState IN (:baking, :rollingBack) AND NOT contains(#bakeJobIds, :job)))',
        ExpressionAttributeNames: {
          '#state': 'state',
          '#bakeState': 'bakeState',
          '#bakeStartedAt': 'bakeStartedAt',
          '#bakeJobId': 'bakeJobId',
          '#bakeJobIds': 'bakeJobIds',
          '#updatedAt': 'updatedAt',
          '#lastJobId': 'lastJobId',
        },
        ExpressionAttributeValues: {
          ':baking': 'BAKING' satisfies BakeState,
          ':rollingBack': 'ROLLING_BACK' satisfies BakeState,
          ':succeeded': 'SUCCEEDED' satisfies DeploymentState,
          ':skipped': 'SKIPPED' satisfies DeploymentState,
          ':now': now,
          ':job': jobId,
          ':jobs': new Set([jobId]),
        },
        ReturnValues: 'ALL_NEW',
      }));
      return { claimed: true, record: result.Attributes as DeploymentRecord };
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw error;
      return { claimed: false, record: await this.get(deploymentId) };
    }
  }

  /**
   * BAKING -> ROLLING_BACK, for the job holding the bake, with the reason; the delivery whose
   * write this is creates the rollback deployment, and holds that for `holdMs`.
   * @returns changed false (and the record as it is) when another delivery moved the bake first
   */
  async startBakeRollback(deploymentId: string, jobId: string, reason: string, holdMs: number): Promise<TransitionResult> {
    const now = this.now();
    return this.bakeUpdate(deploymentId, {
      set: {
        bakeState: 'ROLLING_BACK' satisfies BakeState,
        bakeFailureReason: reason,
        bakeClaimExpiresAt: new Date(now.getTime() + holdMs).toISOString(),
        lastJobId: jobId,
      },
      condition: '#bakeState = :from AND #bakeJobId = :job',
      values: { ':from': 'BAKING' satisfies BakeState, ':job': jobId },
    });
  }

  /**
   * Takes over creating the rollback deployment of a ROLLING_BACK bake that has none recorded,
   * once the delivery that was to create it is certainly over (`bakeClaimExpiresAt` has passed).
   */
  async retakeBakeRollback(deploymentId: string, jobId: string, holdMs: number): Promise<TransitionResult> {
    const now = this.now();
    return this.bakeUpdate(deploymentId, {
      set: { bakeClaimExpiresAt: new Date(now.getTime() + holdMs).toISOString(), lastJobId: jobId },
      condition: '#bakeState = :from AND #bakeJobId = :job AND attribute_not_exists(#rollbackDeploymentId) AND #bakeClaimExpiresAt < :now',
      values: { ':from': 'ROLLING_BACK' satisfies BakeState, ':job': jobId },
    });
  }

  /** Records the rollback deployment the bake's holder created (once). */
  async recordBakeRollback(deploymentId: string, jobId: string, rollbackDeploymentId: string): Promise<TransitionResult> {
    return this.bakeUpdate(deploymentId, {
      set: { rollbackDeploymentId, lastJobId: jobId },
      remove: ['bakeClaimExpiresAt'],
      condition: '#bakeState = :from AND #bakeJobId = :job AND attribute_not_exists(#rollbackDeploymentId)',
      values: { ':from': 'ROLLING_BACK' satisfies BakeState, ':job': jobId },
    });
  }

  /**
   * Ends the bake `jobId` holds: PASSED or FAILED, from the bake states in `from` (a rollback
   * that failed ends FAILED from ROLLING_BACK, only for its recorded deployment).
   */
  async endBake(deploymentId: string, jobId: string, bakeState: 'PASSED' | 'FAILED', options: {
    readonly from: BakeState[];
    readonly bakeFailureReason?: string;
    readonly bakeInvocations?: number;
    readonly rollbackDeploymentId?: string;
  }): Promise<TransitionResult> {
    const values: Record<string, unknown> = { ':job': jobId };
    options.from.forEach((state, i) => { values[`:from${i}`] = state; });
    return this.bakeUpdate(deploymentId, {
      set: {
        bakeState,
        bakeFinishedAt: this.now().toISOString(),
        bakeFailureReason: options.bakeFailureReason,
        bakeInvocations: options.bakeInvocations,
        lastJobId: jobId,
      },
      remove: ['bakeClaimExpiresAt'],
      condition: `#bakeState IN (${options.from.map((_, i) => `:from${i}`).join(', ')}) AND #bakeJobId = :job`
        + (options.rollbackDeploymentId ? ' AND #rollbackDeploymentId = :rollback' : ''),
      values: { ...values, ...(options.rollbackDeploymentId ? { ':rollback': options.rollbackDeploymentId } : {}) },
      ended: bakeState,
    });
  }

  /**
   * A bake's rollback has put the service back on the version it served before: the item
   * SUCCEEDED -> ROLLED_BACK (with `rollbackDeploymentId`, the deployment that did it) and its bake
   * ROLLED_BACK. A SKIPPED item moved no traffic, so there is nothing to deploy: it stays SKIPPED,
   * its bake ROLLED_BACK (for the job holding it).
   */
  async finishBakeRollback(deploymentId: string, jobId: string,
    options: { readonly rollbackDeploymentId?: string; readonly failureReason: string }): Promise<TransitionResult> {
    const now = this.now().toISOString();
    const deployed = options.rollbackDeploymentId !== undefined;
    if (deployed && !PREDECESSORS.ROLLED_BACK.includes('SUCCEEDED')) throw new Error('ROLLED_BACK cannot be entered from SUCCEEDED');
    return this.bakeUpdate(deploymentId, {
      set: {
        ...(deployed ? { state: 'ROLLED_BACK' satisfies DeploymentState, finishedAt: now, failureReason: options.failureReason } : {}),
        bakeState: 'ROLLED_BACK' satisfies BakeState,
        bakeFinishedAt: now,
        lastJobId: jobId,
      },
      remove: ['bakeClaimExpiresAt'],
      condition: deployed
        ? '#state = :state AND #bakeState = :from AND #rollbackDeploymentId = :rollback'
        : '#state = :state AND #bakeState = :from AND #bakeJobId = :job',
      values: {
        ':from': 'ROLLING_BACK' satisfies BakeState,
        ':state': (deployed ? 'SUCCEEDED' : 'SKIPPED') satisfies DeploymentState,
        ...(deployed ? { ':rollback': options.rollbackDeploymentId } : { ':job': jobId }),
      },
      ended: 'ROLLED_BACK',
    });
  }

  /**
   * One conditional write of the bake's attributes (`#name` in the condition is the attribute
   * `name`, values are the caller's). When the condition fails, the record as it is, unchanged;
   * with `ended`, a bake already in that state is a replay, and anything else a conflict.
   */
  private async bakeUpdate(deploymentId: string, update: {
    readonly set: Record<string, unknown>;
    readonly remove?: string[];
    readonly condition: string;
    readonly values: Record<string, unknown>;
    readonly ended?: BakeState;
  }): Promise<TransitionResult> {
    const now = this.now().toISOString();
    const set = Object.entries({ ...update.set, updatedAt: now }).filter(([, value]) => value !== undefined);
    const names: Record<string, string> = {};
    for (const name of [...set.map(([key]) => key), ...(update.remove ?? []), ...(update.condition.match(/#\w+/g) ?? []).map((n) => n.slice(1))]) {
      names[`#${name}`] = name;
    }
    const values: Record<string, unknown> = { ...update.values, ':now': now };
    set.forEach(([, value], i) => { values[`:set${i}`] = value; });
    try {
      const result = await this.client.send(new UpdateCommand({
        TableName: this.tableName,
        Key: { deploymentId },
        UpdateExpression: `SET ${set.map(([key], i) => `#${key} = :set${i}`).join(', ')}`
          + (update.remove?.length ? ` REMOVE ${update.remove.map((key) => `#${key}`).join(', ')}` : ''),
        ConditionExpression: update.condition,
        ExpressionAttributeNames: names,
        // DynamoDB rejects a value no expression uses.
        ExpressionAttributeValues: Object.fromEntries(Object.entries(values).filter(([key]) =>
          key.startsWith(':set') || new RegExp(`${key}\\b`).test(update.condition))),
        ReturnValues: 'ALL_NEW',
      }));
      return { record: result.Attributes as DeploymentRecord, changed: true };
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw error;
      const existing = await this.get(deploymentId);
      if (!existing) throw new HistoryConflictError(`deployment ${deploymentId} is not recorded`);
      if (update.ended && existing.bakeState !== update.ended) {
        throw new HistoryConflictError(`the bake of deployment ${deploymentId} is ${existing.bakeState ?? 'not started'} `
          + `(job ${existing.bakeJobId ?? 'none'}); it cannot become ${update.ended}`);
      }
      return { record: existing, changed: false };
    }
  }
}

/** Whether a claim has lapsed at `now`. */
export function claimLapsed(record: DeploymentRecord, now: Date): boolean {
  return !record.claimExpiresAt || record.claimExpiresAt < now.toISOString();
}

/** Whether `jobId` ever claimed the item for the stage that keeps `jobSet`. */
export function claimedBefore(record: DeploymentRecord, jobSet: JobSetAttribute, jobId: string): boolean {
  return record[jobSet]?.has(jobId) ?? false;
}
