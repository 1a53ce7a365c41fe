import { parseArgs, parseSince, UsageError } from '../../src/cli/args';
import { changeFailureRate, computeDora, inWindow, leadTime, mean, median, plural, timeToRestore } from '../../src/cli/dora';
import { alignColumns, formatDuration, formatRate, formatReason, formatTime, formatVersions, historyJson } from '../../src/cli/format';
import { HistoryItem, newestFirst } from '../../src/cli/history-item';

const at = (hhmm: string, day = '01') => `2025-03-${day}T${hhmm}:00.000Z`;
let n = 0;
const deployment = (service: string, state: string, finished: string, extra: Partial<HistoryItem> = {}): HistoryItem =>
  ({ deploymentId: `e${n++}/${service}`, service, state, startedAt: finished, finishedAt: finished, ...extra });

describe('dora math', () => {
  test('median of odd and even counts, mean, and none', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeUndefined();
    expect(mean([1, 2, 6])).toBe(3);
    expect(mean([])).toBeUndefined();
  });

  test('time to restore: one incident per run of failures, per service, in finishedAt order whatever the input order', () => {
    const items = [
      deployment('a', 'SUCCEEDED', at('11:00')), // restores a's incident opened at 10:00: 60 min
      deployment('a', 'FAILED', at('10:30')), // same incident as 10:00
      deployment('a', 'ROLLED_BACK', at('10:00')),
      deployment('b', 'FAILED', at('10:45')), // b's own incident: b succeeds at 11:15, 30 min
      deployment('b', 'SUCCEEDED', at('11:15')),
      deployment('b', 'SKIPPED', at('11:20')), // not an outcome
      deployment('b', 'ROLLED_BACK', at('12:00')), // unresolved
      deployment('a', 'SUCCEEDED', at('12:30')), // nothing to restore
    ];
    // (60 + 30) / 2 = 45 min = 2700 s
    expect(timeToRestore(items)).toMatchObject({ meanSeconds: 2700, restores: 2, unresolved: 1 });
  });

  test('lead time leaves out deployments without a readable commit time, and counts them', () => {
    const items = [
      deployment('a', 'SUCCEEDED', at('12:00'), { commitTime: at('11:00') }), // 3600
      deployment('a', 'SUCCEEDED', at('12:00'), { commitTime: 'yesterday' }), // unreadable: left out
      deployment('a', 'SUCCEEDED', at('12:00')), // none: left out
      deployment('a', 'FAILED', at('12:00'), { commitTime: at('08:00') }), // not a success
    ];
    expect(leadTime(items)).toMatchObject({ medianSeconds: 3600, measured: 1, withoutCommitTime: 2 });
  });

  test('change failure rate counts only shift outcomes', () => {
    const items = ['SUCCEEDED', 'FAILED', 'ROLLED_BACK', 'SKIPPED', 'NOT_STARTED', 'STAGING', 'STAGED', 'STARTING', 'SHIFTING']
      .map((state) => deployment('a', state, at('10:00')));
    expect(changeFailureRate(items)).toMatchObject({ rate: 2 / 3, failures: 2, outcomes: 3 });
    expect(changeFailureRate([]).rate).toBeNull();
  });

  test('the window is inclusive at both ends; items without startedAt are outside', () => {
    const window = { since: new Date(at('10:00')), until: new Date(at('12:00')) };
    expect(inWindow({ deploymentId: 'x', startedAt: at('10:00') }, window)).toBe(true);
    expect(inWindow({ deploymentId: 'x', startedAt: at('12:00') }, window)).toBe(true);
    expect(inWindow({ deploymentId: 'x', startedAt: at('12:01') }, window)).toBe(false);
    expect(inWindow({ deploymentId: 'x' }, window)).toBe(false);
  });

  test('computeDora filters by window and service; 12 hours is half a day', () => {
    const items = [
      deployment('a', 'SUCCEEDED', at('10:00')),
      deployment('a', 'SUCCEEDED', at('09:59')), // before the window
      deployment('b', 'SUCCEEDED', at('11:00')),
    ];
    const report = computeDora(items, { since: new Date(at('10:00')), until: new Date(at('22:00')) }, { service: 'a' });
    expect(report).toMatchObject({ days: 0.5, service: 'a', items: 1, deploymentFrequency: { successful: 1, perDay: 2, perWeek: 14 } });
    expect(report.environment).toBeUndefined();
  });

  test('computeDora filters by environment, and says which one the figures describe', () => {
    const items = [
      deployment('a', 'SUCCEEDED', at('10:00'), { environment: 'prod' }),
      deployment('a', 'ROLLED_BACK', at('11:00'), { environment: 'staging' }),
      deployment('b', 'SUCCEEDED', at('12:00'), { environment: 'prod' }),
      deployment('b', 'SUCCEEDED', at('12:30')), // written before items carried their environment
    ];
    const report = computeDora(items, { since: new Date(at('09:00')), until: new Date(at('21:00')) }, { environment: 'prod' });
    expect(report).toMatchObject({ environment: 'prod', items: 2, changeFailureRate: { failures: 0, outcomes: 2 } });
    expect(report.service).toBeUndefined();
  });

  test('time to restore: a service in one environment is not restored by a success in another', () => {
    const items = [
      deployment('a', 'ROLLED_BACK', at('10:00'), { environment: 'staging' }),
      deployment('a', 'SUCCEEDED', at('10:30'), { environment: 'prod' }), // another environment: restores nothing
      deployment('a', 'SUCCEEDED', at('11:00'), { environment: 'staging' }), // 60 min
    ];
    expect(timeToRestore(items)).toMatchObject({ meanSeconds: 3600, restores: 1, unresolved: 0 });
  });
});

