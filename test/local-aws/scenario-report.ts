/** Tallies scenarios and prints the table and the closing count line on stdout. */
export class ScenarioReport {
  private readonly rows: Array<{ name: string; passed: boolean; seconds: number; reason?: string }> = [];
  private readonly registered: string[] = [];

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

  print(header: string, notRunReason = 'did not run') {
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
      '',
    ];
    process.stdout.write(lines.join('\n'));
  }
}
