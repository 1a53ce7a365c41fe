/* eslint-disable no-bitwise */ // zip header fields and flags are bit arithmetic.
import * as zlib from 'zlib';
import {
  BundleDirectoryError,
  contentOf,
  crc32,
  extractDirectory,
  fileEntry,
  MAX_UNZIPPED_BYTES,
  normalizeBundleDirectory,
  readZip,
  writeZip,
  ZipFormatError,
} from '../../src/runtime/zip';
import { HAS_ZIP_CLI, filesOf, modesWithCli, unzipWithCli, zipWithCli } from '../helpers/zip-fixtures';

const withCli = HAS_ZIP_CLI ? test : test.skip;

const MONOREPO = {
  'services/orders/dist/index.js': 'exports.handler = async () => "orders";\n',
  'services/orders/dist/lib/util.js': 'module.exports = 1;\n',
  'services/orders/src/index.ts': 'export const handler = async () => "orders";\n',
  'services/billing/dist/index.js': `exports.handler = async () => "${'billing '.repeat(500)}";\n`,
  'package.json': '{}\n',
};

describe('crc32', () => {
  test('matches the CRC-32 check value and zlib', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    const data = Buffer.from('x'.repeat(1000));
    expect(crc32(data)).toBe(zlib.crc32(data));
  });
});

describe('writer and reader', () => {
  test('round trip: stored and deflated entries, UTF-8 names and Unix modes survive', () => {
    const entries = [
      fileEntry('index.js', Buffer.from('exports.handler = 1;\n'.repeat(100))),
      fileEntry('bin/tool', Buffer.from('#!/bin/sh\necho hi\n'), { mode: 0o755, store: true }),
      fileEntry('données/é.txt', Buffer.from('')),
    ];
    const archive = writeZip(entries);
    const read = readZip(archive);
    expect(read.map((e) => [e.name, e.method, e.size])).toEqual([
      ['index.js', 8, 2100], ['bin/tool', 0, 18], ['données/é.txt', 8, 0],
    ]);
    expect(read.map((e) => contentOf(e).toString())).toEqual(entries.map((e) => contentOf(e).toString()));
    expect((read[1].externalAttributes >>> 16) & 0o777).toBe(0o755);
  });

  withCli('what the writer produces, unzip reads (and tests every CRC)', () => {
    const archive = writeZip([fileEntry('index.js', Buffer.from('a'.repeat(5000))), fileEntry('lib/b.js', Buffer.from('b'), { store: true, mode: 0o755 })]);
    expect(unzipWithCli(archive)).toEqual({ 'index.js': 'a'.repeat(5000), 'lib/b.js': 'b' });
    expect(modesWithCli(archive)).toMatchObject({ 'index.js': '-rw-r--r--', 'lib/b.js': '-rwxr-xr-x' });
  });

  test.each([
    ['seekable output (sizes in the local headers)', {}],
    ['streamed output (data descriptors, bit 3)', { stream: true }],
    ['stored entries (zip -0)', { store: true }],
    ['ZIP64 records (zip -fz)', { zip64: true }],
  ])('reads archives the zip CLI wrote: %s', (_name, options) => {
    if (!HAS_ZIP_CLI) return;
    const archive = zipWithCli(MONOREPO, options);
    expect(filesOf(archive)).toEqual(MONOREPO);
  });

  withCli('the archives really have the features the cases name', () => {
    const streamed = zipWithCli({ 'a.txt': 'aaaa' }, { stream: true });
    expect(streamed.readUInt16LE(6) & 0x0008).toBe(0x0008); // local header flag: data descriptor follows
    expect(streamed.readUInt32LE(18)).toBe(0); // and its compressed size is left zero
    const zip64 = zipWithCli({ 'a.txt': 'aaaa' }, { zip64: true });
    expect(zip64.includes(Buffer.from([0x50, 0x4b, 0x06, 0x07]))).toBe(true); // ZIP64 end locator
  });

  withCli('zip -fz into a pipe writes a saturated end record and no ZIP64 one; unzip refuses it too, and so do we, clearly', () => {
    const broken = zipWithCli({ 'a.txt': 'aaaa' }, { zip64: true, stream: true });
    expect(() => unzipWithCli(broken)).toThrow();
    expect(() => readZip(broken)).toThrow('the archive claims ZIP64 sizes but has no ZIP64 end record');
  });
});

