// Tests the bundle that is deployed (dist/index.js), so a bundling mistake fails the build too.
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { handler } = require('../dist/index.js');

const get = (rawPath, queryStringParameters) => ({ rawPath, queryStringParameters, requestContext: { http: { method: 'GET' } } });

describe('orders', () => {
  test('GET /health answers 200', async () => {
    assert.equal((await handler(get('/health'))).statusCode, 200);
  });

  test('GET /orders?limit=1 answers one order', async () => {
    const response = await handler(get('/orders', { limit: '1' }));
    assert.equal(response.statusCode, 200);
    assert.equal(JSON.parse(response.body).orders.length, 1);
  });

  test('a bad limit answers 400', async () => {
    assert.equal((await handler(get('/orders', { limit: 'many' }))).statusCode, 400);
  });
});
