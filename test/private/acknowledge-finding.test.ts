import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { BlueGreenLambdaPipeline, BlueGreenLambdaPipelineProps, TrafficHook } from '../../src';
import { baseProps, newStack } from '../helpers/stack-fixture';

type Resources = Record<string, { Type: string; Metadata?: any }>;

type PropsFor = (stack: ReturnType<typeof newStack>) => Partial<BlueGreenLambdaPipelineProps>;

function synth(props: Partial<BlueGreenLambdaPipelineProps> = {}, extra?: PropsFor): Resources {
  const stack = newStack(new App());
  new BlueGreenLambdaPipeline(stack, 'Pipeline', baseProps({ ...props, ...extra?.(stack) }));
  return Template.fromStack(stack).toJSON().Resources;
}

const checkovSkips = (resource: { Metadata?: any }): string[] => (resource.Metadata?.checkov?.skip ?? []).map((s: any) => s.id);
const ofType = (resources: Resources, type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

describe('checkov and cfn-guard acknowledgements', () => {
  test('every suppression on every resource carries a reason', () => {
    const resources = synth({ preTrafficHook: TrafficHook.smokeTest() });
    let count = 0;
    for (const [id, resource] of Object.entries(resources)) {
      for (const skip of resource.Metadata?.checkov?.skip ?? []) {
        count++;
        expect({ id, check: skip.id, comment: skip.comment }).toEqual({ id, check: expect.stringMatching(/^CKV_AWS_\d+$/), comment: expect.stringMatching(/.{40,}/) });
      }
      const guard = resource.Metadata?.guard;
      for (const rule of guard?.SuppressedRules ?? []) {
        count++;
        expect({ id, rule, reason: guard.Reasons?.[rule] }).toEqual({ id, rule, reason: expect.stringMatching(/.{40,}/) });
      }
    }
    expect(count).toBeGreaterThan(20);
  });

  test('findings that a prop removes are not acknowledged when the prop is set', () => {
    const resources = synth({ service: { reservedConcurrentExecutions: 5 } }, (stack) => ({ accessLogsBucket: new s3.Bucket(stack, 'Logs') }));
    const [[, artifacts]] = ofType(resources, 'AWS::S3::Bucket').filter(([id]) => id.startsWith('PipelineArtifacts'));
    expect(checkovSkips(artifacts)).not.toContain('CKV_AWS_18');
    expect(artifacts.Metadata.guard.SuppressedRules).not.toContain('s3_bucket_logging_enabled_check');
    const [[, service]] = ofType(resources, 'AWS::Lambda::Function').filter(([id]) => id.startsWith('PipelineService'));
    expect(checkovSkips(service)).not.toContain('CKV_AWS_115');
  });

  test('two pipelines in one stack acknowledge the shared aws-cdk-lib provider once', () => {
    const stack = newStack(new App());
    new BlueGreenLambdaPipeline(stack, 'One', baseProps());
    new BlueGreenLambdaPipeline(stack, 'Two', baseProps({ serviceName: 'billing-api' }));
    const resources: Resources = Template.fromStack(stack).toJSON().Resources;
    const [[, provider]] = Object.entries(resources).filter(([id]) => id.startsWith('CustomS3AutoDeleteObjectsCustomResourceProviderHandler'));
    expect(checkovSkips(provider).sort()).toEqual(['CKV_AWS_115', 'CKV_AWS_116', 'CKV_AWS_117']);
    expect(provider.Metadata.guard.SuppressedRules).toEqual(['lambda_inside_vpc_check']);
  });

  test('a user\'s own service function is left for its owner to judge', () => {
    const resources = synth({}, (stack) => ({
      serviceFunction: new lambda.Function(stack, 'Mine', { functionName: 'mine', runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler=async()=>{}') }),
    }));
    const [[, mine]] = ofType(resources, 'AWS::Lambda::Function').filter(([id]) => id.startsWith('Mine'));
    expect(mine.Metadata?.checkov).toBeUndefined();
    expect(mine.Metadata?.guard).toBeUndefined();
  });

  test('pipeline handlers are traced and dead-letter to the SQS queue instead of being acknowledged', () => {
    const resources = synth();
    const handlers = ofType(resources, 'AWS::Lambda::Function').filter(([id]) => /DeployBlue|SwitchTraffic/.test(id));
    expect(handlers).toHaveLength(2);
    for (const [, handler] of handlers) {
      expect(checkovSkips(handler)).not.toContain('CKV_AWS_116');
      expect((handler as any).Properties.TracingConfig).toEqual({ Mode: 'Active' });
      // a queue only operators read, never the topic people subscribe to: a job event carries credentials
      expect((handler as any).Properties.DeadLetterConfig.TargetArn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^PipelineHandlersDeadLettersQueue/), 'Arn'] });
    }
  });
});
