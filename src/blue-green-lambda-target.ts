import { RemovalPolicy, Stack, Tags, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { BlueGreenLambdaPipeline } from './blue-green-lambda-pipeline';
import { checkTargetRoles } from './private/cross-account-checks';
import { createDeployerRole } from './private/deployer-role';
import { HandlerDeadLetters } from './private/handler-dead-letters';
import { codeDeployServiceRole, notificationTopic } from './private/shared-resources';
import { SmokeTests } from './private/smoke-test-hook';
import { TargetBundleBucket } from './private/target-bundle-bucket';
import { claimPhysicalNames } from './private/unique-physical-names';
import { ServiceDeployment } from './service-deployment';
import { IServiceDeployment } from './service-deployment-options';

/** Properties of {@link BlueGreenLambdaTarget}. */
export interface BlueGreenLambdaTargetProps {
  /** The pipeline, in the tooling account's stack of the same app. */
  readonly pipeline: BlueGreenLambdaPipeline;
  /**
   * The name of the pipeline's environment this target holds: one with an `account` or `region`
   * other than the pipeline stack's (`pipeline.targetEnvironments`).
   */
  readonly environment: string;
  /**
   * What happens to the bundle bucket and key, the log groups and the topic when they leave the stack.
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Retention of the log groups the target creates (its services' and its smoke test's).
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * One environment of a {@link BlueGreenLambdaPipeline} in another account or region: its services
 * (function, `live` alias, error-rate alarm, deployment group, as in the pipeline's own account),
 * their CodeDeploy application (named as the pipeline's), the smoke-test hook when a service uses
 * it, a bucket for the bundles Deploy-Blue hands to UpdateFunctionCode, and the deployer role the
 * pipeline's stage handlers assume to act here. Put it in a stack whose `env` is the environment's
 * account and region, in the pipeline's app, and deploy that stack with the CDK bootstrapped
 * there with `--trust <pipeline account>`. Nothing refers across stacks: each side names the
 * other's resources, which get fixed names.
 */
export class BlueGreenLambdaTarget extends Construct {
  /** The environment's name. */
  public readonly environmentName: string;
  /** The environment's account. */
  public readonly account: string;
  /** The environment's region. */
  public readonly region: string;
  /** The environment's services, in the order of the pipeline's services. */
  public readonly services: IServiceDeployment[];
  /**
   * The role the pipeline's Deploy-Blue, Switch-Traffic and Bake handlers assume here: trusted by
   * the pipeline's account only for those roles (`aws:PrincipalArn`) and that pipeline
   * (`sts:ExternalId`), allowed only what they do to this target's services.
   */
  public readonly deployerRole: iam.Role;
  /** Where Deploy-Blue writes each service's bundle for UpdateFunctionCode. */
  public readonly bundleBucket: s3.Bucket;
  /** The key of the bundle bucket; only the deployer role may use it, and only through S3. */
  public readonly bundleKey: kms.Key;
  /** The CodeDeploy application of the target's deployment groups (named as the pipeline's). */
  public readonly application: codedeploy.LambdaApplication;
  /** The service role CodeDeploy uses for the target's deployment groups. */
  public readonly codeDeployRole: iam.Role;
  /**
   * The target's alarm topic: its services' error-rate alarms and its dead-letter alarm. Lifecycle
   * notifications stay on the pipeline's topic.
   */
  public readonly notificationTopic: sns.Topic;
  /** The smoke-test hook's dead-letter queue (CodeDeploy invokes hooks asynchronously). */
  public readonly deadLetterQueue: sqs.Queue;
  /** The built-in smoke-test hook, if a service uses it. */
  public readonly smokeTestFunction?: lambda.Function;

  constructor(scope: Construct, id: string, props: BlueGreenLambdaTargetProps) {
    super(scope, id);
    const plan = props.pipeline._claimTarget(props.environment, this);
    const stack = Stack.of(this);
    if (Token.isUnresolved(stack.account) || Token.isUnresolved(stack.region) || stack.account !== plan.account || stack.region !== plan.region) {
      const actual = `${Token.isUnresolved(stack.account) ? 'an unnamed account' : `account ${stack.account}`}, ${Token.isUnresolved(stack.region) ? 'an unnamed region' : `region ${stack.region}`}`;
      throw new Error(`environment "${plan.environment}" (${plan.path}) is in account ${plan.account}, region ${plan.region}, but this target's stack ${stack.stackName} is in ${actual}: put it in a stack with env { account: "${plan.account}", region: "${plan.region}" }`);
    }
    for (const [key, value] of Object.entries(plan.tags)) Tags.of(this).add(key, value);
    this.environmentName = plan.environment;
    this.account = plan.account;
    this.region = plan.region;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    const retention = { logRetention: props.logRetention ?? logs.RetentionDays.ONE_YEAR, removalPolicy };
    const names = plan.names;

    this.notificationTopic = notificationTopic(this, names, removalPolicy);
    this.application = new codedeploy.LambdaApplication(this, 'Application', { applicationName: plan.applicationName });
    this.codeDeployRole = codeDeployServiceRole(this, names);
    this.deadLetterQueue = new HandlerDeadLetters(this, 'DeadLetters', {
      queueName: names.deadLetters,
      alarmName: names.deadLetters,
      pipelineName: names.pipeline,
      notificationTopic: this.notificationTopic,
      removalPolicy,
    }).queue;
    const smokeTests = new SmokeTests(this, { ...retention, names, deadLetterQueue: this.deadLetterQueue, application: this.application });

    const deployments = plan.plan.services.map((options, i) => {
      const prefix = plan.single ? '' : `services[${i}].`;
      for (const [j, alarm] of (options.extraAlarms ?? []).entries()) checkAlarmHere(alarm, stack, plan.environment, `${prefix}extraAlarms[${j}] (with ${plan.path}.extraAlarms)`);
      const d = new ServiceDeployment(this, plan.single ? 'Default' : `Service-${options.serviceName}`, {
        ...retention,
        ...plan.defaults,
        options,
        names: plan.serviceNames[i],
        application: this.application,
        codeDeployRole: this.codeDeployRole,
        notificationTopic: this.notificationTopic,
        propPrefix: `${plan.path}: ${prefix}`,
        environment: plan.environment,
      });
      const bind = (hook: typeof options.preTrafficHook) => hook?._bind((event) => smokeTests.for(d.functionName, d, event));
      d.addTrafficHooks(bind(options.preTrafficHook), bind(options.postTrafficHook));
      return d;
    });
    this.services = deployments;
    this.smokeTestFunction = smokeTests.function;

    // The role first: the bucket's key policy names it, and IAM principals must exist.
    this.deployerRole = createDeployerRole(this, 'DeployerRole', {
      plan,
      services: deployments,
      bundleBucketName: plan.bundleBucketName,
      application: this.application,
    });
    const bundles = new TargetBundleBucket(this, 'Bundles', {
      bucketName: plan.bundleBucketName,
      removalPolicy,
      deployerRole: this.deployerRole,
      description: `the bundles of environment ${plan.environment}`,
    });
    this.bundleBucket = bundles.bucket;
    this.bundleKey = bundles.key;
    claimPhysicalNames(this);
    this.node.addValidation({
      validate: () => checkTargetRoles(this, this.deployerRole, this.bundleKey, {
        environment: plan.environment,
        pipelineAccount: plan.pipelineAccount,
        trustedRoleArns: plan.trustedRoleArns,
        pipelineArn: plan.pipelineArn,
      }),
    });
  }
}

/** A deployment group's alarm must be in the group's account and region: CodeDeploy reads it by name there. */
function checkAlarmHere(alarm: cloudwatch.IAlarm, stack: Stack, environment: string, path: string) {
  const alarmStack = Stack.of(alarm);
  if (alarmStack === stack) return;
  const arn = alarm.alarmArn;
  const [, , , region, account] = Token.isUnresolved(arn) ? [] : arn.split(':');
  if (region === stack.region && account === stack.account) return;
  throw new Error(`${path}: alarm ${alarm.node.path} is not in environment "${environment}"'s account and region (${stack.account}, ${stack.region}), where CodeDeploy reads its deployment groups' alarms by name; create the alarm in the target's stack (or import it there by ARN) before the pipeline`);
}
