#!/usr/bin/env node
// Proves that every package-lock.json of the project installs on a fresh machine: no entry without a
// version (npm/cli#9342: npm 11 writes `{ dev, optional }` for a platform-specific optional package
// whose manifest the registry answered incompletely, and every npm then fails with "Invalid
// Version:"), and `npm ci --dry-run` with an empty cache under npm 10 and npm 11.
//
//   node projenrc/check-lockfile.mjs [--repair] [--offline] [DIR...]
//
// DIR: directories holding a package-lock.json (default: the project root and every example under
// examples/). --repair deletes the versionless entries and lets npm resolve them again
// (`npm install --package-lock-only`), which is the only repair npm has (it never rewrites them
// itself). --offline skips the npm 10/11 dry runs. Plain Node, no dependencies: CI runs it before
// `npm ci`.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';

const NPM_MAJORS = ['10', '11'];
const REPAIR_COMMAND = 'node projenrc/check-lockfile.mjs --repair';

/** Lockfile entries (`packages` keys) that have neither a version nor a link: npm cannot install them. */
export function versionlessEntries(lock) {
  return Object.entries(lock.packages ?? {})
    .filter(([key, entry]) => key !== '' && !entry.link && !entry.version)
    .map(([key]) => key);
}

function findLockfileDirs(root) {
  const dirs = [root];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (existsSync(join(path, 'package-lock.json'))) dirs.push(path);
      walk(path);
    }
  };
  if (existsSync(join(root, 'examples'))) walk(join(root, 'examples'));
  return dirs;
}

function readLock(dir) {
  return JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8'));
}

function run(command, args, cwd) {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function repair(dir, broken) {
  const lock = readLock(dir);
  for (const key of broken) delete lock.packages[key];
  writeFileSync(join(dir, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
  const cache = mkdtempSync(join(tmpdir(), 'npm-cache-'));
  try {
    run('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--cache', cache], dir);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

function lastLines(text, count = 6) {
  return String(text ?? '').trim().split('\n').slice(-count).join('\n');
}

function main() {
  const { values, positionals } = parseArgs({
    options: { repair: { type: 'boolean', default: false }, offline: { type: 'boolean', default: false } },
    allowPositionals: true,
  });
  const root = process.cwd();
  const dirs = positionals.length > 0 ? positionals.map((dir) => join(root, dir)) : findLockfileDirs(root);
  const failures = [];
  const label = (dir) => join(relative(root, dir) || '.', 'package-lock.json');

  for (const dir of dirs) {
    if (!existsSync(join(dir, 'package-lock.json'))) {
      failures.push(`${label(dir)}: no such file`);
      continue;
    }
    let broken = versionlessEntries(readLock(dir));
    if (broken.length > 0 && values.repair) {
      repair(dir, broken);
      console.log(`${label(dir)}: re-resolved ${broken.length} entries that had no version`);
      broken = versionlessEntries(readLock(dir));
    }
    if (broken.length > 0) {
      failures.push(`${label(dir)}: ${broken.length} entries without a version, which every npm refuses ("Invalid Version:"): ${broken.slice(0, 3).join(', ')}${broken.length > 3 ? ', ...' : ''}`);
    }
  }

  const versions = [];
  if (!values.offline && failures.length === 0) {
    for (const major of NPM_MAJORS) {
      const npm = ['-y', `npm@${major}`];
      versions.push(run('npx', [...npm, '--version'], root).trim());
      for (const dir of dirs) {
        const cache = mkdtempSync(join(tmpdir(), 'npm-cache-'));
        try {
          run('npx', [...npm, 'ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund', '--cache', cache], dir);
        } catch (error) {
          failures.push(`${label(dir)}: npm ${versions.at(-1)} ci --dry-run with an empty cache failed:\n${lastLines(error.stderr || error.stdout)}`);
        } finally {
          rmSync(cache, { recursive: true, force: true });
        }
      }
    }
  }

  if (failures.length > 0) {
    console.error(`lockfile: FAILED\n${failures.join('\n')}`);
    console.error(`Regenerate with \`${REPAIR_COMMAND}\` (deletes the entries without a version and re-resolves them with npm install --package-lock-only), check again, and commit the lockfile.`);
    process.exit(1);
  }
  const checked = `${dirs.length} lockfile${dirs.length === 1 ? '' : 's'}: ${dirs.map(label).join(', ')}`;
  console.log(values.offline ? `lockfile: ok, every entry has a version (${checked})` : `lockfile: ok (npm ${versions.join(', ')})\n${checked}, each installed by npm ci --dry-run with an empty cache`);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) main();
