import * as http from 'http';
import { AddressInfo } from 'net';

/** One DynamoDB request a handler made through the proxy. */
export interface DynamoCall {
  readonly operation: string;
  readonly status: number;
  readonly errorType?: string;
  readonly at: number;
}

/** Operations that write items; DynamoDB applies each atomically, its condition included. */
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

/**
 * The DynamoDB endpoint the handlers see: moto behind a proxy that serializes item writes.
 *
 * DynamoDB evaluates a write's ConditionExpression and applies the write as one atomic step, so
 * of two concurrent conditional writes to one item at most one whose condition excludes the other
 * succeeds ("Conditional writes", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html#WorkingWithItems.ConditionalUpdate;
 * the other answers ConditionalCheckFailedException). moto 5.2.5's server handles requests on
 * threads and its DynamoDB backend takes no lock between reading the item, checking the
 * condition and writing: two concurrent claims can both pass. The proxy restores DynamoDB's
 * guarantee by sending one write at a time (reads pass through); everything else is forwarded
 * unchanged.
 */
export async function startDynamoProxy(motoUrl: string) {
  const calls: DynamoCall[] = [];
  let queue: Promise<unknown> = Promise.resolve();

  function forward(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse, operation: string): Promise<void> {
    const target = new URL(req.url ?? '/', motoUrl);
    return new Promise<void>((resolve) => {
      const upstream = http.request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const out = Buffer.concat(chunks);
          let errorType: string | undefined;
          if ((response.statusCode ?? 500) >= 400) {
            try {
              errorType = String(JSON.parse(out.toString('utf8')).__type ?? '').split('#').pop();
            } catch {
              errorType = 'unparsable';
            }
          }
          calls.push({ operation, status: response.statusCode ?? 0, errorType, at: Date.now() });
          res.writeHead(response.statusCode ?? 502, response.headers);
          res.end(out);
          resolve();
        });
      });
      upstream.on('error', (error) => {
        calls.push({ operation, status: 500, errorType: 'ProxyError', at: Date.now() });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: `proxy: ${String(error)}` }));
        resolve();
      });
      upstream.end(body);
    });
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const operation = String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
      if (!WRITES.has(operation)) {
        void forward(req, body, res, operation);
        return;
      }
      const turn = queue.then(() => forward(req, body, res, operation));
      queue = turn.catch(() => undefined);
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

export type DynamoProxy = Awaited<ReturnType<typeof startDynamoProxy>>;
