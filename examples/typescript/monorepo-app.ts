// The monorepo app: one repository, three services, one pipeline that ships them in two waves.
// orders and billing shift traffic together (wave 1); users follows only if both succeeded (wave 2).
import { App, Duration, Stack } from 'aws-cdk-lib';
import { LambdaDeploymentConfig } from 'aws-cdk-lib/aws-codedeploy';
import { BlueGreenLambdaPipeline, TrafficHook } from '../../src';

/** The monorepo app, unsynthesized. */
export function monorepoApp(outdir = process.env.CDK_OUTDIR ?? 'cdk.out/monorepo'): App {
  const app = new App({ outdir });
  const stack = new Stack(app, 'ShopPipeline', {
    env: { account: '111111111111', region: 'us-east-1' },
  });

  new BlueGreenLambdaPipeline(stack, 'Shop', {
    // Names the pipeline and what its services share: the stage handlers, the deployment
    // history table, the notification topic and the CodeDeploy application.
    serviceName: 'shop',
    // The deployment dashboard (opt-in: dashboards beyond the free ones cost money).
    dashboard: true,
    environmentSuffix: 'dev',
    source: {
      owner: 'example-org',
      repo: 'shop',
      branch: 'main',
      connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789',
    },
    // One build for the whole repository (npm workspaces); each service's bundle lands in its own
    // services/<name>/dist directory of the build output.
    buildStage: {
      buildCommands: ['npm run build --workspaces'],
      testCommands: ['npm test --workspaces'],
    },
    // Defaults for every service that does not set its own.
    deploymentConfig: LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_1MINUTE,
    errorRateThreshold: 5,
    evaluationPeriods: 2,
    alarmPeriod: Duration.minutes(1),
    keepVersions: 5,
    services: [
      {
        serviceName: 'orders',
        bundleDirectory: 'services/orders/dist',
        wave: 1,
        // Invoked against the new version before it takes any traffic.
        preTrafficHook: TrafficHook.smokeTest({
          testEvent: { rawPath: '/orders', requestContext: { http: { method: 'GET' } }, queryStringParameters: { limit: '1' } },
        }),
      },
      {
        serviceName: 'billing',
        bundleDirectory: 'services/billing/dist',
        wave: 1,
        // Payments: roll back at a 1% error rate, and give the function more room.
        errorRateThreshold: 1,
        service: {
          memorySize: 1024,
          timeout: Duration.seconds(30),
          environment: { PAYMENT_PROVIDER: 'stripe', CURRENCY: 'USD', LEDGER_TABLE: 'shop-ledger-dev', LOG_LEVEL: 'info' },
        },
        keepVersions: 20,
      },
      {
        serviceName: 'users',
        bundleDirectory: 'services/users/dist',
        wave: 2,
        // A canary instead of the pipeline's linear shift.
        deploymentConfig: LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES,
        preTrafficHook: TrafficHook.smokeTest({ testEvent: { rawPath: '/users/me', headers: { authorization: 'Bearer smoke-test' } } }),
      },
    ],
    tags: { 'project': 'shop', 'owner': 'platform-team', 'cost-center': 'retail' },
  });
  return app;
}

if (require.main === module) monorepoApp().synth();
