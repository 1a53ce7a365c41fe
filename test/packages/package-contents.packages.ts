import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { Pack, Parser, ReadEntry } from 'tar';
import * as yauzl from 'yauzl';

// What every package built in dist/ (npx projen package-all) holds, read from the archives
// themselves: the npm tarball, and the tarball jsii embeds in the wheel, the jar and the Go module
// (the jsii runtime of those languages loads the library, assets included, from it).
const dist = path.resolve(process.env.PACKAGES_DIR ?? path.join(__dirname, '..', '..', 'dist'));

/** Without these a consumer fails at synth («CannotFindAsset») or has no `blue-green-lambda-pipeline` bin. */
const REQUIRED = [
  'package.json',
  '.jsii',
  'lib/index.js',
  'lib/index.d.ts',
  'assets/handlers/deploy-blue.lambda/index.js',
  'assets/handlers/switch-traffic.lambda/index.js',
  'assets/handlers/smoke-test-hook.lambda/index.js',
  'assets/cli/bin.js',
  'README.md',
  'LICENSE',
];
/** Development material that has no business in a user's node_modules. */
const FORBIDDEN = ['.ci/', 'src/', 'test/', 'examples/', 'validation/', 'benchmarks/', 'projenrc/', 'rosetta/', 'cdk.out/', 'coverage/', 'test-reports/', 'dist/', 'node_modules/', '.projenrc.ts', '.projen/', '.github/'];

