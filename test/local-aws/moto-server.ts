import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as path from 'path';

/** A moto server (https://docs.getmoto.org/en/latest/docs/server_mode.html) on loopback. */
export interface MotoServer {
  readonly url: string;
  readonly version: string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
// A safety net for a crashed run: never leave a moto server behind.
process.on('exit', () => live.forEach((child) => child.kill('SIGKILL')));

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves MOTO_SERVER_BIN, or explains how to get one. */
export function motoServerBinary(): string {
  const configured = process.env.MOTO_SERVER_BIN;
  const howTo = 'Run `npx projen test:local-aws`, or by hand: `python3 -m venv cdk.out/venv-moto && '
    + 'cdk.out/venv-moto/bin/pip install -r test/local-aws/requirements.txt`, then run jest with '
    + 'MOTO_SERVER_BIN=cdk.out/venv-moto/bin/moto_server.';
  if (!configured) throw new Error(`MOTO_SERVER_BIN is not set: the local AWS tests need moto's server. ${howTo}`);
  const binary = path.resolve(configured);
  if (!fs.existsSync(binary)) throw new Error(`MOTO_SERVER_BIN=${configured} does not exist (resolved to ${binary}). ${howTo}`);
  return binary;
}

/** An account and region of local AWS. */
export interface Placement {
  readonly account: string;
  readonly region: string;
}

/**
 * Asks moto's own API a question with a credential scope naming `service`, so moto routes it there;
 * with a placement, in that account (moto's `x-moto-account-id` header) and region (the credential scope's).
 */
export function motoRequest(
  baseUrl: string, service: string, method: string, requestPath: string, body?: Buffer | string, headers: Record<string, string> = {},
  placement?: Placement,
) {
  return new Promise<{ status: number; body: string; bytes: Buffer }>((resolve, reject) => {
    const request = http.request(`${baseUrl}${requestPath}`, {
      method,
      headers: {
        // moto's server picks the service from the SigV4 credential scope; it does not check signatures.
        authorization: `AWS4-HMAC-SHA256 Credential=test/20250101/${placement?.region ?? 'us-east-1'}/${service}/aws4_request, SignedHeaders=host, Signature=0`,
        ...(placement ? { 'x-moto-account-id': placement.account } : {}),
        ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
        ...headers,
      },
    }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const bytes = Buffer.concat(chunks);
        resolve({ status: response.statusCode ?? 0, body: bytes.toString('utf8'), bytes });
      });
    });
    request.on('error', reject);
    if (body !== undefined) request.write(body);
    request.end();
  });
}

/**
 * Forgets every resource of every service (moto's reset API,
 * https://docs.getmoto.org/en/latest/docs/server_mode.html#reset-api): each scenario starts from
 * an empty account and can use the template's physical names as they are.
 */
export async function resetMoto(baseUrl: string): Promise<void> {
  const response = await motoRequest(baseUrl, 's3', 'POST', '/moto-api/reset');
  if (response.status !== 200) throw new Error(`moto reset answered ${response.status}: ${response.body}`);
}

export async function startMotoServer(): Promise<MotoServer> {
  const binary = motoServerBinary();
  const port = await freePort();
  const output: string[] = [];
  const child = spawn(binary, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  live.add(child);
  const remember = (chunk: Buffer) => {
    output.push(chunk.toString('utf8'));
    if (output.length > 200) output.shift();
  };
  child.stdout?.on('data', remember);
  child.stderr?.on('data', remember);
  let exited: number | null | undefined;
  child.on('exit', (code) => {
    exited = code;
    live.delete(child);
  });

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited !== undefined) throw new Error(`moto_server (${binary}) exited with ${exited} before answering:\n${output.join('')}`);
    try {
      const { status } = await motoRequest(url, 's3', 'GET', '/moto-api/data.json');
      if (status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto_server did not answer on ${url} within 30 s:\n${output.join('')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  const version = motoVersion(binary);

  return {
    url,
    version,
    stop: async () => {
      if (exited !== undefined) return;
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await done;
      clearTimeout(timer);
    },
  };
}

/** moto's version, read from the venv's installed distribution metadata next to the binary. */
function motoVersion(binary: string): string {
  const lib = path.join(path.dirname(binary), '..', 'lib');
  try {
    for (const python of fs.readdirSync(lib)) {
      const sitePackages = path.join(lib, python, 'site-packages');
      const dist = fs.readdirSync(sitePackages).find((name) => /^moto-[\d.]+\.dist-info$/.test(name));
      if (dist) return dist.replace(/^moto-/, '').replace(/\.dist-info$/, '');
    }
  } catch {
    // not a venv layout
  }
  return 'unknown';
}
