import { readFileSync } from 'fs';
import { join } from 'path';

/**
 * The installed package's version, read at run time from its package.json: two levels up from
 * both the bundled bin (`assets/cli/bin.js`) and the source (`src/cli/*.ts`). Reading it rather
 * than bundling it keeps the bin right after the release workflow bumps the version.
 */
export function packageVersion(dir: string = __dirname): string {
  const manifest = JSON.parse(readFileSync(join(dir, '..', '..', 'package.json'), 'utf8')) as { name?: string; version?: string };
  if (manifest.name !== 'blue-green-lambda-pipeline' || !manifest.version) {
    throw new Error(`no package.json of blue-green-lambda-pipeline two levels above ${dir}`);
  }
  return manifest.version;
}
