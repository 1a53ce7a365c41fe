// Tests the bundle that is deployed (dist/index.js), so a bundling mistake fails the build too.
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { handler } = require('../dist/index.js');

describe('users', () => {
  test('GET /health answers 200', async () => {
    assert.equal((await handler({ rawPath: '/health', requestContext: { http: { method: 'GET' } } })).statusCode, 200);
  });

  test('/users/me with a bearer token answers 200', async () => {
    const response = await handler({ rawPath: '/users/me', headers: { authorization: 'Bearer smoke-test' } });
    assert.equal(response.statusCode, 200);
    assert.equal(JSON.parse(response.body).id, 'me');
  });

  test('/users/me without a token answers 401', async () => {
    assert.equal((await handler({ rawPath: '/users/me', headers: {} })).statusCode, 401);
  });
});
