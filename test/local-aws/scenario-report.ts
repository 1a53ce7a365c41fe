import { EmfRecord, formatDatum, metricData } from './emf';

/** Tallies scenarios and prints the table and the closing count line on stdout. */
export class ScenarioReport {
  private readonly rows: Array<{ name: string; passed: boolean; seconds: number; reason?: string }> = [];
  private readonly registered: string[] = [];
  /** The accounts and regions each scenario's handlers acted in (worlds of several accounts). */
  private readonly placements = new Map<string, Array<{ account: string; region: string }>>();

  /** Records where a scenario's handlers acted. */
  notePlacements(name: string, placements: Array<{ account: string; region: string }>) {
    this.placements.set(name, [...this.placements.get(name) ?? [], ...placements]);
  }

  /** Declares a scenario, so one that never ran (a failed setup) still counts as failed. */
  register(name: string) {
    this.registered.push(name);
  }

  async run(name: string, body: () => Promise<void>) {
    const started = Date.now();
    try {
      await body();
      this.rows.push({ name, passed: true, seconds: (Date.now() - started) / 1000 });
    } catch (error) {
      const reason = String((error as Error)?.message ?? error).replace(/\u001b\[[0-9;]*m/g, '').split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 3).join(' | ');
      this.rows.push({ name, passed: false, seconds: (Date.now() - started) / 1000, reason });
      throw error;
    }
  }

  /**
   * @param accountsPrefix the names of the multi-account scenarios start with it: they get a line of
   * their own, with the accounts and regions their handlers acted in
   */
  print(header: string, notRunReason = 'did not run', accountsPrefix?: string) {
    for (const name of this.registered) {
      if (!this.rows.some((r) => r.name === name)) this.rows.push({ name, passed: false, seconds: 0, reason: notRunReason });
    }
    const width = Math.max(10, ...this.rows.map((r) => r.name.length));
    const lines = [
      '',
      header,
      `${'scenario'.padEnd(width)}  result  time`,
      `${'-'.repeat(width)}  ------  -----`,
      ...this.rows.flatMap((r) => [
        `${r.name.padEnd(width)}  ${r.passed ? 'PASS  ' : 'FAIL  '}  ${r.seconds.toFixed(1)}s`,
        ...(r.reason ? [`${' '.repeat(width)}    ${r.reason.slice(0, 400)}`] : []),
      ]),
      '',
      `local-aws: ${this.rows.filter((r) => r.passed).length} scenarios passed, ${this.rows.filter((r) => !r.passed).length} failed`,
    ];
    if (accountsPrefix !== undefined) {
      const rows = this.rows.filter((r) => r.name.startsWith(accountsPrefix));
      const placements = rows.flatMap((r) => this.placements.get(r.name) ?? []);
      const accounts = new Set(placements.map((p) => p.account)).size;
      const regions = new Set(placements.map((p) => p.region)).size;
      lines.push(`local-aws accounts: ${rows.filter((r) => r.passed).length} scenarios passed, ${rows.filter((r) => !r.passed).length} failed, `
        + `${accounts} accounts, ${regions} regions`);
    }
    lines.push('');
    process.stdout.write(lines.join('\n'));
  }
}

/** The EMF documents each scenario's handlers wrote, for the section printed after the scenario table. */
export class MetricsReport {
  private readonly byScenario: Array<{ scenario: string; world: string; records: EmfRecord[] }> = [];

  add(scenario: string, world: string, records: EmfRecord[]) {
    this.byScenario.push({ scenario, world, records });
  }

  /**
   * Prints every metric datum CloudWatch would extract from one execution of the showcase
   * scenario (the first scenario whose name starts with `showcase`, else the first with documents),
   * invalid documents if any, and the count line.
   */
  print(showcase: string, executionId?: string) {
    const all = this.byScenario.flatMap((s) => s.records);
    const invalid = all.filter((r) => r.problems.length > 0);
    const shown = this.byScenario.find((s) => s.scenario.startsWith(showcase) && s.records.length > 0)
      ?? this.byScenario.find((s) => s.records.length > 0);
    const lines: string[] = [''];
    if (shown) {
      const execution = shown.records.some((r) => r.document?.executionId === executionId) ? executionId : undefined;
      const documents = shown.records.filter((r) => r.problems.length === 0 && (!execution || r.document?.executionId === execution));
      const rows = [['namespace', 'metric', 'dimensions', 'value', 'unit'], ...documents.flatMap((r) => metricData(r.document!).map(formatDatum))];
      const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
      lines.push(`metrics a deployment emits (scenario ${shown.scenario}${execution ? `, execution ${execution}` : ''}): `
        + `${documents.length} EMF documents, one datum per metric and dimension set`);
      for (const [i, row] of rows.entries()) {
        lines.push(`  ${row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()}`);
        if (i === 0) lines.push(`  ${widths.map((w) => '-'.repeat(w)).join('  ')}`);
      }
      lines.push('');
    }
    const outcomes = new Map<string, number>();
    for (const r of all) {
      if (r.problems.length === 0 && r.document?.Outcome) outcomes.set(r.document.Outcome, (outcomes.get(r.document.Outcome) ?? 0) + 1);
    }
    if (outcomes.size > 0) {
      lines.push(`Deployments documents by Outcome, all scenarios: ${[...outcomes].map(([outcome, n]) => `${outcome} ${n}`).join(', ')}`);
    }
    for (const r of invalid.slice(0, 10)) {
      const scenario = this.byScenario.find((s) => s.records.includes(r))?.scenario ?? '?';
      lines.push(`INVALID (${scenario}, ${r.functionName}): ${r.problems.join('; ')}: ${r.line.slice(0, 300)}`);
    }
    if (invalid.length > 10) lines.push(`INVALID: ${invalid.length - 10} more`);
    lines.push(`local-aws metrics: ${all.length} EMF documents parsed, ${invalid.length} invalid`, '');
    process.stdout.write(lines.join('\n'));
  }
}
