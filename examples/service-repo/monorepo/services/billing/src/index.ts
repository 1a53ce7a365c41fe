import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/** API Gateway HTTP API (payload 2.0): `POST /invoices` with `{ orderId, amount }`. */
export async function handler(event: Partial<APIGatewayProxyEventV2>): Promise<APIGatewayProxyStructuredResultV2> {
  const method = event.requestContext?.http?.method ?? 'GET';
  const path = event.rawPath ?? '/';
  if (method === 'GET' && path === '/health') return json(200, { status: 'ok' });
  if (method === 'POST' && path === '/invoices') {
    const input = parse(event.body, event.isBase64Encoded);
    if (typeof input?.orderId !== 'string' || typeof input.amount !== 'number' || input.amount <= 0) {
      return json(400, { message: 'expected { "orderId": string, "amount": number > 0 }' });
    }
    return json(201, { orderId: input.orderId, amount: input.amount, currency: process.env.CURRENCY ?? 'USD' });
  }
  return json(404, { message: `no route for ${method} ${path}` });
}

function parse(body: string | undefined, base64: boolean | undefined): { orderId?: unknown; amount?: unknown } | undefined {
  try {
    return JSON.parse(base64 ? Buffer.from(body ?? '', 'base64').toString('utf8') : body ?? '');
  } catch {
    return undefined;
  }
}

function json(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
