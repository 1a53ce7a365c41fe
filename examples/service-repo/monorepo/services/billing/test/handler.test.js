// Tests the bundle that is deployed (dist/index.js), so a bundling mistake fails the build too.
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { handler } = require('../dist/index.js');

const post = (rawPath, body) => ({ rawPath, body: JSON.stringify(body), requestContext: { http: { method: 'POST' } } });

describe('billing', () => {
  test('GET /health answers 200', async () => {
    assert.equal((await handler({ rawPath: '/health', requestContext: { http: { method: 'GET' } } })).statusCode, 200);
  });

  test('POST /invoices answers 201 with the invoice', async () => {
    const response = await handler(post('/invoices', { orderId: 'o-1001', amount: 42.5 }));
    assert.equal(response.statusCode, 201);
    assert.deepEqual(JSON.parse(response.body), { orderId: 'o-1001', amount: 42.5, currency: 'USD' });
  });

  test('an invalid invoice answers 400', async () => {
    assert.equal((await handler(post('/invoices', { orderId: 'o-1001', amount: -1 }))).statusCode, 400);
  });
});
