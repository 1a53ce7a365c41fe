import { FAILURE_STATES, HistoryItem, HistoryScope, inScope, OUTCOME_STATES, timeOf } from './history-item';

const DAY_MS = 86_400_000;

/** The window DORA looks at: deployments whose startedAt is in [since, until]. */
export interface DoraWindow {
  readonly since: Date;
  readonly until: Date;
}

/** How many items of the window are in each state (states never seen are absent). */
export type StateCounts = Record<string, number>;

export interface DeploymentFrequency {
  /** SUCCEEDED deployments started in the window. */
  readonly successful: number;
  readonly perDay: number;
  readonly perWeek: number;
  readonly howComputed: string;
}

export interface LeadTime {
  /** Median of commitTime -> finishedAt over SUCCEEDED deployments, in seconds; null when none could be measured. */
  readonly medianSeconds: number | null;
  /** SUCCEEDED deployments with both a commit time and a finish time. */
  readonly measured: number;
  /** SUCCEEDED deployments without a (readable) commit time, left out of the median. */
  readonly withoutCommitTime: number;
  readonly howComputed: string;
}

export interface ChangeFailureRate {
  /** failures / outcomes, between 0 and 1; null when no deployment reached an outcome. */
  readonly rate: number | null;
  /** ROLLED_BACK + FAILED. */
  readonly failures: number;
  /** SUCCEEDED + ROLLED_BACK + FAILED. */
  readonly outcomes: number;
  readonly howComputed: string;
}

export interface TimeToRestore {
  /** Mean restore time in seconds; null when no failure was followed by a success. */
  readonly meanSeconds: number | null;
  /** Failures (runs of consecutive failures of one service) followed by a success. */
  readonly restores: number;
  /** Failure runs with no later success in the window: the service has not been restored yet. */
  readonly unresolved: number;
  readonly howComputed: string;
}

/** The four DORA measures over one window. */
export interface DoraReport {
  readonly since: string;
  readonly until: string;
  readonly days: number;
  /** The one service measured; absent for all services. */
  readonly service?: string;
  /** The one environment measured; absent for all environments. */
  readonly environment?: string;
  /** History items started in the window, every state included. */
  readonly items: number;
  readonly states: StateCounts;
  readonly deploymentFrequency: DeploymentFrequency;
  readonly leadTime: LeadTime;
  readonly changeFailureRate: ChangeFailureRate;
  readonly timeToRestore: TimeToRestore;
}

/** Whether an item started inside the window. Items without a readable startedAt are never in one. */
export function inWindow(item: HistoryItem, window: DoraWindow): boolean {
  const started = timeOf(item.startedAt);
  return started !== undefined && started >= window.since.getTime() && started <= window.until.getTime();
}

/** The median of some numbers (the mean of the two middle ones for an even count); undefined for none. */
export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The mean of some numbers; undefined for none. */
export function mean(values: number[]): number | undefined {
  return values.length === 0 ? undefined : values.reduce((sum, v) => sum + v, 0) / values.length;
}

/** The states in the order a deployment goes through them, then its outcomes. */
const STATE_ORDER = ['STAGING', 'STAGED', 'STARTING', 'SHIFTING', 'SUCCEEDED', 'ROLLED_BACK', 'FAILED', 'SKIPPED', 'NOT_STARTED'];

/** Counts the items in each state, keys in {@link STATE_ORDER} (then any other state, by name). */
export function countStates(items: HistoryItem[]): StateCounts {
  const counts: StateCounts = {};
  for (const item of items) {
    const state = item.state ?? 'UNKNOWN';
    counts[state] = (counts[state] ?? 0) + 1;
  }
  const rank = (state: string) => (STATE_ORDER.includes(state) ? STATE_ORDER.indexOf(state) : STATE_ORDER.length);
  const ordered = Object.keys(counts).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(ordered.map((state) => [state, counts[state]]));
}

/** Successful deployments per day and per week of the window. */
export function deploymentFrequency(items: HistoryItem[], days: number): DeploymentFrequency {
  const successful = items.filter((i) => i.state === 'SUCCEEDED').length;
  const perDay = days > 0 ? successful / days : 0;
  return {
    successful,
    perDay,
    perWeek: perDay * 7,
    howComputed: `SUCCEEDED deployments started in the window (${successful}) / ${round(days)} days; ` +
      'SKIPPED (nothing to deploy), NOT_STARTED (an earlier wave failed or the execution ended first) and in-progress items are not deployments',
  };
}

