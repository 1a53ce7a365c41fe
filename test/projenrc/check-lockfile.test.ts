import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';

// The lockfile check as CI and projen's install paths run it, on lockfiles made here: the broken
// entry has the shape npm 11 wrote into ours (npm/cli#9342), a platform binding with no version.
const script = path.join(__dirname, '..', '..', 'projenrc', 'check-lockfile.mjs');
const BROKEN_ENTRY = 'node_modules/unrs-resolver/node_modules/@unrs/resolver-binding-android-arm64';

function project(packages: Record<string, object>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'bglp-lockfile-'));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0' }));
  const lock = { name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'app', version: '1.0.0' }, ...packages } };
  writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify(lock, null, 2));
  return dir;
}

function check(dir: string, ...args: string[]) {
  return spawnSync(process.execPath, [script, ...args, '.'], { cwd: dir, encoding: 'utf8' });
}

test('a lockfile entry without a version fails the check, naming it and the repair command', () => {
  const result = check(project({ [BROKEN_ENTRY]: { dev: true, optional: true } }), '--offline');
  expect(result.status).toBe(1);
  expect(result.stderr).toContain(`package-lock.json: 1 entries without a version, which every npm refuses ("Invalid Version:"): ${BROKEN_ENTRY}`);
  expect(result.stderr).toContain('node projenrc/check-lockfile.mjs --repair');
});

test('linked workspaces have no version of their own and pass', () => {
  const result = check(project({ 'node_modules/service': { resolved: 'services/service', link: true } }), '--offline');
  expect(result.stderr).toBe('');
  expect(result.stdout).toBe('lockfile: ok, every entry has a version (1 lockfile: package-lock.json)\n');
  expect(result.status).toBe(0);
});

test('--repair removes the versionless entries and lets npm write the lockfile again', () => {
  const dir = project({ [BROKEN_ENTRY]: { dev: true, optional: true } });
  const result = check(dir, '--repair', '--offline');
  expect(result.stdout).toContain('package-lock.json: re-resolved 1 entries that had no version');
  expect(result.status).toBe(0);
  const lock = JSON.parse(readFileSync(path.join(dir, 'package-lock.json'), 'utf8'));
  expect(Object.keys(lock.packages)).toEqual(['']);
});
