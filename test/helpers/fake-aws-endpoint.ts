import * as http from 'http';
import { AddressInfo } from 'net';

/** One scripted answer of the fake endpoint. */
export interface ScriptedResponse {
  readonly status: number;
  readonly body: object;
}

/**
 * An AWS JSON-protocol endpoint on loopback that answers from a script, so a real SDK client
 * (serializer, retry strategy with backoff, error parsing) talks to it over HTTP. For APIs no local
 * emulator models (CodeDeploy), where a stubbed `send` would skip the SDK's retry middleware.
 */
export async function startFakeAwsEndpoint(script: (call: number, target: string) => ScriptedResponse) {
  const calls: Array<{ target: string; at: number }> = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      calls.push({ target, at: Date.now() });
      const { status, body } = script(calls.length, target);
      const type = (body as { __type?: string }).__type;
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', ...(type ? { 'x-amzn-errortype': type } : {}) });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// ThrottlingException is in CodeDeploy's model (CreateDeploymentCommand.d.ts @throws); InternalFailure
// (500) and ServiceUnavailable (503) are the common errors every AWS JSON API may answer.
export const throttled: ScriptedResponse = { status: 400, body: { __type: 'ThrottlingException', message: 'Rate exceeded' } };
export const internalError: ScriptedResponse = { status: 500, body: { __type: 'InternalFailure', message: 'We encountered an internal error. Please try again.' } };
export const unavailable: ScriptedResponse = { status: 503, body: { __type: 'ServiceUnavailable', message: 'Service unavailable' } };

/** A port nothing listens on: what a client sees when the service is unreachable. */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
