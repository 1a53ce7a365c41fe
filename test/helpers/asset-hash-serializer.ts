// Snapshot serializer: asset hashes change with every handler edit or esbuild release, and say
// nothing about the infrastructure, so they are replaced by a placeholder.
const ASSET_HASH = /[0-9a-f]{64}(\.zip)?/g;

module.exports = {
  test: (value: unknown) => typeof value === 'string' && ASSET_HASH.test(value),
  serialize: (value: string) => JSON.stringify(value.replace(ASSET_HASH, 'ASSET-HASH')),
};
