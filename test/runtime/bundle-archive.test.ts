/* eslint-disable no-bitwise */ // zip header fields and flags are bit arithmetic.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import * as yazl from 'yazl';
import {
  BundleDirectoryError,
  cutBundle,
  MAX_UNZIPPED_BYTES,
  normalizeBundleDirectory,
  ZipFormatError,
} from '../../src/runtime/bundle-archive';
import { contentOf, fileEntry, readZip, writeZip } from '../helpers/raw-zip';
import { HAS_ZIP_CLI, filesOf, modesWithCli, unzipWithCli, zipWithCli } from '../helpers/zip-fixtures';

const withCli = HAS_ZIP_CLI ? test : test.skip;

const MONOREPO = {
  'services/orders/dist/index.js': 'exports.handler = async () => "orders";\n',
  'services/orders/dist/lib/util.js': 'module.exports = 1;\n',
  'services/orders/src/index.ts': 'export const handler = async () => "orders";\n',
  'services/billing/dist/index.js': `exports.handler = async () => "${'billing '.repeat(500)}";\n`,
  'package.json': '{}\n',
};

let scratch: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'bundle-archive-test-'));
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

let cuts = 0;
/** cutBundle from and to files, for an archive in memory: what it wrote, and the zip itself. */
async function cut(archive: Buffer, directory: string) {
  const input = path.join(scratch, `in-${++cuts}.zip`);
  const output = path.join(scratch, `out-${cuts}.zip`);
  fs.writeFileSync(input, archive);
  const result = await cutBundle(input, directory, output);
  return { ...result, zip: fs.readFileSync(output) };
}

/** An archive written by yazl (ZIP64 on request, any number of entries), as another build tool might. */
async function zipWithYazl(files: Array<[string, string]>, options: { zip64?: boolean } = {}): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, content] of files) zip.addBuffer(Buffer.from(content), name, { forceZip64Format: options.zip64 });
  zip.end({ forceZip64Format: !!options.zip64, comment: '' });
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const ZIP64_LOCATOR = Buffer.from([0x50, 0x4b, 0x06, 0x07]);

describe('reading build artifacts', () => {
  test('stored and deflated entries, UTF-8 names and Unix modes survive the cut', async () => {
    const archive = writeZip([
      fileEntry('index.js', Buffer.from('exports.handler = 1;\n'.repeat(100))),
      fileEntry('bin/tool', Buffer.from('#!/bin/sh\necho hi\n'), { mode: 0o755, store: true }),
      fileEntry('données/é.txt', Buffer.from('')),
    ]);
    const bundle = await cut(archive, '');
    expect(filesOf(bundle.zip)).toEqual({ 'bin/tool': '#!/bin/sh\necho hi\n', 'données/é.txt': '', 'index.js': 'exports.handler = 1;\n'.repeat(100) });
    expect(readZip(bundle.zip).map((e) => [e.name, (e.externalAttributes >>> 16).toString(8)])).toEqual([
      ['bin/tool', '100755'], ['données/é.txt', '100644'], ['index.js', '100644'],
    ]);
  });

  test.each([
    ['seekable output (sizes in the local headers)', {}],
    ['streamed output (data descriptors, bit 3)', { stream: true }],
    ['stored entries (zip -0)', { store: true }],
    ['ZIP64 records (zip -fz)', { zip64: true }],
  ])('archives the zip CLI wrote: %s', async (_name, options) => {
    if (!HAS_ZIP_CLI) return;
    const bundle = await cut(zipWithCli(MONOREPO, options), '');
    expect(filesOf(bundle.zip)).toEqual(MONOREPO);
  });

  withCli('the archives really have the features the cases name', () => {
    const streamed = zipWithCli({ 'a.txt': 'aaaa' }, { stream: true });
    expect(streamed.readUInt16LE(6) & 0x0008).toBe(0x0008); // local header flag: data descriptor follows
    expect(streamed.readUInt32LE(18)).toBe(0); // and its compressed size is left zero
    expect(zipWithCli({ 'a.txt': 'aaaa' }, { zip64: true }).includes(ZIP64_LOCATOR)).toBe(true);
  });

  test('a ZIP64 archive (every record ZIP64, as yazl forces it) is read', async () => {
    const archive = await zipWithYazl(Object.entries(MONOREPO), { zip64: true });
    expect(archive.includes(ZIP64_LOCATOR)).toBe(true);
    expect(filesOf((await cut(archive, 'services/orders/dist')).zip)).toEqual({
      'index.js': MONOREPO['services/orders/dist/index.js'], 'lib/util.js': MONOREPO['services/orders/dist/lib/util.js'],
    });
  });

  withCli('zip -fz into a pipe writes a saturated end record and no ZIP64 one; unzip refuses it, and so do we', async () => {
    const broken = zipWithCli({ 'a.txt': 'aaaa' }, { zip64: true, stream: true });
    expect(() => unzipWithCli(broken)).toThrow();
    await expect(cut(broken, '')).rejects.toThrow(ZipFormatError);
  });
});

