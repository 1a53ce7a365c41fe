// One Lambda execution environment for a bundled handler (test/local-aws): loads the esbuild
// bundle named on the command line once, with the environment it was started with, and runs one
// invocation at a time as the parent asks over IPC.
'use strict';

const bundle = process.argv[2];
const functionName = process.argv[3] || 'handler';
const timeoutMs = Number(process.argv[4] || 120000);
let mod;

process.on('message', async (message) => {
  if (!message || message.type !== 'invoke') return;
  const started = Date.now();
  const context = {
    functionName,
    functionVersion: '$LATEST',
    awsRequestId: message.requestId,
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '256',
    logGroupName: `/aws/lambda/${functionName}`,
    getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - started)),
  };
  console.log(JSON.stringify({ runner: 'invoke', requestId: message.requestId, event: message.event }));
  try {
    mod = mod || require(bundle);
    if (typeof mod.handler !== 'function') {
      throw new Error(`${bundle} exports no handler function (an empty or half-written bundle? run \`npx projen bundle\`)`);
    }
    const result = await mod.handler(message.event, context);
    process.send({ type: 'result', requestId: message.requestId, ok: true, result: result === undefined ? null : result });
  } catch (error) {
    console.error(JSON.stringify({ runner: 'threw', requestId: message.requestId, error: String(error && error.stack || error) }));
    process.send({
      type: 'result',
      requestId: message.requestId,
      ok: false,
      error: { name: error && error.name || 'Error', message: error && error.message || String(error) },
    });
  }
});

process.send({ type: 'ready' });
