import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/**
 * An API Gateway HTTP API (payload format 2.0) handler. The pipeline's smoke test may send a
 * partial event, so every field is read defensively.
 */
export async function handler(event: Partial<APIGatewayProxyEventV2>): Promise<APIGatewayProxyStructuredResultV2> {
  const method = event.requestContext?.http?.method ?? 'GET';
  const path = event.rawPath ?? '/';
  if (method === 'GET' && path === '/health') {
    return json(200, { status: 'ok', version: process.env.AWS_LAMBDA_FUNCTION_VERSION ?? 'local' });
  }
  return json(404, { message: `no route for ${method} ${path}` });
}

function json(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