describe('corrupt and unsupported input is refused, naming what is wrong', () => {
  const good = writeZip([fileEntry('index.js', Buffer.from('exports.handler = async () => 1;\n'.repeat(50)))]);

  test.each([
    ['empty input', Buffer.alloc(0)],
    ['text, not a zip', Buffer.from('this is not a zip archive, it is just some text long enough')],
    ['a truncated archive', good.subarray(0, good.length - 30)],
  ])('%s', async (_name, input) => {
    await expect(cut(input, '')).rejects.toThrow(new ZipFormatError('not a zip archive (no end of central directory record)'));
  });

  test('data cut short in the middle', async () => {
    const archive = writeZip([fileEntry('a.js', Buffer.from('a'.repeat(100)), { store: true }), fileEntry('b.js', Buffer.from('b'))]);
    const damaged = Buffer.concat([archive.subarray(0, 60), archive.subarray(90)]); // the central directory now points past its data
    await expect(cut(damaged, '')).rejects.toThrow(ZipFormatError);
  });

  test('a flipped byte in deflated data (inflate error, size or CRC-32 mismatch)', async () => {
    const damaged = Buffer.from(good);
    damaged[30 + 'index.js'.length + 5] ^= 0xff;
    await expect(cut(damaged, '')).rejects.toThrow(/^entry index\.js: /);
    await expect(cut(damaged, '')).rejects.toThrow(ZipFormatError);
  });

  test('a flipped byte in stored data fails the CRC-32 check', async () => {
    const archive = writeZip([fileEntry('index.js', Buffer.from('hello world'), { store: true })]);
    archive[30 + 'index.js'.length] ^= 0x01;
    await expect(cut(archive, '')).rejects.toThrow(new ZipFormatError('entry index.js: CRC-32 mismatch (corrupt archive)'));
  });

  test('an entry that inflates beyond its declared size is stopped', async () => {
    const bomb = { ...fileEntry('bomb.js', Buffer.alloc(1_000_000)), size: 10 };
    await expect(cut(writeZip([bomb]), '')).rejects.toThrow(/^entry bomb\.js: .*too many bytes/);
  });

  test('unsupported methods and encrypted entries are named', async () => {
    const bzip2 = { ...fileEntry('a.js', Buffer.from('a'), { store: true }), method: 12 };
    await expect(cut(writeZip([bzip2]), '')).rejects.toThrow(new ZipFormatError('entry a.js uses compression method 12; only stored (0) and deflated (8) are supported'));
    const encrypted = { ...fileEntry('a.js', Buffer.from('a'.repeat(100))), encrypted: true };
    await expect(cut(writeZip([encrypted]), '')).rejects.toThrow(new ZipFormatError('entry a.js is encrypted'));
  });

  test('saturated sizes without a ZIP64 end record', async () => {
    const archive = writeZip([fileEntry('a.js', Buffer.from('a'))]);
    archive.writeUInt32LE(0xffffffff, archive.length - 6); // central directory offset
    await expect(cut(archive, '')).rejects.toThrow(ZipFormatError);
  });

  test('a split (multi-disk) archive', async () => {
    const archive = writeZip([fileEntry('a.js', Buffer.from('a'))]);
    archive.writeUInt16LE(1, archive.length - 18); // number of this disk
    await expect(cut(archive, '')).rejects.toThrow(new ZipFormatError('split (multi-disk) zip archives are not supported'));
  });

  test.each([
    ['dist/../../etc/passwd'],
    ['/etc/passwd'],
    ['dist\\evil.js'],
  ])('an entry named %s (climbing out, absolute, or with a backslash), wherever it is', async (name) => {
    const archive = writeZip([fileEntry('dist/index.js', Buffer.from('x')), fileEntry(name, Buffer.from('x'))]);
    await expect(cut(archive, 'dist')).rejects.toThrow(new ZipFormatError(`entry ${name} has a name that climbs out of its directory, is absolute or holds "\\"; refused`));
  });
});

