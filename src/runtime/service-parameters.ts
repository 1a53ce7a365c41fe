import { InvalidJobError, PipelineJob } from './codepipeline-job';

/**
 * The UserParameters of one service's action. One handler serves every service of a pipeline,
 * so everything per service comes from here; CodePipeline caps an action configuration value at
 * 1000 characters, hence short keys and nothing extra.
 */
export const DEPLOY_BLUE_PARAMETERS = {
  required: ['deploymentId', 'service', 'functionName', 'aliasName', 'wave'],
  optional: ['bundleDirectory', 'commitId', 'repository', 'branch'],
};

export const SWITCH_TRAFFIC_PARAMETERS = {
  required: ['deploymentId', 'service', 'targetVersion', 'functionName', 'aliasName', 'deploymentGroupName', 'wave'],
  optional: ['deploymentConfigName', 'beforeAllowTrafficHook', 'afterAllowTrafficHook', 'bootstrapVersion', 'keepVersions'],
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
}

/** `<executionId>/<service>`: one history item per service and execution. */
export function historyKey(executionId: string, service: string): string {
  return `${executionId}/${service}`;
}

const VERSION_PATTERN = /^[1-9][0-9]*$/;

/** Reads deploymentId, service and wave; `/` would make history keys ambiguous, so neither id may hold one. */
export function serviceInExecution(job: PipelineJob): ServiceInExecution {
  const { deploymentId: executionId, service, wave } = job.userParameters;
  for (const [key, value] of [['deploymentId', executionId], ['service', service]]) {
    if (value.includes('/')) throw new InvalidJobError(`job ${job.id}: UserParameters ${key} "${value}" must not contain "/"`);
  }
  if (!VERSION_PATTERN.test(wave)) {
    throw new InvalidJobError(`job ${job.id}: UserParameters wave must be a whole number from 1 (the action's runOrder), got "${wave}"`);
  }
  return { executionId, service, wave: Number(wave), historyKey: historyKey(executionId, service) };
}

/** An optional version number: "" or absent means none. */
export function optionalVersion(job: PipelineJob, key: string): string | undefined {
  const value = job.userParameters[key]?.trim();
  if (!value) return undefined;
  if (!VERSION_PATTERN.test(value)) {
    throw new InvalidJobError(`job ${job.id}: UserParameters ${key} must be a published version number or "", got "${value}"`);
  }
  return value;
}

/** An optional name: "" or absent means none. */
export function optionalName(job: PipelineJob, key: string): string | undefined {
  return job.userParameters[key]?.trim() || undefined;
}