/** The files of a (gzipped) npm tarball, by path without the leading `package/`. */
function readTarball(archive: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    const files = new Map<string, Buffer>();
    const parser = new Parser({
      onReadEntry: (entry: ReadEntry) => {
        const chunks: Buffer[] = [];
        entry.on('data', (chunk: Buffer) => chunks.push(chunk));
        entry.on('end', () => files.set(entry.path.replace(/^package\//, ''), Buffer.concat(chunks)));
      },
    });
    parser.on('end', () => resolve(files));
    parser.on('error', reject);
    parser.end(archive);
  });
}

/** The entries of a zip (wheel, jar) whose names `wanted` accepts, with their contents; every name in `names`. */
function readZip(archive: Buffer, wanted: (name: string) => boolean): Promise<{ names: string[]; files: Map<string, Buffer> }> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(archive, { lazyEntries: true }, (openError, zip) => {
      if (openError) return reject(openError);
      const names: string[] = [];
      const files = new Map<string, Buffer>();
      zip.on('entry', (entry: yauzl.Entry) => {
        names.push(entry.fileName);
        if (!wanted(entry.fileName)) return zip.readEntry();
        zip.openReadStream(entry, (readError, stream) => {
          if (readError) return reject(readError);
          const chunks: Buffer[] = [];
          stream.on('data', (chunk: Buffer) => chunks.push(chunk));
          stream.on('end', () => {
            files.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
          stream.on('error', reject);
        });
      });
      zip.on('end', () => resolve({ names, files }));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

/** The one file under `dir` (recursively) whose name `accept` takes; fails naming the build step otherwise. */
function onlyFile(dir: string, accept: (name: string) => boolean, step: string): string {
  const found: string[] = [];
  const walk = (current: string) => {
    for (const name of readdirSync(current)) {
      const file = path.join(current, name);
      if (statSync(file).isDirectory()) walk(file);
      else if (accept(name)) found.push(file);
    }
  };
  try {
    walk(dir);
  } catch {
    throw new Error(`${dir} does not exist: run \`${step}\` first`);
  }
  if (found.length !== 1) throw new Error(`expected one package in ${dir}, found ${found.length} (${found.join(', ')}): run \`${step}\` on a clean dist/`);
  return found[0];
}

const jsiiTarball = (name: string) => /^blue-green-lambda-pipeline[@-].+\.(jsii\.)?tgz$/.test(path.basename(name));

/** What is wrong with a library tarball: required files missing, development files present, a bin that is not there. */
async function problemsOf(archive: Buffer): Promise<string[]> {
  const files = await readTarball(archive);
  const problems: string[] = [];
  for (const required of REQUIRED) if (!files.has(required)) problems.push(`missing ${required}`);
  for (const file of files.keys()) {
    const forbidden = FORBIDDEN.find((prefix) => file === prefix || file.startsWith(prefix));
    if (forbidden) problems.push(`ships ${file} (${forbidden})`);
  }
  const manifest = JSON.parse(files.get('package.json')?.toString() ?? '{}') as { bin?: Record<string, string> };
  for (const [name, target] of Object.entries(manifest.bin ?? {})) {
    const bin = files.get(path.posix.normalize(target));
    if (!bin) problems.push(`bin ${name} -> ${target} is not in the package`);
    else if (!bin.toString('utf8', 0, 20).startsWith('#!/usr/bin/env node')) problems.push(`bin ${name} -> ${target} has no node shebang`);
  }
  if (!manifest.bin?.['blue-green-lambda-pipeline']) problems.push('package.json has no blue-green-lambda-pipeline bin');
  for (const handler of REQUIRED.filter((file) => file.endsWith('.lambda/index.js'))) {
    const code = files.get(handler)?.toString() ?? '';
    if (code && !/\bhandler\b/.test(code)) problems.push(`${handler} exports no handler`);
  }
  return problems;
}

/** The jsii tarball a zip (wheel, jar) embeds. */
async function embeddedTarball(zipFile: string): Promise<Buffer> {
  const { names, files } = await readZip(readFileSync(zipFile), jsiiTarball);
  if (files.size !== 1) throw new Error(`${path.basename(zipFile)} embeds ${files.size} library tarballs, not one; it holds ${names.length} entries`);
  return [...files.values()][0];
}

test('the npm tarball holds the handler bundles, the CLI and the compiled library, and no development files', async () => {
  const tarball = onlyFile(path.join(dist, 'js'), (name) => name.endsWith('.tgz'), 'npx projen package:js');
  expect(await problemsOf(readFileSync(tarball))).toEqual([]);
});

test('the Python wheel embeds the same complete library tarball', async () => {
  const wheel = onlyFile(path.join(dist, 'python'), (name) => name.endsWith('.whl'), 'npx projen package:python');
  expect(await problemsOf(await embeddedTarball(wheel))).toEqual([]);
});

test('the Java jar embeds the same complete library tarball', async () => {
  const jar = onlyFile(path.join(dist, 'java'), (name) => /^blue-green-lambda-pipeline-[^-]+(-[a-z0-9.]+)?\.jar$/.test(name) && !/-(sources|javadoc)\.jar$/.test(name), 'npx projen package:java');
  expect(await problemsOf(await embeddedTarball(jar))).toEqual([]);
});

test('the Go module embeds the same complete library tarball', async () => {
  const tarball = onlyFile(path.join(dist, 'go'), jsiiTarball, 'npx projen package:go');
  expect(await problemsOf(readFileSync(tarball))).toEqual([]);
});

test('the check can fail: a tarball without assets/ and with .ci/ is refused, naming each problem', async () => {
  const good = await readTarball(readFileSync(onlyFile(path.join(dist, 'js'), (name) => name.endsWith('.tgz'), 'npx projen package:js')));
  // Rebuild the tarball from its own files, less assets/ and plus .ci/run, as an old build shipped it.
  const root = mkdtempSync(path.join(tmpdir(), 'bglp-broken-package-'));
  const kept = [...good.keys()].filter((file) => !file.startsWith('assets/'));
  for (const file of [...kept, '.ci/run']) {
    mkdirSync(path.join(root, 'package', path.dirname(file)), { recursive: true });
    writeFileSync(path.join(root, 'package', file), good.get(file) ?? '#!/usr/bin/env bash\n');
  }
  const chunks: Buffer[] = [];
  const pack = new Pack({ cwd: root, gzip: true, portable: true });
  pack.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  pack.add('package');
  pack.end();
  await done;
  const problems = await problemsOf(Buffer.concat(chunks));
  expect(problems).toEqual(expect.arrayContaining([
    'missing assets/handlers/deploy-blue.lambda/index.js',
    'missing assets/handlers/switch-traffic.lambda/index.js',
    'missing assets/handlers/smoke-test-hook.lambda/index.js',
    'missing assets/cli/bin.js',
    'bin blue-green-lambda-pipeline -> assets/cli/bin.js is not in the package',
    'ships .ci/run (.ci/)',
  ]));
});