describe('corrupt and unsupported input', () => {
  const good = writeZip([fileEntry('index.js', Buffer.from('exports.handler = async () => 1;\n'.repeat(50)))]);

  test.each([
    ['empty input', Buffer.alloc(0), /not a zip archive \(0 bytes\)/],
    ['text, not a zip', Buffer.from('this is not a zip archive, it is just some text long enough'), /no end of central directory record/],
    ['a truncated archive', good.subarray(0, good.length - 30), /no end of central directory record/],
  ])('%s is refused', (_name, input, message) => {
    expect(() => readZip(input)).toThrow(message);
  });

  test('data cut short in the middle is refused', () => {
    const archive = writeZip([fileEntry('a.js', Buffer.from('a'.repeat(100)), { store: true }), fileEntry('b.js', Buffer.from('b'))]);
    const damaged = Buffer.concat([archive.subarray(0, 60), archive.subarray(90)]); // central directory now points past its data
    expect(() => filesOf(damaged)).toThrow(ZipFormatError);
  });

  test('a flipped byte in deflated data is caught (inflate error or CRC-32 mismatch)', () => {
    const damaged = Buffer.from(good);
    damaged[30 + 'index.js'.length + 5] ^= 0xff;
    expect(() => filesOf(damaged)).toThrow(/entry index\.js: (cannot inflate|CRC-32 mismatch|\d+ bytes, but the archive says)/);
  });

  test('a flipped byte in stored data fails the CRC-32 check', () => {
    const archive = writeZip([fileEntry('index.js', Buffer.from('hello world'), { store: true })]);
    archive[30 + 'index.js'.length] ^= 0x01;
    expect(() => filesOf(archive)).toThrow('entry index.js: CRC-32 mismatch (corrupt archive)');
  });

  test('an entry that inflates beyond its declared size is stopped at the declared size', () => {
    const big = fileEntry('bomb.js', Buffer.alloc(1_000_000));
    const lying = { ...big, size: 10 };
    expect(() => contentOf(lying)).toThrow(/entry bomb\.js: cannot inflate/);
  });

  test('unsupported methods and encrypted entries are named', () => {
    const entry = fileEntry('a.js', Buffer.from('a'), { store: true });
    expect(() => contentOf({ ...entry, method: 12 })).toThrow('entry a.js uses compression method 12; only stored (0) and deflated (8) are supported');
    expect(() => contentOf({ ...entry, encrypted: true })).toThrow('entry a.js is encrypted');
  });

  test('saturated sizes without a ZIP64 end record are refused', () => {
    const archive = writeZip([fileEntry('a.js', Buffer.from('a'))]);
    archive.writeUInt32LE(0xffffffff, archive.length - 6); // central directory offset
    expect(() => readZip(archive)).toThrow('the archive claims ZIP64 sizes but has no ZIP64 end record');
  });

  test('a split (multi-disk) archive is refused', () => {
    const archive = writeZip([fileEntry('a.js', Buffer.from('a'))]);
    archive.writeUInt16LE(1, archive.length - 18); // number of this disk
    expect(() => readZip(archive)).toThrow('split (multi-disk) zip archives are not supported');
  });

  test('the writer refuses what would need ZIP64', () => {
    const entry = fileEntry('a.js', Buffer.from('a'));
    expect(() => writeZip(Array(65_535).fill(entry))).toThrow('65535 entries would need ZIP64, which this writer does not produce');
  });
});

