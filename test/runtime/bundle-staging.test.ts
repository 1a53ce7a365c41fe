// stageBundle through a real S3 client over HTTP: the SDK's own retry strategy sends the bundle
// again after a 503, which only a replayable body allows.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { S3Client } from '@aws-sdk/client-s3';
import { stageBundle } from '../../src/runtime/bundle-staging';
import { CLIENT_CONFIG } from '../../src/runtime/handler-environment';
import { contentOf, fileEntry, readZip, writeZip } from '../helpers/raw-zip';

const ARTIFACT = writeZip([
  fileEntry('services/orders/dist/index.js', Buffer.from('exports.handler = async () => "orders";\n')),
  fileEntry('services/billing/dist/index.js', Buffer.from('exports.handler = async () => "billing";\n')),
]);

interface Put { readonly path: string; readonly body: Buffer }

/**
 * A path-style S3 endpoint: GetObject answers the artifact; PutObject answers 503 SlowDown (S3's
 * documented throttling answer, Error Responses in the S3 API reference) `failures` times, then 200.
 */
async function startS3(failures: number) {
  const puts: Put[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/zip', 'content-length': String(ARTIFACT.length) });
        res.end(ARTIFACT);
        return;
      }
      const body = Buffer.concat(chunks);
      puts.push({ path: (req.url ?? '').split('?')[0], body });
      if (puts.length <= failures) {
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
        return;
      }
      res.writeHead(200, { etag: `"${createHash('md5').update(body).digest('hex')}"` });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const s3 = new S3Client({
    ...CLIENT_CONFIG,
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example' },
  });
  return { s3, puts, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

let scratchRoot: string;
beforeEach(() => { scratchRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'bundle-staging-')); });
afterEach(() => fs.rmSync(scratchRoot, { recursive: true, force: true }));

const request = () => ({
  artifact: { bucketName: 'artifacts', objectKey: 'pipeline/BuildOutput/abc.zip' },
  bundleDirectory: 'services/orders/dist',
  bucketName: 'artifacts',
  key: 'bundles/exec-1/orders.zip',
  scratchRoot,
});

test('a throttled upload is sent again, whole, by the SDK\'s retries, and the scratch space is left empty', async () => {
  const s3 = await startS3(2);
  try {
    const staged = await stageBundle(s3.s3, request());
    expect(s3.puts).toHaveLength(3);
    expect(s3.puts.map((p) => p.path)).toEqual(Array(3).fill('/artifacts/bundles/exec-1/orders.zip'));
    // Every attempt carried the same, complete bundle.
    const [first, ...again] = s3.puts.map((p) => p.body);
    expect(first.length).toBeGreaterThan(0);
    for (const body of again) expect(body.equals(first)).toBe(true);
    expect(readZip(first).map((e) => [e.name, contentOf(e).toString()])).toEqual([['index.js', 'exports.handler = async () => "orders";\n']]);
    expect(staged).toMatchObject({ files: 1, codeSha256: createHash('sha256').update(first).digest('base64') });
    expect(fs.readdirSync(scratchRoot)).toEqual([]);
  } finally {
    s3.s3.destroy();
    await s3.stop();
  }
});

test('an upload that stays throttled fails after the client\'s attempts, naming the bundle and S3\'s answer', async () => {
  const s3 = await startS3(Number.MAX_SAFE_INTEGER);
  try {
    await expect(stageBundle(s3.s3, request())).rejects.toThrow(
      /^could not upload the bundle of services\/orders\/dist to s3:\/\/artifacts\/bundles\/exec-1\/orders.zip: .*reduce your request rate/);
    expect(s3.puts).toHaveLength(CLIENT_CONFIG.maxAttempts);
    expect(fs.readdirSync(scratchRoot)).toEqual([]);
  } finally {
    s3.s3.destroy();
    await s3.stop();
  }
});