/** Median commitTime -> finishedAt of SUCCEEDED deployments. */
export function leadTime(items: HistoryItem[]): LeadTime {
  const durations: number[] = [];
  let withoutCommitTime = 0;
  for (const item of items.filter((i) => i.state === 'SUCCEEDED')) {
    const committed = timeOf(item.commitTime);
    const finished = timeOf(item.finishedAt);
    if (committed === undefined) withoutCommitTime++;
    else if (finished !== undefined) durations.push(finished - committed);
  }
  const ms = median(durations);
  return {
    medianSeconds: ms === undefined ? null : ms / 1000,
    measured: durations.length,
    withoutCommitTime,
    howComputed: `median of commitTime -> finishedAt over ${plural(durations.length, 'SUCCEEDED deployment')}; ` +
      `${withoutCommitTime} SUCCEEDED without a commit time left out`,
  };
}

/** (ROLLED_BACK + FAILED) / (SUCCEEDED + ROLLED_BACK + FAILED). */
export function changeFailureRate(items: HistoryItem[]): ChangeFailureRate {
  const outcomes = items.filter((i) => OUTCOME_STATES.includes(i.state ?? '')).length;
  const failures = items.filter((i) => FAILURE_STATES.includes(i.state ?? '')).length;
  return {
    rate: outcomes === 0 ? null : failures / outcomes,
    failures,
    outcomes,
    howComputed: `(ROLLED_BACK + FAILED) / (SUCCEEDED + ROLLED_BACK + FAILED) = ${failures} / ${outcomes}; ` +
      'FAILED includes failures before the shift (staging); SKIPPED, NOT_STARTED and in-progress items are not counted',
  };
}

/**
 * Per service, in finishedAt order: a failure (ROLLED_BACK or FAILED) opens an incident at its
 * finishedAt unless one is open already (consecutive failures are one incident); the service's next
 * SUCCEEDED deployment closes it at its finishedAt. The mean is over closed incidents; open ones
 * are counted as unresolved.
 */
export function timeToRestore(items: HistoryItem[]): TimeToRestore {
  const byServiceEnvironment = new Map<string, Array<{ state: string; finished: number; id: string }>>();
  for (const item of items) {
    const finished = timeOf(item.finishedAt);
    if (!OUTCOME_STATES.includes(item.state ?? '') || finished === undefined) continue;
    // A service in each environment restores on its own.
    const key = `${item.environment ?? ''}/${item.service ?? ''}`;
    const list = byServiceEnvironment.get(key) ?? [];
    list.push({ state: item.state!, finished, id: item.deploymentId });
    byServiceEnvironment.set(key, list);
  }
  const restores: number[] = [];
  let unresolved = 0;
  for (const outcomes of byServiceEnvironment.values()) {
    outcomes.sort((a, b) => a.finished - b.finished || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    let failingSince: number | undefined;
    for (const outcome of outcomes) {
      if (FAILURE_STATES.includes(outcome.state)) {
        failingSince ??= outcome.finished;
      } else if (failingSince !== undefined) {
        restores.push(outcome.finished - failingSince);
        failingSince = undefined;
      }
    }
    if (failingSince !== undefined) unresolved++;
  }
  const ms = mean(restores);
  return {
    meanSeconds: ms === undefined ? null : ms / 1000,
    restores: restores.length,
    unresolved,
    howComputed: 'per service and environment, the first ROLLED_BACK/FAILED finishedAt -> the next SUCCEEDED finishedAt (consecutive failures are one incident); ' +
      `mean over ${plural(restores.length, 'restore')}; ${unresolved} not restored yet`,
  };
}

/** The DORA measures over the items started in the window (items outside it are ignored). */
export function computeDora(all: HistoryItem[], window: DoraWindow, scope: HistoryScope = {}): DoraReport {
  const { service, environment } = scope;
  const items = all.filter((i) => inWindow(i, window) && inScope(i, scope));
  const days = (window.until.getTime() - window.since.getTime()) / DAY_MS;
  return {
    since: window.since.toISOString(),
    until: window.until.toISOString(),
    days,
    ...(service === undefined ? {} : { service }),
    ...(environment === undefined ? {} : { environment }),
    items: items.length,
    states: countStates(items),
    deploymentFrequency: deploymentFrequency(items, days),
    leadTime: leadTime(items),
    changeFailureRate: changeFailureRate(items),
    timeToRestore: timeToRestore(items),
  };
}

/** `1 restore`, `2 restores`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
