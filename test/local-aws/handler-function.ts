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
  /**
   * What the invocation wrote to its log stream, one log event per line, whole and in order
   * (console calls as Lambda's runtime formats them, raw stdout and stderr writes as they are),
   * without the runner's start and end lines.
   */
  readonly output: string[];
  readonly startedAt: number;
  readonly endedAt: number;
}

/** A line the runner wrote outside any invocation (module scope of a later invocation's bundle, or a late callback). */
export interface StrayLine {
  readonly functionName: string;
  readonly environment: number;
  readonly line: string;
}

interface Pending {
  readonly requestId: string;
  readonly output: string[];
  result?: any;
  ended: boolean;
  resolve: (message: any) => void;
  reject: (error: Error) => void;
}

interface Environment {
  readonly index: number;
  readonly child: ChildProcess;
  busy: boolean;
  dead?: boolean;
  pending?: Pending;
}

const RUNNER = path.join(__dirname, 'handler-runner.js');
const live = new Set<ChildProcess>();
process.on('exit', () => live.forEach((child) => child.kill('SIGKILL')));

/** The runner's framing line, if this is one. */
function runnerMarker(line: string): { runner: string; requestId?: string } | undefined {
  if (!line.startsWith('{"runner":')) return undefined;
  try {
    const parsed = JSON.parse(line);
    return typeof parsed?.runner === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A deployed handler: its esbuild bundle and the environment variables the construct gives it.
 * Like Lambda, each execution environment (a child process here) runs one invocation at a time,
 * keeps its module state between invocations, and a concurrent invocation gets another
 * environment; so duplicate deliveries raced with Promise.all run in separate processes.
 *
 * Each environment's output is read line by line (a line split across pipe reads is joined
 * again), appended whole to the log file (one per world and handler, emptied when the world is
 * created), and attributed to the invocation the runner's start and end lines frame.
 */
export class HandlerFunction {
  public readonly invocations: HandlerInvocation[] = [];
  public readonly strayLines: StrayLine[] = [];
  private readonly environments: Environment[] = [];
  private logFd: number | undefined;

  constructor(
    public readonly functionName: string,
    private readonly bundle: string,
    private readonly env: Record<string, string>,
    public readonly logFile: string,
    /** The function's timeout (what getRemainingTimeInMillis counts down from). */
    private readonly timeoutMs = 120_000,
    /** How far the handler's clock runs ahead of the real one at each invocation (time the test played). */
    private readonly clockOffsetMs: () => number = () => 0,
    /** The function's ARN (the Lambda context's invokedFunctionArn). @default in moto's default account, us-east-1 */
    private readonly functionArn?: string,
  ) {
    if (!fs.existsSync(bundle)) throw new Error(`${bundle} does not exist: run \`npx projen bundle\` first`);
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    this.logFd = fs.openSync(logFile, 'w');
  }

  async invoke(event: unknown): Promise<HandlerInvocation> {
    // Claimed before any await: a concurrent invoke must not pick the same environment.
    let environment = this.environments.find((e) => !e.busy && !e.dead);
    if (environment) environment.busy = true;
    else environment = await this.start();
    const requestId = randomUUID();
    const startedAt = Date.now();
    const output: string[] = [];
    try {
      const message = await new Promise<any>((resolve, reject) => {
        environment.pending = { requestId, output, ended: false, resolve, reject };
        environment.child.send({ type: 'invoke', requestId, event, clockOffsetMs: this.clockOffsetMs() });
      });
      const invocation: HandlerInvocation = {
        functionName: this.functionName,
        requestId,
        event,
        environment: environment.index,
        ok: message.ok,
        result: message.result,
        error: message.error,
        output,
        startedAt,
        endedAt: Date.now(),
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
    if (this.logFd !== undefined) fs.closeSync(this.logFd);
    this.logFd = undefined;
  }

  private log(line: string) {
    if (this.logFd !== undefined) fs.writeSync(this.logFd, `${line}\n`);
  }

  /** One whole line of an environment's output. */
  private onLine(environment: Environment, line: string) {
    this.log(line);
    const pending = environment.pending;
    const marker = runnerMarker(line);
    if (marker?.runner === 'start' || marker?.runner === 'threw') return;
    if (marker?.runner === 'end') {
      if (pending && marker.requestId === pending.requestId) {
        pending.ended = true;
        if (pending.result) pending.resolve(pending.result);
      }
      return;
    }
    if (pending && !pending.ended) pending.output.push(line);
    else this.strayLines.push({ functionName: this.functionName, environment: environment.index, line });
  }

  private async start(): Promise<Environment> {
    const args = [path.resolve(this.bundle), this.functionName, String(this.timeoutMs), ...(this.functionArn ? [this.functionArn] : [])];
    const child = fork(RUNNER, args, {
      env: this.env,
      execArgv: ['--no-warnings'],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    live.add(child);
    // Busy from the start: it is created for the invocation that asked for it.
    const environment: Environment = { index: this.environments.length, child, busy: true };
    for (const stream of [child.stdout!, child.stderr!]) {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!;
        for (const line of lines) this.onLine(environment, line);
      });
      stream.on('end', () => {
        if (partial) this.onLine(environment, partial);
        partial = '';
      });
    }
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
          // The result may overtake the output on its way here: settle once the end line is read too.
          const pending = environment.pending;
          if (pending && pending.requestId === message.requestId) {
            pending.result = message;
            if (pending.ended) pending.resolve(message);
          }
        }
      });
    });
    return environment;
  }
}
