import type { DeploymentRecord } from './deployment-history-store';

/**
 * Whether an item listed from the byService or byExecution index belongs to `environment`: items of
 * every environment share those indexes. An item without an environment (written before items
 * recorded one), or a caller that names none, matches: a single-environment pipeline lists as before.
 */
export function inEnvironment(record: Pick<DeploymentRecord, 'environment'>, environment: string | undefined): boolean {
  return environment === undefined || record.environment === undefined || record.environment === environment;
}
