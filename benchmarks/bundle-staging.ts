// Peak memory and time of Deploy-Blue's stageBundle cutting one service out of a large monorepo
// build artifact: S3 is a stand-in that serves the artifact from a file and drains each upload
// (so the numbers are the handler's own), one fresh process per measurement.
// Usage: bundle-staging.ts make <artifact.zip> [total MiB] [service MiB]   (writes the artifact once)
//        bundle-staging.ts run <artifact.zip> <bundleDirectory>          (prints one JSON line)
// Run `run` under `/usr/bin/time -v` for the peak RSS ("Maximum resident set size").
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import { Readable } from 'stream';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
// eslint-disable-next-line import/no-extraneous-dependencies -- the SDK's own dependency, as the handler tests use it
import { sdkStreamMixin } from '@smithy/core/serde';
import * as yazl from 'yazl';
import { stageBundle } from '../src/runtime/bundle-staging';

const MiB = 1024 * 1024;

/** A tenth JavaScript-like text (deflates well), the rest random bytes (does not): artifacts zip to about 90%. */
function content(size: number, seed: number): Buffer {
  const text = Buffer.from(`export function f${seed}(x) { return x.map((y) => y * ${seed} + "${seed.toString(36)}"); }\n`);
  const head = Buffer.alloc(Math.floor(size / 10), text);
  return Buffer.concat([head, randomBytes(size - head.length)]);
}

async function make(file: string, totalMiB: number, serviceMiB: number) {
  const zip = new yazl.ZipFile();
  const done = new Promise<void>((resolve, reject) => {
    zip.outputStream.pipe(fs.createWriteStream(file)).on('close', resolve).on('error', reject);
  });
  const fileSize = 200 * 1024;
  let written = 0;
  // services/big/dist holds serviceMiB; the rest is spread over 20 other services.
  for (let i = 0; written < serviceMiB * MiB; i++, written += fileSize) {
    zip.addBuffer(content(fileSize, i), `services/big/dist/lib/m${i}.js`);
  }
  zip.addBuffer(Buffer.from('exports.handler = async () => 1;\n'), 'services/big/dist/index.js');
  for (let i = 0; written < totalMiB * MiB; i++, written += fileSize) {
    zip.addBuffer(content(fileSize, i), `services/s${i % 20}/dist/lib/m${i}.js`);
  }
  zip.end();
  await done;
  console.log(`${file}: ${(fs.statSync(file).size / MiB).toFixed(1)} MiB zipped, ${(written / MiB).toFixed(0)} MiB of files`);
}

async function run(file: string, bundleDirectory: string) {
  const size = fs.statSync(file).size;
  let uploaded = 0;
  const s3 = {
    async send(command: unknown) {
      if (command instanceof GetObjectCommand) {
        return { Body: sdkStreamMixin(fs.createReadStream(file)), ContentLength: size };
      }
      if (command instanceof PutObjectCommand) {
        const body = command.input.Body;
        if (body instanceof Readable) for await (const chunk of body) uploaded += chunk.length;
        else uploaded += (body as Uint8Array).length;
        return { ETag: '"x"' };
      }
      throw new Error('unexpected command');
    },
  };
  const started = process.hrtime.bigint();
  const staged = await stageBundle(s3 as any, {
    artifact: { bucketName: 'artifacts', objectKey: 'artifact.zip' } as any,
    bundleDirectory,
    bucketName: 'artifacts',
    key: 'bundles/x.zip',
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(JSON.stringify({
    artifactMiB: +(size / MiB).toFixed(1),
    bundleDirectory,
    seconds: +seconds.toFixed(2),
    uploadedMiB: +(uploaded / MiB).toFixed(1),
    files: 'files' in staged ? staged.files : undefined,
    codeSha256: 'codeSha256' in staged ? staged.codeSha256 : undefined,
    asBuilt: 'asBuilt' in staged ? staged.asBuilt : undefined,
  }));
}

const [mode, file, a, b] = process.argv.slice(2);
const main = mode === 'make' ? make(file, Number(a ?? 330), Number(b ?? 50))
  : mode === 'run' ? run(file, a ?? '')
    : Promise.reject(new Error('usage: bundle-staging.ts make <artifact.zip> [total MiB] [service MiB] | run <artifact.zip> <bundleDirectory>'));
main.catch((error) => {
  console.error(error);
  process.exit(1);
});
