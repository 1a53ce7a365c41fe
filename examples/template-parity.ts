// Template parity: the Python, Java and Go consumer apps must synthesize exactly the template the
// TypeScript reference app does. Usage: template-parity.ts <reference-dir> <lang>=<dir> ...
import * as fs from 'fs';
import * as path from 'path';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A difference between two templates: the resource (or top-level section) and the property path. */
export interface TemplateDifference {
  readonly resource: string;
  readonly property: string;
  readonly expected: Json | undefined;
  readonly actual: Json | undefined;
}

const ASSET_HASH = /\b[0-9a-f]{64}\b/g;

/**
 * Asset hashes and staging paths are replaced by placeholders; the CDKMetadata resource (which
 * records the synthesizing language by design) is dropped. Nothing else is touched.
 */
export function normalizeTemplate(template: { [key: string]: Json }): { [key: string]: Json } {
  const text = JSON.stringify(template)
    .replace(/asset\.[0-9a-f]{64}(\.[A-Za-z0-9]+)?/g, 'asset.<hash>$1')
    .replace(ASSET_HASH, '<asset-hash>');
  const normalized = JSON.parse(text);
  if (normalized.Resources) delete normalized.Resources.CDKMetadata;
  return normalized;
}

/** The first difference in document order, or undefined when the two are equal. */
export function firstDifference(expected: { [key: string]: Json }, actual: { [key: string]: Json }): TemplateDifference | undefined {
  for (const section of union(expected, actual)) {
    if (section === 'Resources' && isObject(expected.Resources) && isObject(actual.Resources)) {
      for (const resource of union(expected.Resources, actual.Resources)) {
        const found = walk(expected.Resources[resource], actual.Resources[resource], []);
        if (found) return { resource, ...found };
      }
      continue;
    }
    const found = walk(expected[section], actual[section], []);
    if (found) return { resource: section, ...found };
  }
  return undefined;
}

function walk(a: Json | undefined, b: Json | undefined, at: string[]): Omit<TemplateDifference, 'resource'> | undefined {
  if (isObject(a) && isObject(b)) {
    for (const key of union(a, b)) {
      const found = walk(a[key], b[key], [...at, key]);
      if (found) return found;
    }
    return undefined;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const found = walk(a[i], b[i], [...at, `[${i}]`]);
      if (found) return found;
    }
    return undefined;
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return undefined;
  return { property: at.join('.').replace(/\.\[/g, '[') || '(whole value)', expected: a, actual: b };
}

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function union(a: object, b: object): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])];
}

/** The file assets' content hashes, from the cloud assembly's asset manifests. */
export function assetHashes(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.assets.json'))
    .flatMap((f) => Object.keys(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).files ?? {}))
    .sort();
}

function templates(dir: string): Map<string, { [key: string]: Json }> {
  if (!fs.existsSync(dir)) throw new Error(`${dir} does not exist: run that language's example app first`);
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.template.json'));
  if (files.length === 0) throw new Error(`no *.template.json in ${dir}`);
  return new Map(files.map((f) => [f, JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))]));
}

/** What one language's cloud assembly compares as. */
export interface ParityResult {
  /** One line per template that differs or exists on one side only, and one for differing asset hashes. */
  readonly problems: string[];
  readonly templates: number;
  readonly resources: number;
  readonly assets: number;
}

/**
 * Compares every stack template of `dir` with the one of the same name in `referenceDir` (an app of
 * several stacks has several), and the asset hashes of the two cloud assemblies.
 */
export function compareAssemblies(referenceDir: string, dir: string, language: string): ParityResult {
  const reference = templates(referenceDir);
  const theirs = templates(dir);
  const problems: string[] = [];
  for (const name of new Set([...reference.keys(), ...theirs.keys()])) {
    const expected = reference.get(name);
    const actual = theirs.get(name);
    if (!expected || !actual) {
      problems.push(`${name}: ${expected ? `missing from ${dir}` : `not in ${referenceDir}`}`);
      continue;
    }
    const difference = firstDifference(normalizeTemplate(expected), normalizeTemplate(actual));
    if (difference) {
      problems.push(`${name}: first difference in ${difference.resource} at ${difference.property}\n` +
        `    typescript: ${JSON.stringify(difference.expected)}\n    ${language}: ${JSON.stringify(difference.actual)}`);
    }
  }
  // Hashes are normalized above; equal hashes also prove the package carries the same handler bundles.
  const referenceAssets = assetHashes(referenceDir);
  const assets = assetHashes(dir);
  if (JSON.stringify(assets) !== JSON.stringify(referenceAssets)) {
    problems.push(`asset hashes differ (a stale package?): typescript ${referenceAssets.join(',')} vs ${language} ${assets.join(',')}`);
  }
  const resources = [...theirs.values()].reduce((n, t) => n + Object.keys(t.Resources ?? {}).length, 0);
  return { problems, templates: theirs.size, resources, assets: assets.length };
}

function main(args: string[]): number {
  const [referenceDir, ...others] = args;
  if (!referenceDir || others.length === 0 || others.some((o) => !o.includes('='))) {
    console.error('usage: template-parity.ts <reference-dir> <language>=<dir> ...');
    return 2;
  }
  let failed = 0;
  for (const other of others) {
    const [language, dir] = other.split('=');
    const result = compareAssemblies(referenceDir, dir, language);
    if (result.problems.length > 0) {
      failed++;
      console.error(`parity ${language}: FAILED\n  ${result.problems.join('\n  ')}`);
    } else {
      console.log(`parity ${language}: identical to typescript (${result.templates} template(s), ${result.resources} resources, ${result.assets} assets)`);
    }
  }
  return failed === 0 ? 0 : 1;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
