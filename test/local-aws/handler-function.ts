import { ChildProcess, fork } from 'child_process';
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

/** One invocation of a bundled handler and how it ended. */
export interface HandlerInvocation {
  readonly functionName: string;
  readonly requestId: string;
  readonly event: unknown;
  readonly environment: number;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: { name: string; message: string };
}

interface Environment {
  readonly index: number;
  readonly child: ChildProcess;
  busy: boolean;
  dead?: boolean;
  pending?: { requestId: string; resolve: (message: any) => void; reject: (error: Error) => void };
}

const RUNNER = path.join(__dirname, 'handler-runner.js');
const live = new Set<ChildProcess>();
process.on('exit', () => live.forEach((child) => child.kill('SIGKILL')));

/**
 * A deployed handler: its esbuild bundle and the environment variables the construct gives it.
 * Like Lambda, each execution environment (a child process here) runs one invocation at a time,
 * keeps its module state between invocations, and a concurrent invocation gets another
 * environment; so duplicate deliveries raced with Promise.all run in separate processes.
 */
export class HandlerFunction {
  public readonly invocations: HandlerInvocation[] = [];
  private readonly environments: Environment[] = [];

  constructor(
    public readonly functionName: string,
    private readonly bundle: string,
    private readonly env: Record<string, string>,
    private readonly logFile: string,
    /** The function's timeout (what getRemainingTimeInMillis counts down from). */
    private readonly timeoutMs = 120_000,
  ) {
    if (!fs.existsSync(bundle)) throw new Error(`${bundle} does not exist: run \`npx projen bundle\` first`);
  }

  async invoke(event: unknown): Promise<HandlerInvocation> {
    // Claimed before any await: a concurrent invoke must not pick the same environment.
    let environment = this.environments.find((e) => !e.busy && !e.dead);
    if (environment) environment.busy = true;
    else environment = await this.start();
    const requestId = randomUUID();
    try {
      const message = await new Promise<any>((resolve, reject) => {
        environment.pending = { requestId, resolve, reject };
        environment.child.send({ type: 'invoke', requestId, event });
      });
      const invocation: HandlerInvocation = {
        functionName: this.functionName,
        requestId,
        event,
        environment: environment.index,
        ok: message.ok,
        result: message.result,
        error: message.error,
      };
      this.invocations.push(invocation);
      return invocation;
    } finally {
      environment.busy = false;
      environment.pending = undefined;
    }
  }

  /** Invocations that threw (a FunctionError in Lambda terms). */
  get thrown() {
    return this.invocations.filter((i) => !i.ok);
  }

  async stop() {
    await Promise.all(this.environments.map((e) => new Promise<void>((resolve) => {
      if (e.child.exitCode !== null || e.child.signalCode !== null) return resolve();
      e.child.once('exit', () => resolve());
      e.child.kill('SIGTERM');
      setTimeout(() => e.child.kill('SIGKILL'), 2000).unref();
    })));
    this.environments.length = 0;
  }

  private async start(): Promise<Environment> {
    fs.mkdirSync(path.dirname(this.logFile), { recursive: true });
    const log = fs.openSync(this.logFile, 'a');
    const child = fork(RUNNER, [path.resolve(this.bundle), this.functionName, String(this.timeoutMs)], {
      env: this.env,
      execArgv: ['--no-warnings'],
      stdio: ['ignore', log, log, 'ipc'],
    });
    fs.closeSync(log);
    live.add(child);
    // Busy from the start: it is created for the invocation that asked for it.
    const environment: Environment = { index: this.environments.length, child, busy: true };
    child.on('exit', (code) => {
      live.delete(child);
      environment.dead = true;
      environment.pending?.reject(new Error(`${this.functionName} environment exited (${code}) during invocation ${environment.pending.requestId}; see ${this.logFile}`));
    });
    this.environments.push(environment);
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`${this.functionName} environment exited (${code}) before it was ready; see ${this.logFile}`));
      child.once('exit', onExit);
      child.on('message', (message: any) => {
        if (message?.type === 'ready') {
          child.off('exit', onExit);
          resolve();
        } else if (message?.type === 'result') {
          const pending = environment.pending;
          if (pending && pending.requestId === message.requestId) pending.resolve(message);
        }
      });
    });
    return environment;
  }
}
