import { App, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { BlueGreenLambdaPipeline, TrafficHook } from '../src';
import { baseProps, newStack } from './stack-fixture';

/** Synthesizes with the AwsSolutions pack; aws-cdk-lib throws ValidationFailed on any unacknowledged finding. */
function synthWithNag(configure: (app: App) => void) {
  const app = new App();
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  configure(app);
  return () => app.synth();
}

function acknowledgements(root: IConstruct): Array<{ path: string; id: string; reason: string }> {
  return root.node.findAll().flatMap((c) => c.node.metadata
    .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ path: c.node.path, id, reason }))));
}

describe('cdk-nag AwsSolutions', () => {
  test('finds nothing unacknowledged in the full-featured pipeline', () => {
    let construct: BlueGreenLambdaPipeline | undefined;
    const synth = synthWithNag((app) => {
      construct = new BlueGreenLambdaPipeline(newStack(app), 'Pipeline', baseProps({
        preTrafficHook: TrafficHook.smokeTest({ testEvent: { path: '/health' } }),
        manualApproval: { notifyEmails: ['oncall@example.com'] },
      }));
    });
    expect(synth).not.toThrow();

    // Every acknowledgement sits on a construct of ours and says why.
    const acks = acknowledgements(construct!);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.path.startsWith('TestStack/Pipeline')).toBe(true);
      expect(ack.id).toMatch(/AwsSolutions-[A-Z]+\d+/);
      expect(ack.reason.length).toBeGreaterThan(30);
    }
  });

  test('finds nothing when the construct creates the GitHub connection', () => {
    const synth = synthWithNag((app) => {
      const stack = newStack(app);
      const pipeline = new BlueGreenLambdaPipeline(stack, 'Pipeline', baseProps({
        environmentSuffix: 'prod',
        source: { owner: 'example-org', repo: 'orders-api', connectionArn: undefined },
      }));
      expect(pipeline.connectionArn).toBeDefined();
    });
    expect(synth).not.toThrow();
  });

  test('still fails on a finding nobody acknowledged (the check is live)', () => {
    const synth = synthWithNag((app) => {
      const stack = newStack(app);
      new BlueGreenLambdaPipeline(stack, 'Pipeline', baseProps());
      const user = new iam.User(stack, 'Careless');
      user.addToPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
      new s3.Bucket(stack, 'PlainBucket');
    });
    expect(synth).toThrow(/AwsSolutions-IAM5|AwsSolutions-S10|AwsSolutions-S1/);
  });
});
