/* eslint-disable no-bitwise */ // zip header fields and CRC-32 are bit arithmetic.
import * as zlib from 'zlib';

/**
 * A byte-level zip reader and writer for tests: it writes what a library refuses to (lying sizes,
 * unknown methods, flipped bytes, old hosts' attributes) and reads archives independently of the
 * yauzl/yazl code under test. Format: PKWARE APPNOTE.TXT 6.3.10, sections 4.3.7 (local file
 * header), 4.3.9 (data descriptor), 4.3.12 (central directory), 4.3.14-4.3.16 (end records,
 * ZIP64 included) and 4.5.3 (ZIP64 extra field). Reads stored and deflated entries, data
 * descriptors and ZIP64 archives; writes classic (non-ZIP64) archives only.
 */

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EXTRA = 0x0001;

const STORED = 0;
const DEFLATED = 8;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_UTF8 = 0x0800;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;

/** An archive this module cannot read or write; the message says why. */
export class RawZipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RawZipError';
  }
}

/** One entry of an archive, its data still as stored (compressed for deflated entries). */
export interface ZipEntry {
  /** The path inside the archive, `/`-separated; directories end with `/`. */
  readonly name: string;
  /** Whether the name is UTF-8 (general purpose flag bit 11); otherwise its bytes map 1:1 to latin1. */
  readonly utf8: boolean;
  /** 0 stored, 8 deflated. */
  readonly method: number;
  readonly crc32: number;
  readonly size: number;
  readonly compressedSize: number;
  /** MS-DOS time and date, as the archive had them. */
  readonly dosTime: number;
  readonly dosDate: number;
  /** Upper byte: the host (3 = Unix, whose mode is then in the upper 16 bits of externalAttributes). */
  readonly versionMadeBy: number;
  readonly externalAttributes: number;
  /** The stored bytes. */
  readonly raw: Buffer;
  /** Set when the entry is encrypted (flag bit 0); its content cannot be read. */
  readonly encrypted?: boolean;
}

function buildCrcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

let table: Uint32Array | undefined;

