import { App, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { BlueGreenLambdaPipeline, BlueGreenLambdaPipelineProps, StagePlacement, TrafficHook } from '../../src';
import { baseProps, newStack } from '../helpers/stack-fixture';

type Case = [string, (stack: ReturnType<typeof newStack>) => Partial<BlueGreenLambdaPipelineProps>, RegExp];

const alarms = (stack: ReturnType<typeof newStack>, n: number) => Array.from({ length: n }, (_, i) =>
  new cloudwatch.Alarm(stack, `A${i}`, { metric: new cloudwatch.Metric({ namespace: 'X', metricName: 'Y' }), threshold: 1, evaluationPeriods: 1 }));
const fn = (stack: ReturnType<typeof newStack>, id = 'Fn') =>
  new lambda.Function(stack, id, { functionName: `fn-${id.toLowerCase()}`, runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler=async()=>1') });
const linear = (stack: ReturnType<typeof newStack>, interval: number, percentage: number) =>
  new codedeploy.LambdaDeploymentConfig(stack, 'Slow', { trafficRouting: codedeploy.TrafficRouting.timeBasedLinear({ interval: Duration.minutes(interval), percentage }) });

const cases: Case[] = [
  ['threshold of 0', () => ({ errorRateThreshold: 0 }), /errorRateThreshold must be a percentage in \(0, 100\]; got 0/],
  ['threshold above 100', () => ({ errorRateThreshold: 101 }), /errorRateThreshold must be a percentage in \(0, 100\]; got 101/],
  ['zero evaluation periods', () => ({ evaluationPeriods: 0 }), /evaluationPeriods must be a whole number of at least 1; got 0/],
  ['fractional evaluation periods', () => ({ evaluationPeriods: 1.5 }), /evaluationPeriods must be a whole number/],
  ['a 30 s alarm period', () => ({ alarmPeriod: Duration.seconds(30) }), /alarmPeriod must be a whole number of minutes/],
  ['more than a day of evaluation', () => ({ alarmPeriod: Duration.hours(6), evaluationPeriods: 5 }), /must not exceed one day/],
  ['10 extra alarms (11 in total)', (s) => ({ extraAlarms: alarms(s, 10) }), /extraAlarms: CodeDeploy allows 10 alarms per deployment group.*at most 9/],
  ['an empty owner', () => ({ source: { owner: '', repo: 'r' } }), /source\.owner must be a GitHub user or organization name/],
  ['an empty repo', () => ({ source: { owner: 'o', repo: ' ' } }), /source\.repo must be a GitHub repository name/],
  ['an owner/repo pasted into owner', () => ({ source: { owner: 'o/r', repo: 'r' } }), /source\.owner/],
  ['an empty branch', () => ({ source: { owner: 'o', repo: 'r', branch: '' } }), /source\.branch must be a Git branch name/],
  ['a connection ARN of another service', () => ({ source: { owner: 'o', repo: 'r', connectionArn: 'arn:aws:codecommit:us-east-1:111111111111:repo' } }), /source\.connectionArn must be a CodeConnections connection ARN/],
  ['a suffix with upper case', () => ({ environmentSuffix: 'Prod' }), /environmentSuffix must be 1-20 lowercase letters/],
  ['a suffix with an underscore', () => ({ environmentSuffix: 'pr_42' }), /environmentSuffix must be/],
  ['an empty suffix', () => ({ environmentSuffix: '' }), /environmentSuffix must be/],
  ['a service name with spaces', () => ({ serviceName: 'orders api' }), /serviceName must be lowercase letters, digits and single hyphens/],
  ['names too long for Lambda', () => ({ serviceName: 'a'.repeat(45), environmentSuffix: 'staging' }), /gives the Lambda function name ".*" \(\d+ characters\); at most 64/],
  ['a created connection name over 32 characters', () => ({ serviceName: 'orders-api-for-the-emea-region', source: { owner: 'o', repo: 'r' } }), /CodeConnections connection name .* at most 32/],
  ['both service and serviceFunction', (s) => ({ service: {}, serviceFunction: fn(s) }), /service and serviceFunction are mutually exclusive/],
  ['the service function as its own hook', (s) => { const f = fn(s); return { serviceFunction: f, preTrafficHook: TrafficHook.fromFunction(f) }; }, /preTrafficHook must not be the service function itself/],
  ['two smoke tests', () => ({ preTrafficHook: TrafficHook.smokeTest(), postTrafficHook: TrafficHook.smokeTest() }), /cannot both be TrafficHook\.smokeTest/],
  ['memory below 128 MB', () => ({ service: { memorySize: 64 } }), /service\.memorySize must be a whole number of MB in \[128, 10240\]/],
  ['zero reserved concurrency', () => ({ service: { reservedConcurrentExecutions: 0 } }), /service\.reservedConcurrentExecutions must be a whole number of at least 1/],
  ['a test command that hides failures', () => ({ buildStage: { testCommands: ['npm test || true'] } }), /buildStage\.testCommands: "npm test \|\| true" hides a failing command/],
  ['a build command with || echo', () => ({ buildStage: { buildCommands: ['tsc || echo "ignored"'] } }), /buildStage\.buildCommands: .* hides a failing command/],
  ['no test commands', () => ({ buildStage: { testCommands: [] } }), /buildStage\.testCommands must not be empty/],
  ['an extra stage named like a fixed one', (s) => ({ extraStages: [{ stageName: 'Build', placement: StagePlacement.AFTER_SOURCE, actions: [approval(s)] }] }), /a stage named "Build" already exists/],
  ['an extra stage with a bad name', (s) => ({ extraStages: [{ stageName: 'my stage', placement: StagePlacement.AFTER_SOURCE, actions: [approval(s)] }] }), /stageName must be 1-100 letters/],
  ['an extra stage without actions', () => ({ extraStages: [{ stageName: 'Empty', placement: StagePlacement.AFTER_SOURCE, actions: [] }] }), /needs at least one action/],
  ['an extra stage named Approve next to the manual approval', (s) => ({ manualApproval: {}, extraStages: [{ stageName: 'Approve', placement: StagePlacement.AFTER_BUILD, actions: [approval(s)] }] }), /a stage named "Approve" already exists/],
  ['a manual approval configured twice (prop and extra stage)', (s) => ({ manualApproval: {}, extraStages: [{ stageName: 'SecondApproval', placement: StagePlacement.AFTER_DEPLOY_BLUE, actions: [approval(s)] }] }), /stage "SecondApproval" adds a manual approval after Deploy-Blue, where manualApproval already puts one/],
  ['a service function CloudFormation may replace (no functionName)', (s) => ({ serviceFunction: new lambda.Function(s, 'Unnamed', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler=async()=>1') }) }), /serviceFunction must have an explicit functionName: CloudFormation refuses to replace a function with a fixed name/],
  ['keepVersions of 0', () => ({ keepVersions: 0 }), /keepVersions must be a whole number in \[1, 1000\].*got 0/],
  ['fractional keepVersions', () => ({ keepVersions: 2.5 }), /keepVersions must be a whole number/],
  ['a linear shift longer than a Lambda action may run (99 steps of 20 min)', (s) => ({ deploymentConfig: linear(s, 20, 1) }), /deploymentConfig: .* shifts traffic over 1980 minutes, but Switch-Traffic is a Lambda invoke action, which CodePipeline stops after 24 hours/],
  ['a canary that bakes for 25 hours', (s) => ({ deploymentConfig: new codedeploy.LambdaDeploymentConfig(s, 'Bake', { trafficRouting: codedeploy.TrafficRouting.timeBasedCanary({ interval: Duration.hours(25), percentage: 10 }) }) }), /shifts traffic over 1500 minutes/],
  ['a smoke-test event holding a Date', () => ({ preTrafficHook: TrafficHook.smokeTest({ testEvent: { at: new Date(0) } }) }), /testEvent\.at must be plain JSON .*got an instance of Date/],
  ['a smoke-test event holding a Duration', () => ({ preTrafficHook: TrafficHook.smokeTest({ testEvent: { wait: [Duration.seconds(5)] } }) }), /testEvent\.wait\[0\] must be plain JSON .*got an instance of Duration/],
  ['a smoke-test event holding NaN', () => ({ preTrafficHook: TrafficHook.smokeTest({ testEvent: { n: NaN } }) }), /testEvent\.n must be plain JSON .*got NaN/],
  ['a smoke-test event holding a function', () => ({ preTrafficHook: TrafficHook.smokeTest({ testEvent: { f: () => 1 } }) }), /testEvent\.f must be plain JSON .*got a function/],
  ['environment variables over 4 KB', () => ({ service: { environment: { A: 'x'.repeat(2000), B: 'y'.repeat(2100) } } }), /^service\.environment: the variables come to 4115 bytes .* but Lambda allows 4096 \(4 KB\) per function/],
  // 2045 characters, 4090 bytes: Lambda counts bytes
  ['environment variables over 4 KB in UTF-8', () => ({ service: { environment: { GREETING: 'ü'.repeat(2045) } } }), /^service\.environment: the variables come to 4105 bytes/],
  ['a malformed approval email', () => ({ manualApproval: { notifyEmails: ['not-an-email'] } }), /manualApproval\.notifyEmails: "not-an-email" is not an email address/],
];

function approval(_stack: unknown) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const actions = require('aws-cdk-lib/aws-codepipeline-actions');
  return new actions.ManualApprovalAction({ actionName: 'Ok' });
}

test.each(cases)('rejects %s at synth time, naming the prop and what is allowed', (_name, props, message) => {
  const stack = newStack(new App());
  expect(() => new BlueGreenLambdaPipeline(stack, 'Pipeline', baseProps(props(stack)))).toThrow(message);
});

test('accepts the longest shifts that fit a Lambda action: 23 h 58 min linear, a 23-hour canary', () => {
  for (const config of [(s: ReturnType<typeof newStack>) => linear(s, 1439, 50), (s: ReturnType<typeof newStack>) => linear(s, 2, 0.2)]) {
    const stack = newStack(new App());
    expect(() => new BlueGreenLambdaPipeline(stack, 'Pipeline', baseProps({ deploymentConfig: config(stack) }))).not.toThrow();
  }
  const stack = newStack(new App());
  const canary = codedeploy.LambdaDeploymentConfig.fromLambdaDeploymentConfigName(stack, 'Imported', 'my-config');
  // An imported configuration's duration is unknown at synth time: accepted.
  expect(() => new BlueGreenLambdaPipeline(stack, 'Pipeline', baseProps({ deploymentConfig: canary }))).not.toThrow();
});

test('accepts both connection ARN prefixes', () => {
  for (const arn of ['arn:aws:codestar-connections:eu-west-1:111111111111:connection/abc-123', 'arn:aws:codeconnections:eu-west-1:111111111111:connection/abc-123']) {
    const stack = newStack(new App());
    expect(() => new BlueGreenLambdaPipeline(stack, 'Pipeline', baseProps({ source: { owner: 'o', repo: 'r', connectionArn: arn } }))).not.toThrow();
  }
});

test('accepts environment variables of exactly 4 KB as Lambda measures them (their JSON text)', () => {
  const stack = newStack(new App());
  const environment = { A: 'x'.repeat(4096 - '{"A":""}'.length) };
  expect(Buffer.byteLength(JSON.stringify(environment))).toBe(4096);
  expect(() => new BlueGreenLambdaPipeline(stack, 'Pipeline', baseProps({ service: { environment } }))).not.toThrow();
});

test('accepts the boundaries: threshold 100, one period, nine extra alarms', () => {
  const stack = newStack(new App());
  expect(() => new BlueGreenLambdaPipeline(stack, 'Pipeline', baseProps({ errorRateThreshold: 100, evaluationPeriods: 1, extraAlarms: alarms(stack, 9) }))).not.toThrow();
});
