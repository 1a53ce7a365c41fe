import * as http from 'http';
import { AddressInfo } from 'net';
import { Caller, callerOf, Identities } from './aws-identities';

/** An error answered the way the AWS JSON 1.1 protocol does: HTTP 4xx/5xx, `__type` and `message`. */
export class AwsError extends Error {
  constructor(public readonly type: string, message: string, public readonly status = 400) {
    super(message);
    this.name = type;
  }
}

/** One request a fake received, with what it answered. */
export interface RecordedCall {
  readonly operation: string;
  readonly input: any;
  readonly at: number;
  /** The `__type` of the error answered, if any. */
  readonly error?: string;
  readonly errorMessage?: string;
  readonly output?: any;
  /** Who called: the access key, its account and the credential scope's region. */
  readonly caller: Caller;
}

export type Operations = Record<string, (input: any, caller: Caller) => unknown | Promise<unknown>>;

/**
 * A loopback endpoint speaking the AWS JSON 1.1 protocol (as test/fake-aws-endpoint.ts does):
 * POST /, `x-amz-target: <Prefix>.<Operation>`, JSON body; errors as `{"__type": ..., "message": ...}`
 * with `x-amzn-errortype`.
 * @see https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html
 */
export async function startJsonServer(targetPrefix: string, operations: Operations, identities?: Identities) {
  const calls: RecordedCall[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const target = String(req.headers['x-amz-target'] ?? '');
        const operation = target.startsWith(`${targetPrefix}.`) ? target.slice(targetPrefix.length + 1) : target;
        const caller = callerOf(req.headers, identities);
        let input: any = {};
        try {
          input = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
        } catch {
          input = { unparsable: Buffer.concat(chunks).toString('utf8') };
        }
        let status = 200;
        let body: any;
        try {
          const handler = operations[operation];
          if (!handler) throw new AwsError('UnknownOperationException', `${target} is not modelled by this fake`);
          body = (await handler(input, caller)) ?? {};
          calls.push({ operation, input, at: Date.now(), output: body, caller });
        } catch (error) {
          const e = error instanceof AwsError ? error : new AwsError('InternalFailure', String(error), 500);
          status = e.status;
          body = { __type: e.type, message: e.message };
          calls.push({ operation, input, at: Date.now(), error: e.type, errorMessage: e.message, caller });
        }
        res.writeHead(status, {
          'content-type': 'application/x-amz-json-1.1',
          'x-amzn-requestid': `req-${calls.length}`,
          ...(status !== 200 ? { 'x-amzn-errortype': body.__type } : {}),
        });
        res.end(JSON.stringify(body));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
