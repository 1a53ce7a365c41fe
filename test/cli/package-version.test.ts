import { mkdirSync, mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { packageVersion } from '../../src/cli/package-version';

test('reads the version of the package two levels above the bin', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'bglp-version-'));
  mkdirSync(path.join(root, 'assets', 'cli'), { recursive: true });
  writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'blue-green-lambda-pipeline', version: '1.4.2' }));
  expect(packageVersion(path.join(root, 'assets', 'cli'))).toBe('1.4.2');
});

test('refuses a package.json that is not ours rather than print another package\'s version', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'bglp-version-'));
  mkdirSync(path.join(root, 'a', 'b'), { recursive: true });
  writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'some-app', version: '9.9.9' }));
  expect(() => packageVersion(path.join(root, 'a', 'b'))).toThrow(/no package.json of blue-green-lambda-pipeline/);
});
