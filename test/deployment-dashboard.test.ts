import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { BlueGreenLambdaPipeline, BlueGreenLambdaPipelineProps, TrafficHook } from '../src';
import { baseProps, newStack } from './helpers/stack-fixture';

function synth(props: Partial<BlueGreenLambdaPipelineProps>) {
  const stack = newStack(new App());
  const construct = new BlueGreenLambdaPipeline(stack, 'Shop', baseProps({ serviceName: 'shop', ...props }));
  return { construct, template: Template.fromStack(stack) };
}

/** The dashboard body as CloudWatch receives it; references become "<Ref:Id>" / "<Id.Attr>" / "<AWS::Region>". */
function dashboardBody(template: Template): any {
  const [dashboard] = Object.values<any>(template.findResources('AWS::CloudWatch::Dashboard'));
  const body = dashboard.Properties.DashboardBody;
  const text = typeof body === 'string' ? body : body['Fn::Join'][1].map((part: any) => {
    if (typeof part === 'string') return part;
    if (part.Ref) return `<Ref:${part.Ref}>`;
    return `<${part['Fn::GetAtt'].join('.')}>`;
  }).join('');
  return JSON.parse(text);
}

describe('the deployment dashboard', () => {
  const { template, construct } = synth({
    dashboard: true,
    services: [
      { serviceName: 'orders', bundleDirectory: 'services/orders/dist', wave: 1, preTrafficHook: TrafficHook.smokeTest() },
      { serviceName: 'users', bundleDirectory: 'services/users/dist', wave: 2, errorRateThreshold: 2 },
    ],
  });
  const body = dashboardBody(template);
  const widget = (title: string) => {
    const found = body.widgets.find((w: any) => w.properties.title === title);
    expect(found).toBeDefined();
    return found;
  };

  test('is named with the suffix and lists every rollback alarm with its state', () => {
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'shop-deployments-dev' });
    expect(construct.dashboard).toBeDefined();
    const alarms = widget('Rollback alarms');
    expect(alarms.type).toBe('alarm');
    expect(alarms.properties.alarms).toHaveLength(2);
  });

  test('traffic by executed version of each live alias', () => {
    const traffic = widget('orders: traffic by version');
    const [[expression]] = traffic.properties.metrics;
    expect(expression.expression).toBe(
      'SEARCH(\'{AWS/Lambda,ExecutedVersion,FunctionName,Resource} MetricName="Invocations" FunctionName="shop--orders-dev" Resource="shop--orders-dev:live"\', \'Sum\', 60)');
    expect(traffic.properties.stacked).toBe(true);
  });

  test('error rate against the rollback threshold, with the alarm\'s state', () => {
    const errorRate = widget('users: error rate vs rollback threshold');
    expect(errorRate.properties.annotations.alarms).toEqual([expect.stringMatching(/ShopServiceusersErrorRateAlarm/)]);
    // the alarm the dashboard shows is the one with this service's threshold
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'shop--users-error-rate-dev', Threshold: 2 });
  });

  test('duration p99 by version', () => {
    const [[expression]] = widget('orders: duration p99 by version').properties.metrics;
    expect(expression.expression).toBe(
      'SEARCH(\'{AWS/Lambda,ExecutedVersion,FunctionName,Resource} MetricName="Duration" FunctionName="shop--orders-dev" Resource="shop--orders-dev:live"\', \'p99\', 60)');
  });

  /** A rendered metric `[namespace, name, dimension, value, ..., options?]` as its parts. */
  const parts = (m: any[]) => {
    const options = typeof m[m.length - 1] === 'object' ? m[m.length - 1] : {};
    const flat = typeof m[m.length - 1] === 'object' ? m.slice(2, -1) : m.slice(2);
    const dimensions = Object.fromEntries(Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i], flat[2 * i + 1]]));
    return { namespace: m[0], name: m[1], dimensions, stat: options.stat ?? 'Average', period: options.period };
  };
  // The handlers publish within their pipeline and environment (see the metrics contract).
  const within = { Pipeline: 'shop-pipeline-dev', Environment: 'dev' };

  test('deployments by outcome, from the handlers\' metrics', () => {
    const metrics = widget('users: deployments by outcome').properties.metrics.map(parts);
    expect(metrics).toEqual(['Succeeded', 'RolledBack', 'Failed', 'Skipped', 'NotStarted'].map((outcome) => ({
      namespace: 'BlueGreenLambdaPipeline', name: 'Deployments', dimensions: { ...within, Service: 'users', Outcome: outcome }, stat: 'Sum', period: 86400,
    })));
  });

  test('lead time, commit to live', () => {
    const metrics = widget('orders: lead time, commit to live (s)').properties.metrics.map(parts);
    // CloudWatch's default statistic (Average) is left out of the rendered metric.
    expect(metrics.map((m: any) => [m.name, m.dimensions, m.stat])).toEqual([
      ['LeadTime', { ...within, Service: 'orders' }, 'Average'],
      ['LeadTime', { ...within, Service: 'orders' }, 'p50'],
    ]);
  });

  test('a row of five widgets per service, 24 wide', () => {
    const rows = new Map<number, number>();
    for (const w of body.widgets) rows.set(w.y, (rows.get(w.y) ?? 0) + w.width);
    for (const width of rows.values()) expect(width).toBe(24);
    expect(body.widgets.filter((w: any) => /^users: /.test(w.properties.title ?? ''))).toHaveLength(5);
  });
});

test('no dashboard unless asked for (dashboards cost money)', () => {
  const { template, construct } = synth({});
  template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  expect(construct.dashboard).toBeUndefined();
});

describe('pipeline events reach the topic', () => {
  test('a notification rule for failed executions and pending approvals, to the notification topic', () => {
    const { template, construct } = synth({});
    const [rule] = Object.values<any>(template.findResources('AWS::CodeStarNotifications::NotificationRule'));
    expect(rule.Properties).toMatchObject({
      Name: 'shop-pipeline-events-dev',
      DetailType: 'FULL',
      EventTypeIds: ['codepipeline-pipeline-pipeline-execution-failed', 'codepipeline-pipeline-manual-approval-needed'],
      Targets: [{ TargetType: 'SNS', TargetAddress: { Ref: expect.stringMatching(/^ShopNotificationTopic/) } }],
    });
    expect(JSON.stringify(rule.Properties.Resource)).toMatch(/codepipeline/);
    expect(construct.pipelineNotificationRule).toBeDefined();
  });

  test('the topic policy lets the notification service publish, for this account only', () => {
    const { template } = synth({});
    const [policy] = Object.values<any>(template.findResources('AWS::SNS::TopicPolicy'));
    const statements = policy.Properties.PolicyDocument.Statement.filter((s: any) => s.Principal?.Service === 'codestar-notifications.amazonaws.com');
    expect(statements).toEqual([expect.objectContaining({
      Effect: 'Allow', Action: 'sns:Publish', Condition: { StringEquals: { 'aws:SourceAccount': '111111111111' } },
    })]);
  });

  test('can be turned off', () => {
    const { template } = synth({ notifyPipelineEvents: false });
    template.resourceCountIs('AWS::CodeStarNotifications::NotificationRule', 0);
  });
});
