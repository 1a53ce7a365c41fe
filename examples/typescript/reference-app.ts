// The reference app: one service, one pipeline, every option a production user would set.
import { App, Duration, Stack } from 'aws-cdk-lib';
import { LambdaDeploymentConfig } from 'aws-cdk-lib/aws-codedeploy';
import { BlueGreenLambdaPipeline, TrafficHook } from '../../src';

/** The reference app, unsynthesized (the validators also walk its construct tree). */
export function referenceApp(outdir = process.env.CDK_OUTDIR ?? 'cdk.out/reference'): App {
  const app = new App({ outdir });
  const stack = new Stack(app, 'OrdersApiPipeline', {
    env: { account: '111111111111', region: 'us-east-1' },
  });

  new BlueGreenLambdaPipeline(stack, 'OrdersApi', {
    serviceName: 'orders-api',
    environmentSuffix: 'dev',
    source: {
      owner: 'example-org',
      repo: 'orders-api',
      branch: 'main',
      connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789',
    },
    deploymentConfig: LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_10MINUTES,
    errorRateThreshold: 5,
    evaluationPeriods: 2,
    alarmPeriod: Duration.minutes(1),
    preTrafficHook: TrafficHook.smokeTest({ testEvent: { rawPath: '/health', requestContext: { http: { method: 'GET' } } } }),
    tags: { project: 'orders', owner: 'platform-team' },
  });
  return app;
}

if (require.main === module) referenceApp().synth();
