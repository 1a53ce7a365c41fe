/* eslint-disable no-bitwise */ // Unix modes in zip attributes are bit fields.
import { createHash } from 'crypto';
import { createWriteStream } from 'fs';
import { PassThrough, Readable, Transform, TransformCallback } from 'stream';
import { pipeline } from 'stream/promises';
import * as zlib from 'zlib';
import * as yauzl from 'yauzl';
import * as yazl from 'yazl';

/** Lambda's limit on a function's unzipped code: "250 MB" is 262,144,000 bytes (Lambda quotas). */
export const MAX_UNZIPPED_BYTES = 262_144_000;

/** An archive that cannot be read or cut; the message says why. */
export class ZipFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ZipFormatError';
  }
}

/** A bundle directory that cannot be cut out of the artifact; the message names it. */
export class BundleDirectoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleDirectoryError';
  }
}

/** `services/orders/dist/`, from what a user may write: `./services/orders/dist`, `services/orders/dist/`. */
export function normalizeBundleDirectory(directory: string): string {
  const trimmed = directory.trim().replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  if (trimmed === '' || trimmed === '.') return '';
  if (trimmed.startsWith('/') || trimmed.includes('\\') || trimmed.split('/').some((part) => part === '..' || part === '.' || part === '')) {
    throw new BundleDirectoryError(`bundleDirectory "${directory}" must be a relative path inside the build artifact, like "services/orders/dist"`);
  }
  return `${trimmed}/`;
}

/** @internal */
export interface CutOptions {
  /** Write ZIP64 records even where the format does not need them (over 65,534 files or 4 GiB), to test them. */
  readonly forceZip64?: boolean;
}

/** What {@link cutBundle} wrote. */
export interface CutBundle {
  /** Paths of the files, relative to the directory, in the order written. */
  readonly files: string[];
  /** Their total unzipped size. */
  readonly size: number;
  /** The size of the zip written. */
  readonly zipBytes: number;
  /** Lambda's CodeSha256 of that zip: its SHA-256, base64 (computed while it was written). */
  readonly codeSha256: string;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const UNIX_HOST = 3;
/** The fixed time of every entry: 1980-01-01 00:00, the first DOS time (local time is what yazl encodes). */
const FIXED_MTIME = new Date(1980, 0, 1, 0, 0, 0);
/** zlib's default level, spelled out: the same content deflates to the same bytes. */
const DEFLATE_LEVEL = 6;

/** yauzl's technical messages for what a user most often hands us, said plainly. */
function readError(error: unknown): ZipFormatError {
  const message = (error as Error).message ?? String(error);
  if (/^End of central directory record signature not found/.test(message)) return new ZipFormatError('not a zip archive (no end of central directory record)');
  if (/^multi-disk zip files are not supported/.test(message)) return new ZipFormatError('split (multi-disk) zip archives are not supported');
  const name = /^(?:invalid relative path|absolute path|invalid characters in fileName): (.*)$/.exec(message);
  if (name) return new ZipFormatError(`entry ${name[1]} has a name that climbs out of its directory, is absolute or holds "\\"; refused`);
  return new ZipFormatError(`corrupt zip archive: ${message}`);
}

/** The Unix mode an entry is written with: 0644, 0755 when any execute bit was set on a Unix host, or a symlink. */
function normalizedMode(entry: yauzl.Entry): number {
  const unixMode = entry.versionMadeBy >>> 8 === UNIX_HOST ? entry.externalFileAttributes >>> 16 : 0;
  if ((unixMode & S_IFMT) === S_IFLNK) return S_IFLNK | 0o777;
  return S_IFREG | (unixMode & 0o111 ? 0o755 : 0o644);
}

/** Passes an entry's content on, failing at its end when its CRC-32 is not the archive's (yauzl does not check it). */
function crcChecked(entry: yauzl.Entry): Transform {
  let crc = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      crc = zlib.crc32(chunk, crc);
      done(null, chunk);
    },
    flush(done: TransformCallback) {
      done((crc >>> 0) === (entry.crc32 >>> 0) ? null : new ZipFormatError(`entry ${entry.fileName}: CRC-32 mismatch (corrupt archive)`));
    },
  });
}

