import { App, Stack } from 'aws-cdk-lib';
import { BlueGreenLambdaPipelineProps } from '../../src';

export const CONNECTION_ARN = 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789';

/** Minimal valid props; tests override what they examine. */
export function baseProps(overrides: Partial<BlueGreenLambdaPipelineProps> = {}): BlueGreenLambdaPipelineProps {
  return {
    serviceName: 'orders-api',
    source: { owner: 'example-org', repo: 'orders-api', connectionArn: CONNECTION_ARN },
    ...overrides,
  };
}

export function newStack(app: App = new App()): Stack {
  return new Stack(app, 'TestStack', { env: { account: '111111111111', region: 'us-east-1' } });
}
