import { App, Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { BlueGreenLambdaPipeline, TrafficHook } from '../src';
import { baseProps, newStack } from './helpers/stack-fixture';

/**
 * Runs the AwsSolutions and Serverless packs over the app and returns the unacknowledged findings
 * as `rule @ construct path`. `validateScope` is cdk-nag 3's entry point for aws-cdk-lib releases
 * whose validation context has no construct tree (before 2.258.0); it applies the same rules and
 * reads the same acknowledgements as `Validations.of(app).addPlugins(...)`.
 */
function nagFindings(configure: (app: App) => void): string[] {
  const app = new App();
  configure(app);
  return [new AwsSolutionsChecks(app), new ServerlessChecks(app)]
    .flatMap((pack) => pack.validateScope(app).violations)
    .flatMap((v) => v.violatingResources.map((r: any) => `${v.ruleName} @ ${r.constructPath}`));
}

function acknowledgements(root: IConstruct): Array<{ path: string; id: string; reason: string }> {
  return root.node.findAll().flatMap((c) => c.node.metadata
    .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ path: c.node.path, id, reason }))));
}

describe('cdk-nag AwsSolutions and Serverless', () => {
  test('finds nothing unacknowledged in a pipeline promoting through environments with approvals and bakes', () => {
    const findings = nagFindings((app) => {
      new BlueGreenLambdaPipeline(newStack(app), 'Pipeline', baseProps({
        services: [
          { serviceName: 'orders', bundleDirectory: 'services/orders', preTrafficHook: TrafficHook.smokeTest({ testEvent: { path: '/health' } }) },
          { serviceName: 'users', bundleDirectory: 'services/users', wave: 2 },
        ],
        environments: [
          { name: 'dev' },
          { name: 'staging', bakeTime: Duration.hours(1) },
          { name: 'prod', approval: { notifyEmails: ['oncall@example.com'], timeout: Duration.hours(8) }, bakeTime: Duration.hours(2), bakeMinInvocations: 10 },
        ],
      }));
    });
    expect(findings).toEqual([]);
  });

  test('finds nothing unacknowledged in the full-featured pipeline', () => {
    let construct: BlueGreenLambdaPipeline | undefined;
    const findings = nagFindings((app) => {
      construct = new BlueGreenLambdaPipeline(newStack(app), 'Pipeline', baseProps({
        preTrafficHook: TrafficHook.smokeTest({ testEvent: { path: '/health' } }),
        manualApproval: { notifyEmails: ['oncall@example.com'] },
      }));
    });
    expect(findings).toEqual([]);

    // Every acknowledgement sits on a construct of ours and says why.
    const acks = acknowledgements(construct!);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.path.startsWith('TestStack/Pipeline')).toBe(true);
      expect(ack.id).toMatch(/^(AwsSolutions-[A-Z]+\d+|Serverless-[A-Za-z]+)/);
      expect(ack.reason.length).toBeGreaterThan(30);
    }
  });

  test('finds nothing when the construct creates the GitHub connection', () => {
    const findings = nagFindings((app) => {
      const stack = newStack(app);
      const pipeline = new BlueGreenLambdaPipeline(stack, 'Pipeline', baseProps({
        environmentSuffix: 'prod',
        source: { owner: 'example-org', repo: 'orders-api', connectionArn: undefined },
      }));
      expect(pipeline.connectionArn).toBeDefined();
    });
    expect(findings).toEqual([]);
  });

  test('still fails on a finding nobody acknowledged (the check is live)', () => {
    const findings = nagFindings((app) => {
      const stack = newStack(app);
      new BlueGreenLambdaPipeline(stack, 'Pipeline', baseProps());
      const user = new iam.User(stack, 'Careless');
      user.addToPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
      new s3.Bucket(stack, 'PlainBucket');
      new lambda.Function(stack, 'PlainFunction', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler=async()=>{}') });
    });
    expect(findings).toEqual(expect.arrayContaining([
      'AwsSolutions-IAM5[Action::s3:*] @ TestStack/Careless/DefaultPolicy/Resource',
      'AwsSolutions-S10 @ TestStack/PlainBucket/Resource',
      'Serverless-LambdaTracing @ TestStack/PlainFunction/Resource',
      'Serverless-LambdaDLQ @ TestStack/PlainFunction/Resource',
    ]));
    expect(findings.every((f) => !f.includes('TestStack/Pipeline/'))).toBe(true);
  });
});
