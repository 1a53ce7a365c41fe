import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/** API Gateway HTTP API (payload 2.0); the pipeline's smoke test sends `/users/me` with a bearer token. */
export async function handler(event: Partial<APIGatewayProxyEventV2>): Promise<APIGatewayProxyStructuredResultV2> {
  const method = event.requestContext?.http?.method ?? 'GET';
  const path = event.rawPath ?? '/';
  if (method === 'GET' && path === '/health') return json(200, { status: 'ok' });
  if (method === 'GET' && path === '/users/me') {
    // HTTP APIs lower-case header names.
    const token = /^Bearer (\S+)$/.exec(event.headers?.authorization ?? '')?.[1];
    if (!token) return json(401, { message: 'a bearer token is required' });
    return json(200, { id: 'me', tokenLength: token.length });
  }
  return json(404, { message: `no route for ${method} ${path}` });
}

function json(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
