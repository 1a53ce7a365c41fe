import { randomUUID } from 'crypto';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';

/** Scratch directories are named `<PREFIX><pid>-<uuid>`, so a stale one can be told from one in use. */
const PREFIX = 'bundle-staging-';

/** This process's scratch directories in use right now (several invocations may share a process in tests). */
const inUse = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but is not ours.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes scratch directories left by an invocation that never reached its `finally`: Lambda ends
 * an invocation that times out without unwinding it, and /tmp outlives it in the execution
 * environment, where the next invocation (a retry, often) would find less space.
 */
async function removeStale(root: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(root);
  } catch {
    return;
  }
  await Promise.all(names.map(async (name) => {
    const match = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (!match) return;
    const pid = Number(match[1]);
    const stale = pid === process.pid ? !inUse.has(name) : !alive(pid);
    if (stale) await fs.rm(path.join(root, name), { recursive: true, force: true });
  }));
}

/**
 * Runs `work` with a fresh directory under `root` (the OS temp directory: Lambda's /tmp, its
 * ephemeral storage), removed afterwards whatever happens.
 */
export async function withScratchDirectory<T>(work: (directory: string) => Promise<T>, root: string = os.tmpdir()): Promise<T> {
  await removeStale(root);
  // Named and claimed before it exists, so that no concurrent sweep of this process takes it for stale.
  const name = `${PREFIX}${process.pid}-${randomUUID()}`;
  const directory = path.join(root, name);
  inUse.add(name);
  try {
    await fs.mkdir(directory, { recursive: false });
    return await work(directory);
  } finally {
    await fs.rm(directory, { recursive: true, force: true });
    inUse.delete(name);
  }
}

/** Bytes an unprivileged process may still write to the file system holding `directory`. */
export async function freeBytes(directory: string): Promise<number> {
  const stats = await fs.statfs(directory);
  return stats.bavail * stats.bsize;
}

/** Whether `error` is the file system saying it is full. */
export function isDiskFull(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOSPC';
}