describe('extractDirectory', () => {
  const artifact = writeZip(Object.entries(MONOREPO).map(([name, content]) => fileEntry(name, Buffer.from(content))));

  test('cuts one directory out, paths relative to it, directory entries dropped', () => {
    const orders = extractDirectory(artifact, 'services/orders/dist');
    expect(orders.files).toEqual(['index.js', 'lib/util.js']);
    expect(filesOf(orders.zip)).toEqual({
      'index.js': MONOREPO['services/orders/dist/index.js'],
      'lib/util.js': MONOREPO['services/orders/dist/lib/util.js'],
    });
    expect(orders.size).toBe(MONOREPO['services/orders/dist/index.js'].length + MONOREPO['services/orders/dist/lib/util.js'].length);
  });

  withCli('from a real streamed artifact, unzip reads the result with Unix modes kept', () => {
    const cli = zipWithCli({ ...MONOREPO, 'services/orders/dist/bin/run': '#!/bin/sh\n' }, { stream: true, modes: { 'services/orders/dist/bin/run': 0o755 } });
    const orders = extractDirectory(cli, './services/orders/dist/');
    expect(unzipWithCli(orders.zip)).toEqual({
      'index.js': MONOREPO['services/orders/dist/index.js'],
      'lib/util.js': MONOREPO['services/orders/dist/lib/util.js'],
      'bin/run': '#!/bin/sh\n',
    });
    expect(modesWithCli(orders.zip)['bin/run']).toBe('-rwxr-xr-x');
  });

  test('identical files give an identical bundle, whatever times, order, modes, host and compression the build wrote', () => {
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
    const first = extractDirectory(writeZip(files), 'services/orders/dist').zip;
    const second = extractDirectory(writeZip(rebuilt), 'services/orders/dist').zip;
    expect(second.equals(first)).toBe(true);
    // What is written: name order, a fixed time, Unix 0644, deflated only where it pays.
    const written = readZip(first).map((e) => ({
      name: e.name, dosTime: e.dosTime, dosDate: e.dosDate, mode: (e.externalAttributes >>> 16).toString(8), versionMadeBy: e.versionMadeBy >> 8,
    }));
    expect(written)
      .toEqual(['index.js', 'lib/util.js'].map((name) => ({ name, dosTime: 0, dosDate: 0x21, mode: '100644', versionMadeBy: 3 })));
  });

  withCli('two real builds of the same files at different times give the same bundle; executables stay executable', () => {
    const files = { ...MONOREPO, 'services/orders/dist/bin/run': '#!/bin/sh\n' };
    const modes = { 'services/orders/dist/bin/run': 0o775, 'services/orders/dist/index.js': 0o664 };
    const monday = zipWithCli(files, { modes, mtime: new Date('2026-11-23T08:00:00Z') });
    const tuesday = zipWithCli(files, { modes, mtime: new Date('2026-11-24T17:31:07Z'), stream: true });
    expect(monday.equals(tuesday)).toBe(false);
    const a = extractDirectory(monday, 'services/orders/dist').zip;
    expect(extractDirectory(tuesday, 'services/orders/dist').zip.equals(a)).toBe(true);
    expect(modesWithCli(a)).toEqual({ 'bin/run': '-rwxr-xr-x', 'index.js': '-rw-r--r--', 'lib/util.js': '-rw-r--r--' });
    expect(unzipWithCli(a)['bin/run']).toBe('#!/bin/sh\n');
  });

  test('a missing directory names it and lists the top-level directories and what its parent holds', () => {
    expect(() => extractDirectory(artifact, 'services/order/dist')).toThrow(new BundleDirectoryError(
      'bundleDirectory "services/order/dist" is not in the build artifact; its top-level directories are: services; "services" holds: billing, orders'));
    expect(() => extractDirectory(artifact, 'dist')).toThrow('bundleDirectory "dist" is not in the build artifact; its top-level directories are: services');
  });

  test('a prefix of a longer name is not the directory', () => {
    const archive = writeZip([fileEntry('services/orders-v2/index.js', Buffer.from('x'))]);
    expect(() => extractDirectory(archive, 'services/orders')).toThrow(/bundleDirectory "services\/orders" is not in the build artifact/);
  });

  withCli('a directory with no files (only directory entries) is refused as empty', () => {
    const cli = zipWithCli(MONOREPO, { directories: ['services/empty/dist/nothing'] });
    expect(() => extractDirectory(cli, 'services/empty/dist')).toThrow('bundleDirectory "services/empty/dist" is in the build artifact but holds no files');
  });

  test('a directory over Lambda\'s unzipped limit is refused before anything is inflated', () => {
    const huge = { ...fileEntry('dist/big.bin', Buffer.from('x')), size: MAX_UNZIPPED_BYTES + 1 };
    expect(() => extractDirectory(writeZip([huge]), 'dist')).toThrow(`bundleDirectory "dist" holds ${MAX_UNZIPPED_BYTES + 1} bytes unzipped; Lambda takes at most 262144000 (250 MB) of unzipped code`);
  });

  test('a corrupt file inside the directory fails naming it; one outside it is not read', () => {
    const entries = [fileEntry('dist/index.js', Buffer.from('ok'), { store: true }), fileEntry('other/bad.js', Buffer.from('bad'), { store: true })];
    const archive = writeZip(entries);
    // "bad" appears in the local name, then as the stored data, then in the central directory.
    archive[archive.indexOf('bad', archive.indexOf('bad') + 1)] ^= 0xff;
    expect(filesOf(extractDirectory(archive, 'dist').zip)).toEqual({ 'index.js': 'ok' });
    expect(() => extractDirectory(archive, 'other')).toThrow('entry other/bad.js: CRC-32 mismatch (corrupt archive)');
  });

  test('an empty directory ("" or ".") takes the whole archive, normalized as a directory is: two builds at other times give one zip', () => {
    const files = Object.entries(MONOREPO).map(([name, content]) => fileEntry(name, Buffer.from(content)));
    const rebuilt = [fileEntry('services/', Buffer.alloc(0)), ...[...files].reverse().map((entry, i) => ({ ...entry, dosTime: 0x6000 + i, dosDate: 0x5a21 }))];
    const whole = extractDirectory(writeZip(files), '');
    expect(filesOf(whole.zip)).toEqual(MONOREPO);
    expect(whole.files).toEqual(Object.keys(MONOREPO).sort());
    expect(extractDirectory(writeZip(rebuilt), '.').zip.equals(whole.zip)).toBe(true);
  });

  test('a whole archive without files, or over Lambda\'s unzipped limit, is refused naming the build artifact', () => {
    expect(() => extractDirectory(writeZip([fileEntry('dist/', Buffer.alloc(0))]), '')).toThrow(new BundleDirectoryError('the build artifact holds no files'));
    const huge = { ...fileEntry('big.bin', Buffer.from('x')), size: MAX_UNZIPPED_BYTES + 1 };
    expect(() => extractDirectory(writeZip([huge]), '')).toThrow(`the build artifact holds ${MAX_UNZIPPED_BYTES + 1} bytes unzipped; Lambda takes at most`);
  });

  test('an entry climbing out of the directory is refused', () => {
    const archive = writeZip([fileEntry('dist/../../etc/passwd', Buffer.from('x'))]);
    expect(() => extractDirectory(archive, 'dist')).toThrow('entry dist/../../etc/passwd climbs out of its directory ("..")');
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
