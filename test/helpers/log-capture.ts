import { format } from 'util';
import type { MetricDocument } from '../../src/runtime/metrics-recorder';

/** One line of a handler's log stream that is a JSON object with a `level`: a structured log record. */
export type LogRecord = Record<string, unknown> & { readonly level: string; readonly message?: unknown };

/** What the handlers wrote to stdout and stderr, as their CloudWatch log stream would get it. */
export interface CapturedOutput {
  /** EMF documents: whole lines starting with `{"_aws"`. */
  readonly metrics: MetricDocument[];
  /** Every other JSON line with a `level` (Powertools records, or console calls as Lambda's runtime wraps them). */
  readonly records: LogRecord[];
  /** The raw text of every captured line, EMF and records, in order. */
  readonly lines: string[];
  /** Everything written to stdout and stderr while captured, passed through or not. */
  readonly writes: string[];
  clear(): void;
}

let captured: CapturedOutput | undefined;

function logRecordOf(line: string): LogRecord | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(line);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) && typeof parsed.level === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Captures what the handlers write to stdout and stderr (Lambda sends both to the log stream):
 * EMF documents and structured log records, each a whole line; any other output passes through.
 * Installed once per test file; `clearMocks` leaves the spies' implementations in place.
 */
export function captureHandlerOutput(): CapturedOutput {
  if (captured) return captured;
  const metrics: MetricDocument[] = [];
  const records: LogRecord[] = [];
  const lines: string[] = [];
  const writes: string[] = [];
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    jest.spyOn(stream, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : undefined;
      writes.push(text ?? String(chunk));
      if (text?.startsWith('{"_aws"')) {
        if (!text.endsWith('\n') || text.indexOf('\n') !== text.length - 1) throw new Error(`an EMF document must be exactly one line: ${text}`);
        metrics.push(JSON.parse(text));
        lines.push(text.slice(0, -1));
        return true;
      }
      const record = text?.endsWith('\n') && text.indexOf('\n') === text.length - 1 ? logRecordOf(text.slice(0, -1)) : undefined;
      if (record) {
        records.push(record);
        lines.push(text!.slice(0, -1));
        return true;
      }
      return write(chunk, ...rest);
    }) as typeof process.stdout.write);
  }
  captured = {
    metrics,
    records,
    lines,
    writes,
    clear: () => {
      writes.length = 0;
      metrics.length = 0;
      records.length = 0;
      lines.length = 0;
    },
  };
  return captured;
}

const CONSOLE_LEVELS = [['trace', 'TRACE'], ['debug', 'DEBUG'], ['info', 'INFO'], ['log', 'INFO'], ['warn', 'WARN'], ['error', 'ERROR']] as const;

/**
 * Replaces the console methods as Lambda's Node.js runtime does for the JSON log format
 * (aws-lambda-nodejs-runtime-interface-client, src/logging; the same as
 * test/local-aws/handler-runner.js): each call becomes one line
 * `{"timestamp","level","requestId","message"}` on stdout, its arguments formatted into the
 * `message` string. Returns a function that puts the console back.
 */
export function emulateLambdaJsonConsole(requestId = 'request-1'): () => void {
  const saved = CONSOLE_LEVELS.map(([method]) => [method, console[method]] as const);
  for (const [method, level] of CONSOLE_LEVELS) {
    console[method] = (message?: unknown, ...params: unknown[]) => {
      const text = params.length === 0 && typeof message === 'string' ? message : format(message, ...params);
      process.stdout.write(`${JSON.stringify({ timestamp: new Date().toISOString(), level, requestId, message: text }).replace(/\n/g, '\r')}\n`);
    };
  }
  return () => {
    for (const [method, fn] of saved) console[method] = fn;
  };
}