function directoriesIn(names: Set<string>): string {
  const sorted = [...names].sort();
  if (sorted.length === 0) return '(none)';
  return sorted.length > 20 ? `${sorted.slice(0, 20).join(', ')} and ${sorted.length - 20} more` : sorted.join(', ');
}

/** What a parent of the wanted directory holds: whether any entry is under it, and its child directories. */
interface Parent {
  exists: boolean;
  readonly directories: Set<string>;
}

/** The root and each parent of `prefix`: `services/orders/dist/` has "", "services/" and "services/orders/". */
function parentsOf(prefix: string): string[] {
  const parts = prefix.split('/').slice(0, -2);
  return ['', ...parts.map((_, i) => `${parts.slice(0, i + 1).join('/')}/`)];
}

/** Why `prefix` is not in the archive, naming what its top level and its deepest existing parent hold. */
function missingDirectory(prefix: string, parents: Map<string, Parent>): BundleDirectoryError {
  let message = `bundleDirectory "${prefix.slice(0, -1)}" is not in the build artifact; its top-level directories are: ${directoriesIn(parents.get('')!.directories)}`;
  // Say what the deepest existing parent holds: that is where a typo usually is.
  const deepest = [...parents].reverse().find(([path, parent]) => path !== '' && parent.exists);
  if (deepest) message += `; "${deepest[0].slice(0, -1)}" holds: ${directoriesIn(deepest[1].directories)}`;
  return new BundleDirectoryError(message);
}

/** The files of the archive under `prefix` (directory entries left out), and what its parents hold. */
async function entriesUnder(zip: yauzl.ZipFile, prefix: string) {
  const files: yauzl.Entry[] = [];
  let inside = 0;
  const parents = new Map<string, Parent>(parentsOf(prefix).map((path) => [path, { exists: false, directories: new Set<string>() }]));
  try {
    for await (const entry of zip.eachEntry()) {
      const name = entry.fileName;
      for (const [path, parent] of parents) {
        if (!name.startsWith(path)) continue;
        parent.exists = true;
        const slash = name.indexOf('/', path.length);
        if (slash > path.length) parent.directories.add(name.slice(path.length, slash));
      }
      if (!name.startsWith(prefix)) continue;
      inside++;
      if (!name.endsWith('/')) files.push(entry);
    }
  } catch (error) {
    throw readError(error);
  }
  return { files, inside, parents };
}

/** Refuses what cannot be cut, before anything is inflated: sizes, encryption, methods, names. */
function checkFiles(files: yauzl.Entry[], prefix: string, what: string) {
  if (files.length === 0) throw new BundleDirectoryError(prefix ? `${what} is in the build artifact but holds no files` : `${what} holds no files`);
  const size = files.reduce((sum, entry) => sum + entry.uncompressedSize, 0);
  if (size > MAX_UNZIPPED_BYTES) {
    throw new BundleDirectoryError(`${what} holds ${size} bytes unzipped; Lambda takes at most ${MAX_UNZIPPED_BYTES} (250 MB) of unzipped code`);
  }
  for (const entry of files) {
    if (entry.isEncrypted()) throw new ZipFormatError(`entry ${entry.fileName} is encrypted`);
    if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
      throw new ZipFormatError(`entry ${entry.fileName} uses compression method ${entry.compressionMethod}; only stored (0) and deflated (8) are supported`);
    }
  }
  return size;
}

/** Entries in one fixed order (by name, as UTF-8 bytes), whatever order the build wrote them in. */
function byName(a: { name: string }, b: { name: string }): number {
  return Buffer.compare(Buffer.from(a.name, 'utf8'), Buffer.from(b.name, 'utf8'));
}

