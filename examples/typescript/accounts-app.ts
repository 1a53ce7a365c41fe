// The accounts app: the pipeline lives in a tooling account and deploys into one account per
// environment, prod in two regions. dev (222222222222) takes every release at once; staging
// (333333333333) shifts linearly and bakes for an hour; prod (444444444444, us-east-1) waits for a
// release manager's approval, shifts by canary and bakes for two hours; prod-eu (the same account,
// eu-west-1) follows once prod has baked. One CDK app holds every stack: the tooling stack and one
// stack per target environment.
//
// Deploy order: bootstrap each target account and region with `cdk bootstrap --trust 111111111111`,
// deploy the four target stacks, then the tooling stack (its first execution needs the deployer roles).
import { App, Duration, Stack } from 'aws-cdk-lib';
import { LambdaDeploymentConfig } from 'aws-cdk-lib/aws-codedeploy';
import { BlueGreenLambdaPipeline, BlueGreenLambdaTarget, PipelineEnvironment, TrafficHook } from '../../src';

const TOOLING = { account: '111111111111', region: 'us-east-1' };

/** The accounts app, unsynthesized. */
export function accountsApp(outdir = process.env.CDK_OUTDIR ?? 'cdk.out/accounts'): App {
  const app = new App({ outdir });
  // A concrete account and region: the pipeline compares them with each environment's to tell
  // which environments are targets, and writes literal ARNs in both directions.
  const tooling = new Stack(app, 'StorefrontTooling', { env: TOOLING });

  // In promotion order: every execution builds once and deploys that one bundle to each.
  const environments: PipelineEnvironment[] = [
    {
      name: 'dev',
      account: '222222222222',
      region: 'us-east-1',
      deploymentConfig: LambdaDeploymentConfig.ALL_AT_ONCE,
    },
    {
      name: 'staging',
      account: '333333333333',
      region: 'us-east-1',
      deploymentConfig: LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_1MINUTE,
      // An alarm within the hour rolls staging back and the build goes no further.
      bakeTime: Duration.hours(1),
    },
    {
      name: 'prod',
      account: '444444444444',
      region: 'us-east-1',
      // The approval goes out from the tooling account: approvers never need access to prod.
      approval: {
        notifyEmails: ['release-managers@example.com'],
        timeout: Duration.hours(8),
        additionalInformation: 'This build baked in staging for an hour without an alarm. Approve to release it to production in us-east-1, then eu-west-1.',
      },
      deploymentConfig: LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES,
      bakeTime: Duration.hours(2),
      // A quiet night must not pass the bake by silence.
      bakeMinInvocations: 100,
    },
    {
      // The same account in a second region is an environment of its own: CodeDeploy, Lambda
      // and CloudWatch are regional. The one approval above releases both regions; prod-eu gets
      // the build only after it baked in us-east-1.
      name: 'prod-eu',
      account: '444444444444',
      region: 'eu-west-1',
      deploymentConfig: LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES,
      bakeTime: Duration.hours(2),
      bakeMinInvocations: 100,
    },
  ];

  const pipeline = new BlueGreenLambdaPipeline(tooling, 'Storefront', {
    serviceName: 'storefront',
    environmentSuffix: 'release',
    source: {
      owner: 'example-org',
      repo: 'storefront',
      branch: 'main',
      connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789',
    },
    buildStage: {
      buildCommands: ['npm run build --workspaces'],
      testCommands: ['npm test --workspaces'],
    },
    errorRateThreshold: 5,
    evaluationPeriods: 2,
    alarmPeriod: Duration.minutes(1),
    keepVersions: 5,
    // The services are declared once, here; each target creates its copies of them.
    services: [
      {
        serviceName: 'catalog',
        bundleDirectory: 'services/catalog/dist',
        wave: 1,
        // CodeDeploy invokes a hook in its own account: each target gets its own smoke-test function.
        preTrafficHook: TrafficHook.smokeTest({
          testEvent: { rawPath: '/products', requestContext: { http: { method: 'GET' } }, queryStringParameters: { limit: '1' } },
        }),
      },
      {
        serviceName: 'checkout',
        bundleDirectory: 'services/checkout/dist',
        // Shifts only after catalog's shift succeeded.
        wave: 2,
        errorRateThreshold: 1,
        service: {
          memorySize: 512,
          timeout: Duration.seconds(30),
          environment: { PAYMENT_PROVIDER: 'stripe', LOG_LEVEL: 'info' },
        },
      },
    ],
    environments,
    tags: { 'project': 'storefront', 'owner': 'platform-team', 'cost-center': 'retail' },
  });

  // Every environment the pipeline cannot reach from its own account and region needs a target
  // stack there: the pipeline says which, so a forgotten one is visible here rather than at deploy.
  for (const name of pipeline.targetEnvironments) {
    const { account, region } = environments.find((e) => e.name === name)!;
    const target = new Stack(app, `Storefront-${name}`, { env: { account, region } });
    new BlueGreenLambdaTarget(target, 'Target', { pipeline, environment: name });
  }
  return app;
}

if (require.main === module) accountsApp().synth();
