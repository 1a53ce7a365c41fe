import {
  DeleteFunctionCommand,
  LambdaClient,
  ListAliasesCommand,
  ListVersionsByFunctionCommand,
} from '@aws-sdk/client-lambda';
import { describeError } from './codepipeline-job';

/** Versions kept when keepVersions is empty or absent. */
export const DEFAULT_KEEP_VERSIONS = 10;

/**
 * Deletes per run at most this many versions: a backlog (say, the first run after an upgrade)
 * is cleared over a few deployments instead of stretching one invocation toward its timeout.
 */
export const MAX_DELETES_PER_RUN = 25;

const VERSION_PATTERN = /^[1-9][0-9]*$/;

/**
 * The description Deploy-Blue gives each version it publishes (every release since the first
 * has used this form). Retention deletes only versions that carry it.
 */
export function pipelineVersionDescription(executionId: string, commitId?: string): string {
  return `deployment ${executionId}${commitId ? ` commit ${commitId}` : ''}`.slice(0, 256);
}

/** Whether a version's description is one {@link pipelineVersionDescription} writes. */
export function isPipelineVersion(description: string | undefined): boolean {
  return /^deployment \S+( commit \S*)?$/.test(description ?? '');
}

/** What one pruning run may delete, and what it must never touch. */
export interface RetentionRequest {
  readonly functionName: string;
  /** The keepVersions setting as text; unset or empty means {@link DEFAULT_KEEP_VERSIONS}. */
  readonly keepVersions?: string;
  /** The version this deployment shifted to; nothing newer is deleted (a later execution may have staged it). */
  readonly targetVersion: string;
  /** The version the alias served before this deployment. */
  readonly currentVersion?: string;
  /** The placeholder version the construct deployed first (the stack's AWS::Lambda::Version). */
  readonly bootstrapVersion?: string;
  /** The version the stack's AWS::Lambda::Version names, for a user's own function too. */
  readonly stackVersion?: string;
  readonly maxDeletes?: number;
}

/** What a pruning run did. */
export interface RetentionResult {
  readonly deleted: string[];
  /** Versions gone before this run could delete them (another run got there first). */
  readonly alreadyGone: string[];
  readonly failed: Array<{ readonly version: string; readonly error: string }>;
  /** Deletable versions left for a later run by {@link MAX_DELETES_PER_RUN}. */
  readonly deferred: string[];
}

/** Parses keepVersions: a whole number of at least 1, {@link DEFAULT_KEEP_VERSIONS} when unset. */
export function parseKeepVersions(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return DEFAULT_KEEP_VERSIONS;
  const keep = /^[0-9]+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isSafeInteger(keep) || keep < 1) {
    throw new Error(`keepVersions must be a whole number of versions to keep, at least 1; got "${raw}"`);
  }
  return keep;
}

interface NumberedVersion {
  readonly version: number;
  /** Whether this pipeline published it. */
  readonly published: boolean;
}

async function numberedVersions(lambda: LambdaClient, functionName: string): Promise<NumberedVersion[]> {
  const versions: NumberedVersion[] = [];
  let marker: string | undefined;
  do {
    const page = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: functionName, Marker: marker }));
    for (const fn of page.Versions ?? []) {
      // $LATEST is listed too and is never deleted.
      if (fn.Version && VERSION_PATTERN.test(fn.Version)) {
        versions.push({ version: Number(fn.Version), published: isPipelineVersion(fn.Description) });
      }
    }
    marker = page.NextMarker;
  } while (marker);
  return versions;
}

/** Every version an alias points to, including those it routes a weight of traffic to. */
async function aliasedVersions(lambda: LambdaClient, functionName: string): Promise<Set<string>> {
  const versions = new Set<string>();
  let marker: string | undefined;
  do {
    const page = await lambda.send(new ListAliasesCommand({ FunctionName: functionName, Marker: marker }));
    for (const alias of page.Aliases ?? []) {
      if (alias.FunctionVersion) versions.add(alias.FunctionVersion);
      for (const version of Object.keys(alias.RoutingConfig?.AdditionalVersionWeights ?? {})) versions.add(version);
    }
    marker = page.NextMarker;
  } while (marker);
  return versions;
}

/**
 * Keeps the newest `keepVersions` numbered versions of a function and deletes older ones, one
 * qualified DeleteFunction at a time. Only versions this pipeline published (their description,
 * {@link isPipelineVersion}) are ever deleted: the bootstrap version that the stack's
 * AWS::Lambda::Version (and its alias) reference, and versions a user published by hand or through
 * another stack resource (`fn.currentVersion`), stay even when `bootstrapVersion` is not passed.
 * Guessing it instead (say, the lowest version) would be wrong for a user's function that had
 * versions before, and would protect a random release once the real one was gone. Never deleted
 * either: $LATEST, any version an alias serves or routes to, the bootstrap version, this
 * deployment's current and target versions, and anything newer than the target. Two runs at once are harmless: a version the other run deleted first
 * answers ResourceNotFoundException, and Lambda refuses to delete a version an alias gained since
 * it was listed. Listing errors throw; a failed delete is reported in the result, not thrown.
 */
export async function pruneVersions(lambda: LambdaClient, request: RetentionRequest): Promise<RetentionResult> {
  const keep = parseKeepVersions(request.keepVersions);
  if (!VERSION_PATTERN.test(request.targetVersion)) {
    throw new Error(`targetVersion must be a published version number, got "${request.targetVersion}"`);
  }
  const target = Number(request.targetVersion);
  const all = (await numberedVersions(lambda, request.functionName)).sort((a, b) => b.version - a.version);
  const aliased = await aliasedVersions(lambda, request.functionName);
  const protectedVersions = new Set([
    ...aliased,
    request.targetVersion,
    ...(request.currentVersion ? [request.currentVersion] : []),
    ...(request.bootstrapVersion ? [request.bootstrapVersion] : []),
    ...(request.stackVersion ? [request.stackVersion] : []),
  ]);
  // Oldest first: an interrupted or bounded run leaves the newest history in place.
  const deletable = all.slice(keep)
    .filter(({ version: v, published }) => published && v < target && !protectedVersions.has(String(v)))
    .map(({ version }) => version)
    .reverse()
    .map(String);
  const maxDeletes = request.maxDeletes ?? MAX_DELETES_PER_RUN;
  const result: RetentionResult = { deleted: [], alreadyGone: [], failed: [], deferred: deletable.slice(maxDeletes) };
  for (const version of deletable.slice(0, maxDeletes)) {
    try {
      await lambda.send(new DeleteFunctionCommand({ FunctionName: request.functionName, Qualifier: version }));
      result.deleted.push(version);
    } catch (error) {
      if ((error as Error)?.name === 'ResourceNotFoundException') {
        result.alreadyGone.push(version);
      } else {
        result.failed.push({ version, error: describeError(error) });
      }
    }
  }
  return result;
}
