import { InvalidJobError, PipelineJob } from './codepipeline-job';
import { LIST_SEPARATOR } from '../contract/handler-contract';

/** The UserParameters every per-service action carries. */
type ServiceParameters = {
  readonly deploymentId: string;
  readonly service: string;
  readonly wave: string;
  readonly environment?: string;
  readonly environments?: string;
};

/** Which service of which execution a job is about, and where its history lives. */
export interface ServiceInExecution {
  /** The pipeline execution id (UserParameters `deploymentId`). */
  readonly executionId: string;
  readonly service: string;
  /** The service's wave, 1 first: its runOrder in Switch-Traffic. */
  readonly wave: number;
  /** The history item's key. */
  readonly historyKey: string;
  /** The environment deployed to (UserParameters `environment`), if the job names one. */
  readonly environment?: string;
  /**
   * The pipeline's environments in promotion order, when it promotes through several
   * (UserParameters `environments`); `environment` is one of them.
   */
  readonly environments?: readonly string[];
}

/**
 * `<executionId>/<service>`: one history item per service and execution; in a pipeline with several
 * environments, `<executionId>/<environment>/<service>`: one per environment too.
 */
export function historyKey(executionId: string, service: string, environment?: string): string {
  return environment === undefined ? `${executionId}/${service}` : `${executionId}/${environment}/${service}`;
}

const VERSION_PATTERN = /^[1-9][0-9]*$/;

/**
 * Reads deploymentId, service, wave, and the environment with the promotion order; `/` would make
 * history keys ambiguous, so no id may hold one.
 */
export function serviceInExecution(job: PipelineJob<ServiceParameters>): ServiceInExecution {
  const { deploymentId: executionId, service, wave } = job.userParameters;
  const environment = job.userParameters.environment?.trim() || undefined;
  const environments = job.userParameters.environments?.split(LIST_SEPARATOR).map((e) => e.trim()).filter(Boolean);
  for (const [key, value] of [['deploymentId', executionId], ['service', service], ['environment', environment ?? '']]) {
    if (value.includes('/')) throw new InvalidJobError(`job ${job.id}: UserParameters ${key} "${value}" must not contain "/"`);
  }
  if (!VERSION_PATTERN.test(wave)) {
    throw new InvalidJobError(`job ${job.id}: UserParameters wave must be a whole number from 1 (the action's runOrder), got "${wave}"`);
  }
  if (environments && environments.length > 0) {
    if (!environment || !environments.includes(environment)) {
      throw new InvalidJobError(`job ${job.id}: UserParameters environment "${environment ?? ''}" must be one of environments "${environments.join(LIST_SEPARATOR)}"`);
    }
    return { executionId, service, wave: Number(wave), historyKey: historyKey(executionId, service, environment), environment, environments };
  }
  return { executionId, service, wave: Number(wave), historyKey: historyKey(executionId, service), ...(environment ? { environment } : {}) };
}

/** An optional version number: "" or absent means none. */
export function optionalVersion<P>(job: PipelineJob<P>, key: keyof P & string): string | undefined {
  const value = (job.userParameters as Record<string, string | undefined>)[key]?.trim();
  if (!value) return undefined;
  if (!VERSION_PATTERN.test(value)) {
    throw new InvalidJobError(`job ${job.id}: UserParameters ${key} must be a published version number or "", got "${value}"`);
  }
  return value;
}

/** An optional name: "" or absent means none. */
export function optionalName<P>(job: PipelineJob<P>, key: keyof P & string): string | undefined {
  return (job.userParameters as Record<string, string | undefined>)[key]?.trim() || undefined;
}

/**
 * ISO 8601 date and time with a zone, as CodePipeline's source actions give AuthorDate
 * (`2019-10-29T03:32:21Z`): fractions of a second and `+hh:mm`, `+hhmm` or `+hh` offsets too.
 */
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)$/i;

/** What a job's `commitTime` says: the instant (ISO 8601, UTC), or why it cannot be used. */
export type CommitTime = { readonly commitTime: string } | { readonly problem: string };

/** Milliseconds since the epoch of an ISO 8601 date and time with a zone, or of Unix seconds or milliseconds. */
function epochMsOf(value: string): number | undefined {
  if (/^\d{10}$/.test(value)) return Number(value) * 1000;
  if (/^\d{13}$/.test(value)) return Number(value);
  const match = ISO_8601.exec(value);
  if (!match) return undefined;
  const [, year, month, day, , , , , zone] = match;
  // Date.parse rolls 2019-02-30 over into March; a date that does not exist is refused instead.
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  if (date.getUTCFullYear() !== Number(year) || date.getUTCMonth() !== Number(month) - 1 || date.getUTCDate() !== Number(day)) return undefined;
  // Date.parse reads the ECMAScript subset of ISO 8601: milliseconds, and offsets as +hh:mm.
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(3).replace(':', '') || '00'}`;
  const normalized = value.slice(0, value.length - zone.length).replace(',', '.')
    .replace(/\.(\d+)$/, (_all, digits: string) => `.${digits.slice(0, 3).padEnd(3, '0')}`) + offset;
  const parsed = Date.parse(normalized);
  return Number.isFinite(parsed) ? parsed : undefined;
}

/**
 * Reads UserParameters `commitTime` (the source action's AuthorDate), for the LeadTime metric:
 * ISO 8601 with a zone, or whole Unix seconds or milliseconds. A value that cannot be read never
 * fails the job; it only means no lead time is recorded.
 * @returns undefined when the key is absent
 */
export function commitTimeOf(job: PipelineJob<{ readonly commitTime?: string }>): CommitTime | undefined {
  const raw = job.userParameters.commitTime;
  if (raw === undefined) return undefined;
  const value = raw.trim();
  if (!value) return { problem: 'commitTime is empty' };
  const epochMs = epochMsOf(value);
  if (epochMs === undefined) {
    return { problem: `commitTime "${value.slice(0, 64)}" is not an ISO 8601 date and time with a zone (such as 2019-10-29T03:32:21Z)` };
  }
  return { commitTime: new Date(epochMs).toISOString() };
}