describe('cutBundle', () => {
  const artifact = writeZip(Object.entries(MONOREPO).map(([name, content]) => fileEntry(name, Buffer.from(content))));

  test('cuts one directory out, paths relative to it, directory entries dropped', async () => {
    const orders = await cut(artifact, 'services/orders/dist');
    expect(orders.files).toEqual(['index.js', 'lib/util.js']);
    expect(filesOf(orders.zip)).toEqual({
      'index.js': MONOREPO['services/orders/dist/index.js'],
      'lib/util.js': MONOREPO['services/orders/dist/lib/util.js'],
    });
    expect(orders.size).toBe(MONOREPO['services/orders/dist/index.js'].length + MONOREPO['services/orders/dist/lib/util.js'].length);
    expect(orders.zipBytes).toBe(orders.zip.length);
  });

  test('the code hash is the SHA-256 of the zip written, base64, as Lambda reports CodeSha256', async () => {
    const orders = await cut(artifact, 'services/orders/dist');
    expect(orders.codeSha256).toBe(createHash('sha256').update(orders.zip).digest('base64'));
  });

  withCli('from a real streamed artifact, unzip reads the result with Unix modes kept', async () => {
    const cli = zipWithCli({ ...MONOREPO, 'services/orders/dist/bin/run': '#!/bin/sh\n' }, { stream: true, modes: { 'services/orders/dist/bin/run': 0o755 } });
    const orders = await cut(cli, './services/orders/dist/');
    expect(unzipWithCli(orders.zip)).toEqual({
      'index.js': MONOREPO['services/orders/dist/index.js'],
      'lib/util.js': MONOREPO['services/orders/dist/lib/util.js'],
      'bin/run': '#!/bin/sh\n',
    });
    expect(modesWithCli(orders.zip)['bin/run']).toBe('-rwxr-xr-x');
  });

  test('the same files give the same bytes, whatever times, order, modes, host and compression the build wrote', async () => {
    const files = Object.entries(MONOREPO).map(([name, content]) => fileEntry(name, Buffer.from(content)));
    // The second build: other times, reverse order, group-writable modes from an MS-DOS host, stored or deflated at level 9.
    const rebuilt = [...files].reverse().map((entry, i) => {
      const data = contentOf(entry);
      const raw = i % 2 ? data : zlib.deflateRawSync(data, { level: 9 });
      const externalAttributes = ((0o100664 << 16) >>> 0) | 0x20;
      const versionMadeBy = i % 2 ? 0x0014 : 0x031e;
      const method = i % 2 ? 0 : 8;
      return { ...entry, dosTime: 0x6000 + i, dosDate: 0x5a21, versionMadeBy, externalAttributes, method, raw, compressedSize: raw.length };
    });
    const first = (await cut(writeZip(files), 'services/orders/dist')).zip;
    expect((await cut(writeZip(files), 'services/orders/dist')).zip.equals(first)).toBe(true);
    expect((await cut(writeZip(rebuilt), 'services/orders/dist')).zip.equals(first)).toBe(true);
    // What is written: name order, a fixed time, Unix 0644, no extra fields.
    const written = readZip(first).map((e) => ({
      name: e.name,
      dosTime: e.dosTime,
      dosDate: e.dosDate,
      mode: (e.externalAttributes >>> 16).toString(8),
      versionMadeBy: e.versionMadeBy >> 8,
      method: e.method,
    }));
    expect(written).toEqual(['index.js', 'lib/util.js'].map((name) => ({ name, dosTime: 0, dosDate: 0x21, mode: '100644', versionMadeBy: 3, method: 8 })));
    expect(first.readUInt16LE(28)).toBe(0); // the first local header's extra field length
  });

  withCli('two real builds of the same files at different times give the same bundle; executables stay executable', async () => {
    const files = { ...MONOREPO, 'services/orders/dist/bin/run': '#!/bin/sh\n' };
    const modes = { 'services/orders/dist/bin/run': 0o775, 'services/orders/dist/index.js': 0o664 };
    const monday = zipWithCli(files, { modes, mtime: new Date('2026-11-23T08:00:00Z') });
    const tuesday = zipWithCli(files, { modes, mtime: new Date('2026-11-24T17:31:07Z'), stream: true });
    expect(monday.equals(tuesday)).toBe(false);
    const a = (await cut(monday, 'services/orders/dist')).zip;
    expect((await cut(tuesday, 'services/orders/dist')).zip.equals(a)).toBe(true);
    expect(modesWithCli(a)).toEqual({ 'bin/run': '-rwxr-xr-x', 'index.js': '-rw-r--r--', 'lib/util.js': '-rw-r--r--' });
    expect(unzipWithCli(a)['bin/run']).toBe('#!/bin/sh\n');
  });

  test('a symbolic link stays one (mode 0120777, its target as content); an empty file is stored', async () => {
    const archive = writeZip([
      fileEntry('dist/index.js', Buffer.from('module.exports = require("./lib");\n')),
      fileEntry('dist/lib', Buffer.from('../shared/lib'), { symlink: true }),
      fileEntry('dist/empty.js', Buffer.alloc(0)),
    ]);
    const written = readZip((await cut(archive, 'dist')).zip);
    expect(written.map((e) => [e.name, (e.externalAttributes >>> 16).toString(8), e.method, contentOf(e).toString()])).toEqual([
      ['empty.js', '100644', 0, ''], ['index.js', '100644', 8, 'module.exports = require("./lib");\n'], ['lib', '120777', 8, '../shared/lib'],
    ]);
  });

  test('a missing directory names it and lists the top-level directories and what its parent holds', async () => {
    await expect(cut(artifact, 'services/order/dist')).rejects.toThrow(new BundleDirectoryError(
      'bundleDirectory "services/order/dist" is not in the build artifact; its top-level directories are: services; "services" holds: billing, orders'));
    await expect(cut(artifact, 'dist')).rejects.toThrow(new BundleDirectoryError('bundleDirectory "dist" is not in the build artifact; its top-level directories are: services'));
  });

  test('a prefix of a longer name is not the directory', async () => {
    const archive = writeZip([fileEntry('services/orders-v2/index.js', Buffer.from('x'))]);
    await expect(cut(archive, 'services/orders')).rejects.toThrow(/bundleDirectory "services\/orders" is not in the build artifact/);
  });

  withCli('a directory with no files (only directory entries) is refused as empty', async () => {
    const cli = zipWithCli(MONOREPO, { directories: ['services/empty/dist/nothing'] });
    await expect(cut(cli, 'services/empty/dist')).rejects.toThrow(new BundleDirectoryError('bundleDirectory "services/empty/dist" is in the build artifact but holds no files'));
  });

  test('a directory over Lambda\'s unzipped limit is refused before anything is inflated', async () => {
    const huge = { ...fileEntry('dist/big.bin', Buffer.from('x')), size: MAX_UNZIPPED_BYTES + 1 };
    await expect(cut(writeZip([huge]), 'dist')).rejects.toThrow(new BundleDirectoryError(
      `bundleDirectory "dist" holds ${MAX_UNZIPPED_BYTES + 1} bytes unzipped; Lambda takes at most 262144000 (250 MB) of unzipped code`));
  });

  test('a corrupt file inside the directory fails naming it; one outside it is not read', async () => {
    const archive = writeZip([
      fileEntry('dist/index.js', Buffer.from('ok'), { store: true }), fileEntry('other/bad.js', Buffer.from('bad'), { store: true }),
    ]);
    // "bad" appears in the local name, then as the stored data, then in the central directory.
    archive[archive.indexOf('bad', archive.indexOf('bad') + 1)] ^= 0xff;
    expect(filesOf((await cut(archive, 'dist')).zip)).toEqual({ 'index.js': 'ok' });
    await expect(cut(archive, 'other')).rejects.toThrow(new ZipFormatError('entry other/bad.js: CRC-32 mismatch (corrupt archive)'));
  });

  test('an empty directory ("" or ".") takes the whole archive, normalized as a directory is: two builds at other times give one zip', async () => {
    const files = Object.entries(MONOREPO).map(([name, content]) => fileEntry(name, Buffer.from(content)));
    const rebuilt = [fileEntry('services/', Buffer.alloc(0)), ...[...files].reverse().map((entry, i) => ({ ...entry, dosTime: 0x6000 + i, dosDate: 0x5a21 }))];
    const whole = await cut(writeZip(files), '');
    expect(filesOf(whole.zip)).toEqual(MONOREPO);
    expect(whole.files).toEqual(Object.keys(MONOREPO).sort());
    expect((await cut(writeZip(rebuilt), '.')).zip.equals(whole.zip)).toBe(true);
  });

  test('a whole archive without files, or over Lambda\'s unzipped limit, is refused naming the build artifact', async () => {
    await expect(cut(writeZip([fileEntry('dist/', Buffer.alloc(0))]), '')).rejects.toThrow(new BundleDirectoryError('the build artifact holds no files'));
    const huge = { ...fileEntry('big.bin', Buffer.from('x')), size: MAX_UNZIPPED_BYTES + 1 };
    await expect(cut(writeZip([huge]), '')).rejects.toThrow(`the build artifact holds ${MAX_UNZIPPED_BYTES + 1} bytes unzipped; Lambda takes at most`);
  });

  test('ZIP64 records, which yazl writes where needed (over 65,534 files or 4 GiB), are read by unzip and our reader', async () => {
    // 65,535 files take ~25 s to cut (yazl's per-entry cost): forced here, measured in the report.
    const input = path.join(scratch, 'zip64-in.zip');
    const output = path.join(scratch, 'zip64-out.zip');
    fs.writeFileSync(input, artifact);
    const bundle = await cutBundle(input, 'services/orders/dist', output, { forceZip64: true });
    const zip = fs.readFileSync(output);
    expect(zip.includes(ZIP64_LOCATOR)).toBe(true);
    expect(readZip(zip).map((e) => e.name)).toEqual(bundle.files);
    expect(filesOf(zip)).toEqual({ 'index.js': MONOREPO['services/orders/dist/index.js'], 'lib/util.js': MONOREPO['services/orders/dist/lib/util.js'] });
    if (HAS_ZIP_CLI) expect(unzipWithCli(zip)).toEqual(filesOf(zip));
  });

  test('a full disk is the file system\'s ENOSPC, not a corrupt archive', async () => {
    if (!fs.existsSync('/dev/full')) return;
    const input = path.join(scratch, 'full-in.zip');
    fs.writeFileSync(input, artifact);
    await expect(cutBundle(input, 'services/orders/dist', '/dev/full')).rejects.toMatchObject({ code: 'ENOSPC' });
  });
});

describe('normalizeBundleDirectory', () => {
  test.each([
    ['services/orders/dist', 'services/orders/dist/'],
    ['./services/orders/dist/', 'services/orders/dist/'],
    ['', ''],
    ['.', ''],
    ['./', ''],
  ])('"%s" -> "%s"', (input, expected) => {
    expect(normalizeBundleDirectory(input)).toBe(expected);
  });

  test.each(['/abs/dist', '../dist', 'services/../dist', 'services//dist', 'services\\dist'])('"%s" is refused', (input) => {
    expect(() => normalizeBundleDirectory(input)).toThrow(`bundleDirectory "${input}" must be a relative path inside the build artifact`);
  });
});
