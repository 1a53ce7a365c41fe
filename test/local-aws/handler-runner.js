// One Lambda execution environment for a bundled handler (test/local-aws): loads the esbuild
// bundle named on the command line once, with the environment it was started with, and runs one
// invocation at a time as the parent asks over IPC.
//
// Output is what the function's CloudWatch log stream would receive, one event per line:
// - The console methods are replaced as Lambda's Node.js runtime replaces them
//   (aws-lambda-nodejs-runtime-interface-client, src/logging): with AWS_LAMBDA_LOG_FORMAT=JSON each
//   call becomes {"timestamp","level","requestId","message"}, else "<time>\t<requestId>\t<LEVEL>\t<text>";
//   calls below AWS_LAMBDA_LOG_LEVEL are dropped; line breaks inside a message become \r.
// - process.stdout.write reaches the log stream as it is (how EMF documents must be written), and
//   so does process.stderr.write: Lambda sends both streams to the same log stream, so stderr is
//   written to stdout here, which keeps one order for the parent to read.
// - The runner frames each invocation with {"runner":"start"} and {"runner":"end"} lines (in the
//   place of Lambda's START and END lines), so the parent attributes every line to its invocation.
'use strict';

const util = require('util');

const bundle = process.argv[2];
const functionName = process.argv[3] || 'handler';
const timeoutMs = Number(process.argv[4] || 120000);
// The function's ARN (the context's invokedFunctionArn), which names its account and region.
const functionArn = process.argv[5] || `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`;
let mod;
let currentRequestId;

// The clock the test plays (bake times pass without sleeping): Date runs ahead of the real clock by
// the offset the parent sends with each invocation; durations (performance.now, timers) are real.
let clockOffsetMs = 0;
const RealDate = Date;
class PlayedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + clockOffsetMs);
    else super(...args);
  }

  static now() {
    return RealDate.now() + clockOffsetMs;
  }
}
global.Date = PlayedDate;

const writeStdout = process.stdout.write.bind(process.stdout);
process.stderr.write = (chunk, encoding, callback) => writeStdout(chunk, encoding, callback);

const LEVELS = { TRACE: 1, DEBUG: 2, INFO: 3, WARN: 4, ERROR: 5, FATAL: 6 };
const jsonFormat = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
const minLevel = LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] || LEVELS.TRACE;

const errorReplacer = (_key, value) => (value instanceof Error
  ? Object.assign({ errorType: value.constructor && value.constructor.name || 'UnknownError', errorMessage: value.message, stackTrace: String(value.stack || '').split('\n') }, value)
  : value);

function formatLine(level, message, params) {
  const timestamp = new Date().toISOString();
  const requestId = currentRequestId || 'undefined';
  if (!jsonFormat) return [timestamp, requestId, level, util.format(message, ...params)].join('\t');
  const entry = { timestamp, level, requestId };
  if (params.length === 0) {
    entry.message = message;
    try {
      return JSON.stringify(entry, errorReplacer);
    } catch {
      entry.message = util.format(message);
      return JSON.stringify(entry);
    }
  }
  entry.message = util.format(message, ...params);
  return JSON.stringify(entry);
}

for (const [method, level] of [['trace', 'TRACE'], ['debug', 'DEBUG'], ['info', 'INFO'], ['warn', 'WARN'], ['error', 'ERROR'], ['fatal', 'FATAL']]) {
  console[method] = LEVELS[level] < minLevel
    ? () => {}
    : (message, ...params) => writeStdout(`${formatLine(level, message, params).replace(/\n/g, '\r')}\n`);
}
console.log = console.info;

const marker = (fields) => writeStdout(`${JSON.stringify({ runner: fields.runner, time: new Date().toISOString(), ...fields })}\n`);

process.on('message', async (message) => {
  if (!message || message.type !== 'invoke') return;
  clockOffsetMs = Number(message.clockOffsetMs) || 0;
  const started = Date.now();
  const context = {
    functionName,
    functionVersion: '$LATEST',
    awsRequestId: message.requestId,
    invokedFunctionArn: functionArn,
    memoryLimitInMB: '256',
    logGroupName: `/aws/lambda/${functionName}`,
    getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - started)),
  };
  currentRequestId = message.requestId;
  marker({ runner: 'start', requestId: message.requestId, event: message.event });
  let outcome;
  try {
    mod = mod || require(bundle);
    if (typeof mod.handler !== 'function') {
      throw new Error(`${bundle} exports no handler function (an empty or half-written bundle? run \`npx projen bundle\`)`);
    }
    const result = await mod.handler(message.event, context);
    outcome = { type: 'result', requestId: message.requestId, ok: true, result: result === undefined ? null : result };
  } catch (error) {
    marker({ runner: 'threw', requestId: message.requestId, error: String(error && error.stack || error) });
    outcome = {
      type: 'result',
      requestId: message.requestId,
      ok: false,
      error: { name: error && error.name || 'Error', message: error && error.message || String(error) },
    };
  }
  // Everything the invocation wrote precedes this line (stdout to a pipe is synchronous on Linux).
  marker({ runner: 'end', requestId: message.requestId, ms: Date.now() - started });
  currentRequestId = undefined;
  process.send(outcome);
});

process.send({ type: 'ready' });