/**
 * Cuts the files under `directory` of the zip at `archivePath` into a zip of their own at
 * `outputPath`, with paths relative to it (so `<directory>/index.js` lands at the root, where
 * Lambda looks for the handler); an empty `directory` ("" or ".") takes the whole archive.
 *
 * The output holds what the build's files are, not how the build zipped them: names in byte
 * order, a fixed 1980-01-01 time, no extra fields, modes 0644 or 0755 (when any execute bit was
 * set on a Unix host; Lambda needs files world-readable, executables world-executable), Unix
 * symlinks kept, directory entries dropped, every file deflated at level 6 (an empty one stored),
 * ZIP64 only where the format needs it. So identical files give an identical zip, and an identical
 * CodeSha256. Each file is streamed from disk to disk, inflated and checked against its size and
 * CRC-32 on the way (a corrupt artifact fails naming the file); memory stays bounded whatever
 * the sizes.
 */
export async function cutBundle(archivePath: string, directory: string, outputPath: string, options: CutOptions = {}): Promise<CutBundle> {
  const prefix = normalizeBundleDirectory(directory);
  const what = prefix ? `bundleDirectory "${prefix.slice(0, -1)}"` : 'the build artifact';
  let zip: yauzl.ZipFile;
  try {
    // strictFileNames: a "\" in a name is refused, not read as "/".
    zip = await yauzl.openPromise(archivePath, {
      lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: true, decodeStrings: true,
    });
  } catch (error) {
    throw readError(error);
  }
  try {
    const found = await entriesUnder(zip, prefix);
    if (found.inside === 0 && prefix) throw missingDirectory(prefix, found.parents);
    const size = checkFiles(found.files, prefix, what);
    const files = found.files.map((entry) => ({ entry, name: entry.fileName.slice(prefix.length) })).sort(byName);
    return await writeNormalized(zip, files, outputPath, size, !!options.forceZip64);
  } finally {
    zip.close();
  }
}

async function writeNormalized(zip: yauzl.ZipFile, files: Array<{ entry: yauzl.Entry; name: string }>, outputPath: string,
  size: number, zip64: boolean): Promise<CutBundle> {
  const out = new yazl.ZipFile();
  const hash = createHash('sha256');
  let zipBytes = 0;
  // The first failure of any entry's stream; yazl itself would wait for the entry forever.
  let failed: (error: Error) => void = () => undefined;
  const failure = new Promise<never>((_, reject) => {
    failed = reject;
  });
  out.on('error', (error: Error) => failed(error));
  for (const { entry, name } of files) {
    out.addReadStreamLazy(name, {
      mtime: FIXED_MTIME,
      mode: normalizedMode(entry),
      compress: entry.uncompressedSize > 0,
      ...(entry.uncompressedSize > 0 ? { compressionLevel: DEFLATE_LEVEL } : {}),
      forceDosTimestamp: true,
      forceZip64Format: zip64,
      size: entry.uncompressedSize,
    }, (give) => {
      zip.openReadStream(entry, (error, content) => {
        if (error) {
          failed(readError(error));
          return;
        }
        const checked = crcChecked(entry);
        // Inflate errors and yauzl's size checks arrive on the stream: named after the entry.
        const onError = (streamError: Error) => failed(streamError instanceof ZipFormatError ? streamError
          : new ZipFormatError(`entry ${entry.fileName}: ${streamError.message}`));
        content.on('error', onError);
        checked.on('error', onError);
        give(null, content.pipe(checked));
      });
    });
  }
  out.end({ forceZip64Format: zip64, comment: '' });
  const counted = new PassThrough();
  counted.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    zipBytes += chunk.length;
  });
  const written = pipeline(out.outputStream as Readable, counted, createWriteStream(outputPath));
  try {
    await Promise.race([written, failure]);
  } catch (error) {
    (out.outputStream as Readable).destroy();
    counted.destroy();
    await written.catch(() => undefined);
    throw error;
  }
  return { files: files.map((file) => file.name), size, zipBytes, codeSha256: hash.digest('base64') };
}
