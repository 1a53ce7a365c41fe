/** Reads a required environment variable set by the construct. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`environment variable ${name} is not set; this function must be deployed by BlueGreenLambdaPipeline`);
  }
  return value;
}

/** SDK clients retry throttling and 5xx with exponential backoff; this bounds the attempts. */
export const CLIENT_CONFIG = { maxAttempts: 5 };
