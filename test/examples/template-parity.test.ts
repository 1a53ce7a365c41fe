import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { assetHashes, compareAssemblies, firstDifference, normalizeTemplate } from '../../examples/template-parity';

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);

const template = (hash: string, memory: number) => ({
  Resources: {
    Bucket: { Type: 'AWS::S3::Bucket' },
    Handler: {
      Type: 'AWS::Lambda::Function',
      Properties: { Code: { S3Key: `${hash}.zip` }, MemorySize: memory, Layers: ['x', 'y'] },
      Metadata: { 'aws:asset:path': `asset.${hash}.lambda` },
    },
    CDKMetadata: { Type: 'AWS::CDK::Metadata', Properties: { Analytics: 'v2:deflate64:python' } },
  },
});

describe('template parity', () => {
  test('asset hashes, staging paths and CDKMetadata do not count as differences', () => {
    const a = normalizeTemplate(template(HASH_A, 512));
    const b = normalizeTemplate({ ...template(HASH_B, 512), Resources: { ...template(HASH_B, 512).Resources, CDKMetadata: { Type: 'AWS::CDK::Metadata' } } });
    expect(firstDifference(a, b)).toBeUndefined();
    expect(JSON.stringify(a)).not.toContain(HASH_A);
  });

  test('the first differing resource and property are named with both values', () => {
    const difference = firstDifference(normalizeTemplate(template(HASH_A, 512)), normalizeTemplate(template(HASH_A, 1024)));
    expect(difference).toEqual({ resource: 'Handler', property: 'Properties.MemorySize', expected: 512, actual: 1024 });
  });

  test('array elements, missing resources and other sections are found too', () => {
    const base = template(HASH_A, 512);
    const reordered = { Resources: { ...base.Resources, Handler: { ...base.Resources.Handler, Properties: { ...base.Resources.Handler.Properties, Layers: ['y', 'x'] } } } };
    expect(firstDifference(base, reordered)).toMatchObject({ resource: 'Handler', property: 'Properties.Layers[0]', expected: 'x', actual: 'y' });
    const { Bucket: _bucket, ...withoutBucket } = base.Resources;
    expect(firstDifference(base, { Resources: withoutBucket })).toMatchObject({ resource: 'Bucket', property: '(whole value)', actual: undefined });
    expect(firstDifference({ ...base, Outputs: { Url: { Value: 'a' } } }, { ...base, Outputs: { Url: { Value: 'b' } } }))
      .toMatchObject({ resource: 'Outputs', property: 'Url.Value' });
  });

  test('asset hashes are read from every asset manifest in a cloud assembly', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parity-'));
    fs.writeFileSync(path.join(dir, 'One.assets.json'), JSON.stringify({ files: { [HASH_B]: {}, [HASH_A]: {} } }));
    fs.writeFileSync(path.join(dir, 'Two.assets.json'), JSON.stringify({ dockerImages: {} }));
    expect(assetHashes(dir)).toEqual([HASH_A, HASH_B]);
  });

  describe('an app of several stacks (a tooling stack and target stacks)', () => {
    // A cloud assembly with a template per stack and one asset manifest.
    const assembly = (stacks: Record<string, object>) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parity-app-'));
      for (const [name, t] of Object.entries(stacks)) fs.writeFileSync(path.join(dir, `${name}.template.json`), JSON.stringify(t));
      fs.writeFileSync(path.join(dir, 'Tooling.assets.json'), JSON.stringify({ files: { [HASH_A]: {} } }));
      return dir;
    };
    const reference = assembly({ 'Tooling': template(HASH_A, 512), 'Target-prod': template(HASH_A, 1024) });

    test('every stack equal: no problems, templates and resources of all stacks counted', () => {
      const result = compareAssemblies(reference, assembly({ 'Tooling': template(HASH_B, 512), 'Target-prod': template(HASH_B, 1024) }), 'go');
      expect(result).toEqual({ problems: [], templates: 2, resources: 6, assets: 1 });
    });

    test('a difference in the second stack only is caught and names that stack', () => {
      const result = compareAssemblies(reference, assembly({ 'Tooling': template(HASH_A, 512), 'Target-prod': template(HASH_A, 2048) }), 'java');
      expect(result.problems).toHaveLength(1);
      expect(result.problems[0]).toMatch(/^Target-prod\.template\.json: first difference in Handler at Properties\.MemorySize\n.*1024\n.*java: 2048$/s);
    });

    test('a stack missing on either side is caught', () => {
      expect(compareAssemblies(reference, assembly({ Tooling: template(HASH_A, 512) }), 'python').problems)
        .toEqual([expect.stringMatching(/^Target-prod\.template\.json: missing from /)]);
      const extra = assembly({ 'Tooling': template(HASH_A, 512), 'Target-prod': template(HASH_A, 1024), 'Target-eu': template(HASH_A, 1024) });
      expect(compareAssemblies(reference, extra, 'python').problems).toEqual([expect.stringMatching(/^Target-eu\.template\.json: not in /)]);
    });
  });
});
