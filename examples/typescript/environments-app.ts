// The environments app: one build of one repository promoted through dev, staging and prod.
// dev takes every release at once; staging shifts linearly and bakes for an hour; prod waits for a
// release manager's approval, shifts by canary and bakes for two hours. A build that failed, rolled
// back or failed its bake in a lower environment never reaches a higher one.
import { App, Duration, Stack } from 'aws-cdk-lib';
import { LambdaDeploymentConfig } from 'aws-cdk-lib/aws-codedeploy';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { BlueGreenLambdaPipeline, TrafficHook } from '../../src';

/** The environments app, unsynthesized. */
export function environmentsApp(outdir = process.env.CDK_OUTDIR ?? 'cdk.out/environments'): App {
  const app = new App({ outdir });
  const stack = new Stack(app, 'StorefrontPipeline', {
    env: { account: '111111111111', region: 'us-east-1' },
  });

  // Production approvals go to the release managers, not to everyone who follows deployments.
  const approvalsKey = new kms.Key(stack, 'ReleaseApprovalsKey', { enableKeyRotation: true, description: 'Encrypts the storefront release approval requests' });
  // Grants of the key only for AWS services (Control Tower CT.KMS.PR.3); SNS needs none to publish.
  // One condition key per call: a Java or Go map would not keep their order.
  const grantsForAwsServicesOnly = new iam.PolicyStatement({
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions: ['kms:CreateGrant'],
    resources: ['*'],
  });
  grantsForAwsServicesOnly.addCondition('BoolIfExists', { 'kms:GrantIsForAWSResource': 'false' });
  grantsForAwsServicesOnly.addCondition('BoolIfExists', { 'aws:PrincipalIsAWSService': 'false' });
  approvalsKey.addToResourcePolicy(grantsForAwsServicesOnly);
  const releaseApprovals = new sns.Topic(stack, 'ReleaseApprovals', {
    topicName: 'storefront-release-approvals',
    enforceSSL: true,
    masterKey: approvalsKey,
  });

  new BlueGreenLambdaPipeline(stack, 'Storefront', {
    serviceName: 'storefront',
    // With environments, it suffixes only what the pipeline shares (pipeline, stage handlers,
    // history table, topic); each environment's functions, aliases, alarms and deployment groups
    // carry the environment's name.
    environmentSuffix: 'release',
    dashboard: true,
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
    // Defaults for every environment and service that does not set its own.
    errorRateThreshold: 5,
    evaluationPeriods: 2,
    alarmPeriod: Duration.minutes(1),
    keepVersions: 5,
    services: [
      {
        serviceName: 'catalog',
        bundleDirectory: 'services/catalog/dist',
        wave: 1,
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
          environment: { PAYMENT_PROVIDER: 'stripe-test', LOG_LEVEL: 'debug' },
        },
      },
    ],
    // In promotion order: every execution builds once and deploys that one bundle to each.
    environments: [
      {
        name: 'dev',
        deploymentConfig: LambdaDeploymentConfig.ALL_AT_ONCE,
      },
      {
        name: 'staging',
        deploymentConfig: LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_1MINUTE,
        // An alarm within the hour rolls staging back and the build goes no further.
        bakeTime: Duration.hours(1),
      },
      {
        name: 'prod',
        approval: {
          notificationTopic: releaseApprovals,
          notifyEmails: ['release-managers@example.com'],
          timeout: Duration.hours(8),
          additionalInformation: 'This build baked in staging for an hour without an alarm. Approve to release it to production.',
        },
        deploymentConfig: LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES,
        bakeTime: Duration.hours(2),
        // A quiet night must not pass the bake by silence.
        bakeMinInvocations: 100,
        serviceOverrides: [
          {
            serviceName: 'checkout',
            // Merged with the service's variables, these winning.
            service: { memorySize: 1024, environment: { PAYMENT_PROVIDER: 'stripe', LOG_LEVEL: 'info' } },
            keepVersions: 20,
          },
        ],
      },
    ],
    tags: { 'project': 'storefront', 'owner': 'platform-team', 'cost-center': 'retail' },
  });
  return app;
}

if (require.main === module) environmentsApp().synth();
