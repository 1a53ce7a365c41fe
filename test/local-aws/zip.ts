/* eslint-disable no-bitwise */ // CRC-32 and zip header fields are bit arithmetic.
import { createHash } from 'crypto';
import * as zlib from 'zlib';

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export interface ZipOptions {
  /** Deflate file data (method 8), as build tools (`zip`, CodeBuild) do; stored (method 0) otherwise. */
  readonly deflate?: boolean;
  /** Also write an entry for every directory (`services/`, `services/orders/`, ...), as `zip -r` does. */
  readonly directoryEntries?: boolean;
  /** Stamp every entry with this time, as a build does with the time it ran (MS-DOS time, UTC); 1980-01-01 otherwise. */
  readonly modified?: Date;
}

/**
 * A zip archive of the given files (written here, independently of the handlers' own zip code).
 * Format: PKWARE APPNOTE 6.3.10, sections 4.3.7 (local headers), 4.3.12 (central directory),
 * 4.3.16 (end of central directory), 4.4.5 (compression method: 0 stored, 8 deflated).
 */
export function zipFiles(files: Record<string, string>, options: ZipOptions = {}): Buffer {
  const names = Object.keys(files);
  const entries: Array<{ name: string; data?: Buffer }> = [];
  const directories = new Set<string>();
  for (const name of names) {
    if (options.directoryEntries) {
      const parts = name.split('/').slice(0, -1);
      for (let i = 1; i <= parts.length; i++) {
        const directory = `${parts.slice(0, i).join('/')}/`;
        if (!directories.has(directory)) {
          directories.add(directory);
          entries.push({ name: directory });
        }
      }
    }
    entries.push({ name, data: Buffer.from(files[name], 'utf8') });
  }
  const m = options.modified;
  // MS-DOS date (high 16 bits) and time (low 16 bits), APPNOTE 4.4.6.
  const dosDateTime = m ? ((((m.getUTCFullYear() - 1980) * 512 + (m.getUTCMonth() + 1) * 32 + m.getUTCDate()) * 65536)
    + m.getUTCHours() * 2048 + m.getUTCMinutes() * 32 + Math.floor(m.getUTCSeconds() / 2)) : 0x00210000;
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const nameBytes = Buffer.from(entry.name, 'utf8');
    const data = entry.data ?? Buffer.alloc(0);
    const deflated = !!options.deflate && !!entry.data;
    const stored = deflated ? zlib.deflateRawSync(data) : data;
    const crc = crc32(data);
    const method = deflated ? 8 : 0;
    const mode = entry.data ? 0o100644 : 0o40755; // a regular file rw-r--r--, or a directory
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // flags: UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(dosDateTime, 10); // 1980-01-01 00:00 unless `modified`: same content, same hash
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(0x0314, 4); // made by: unix, 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(dosDateTime, 12);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(stored.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(((mode << 16) | (entry.data ? 0 : 0x10)) >>> 0, 38); // MS-DOS directory bit for directories
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, stored);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + stored.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** An archive the reader below refuses, with the reason. */
export class NotAZipError extends Error {}

/**
 * The files of a zip archive (directories left out), read through its central directory: enough
 * for the test to see what a handler uploaded and for the Lambda proxy to load a deployment
 * package, as Lambda unzips it. Classic (non-ZIP64) archives, stored or deflated entries.
 */
export function unzipFiles(archive: Buffer): Record<string, Buffer> {
  let end = -1;
  for (let at = archive.length - 22; at >= Math.max(0, archive.length - 22 - 0xffff); at--) {
    if (archive.readUInt32LE(at) === 0x06054b50) {
      end = at;
      break;
    }
  }
  if (end < 0) throw new NotAZipError(`not a zip archive (${archive.length} bytes, no end of central directory)`);
  const count = archive.readUInt16LE(end + 10);
  let at = archive.readUInt32LE(end + 16);
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < count; i++) {
    if (archive.readUInt32LE(at) !== 0x02014b50) throw new NotAZipError(`central directory entry ${i} is corrupt`);
    const method = archive.readUInt16LE(at + 10);
    const crc = archive.readUInt32LE(at + 16);
    const compressedSize = archive.readUInt32LE(at + 20);
    const size = archive.readUInt32LE(at + 24);
    const nameLength = archive.readUInt16LE(at + 28);
    const extraLength = archive.readUInt16LE(at + 30);
    const commentLength = archive.readUInt16LE(at + 32);
    const localOffset = archive.readUInt32LE(at + 42);
    const name = archive.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    at += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith('/')) continue;
    if (archive.readUInt32LE(localOffset) !== 0x04034b50) throw new NotAZipError(`${name}: no local header`);
    const dataStart = localOffset + 30 + archive.readUInt16LE(localOffset + 26) + archive.readUInt16LE(localOffset + 28);
    const raw = archive.subarray(dataStart, dataStart + compressedSize);
    const data = method === 0 ? Buffer.from(raw) : method === 8 ? zlib.inflateRawSync(raw) : undefined;
    if (!data) throw new NotAZipError(`${name}: compression method ${method}`);
    if (data.length !== size || crc32(data) !== crc) throw new NotAZipError(`${name}: size or CRC-32 mismatch`);
    files[name] = data;
  }
  return files;
}

/** Lambda's `CodeSha256`: the base64 SHA-256 of the deployment package. */
export function codeSha256(zip: Buffer): string {
  return createHash('sha256').update(zip).digest('base64');
}
