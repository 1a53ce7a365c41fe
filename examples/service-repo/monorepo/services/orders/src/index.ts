import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

const ORDERS = [
  { id: 'o-1001', total: 42.5 },
  { id: 'o-1002', total: 17 },
];

/** API Gateway HTTP API (payload 2.0); the pipeline's smoke test sends `GET /orders?limit=1`. */
export async function handler(event: Partial<APIGatewayProxyEventV2>): Promise<APIGatewayProxyStructuredResultV2> {
  const method = event.requestContext?.http?.method ?? 'GET';
  const path = event.rawPath ?? '/';
  if (method === 'GET' && path === '/health') return json(200, { status: 'ok' });
  if (method === 'GET' && path === '/orders') {
    const limit = Number(event.queryStringParameters?.limit ?? ORDERS.length);
    if (!Number.isInteger(limit) || limit < 1) return json(400, { message: 'limit must be a positive integer' });
    return json(200, { orders: ORDERS.slice(0, limit) });
  }
  return json(404, { message: `no route for ${method} ${path}` });
}

function json(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
