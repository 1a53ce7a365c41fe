// The handler contract is written once: no other source file spells one of its strings. A literal
// that equals a contract value (or, for the distinctive ones, contains it) means two sides that can
// drift apart without a compile error.
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import * as contract from '../../src/contract/handler-contract';

const SRC = path.join(__dirname, '..', '..', 'src');
const CONTRACT_FILE = path.join(SRC, 'contract', 'handler-contract.ts');

/** Values no other text may contain: nothing else in the code looks like them. */
const DISTINCTIVE = [
  ...Object.values(contract.HANDLER_ENVIRONMENT),
  contract.HISTORY_TABLE.byService.indexName,
  contract.HISTORY_TABLE.byExecution.indexName,
  contract.ALL_AT_ONCE_CONFIG,
  contract.BUNDLES_PREFIX,
];
/**
 * Values no other literal may be: short words that also occur inside ordinary sentences. The
 * table's key names are item attributes, typed by DeploymentRecord, and UserParameters keys are
 * typed by the contract: a mismatch there is already a compile error.
 */
const EXACT = [
  contract.ALIAS_NAME,
  contract.TARGET_VERSION_VARIABLE,
  ...Object.values(contract.STAGE_NAMES),
];

/** Where a literal is the same word for another thing, with the reason. Keyed `file: literal`. */
const OTHER_MEANINGS: Record<string, string> = {
  'blue-green-lambda-pipeline.ts: Build': 'the Build stage construct\'s id, which its logical ids hang on: it must never change with the stage name',
  'runtime/appspec.ts: targetVersion': 'the AppSpec\'s field, not the pipeline variable',
  'cli/history-item.ts: targetVersion': 'a history item\'s attribute (typed keyof HistoryItem), not the pipeline variable',
};

/** Every string literal and template text of a source file, with its line. */
export function literalsOf(fileName: string, text: string): Array<{ text: string; line: number }> {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const found: Array<{ text: string; line: number }> = [];
  const visit = (node: ts.Node) => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node)
      || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      // An import path is not a value; a literal type names a typed property.
      const parent = node.parent;
      if (!(ts.isStringLiteral(node) && (ts.isImportDeclaration(parent) || ts.isExportDeclaration(parent) || ts.isLiteralTypeNode(parent)))) {
        found.push({ text: node.text, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1 });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The contract strings a file writes again: `file:line "literal" (value)`. */
export function duplicatesIn(fileName: string, text: string): string[] {
  const relative = path.relative(SRC, fileName);
  return literalsOf(fileName, text).flatMap(({ text: literal, line }) => {
    if (OTHER_MEANINGS[`${relative}: ${literal}`]) return [];
    const hits = [
      ...DISTINCTIVE.filter((value) => literal.includes(value)),
      ...EXACT.filter((value) => literal === value),
    ];
    return hits.map((value) => `${relative}:${line} "${literal}" writes the contract's "${value}"`);
  });
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

test('no source file but the contract writes one of its strings', () => {
  const files = sourceFiles(SRC).filter((file) => file !== CONTRACT_FILE);
  expect(files.length).toBeGreaterThan(40);
  expect(files.flatMap((file) => duplicatesIn(file, fs.readFileSync(file, 'utf8')))).toEqual([]);
});

test('the check finds a contract string written again, in a literal or a template, and ignores comments', () => {
  const planted = [
    '// HISTORY_TABLE_NAME in a comment is documentation',
    'const a = process.env.X ?? requireEnv(\'HISTORY_TABLE_NAME\');',
    'const b = `${prefix} is in bundles/${id}`;',
    'const c = { aliasName: \'live\' };',
    'const d = \'a live alias\';',
  ].join('\n');
  expect(duplicatesIn(path.join(SRC, 'planted.ts'), planted)).toEqual([
    'planted.ts:2 "HISTORY_TABLE_NAME" writes the contract\'s "HISTORY_TABLE_NAME"',
    'planted.ts:3 " is in bundles/" writes the contract\'s "bundles/"',
    'planted.ts:4 "live" writes the contract\'s "live"',
  ]);
});

test('the contract module imports nothing', () => {
  const text = fs.readFileSync(CONTRACT_FILE, 'utf8');
  expect(text).not.toMatch(/^\s*import\b|\brequire\(/m);
});
