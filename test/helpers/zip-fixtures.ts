import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { contentOf, fileEntry, readZip, writeZip } from './raw-zip';

/** Whether Info-ZIP's zip and unzip are on this machine; tests that need them are skipped otherwise. */
export const HAS_ZIP_CLI = spawnSync('zip', ['-v']).status === 0 && spawnSync('unzip', ['-v']).status === 0;

/** Options of {@link zipWithCli}. */
export interface CliZipOptions {
  /** Write to a pipe: Info-ZIP then uses data descriptors (flag bit 3) and deflates every entry. */
  readonly stream?: boolean;
  /** Force ZIP64 records (`zip -fz`). */
  readonly zip64?: boolean;
  /** Store without compression (`zip -0`). */
  readonly store?: boolean;
  /** Unix modes per file. */
  readonly modes?: Record<string, number>;
  /** Empty directories to include. */
  readonly directories?: string[];
  /** Modification time of every file (a build writes the time it ran); the time of writing otherwise. */
  readonly mtime?: Date;
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'zip-fixture-'));
}

/** A real archive made by the zip CLI from `files` (path -> content), directory entries included. */
export function zipWithCli(files: Record<string, string | Buffer>, options: CliZipOptions = {}): Buffer {
  const dir = tempDir();
  try {
    for (const [name, content] of Object.entries(files)) {
      fs.mkdirSync(path.join(dir, 'tree', path.dirname(name)), { recursive: true });
      fs.writeFileSync(path.join(dir, 'tree', name), content);
      if (options.modes?.[name] !== undefined) fs.chmodSync(path.join(dir, 'tree', name), options.modes[name]);
      if (options.mtime) fs.utimesSync(path.join(dir, 'tree', name), options.mtime, options.mtime);
    }
    for (const directory of options.directories ?? []) fs.mkdirSync(path.join(dir, 'tree', directory), { recursive: true });
    const flags = ['-q', '-r', '-X', ...(options.zip64 ? ['-fz'] : []), ...(options.store ? ['-0'] : [])];
    const out = path.join(dir, 'out.zip');
    if (options.stream) {
      // zip writes to stdout, a pipe it cannot seek back on.
      fs.writeFileSync(out, execFileSync('zip', [...flags, '-', '.'], { cwd: path.join(dir, 'tree'), maxBuffer: 1024 * 1024 * 1024 }));
    } else {
      execFileSync('zip', [...flags, out, '.'], { cwd: path.join(dir, 'tree') });
    }
    return fs.readFileSync(out);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** An archive's files (directories left out), as unzip reads them: `unzip` checks every CRC on the way. */
export function unzipWithCli(archive: Buffer): Record<string, string> {
  const dir = tempDir();
  try {
    fs.writeFileSync(path.join(dir, 'in.zip'), archive);
    execFileSync('unzip', ['-q', '-t', 'in.zip'], { cwd: dir });
    execFileSync('unzip', ['-q', 'in.zip', '-d', 'out'], { cwd: dir });
    const files: Record<string, string> = {};
    const walk = (relative: string) => {
      for (const entry of fs.readdirSync(path.join(dir, 'out', relative), { withFileTypes: true })) {
        const name = relative ? `${relative}/${entry.name}` : entry.name;
        if (entry.isDirectory()) walk(name);
        else files[name] = fs.readFileSync(path.join(dir, 'out', name), 'utf8');
      }
    };
    walk('');
    return files;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The Unix modes unzip reports (`zipinfo`-style listing), by path. */
export function modesWithCli(archive: Buffer): Record<string, string> {
  const dir = tempDir();
  try {
    fs.writeFileSync(path.join(dir, 'in.zip'), archive);
    const listing = execFileSync('unzip', ['-Z', '-l', 'in.zip'], { cwd: dir, encoding: 'utf8' });
    const modes: Record<string, string> = {};
    for (const line of listing.split('\n')) {
      const match = /^([-dl][rwxsStT-]{9})\s.*\s(\S+)$/.exec(line);
      if (match) modes[match[2]] = match[1];
    }
    return modes;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** `files` zipped by the CLI when the machine has it, by our writer otherwise. */
export function artifactZip(files: Record<string, string>, options: CliZipOptions = {}): Buffer {
  if (HAS_ZIP_CLI) return zipWithCli(files, options);
  return writeZip(Object.entries(files).map(([name, content]) => fileEntry(name, Buffer.from(content), { store: options.store })));
}

/** An archive's files read by our own reader. */
export function filesOf(archive: Buffer): Record<string, string> {
  return Object.fromEntries(readZip(archive).filter((e) => !e.name.endsWith('/')).map((e) => [e.name, contentOf(e).toString('utf8')]));
}