describe('formatting', () => {
  test.each([
    [0, '0s'], [44_600, '45s'], [59_499, '59s'], [60_000, '1m 00s'], [725_000, '12m 05s'], [3_600_000, '1h 00m'],
    [9_900_000, '2h 45m'], [47 * 3_600_000 + 59 * 60_000, '47h 59m'], [48 * 3_600_000, '2d 0h'], [76 * 3_600_000, '3d 4h'], [-90_000, '-1m 30s'],
  ])('formatDuration(%d) = %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  test('times in UTC to the minute, versions, reasons on one line', () => {
    expect(formatTime('2025-03-05T14:00:59.999+01:00')).toBe('2025-03-05 13:00');
    expect(formatTime(undefined)).toBe('-');
    expect(formatVersions({ deploymentId: 'x', currentVersion: '3', targetVersion: '4' })).toBe('3 -> 4');
    expect(formatVersions({ deploymentId: 'x', targetVersion: '1' })).toBe('- -> 1');
    expect(formatVersions({ deploymentId: 'x' })).toBe('-');
    expect(formatReason(' a\n\tb  c ')).toBe('a b c');
    expect(formatReason('abcdefghij', 8)).toBe('abcde...');
  });

  test('rates keep two significant digits below 1, two decimals above', () => {
    expect([0, 3 / 632, 5 / 30, 1, 7 / 6, 12.345].map(formatRate)).toEqual(['0', '0.0047', '0.17', '1', '1.17', '12.35']);
    expect([plural(1, 'restore'), plural(2, 'restore'), plural(0, 'restore')]).toEqual(['1 restore', '2 restores', '0 restores']);
  });

  test('alignColumns pads every column but the last', () => {
    expect(alignColumns([['A', 'BB', 'C'], ['aaa', 'b', '']])).toBe('A    BB  C\naaa  b\n');
  });

  test('historyJson keeps the recorded attributes only, adding durationSeconds', () => {
    const item = { deploymentId: 'e/a', state: 'SUCCEEDED', startedAt: at('10:00'), finishedAt: at('10:01'), claimJobId: 'job' } as HistoryItem;
    expect(historyJson(item)).toEqual({ deploymentId: 'e/a', state: 'SUCCEEDED', startedAt: at('10:00'), finishedAt: at('10:01'), durationSeconds: 60 });
  });

  test('newestFirst: by startedAt, unrecorded last, ties by id', () => {
    const items: HistoryItem[] = [{ deploymentId: 'b' }, { deploymentId: 'c', startedAt: at('10:00') }, { deploymentId: 'a', startedAt: at('10:00') },
      { deploymentId: 'd', startedAt: at('11:00') }];
    expect(items.sort(newestFirst).map((i) => i.deploymentId)).toEqual(['d', 'a', 'c', 'b']);
  });
});

describe('command line', () => {
  const now = new Date('2025-03-31T00:00:00Z');

  test('--since: Nd, Nh, ISO dates and times (UTC unless an offset is given)', () => {
    expect(parseSince('30d', now).toISOString()).toBe('2025-03-01T00:00:00.000Z');
    expect(parseSince('36h', now).toISOString()).toBe('2025-03-29T12:00:00.000Z');
    expect(parseSince('2025-03-01', now).toISOString()).toBe('2025-03-01T00:00:00.000Z');
    expect(parseSince('2025-03-01T06:30', now).toISOString()).toBe('2025-03-01T06:30:00.000Z');
    expect(parseSince('2025-03-01 06:30:00+02:00', now).toISOString()).toBe('2025-03-01T04:30:00.000Z');
    expect(() => parseSince('0d', now)).toThrow(UsageError);
    expect(() => parseSince('2025-04-01', now)).toThrow('--since 2025-04-01 is not in the past');
    expect(() => parseSince('2025-02-30', now)).toThrow('--since 2025-02-30 is not a valid date'); // not March 2
    expect(() => parseSince('2025-13-01', now)).toThrow('--since 2025-13-01 is not a valid date');
    expect(() => parseSince('1w', now)).toThrow('--since must be Nd, Nh or an ISO 8601 date, got 1w');
  });

  test('options before or after the command, --name=value, defaults', () => {
    expect(parseArgs(['--table=t', 'history', '--json'])).toMatchObject({ command: 'history', table: 't', json: true, limit: 20 });
    expect(parseArgs(['dora', '--stack', 's', '--output-key', 'K'])).toMatchObject({ command: 'dora', stack: 's', outputKey: 'K', since: '30d' });
    expect(parseArgs(['help'])).toMatchObject({ help: true });
    expect(parseArgs(['history', '-h'])).toMatchObject({ help: true });
  });

  test.each([
    [['history', '--table'], '--table needs a value'],
    [['history', '--table', '--json'], '--table needs a value'],
    [['history', '--table', 't', '--json=yes'], '--json takes no value'],
    [['history', '--table', 't', '-x'], 'unknown option -x'],
    [['history', 'dora', '--table', 't'], 'one command expected, got history dora'],
    [['history', '--table', 't', '--stack', 's'], 'give --table or --stack, not both'],
    [['history', '--table', 't', '--output-key', 'k'], '--output-key goes with --stack'],
    [['history', '--table', 't', '--limit', '2.5'], '--limit must be a whole number of at least 1, got 2.5'],
    [['history', '--table', 't', '--since', '1d'], '--since is an option of dora, not history'],
  ])('%j: %s', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(new UsageError(message));
  });
});