/** CRC-32 as zip uses it; zlib.crc32 where the runtime has it (Node >= 20.15 / 22.2). */
export function crc32(data: Uint8Array): number {
  if (typeof zlib.crc32 === 'function') return zlib.crc32(data) >>> 0;
  table ??= buildCrcTable();
  let crc = 0xffffffff;
  for (const byte of data) crc = table[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function decodeName(bytes: Buffer, utf8: boolean): string {
  return bytes.toString(utf8 ? 'utf8' : 'latin1');
}

function encodeName(entry: Pick<ZipEntry, 'name' | 'utf8'>): Buffer {
  return Buffer.from(entry.name, entry.utf8 ? 'utf8' : 'latin1');
}

function safeNumber(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RawZipError(`${what} is too large (${value})`);
  return Number(value);
}

/** Finds the end of central directory record: the last one whose comment reaches the end of the archive. */
function findEnd(archive: Buffer): number {
  const earliest = Math.max(0, archive.length - 22 - U16_MAX);
  for (let at = archive.length - 22; at >= earliest; at--) {
    if (archive.readUInt32LE(at) === END_OF_CENTRAL_DIRECTORY && at + 22 + archive.readUInt16LE(at + 20) === archive.length) return at;
  }
  throw new RawZipError('not a zip archive (no end of central directory record)');
}

/** Where the central directory is, from the end record or, when that is saturated, its ZIP64 twin. */
function centralDirectory(archive: Buffer): { offset: number; size: number; entries: number } {
  const end = findEnd(archive);
  if (archive.readUInt16LE(end + 4) !== 0 || archive.readUInt16LE(end + 6) !== 0) {
    throw new RawZipError('split (multi-disk) zip archives are not supported');
  }
  let entries = archive.readUInt16LE(end + 10);
  let size = archive.readUInt32LE(end + 12);
  let offset = archive.readUInt32LE(end + 16);
  const locator = end - 20;
  if (locator >= 0 && archive.readUInt32LE(locator) === ZIP64_LOCATOR) {
    const at = safeNumber(archive.readBigUInt64LE(locator + 8), 'ZIP64 end record offset');
    if (at + 56 > locator || archive.readUInt32LE(at) !== ZIP64_END_OF_CENTRAL_DIRECTORY) {
      throw new RawZipError('ZIP64 end of central directory record is missing or corrupt');
    }
    entries = safeNumber(archive.readBigUInt64LE(at + 32), 'entry count');
    size = safeNumber(archive.readBigUInt64LE(at + 40), 'central directory size');
    offset = safeNumber(archive.readBigUInt64LE(at + 48), 'central directory offset');
  } else if (entries === U16_MAX || size === U32_MAX || offset === U32_MAX) {
    throw new RawZipError('the archive claims ZIP64 sizes but has no ZIP64 end record');
  }
  if (offset + size > archive.length) throw new RawZipError('central directory lies outside the archive (truncated?)');
  return { offset, size, entries };
}

/** Reads the ZIP64 extra field for the header values that are saturated (APPNOTE 4.5.3). */
function zip64Values(extra: Buffer, wanted: { size: boolean; compressedSize: boolean; offset: boolean }, name: string) {
  for (let at = 0; at + 4 <= extra.length;) {
    const id = extra.readUInt16LE(at);
    const length = extra.readUInt16LE(at + 2);
    if (id === ZIP64_EXTRA) {
      let field = at + 4;
      const next = (what: string) => {
        if (field + 8 > at + 4 + length) throw new RawZipError(`entry ${name}: ZIP64 extra field lacks the ${what}`);
        const value = safeNumber(extra.readBigUInt64LE(field), `entry ${name}: ${what}`);
        field += 8;
        return value;
      };
      return {
        size: wanted.size ? next('size') : undefined,
        compressedSize: wanted.compressedSize ? next('compressed size') : undefined,
        offset: wanted.offset ? next('local header offset') : undefined,
      };
    }
    at += 4 + length;
  }
  throw new RawZipError(`entry ${name}: sizes are saturated but there is no ZIP64 extra field`);
}

/**
 * Lists an archive's entries from its central directory, which is authoritative: local headers
 * written with a data descriptor (flag bit 3) carry zero sizes. Data is not inflated here.
 */
export function readZip(archive: Buffer): ZipEntry[] {
  if (archive.length < 22) throw new RawZipError(`not a zip archive (${archive.length} bytes)`);
  const directory = centralDirectory(archive);
  const entries: ZipEntry[] = [];
  let at = directory.offset;
  for (let i = 0; i < directory.entries; i++) {
    if (at + 46 > archive.length || archive.readUInt32LE(at) !== CENTRAL_HEADER) {
      throw new RawZipError(`central directory entry ${i + 1} of ${directory.entries} is corrupt`);
    }
    const flags = archive.readUInt16LE(at + 8);
    const nameLength = archive.readUInt16LE(at + 28);
    const extraLength = archive.readUInt16LE(at + 30);
    const commentLength = archive.readUInt16LE(at + 32);
    const utf8 = (flags & FLAG_UTF8) !== 0;
    const name = decodeName(archive.subarray(at + 46, at + 46 + nameLength), utf8);
    let compressedSize = archive.readUInt32LE(at + 20);
    let size = archive.readUInt32LE(at + 24);
    let offset = archive.readUInt32LE(at + 42);
    if (compressedSize === U32_MAX || size === U32_MAX || offset === U32_MAX) {
      const extra = archive.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength);
      const values = zip64Values(extra, { size: size === U32_MAX, compressedSize: compressedSize === U32_MAX, offset: offset === U32_MAX }, name);
      size = values.size ?? size;
      compressedSize = values.compressedSize ?? compressedSize;
      offset = values.offset ?? offset;
    }
    if (archive.readUInt16LE(at + 34) !== 0 && archive.readUInt16LE(at + 34) !== U16_MAX) {
      throw new RawZipError('split (multi-disk) zip archives are not supported');
    }
    if (offset + 30 > archive.length || archive.readUInt32LE(offset) !== LOCAL_HEADER) {
      throw new RawZipError(`entry ${name}: local header missing at offset ${offset} (truncated or corrupt archive)`);
    }
    // The local name and extra field may differ in length from the central ones.
    const dataStart = offset + 30 + archive.readUInt16LE(offset + 26) + archive.readUInt16LE(offset + 28);
    if (dataStart + compressedSize > archive.length) throw new RawZipError(`entry ${name}: data runs past the end of the archive (truncated?)`);
    entries.push({
      name,
      utf8,
      method: archive.readUInt16LE(at + 10),
      crc32: archive.readUInt32LE(at + 16),
      size,
      compressedSize,
      dosTime: archive.readUInt16LE(at + 12),
      dosDate: archive.readUInt16LE(at + 14),
      versionMadeBy: archive.readUInt16LE(at + 4),
      externalAttributes: archive.readUInt32LE(at + 38),
      raw: archive.subarray(dataStart, dataStart + compressedSize),
      ...(flags & FLAG_ENCRYPTED ? { encrypted: true } : {}),
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** An entry's content, inflated and checked against its size and CRC-32. */
export function contentOf(entry: ZipEntry): Buffer {
  if (entry.encrypted) throw new RawZipError(`entry ${entry.name} is encrypted`);
  let data: Buffer;
  if (entry.method === STORED) {
    data = entry.raw;
  } else if (entry.method === DEFLATED) {
    try {
      // Bounded by the declared size, so a lying header cannot inflate without limit.
      data = zlib.inflateRawSync(entry.raw, { maxOutputLength: Math.max(entry.size, 1) });
    } catch (error) {
      throw new RawZipError(`entry ${entry.name}: cannot inflate (${(error as Error).message})`);
    }
  } else {
    throw new RawZipError(`entry ${entry.name} uses compression method ${entry.method}; only stored (0) and deflated (8) are supported`);
  }
  if (data.length !== entry.size) throw new RawZipError(`entry ${entry.name}: ${data.length} bytes, but the archive says ${entry.size}`);
  if (crc32(data) !== entry.crc32) throw new RawZipError(`entry ${entry.name}: CRC-32 mismatch (corrupt archive)`);
  return data;
}

/** Fixed deflate settings (zlib's defaults, spelled out): the same content deflates to the same bytes. */
const DEFLATE_OPTIONS: zlib.ZlibOptions = { level: 6, memLevel: 8, windowBits: 15, strategy: zlib.constants.Z_DEFAULT_STRATEGY };

const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

/**
 * A new entry for `data`, deflated unless `store` (a regular file, Unix mode default 0644, or a
 * symbolic link whose target is `data`; fixed 1980-01-01 time).
 */
export function fileEntry(name: string, data: Buffer, options: { mode?: number; store?: boolean; symlink?: boolean } = {}): ZipEntry {
  const raw = options.store ? data : zlib.deflateRawSync(data, DEFLATE_OPTIONS);
  const type = options.symlink ? S_IFLNK : S_IFREG;
  return {
    name,
    utf8: true,
    method: options.store ? STORED : DEFLATED,
    crc32: crc32(data),
    size: data.length,
    compressedSize: raw.length,
    dosTime: 0,
    dosDate: 0x21, // 1980-01-01: the same content gives the same bytes
    versionMadeBy: 0x031e, // Unix, zip 3.0
    externalAttributes: ((((options.mode ?? 0o644) & 0o7777) | type) << 16) >>> 0,
    raw,
  };
}

/** Writes a classic zip archive of `entries`, their stored bytes copied as they are. */
export function writeZip(entries: readonly ZipEntry[]): Buffer {
  if (entries.length >= U16_MAX) throw new RawZipError(`${entries.length} entries would need ZIP64, which this writer does not produce`);
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    if (entry.compressedSize >= U32_MAX || entry.size >= U32_MAX || offset >= U32_MAX) {
      throw new RawZipError(`entry ${entry.name} would need ZIP64, which this writer does not produce`);
    }
    const name = encodeName(entry);
    const flags = (entry.utf8 ? FLAG_UTF8 : 0) | (entry.encrypted ? FLAG_ENCRYPTED : 0);
    const versionNeeded = entry.method === STORED ? 10 : 20;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(LOCAL_HEADER, 0);
    local.writeUInt16LE(versionNeeded, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(entry.method, 8);
    local.writeUInt16LE(entry.dosTime, 10);
    local.writeUInt16LE(entry.dosDate, 12);
    local.writeUInt32LE(entry.crc32, 14);
    local.writeUInt32LE(entry.compressedSize, 18);
    local.writeUInt32LE(entry.size, 22);
    local.writeUInt16LE(name.length, 26);
    const header = Buffer.alloc(46);
    header.writeUInt32LE(CENTRAL_HEADER, 0);
    header.writeUInt16LE(entry.versionMadeBy, 4);
    header.writeUInt16LE(versionNeeded, 6);
    header.writeUInt16LE(flags, 8);
    header.writeUInt16LE(entry.method, 10);
    header.writeUInt16LE(entry.dosTime, 12);
    header.writeUInt16LE(entry.dosDate, 14);
    header.writeUInt32LE(entry.crc32, 16);
    header.writeUInt32LE(entry.compressedSize, 20);
    header.writeUInt32LE(entry.size, 24);
    header.writeUInt16LE(name.length, 28);
    header.writeUInt32LE(entry.externalAttributes >>> 0, 38);
    header.writeUInt32LE(offset, 42);
    parts.push(local, name, entry.raw);
    central.push(header, name);
    offset += local.length + name.length + entry.raw.length;
  }
  const centralSize = central.reduce((sum, part) => sum + part.length, 0);
  if (offset >= U32_MAX || centralSize >= U32_MAX) throw new RawZipError('the archive would need ZIP64, which this writer does not produce');
  const end = Buffer.alloc(22);
  end.writeUInt32LE(END_OF_CENTRAL_DIRECTORY, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, end]);
}
