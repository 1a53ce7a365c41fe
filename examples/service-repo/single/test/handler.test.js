// Tests the bundle that is deployed (dist/index.js), so a bundling mistake fails the build too.
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { handler } = require('../dist/index.js');

const get = (rawPath) => ({ rawPath, requestContext: { http: { method: 'GET' } } });

describe('handler', () => {
  test('GET /health answers 200', async () => {
    const response = await handler(get('/health'));
    assert.equal(response.statusCode, 200);
    assert.equal(JSON.parse(response.body).status, 'ok');
  });

  test('an unknown route answers 404', async () => {
    const response = await handler(get('/nope'));
    assert.equal(response.statusCode, 404);
  });
});
