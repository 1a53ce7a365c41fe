import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ALIAS_NAME, ALL_AT_ONCE_CONFIG } from './contract/handler-contract';
import { ErrorRateAlarm } from './error-rate-alarm';
import { acknowledgeFinding, acknowledgeTemplateFindings } from './private/acknowledge-finding';
import { notifyTopicOfAlarm } from './private/alarm-notifications';
import { ServiceNames } from './private/resource-names';
import { RetentionSettings, retainedLogGroup } from './private/retained-log-group';
import { DEFAULT_SERVICE_RUNTIME } from './private/service-defaults';
import { checkShiftFitsAction } from './private/shift-duration';
import { IServiceDeployment, ServiceDeploymentOptions, ServiceFunctionOptions } from './service-deployment-options';
import { TrafficHook } from './traffic-hook';

/** Pipeline-wide defaults and shared resources a service deployment uses. */
export interface ServiceDeploymentProps extends RetentionSettings {
  readonly options: ServiceDeploymentOptions;
  /** The physical names of the service's function, deployment group and alarm. */
  readonly names: ServiceNames;
  readonly application: codedeploy.ILambdaApplication;
  readonly codeDeployRole: iam.IRole;
  readonly notificationTopic: sns.ITopic;
  /** The pipeline's defaults for what the service does not set. */
  readonly deploymentConfig: codedeploy.ILambdaDeploymentConfig;
  readonly errorRateThreshold?: number;
  readonly evaluationPeriods?: number;
  readonly alarmPeriod?: Duration;
  readonly keepVersions: number;
  /** Where a setting came from, for error messages (`services[2].` or ``). */
  readonly propPrefix: string;
  /**
   * The environment the service is deployed to.
   * @default - the pipeline's environment suffix
   */
  readonly environment?: string;
}

const MAX_DEPLOYMENT_GROUP_ALARMS = 10;
const MAX_WAVE = 999;
/** Lambda allows 4 KB of environment variables per function. */
const MAX_ENVIRONMENT_BYTES = 4096;
const BOOTSTRAP_CODE = 'exports.handler = async () => ({ statusCode: 503, body: JSON.stringify({ message: "no release deployed yet" }) });';

/**
 * Everything one service needs to be deployed blue/green: its function (created or yours), a
 * fixed bootstrap version, the `live` alias, the error-rate alarm, the deployment group and its
 * hooks. It knows nothing of the stage handlers: the pipeline grants them access to what it holds
 * and binds its traffic hooks ({@link addTrafficHooks}).
 */
export class ServiceDeployment extends Construct implements IServiceDeployment {
  public readonly serviceName: string;
  public readonly serviceFunction: lambda.Function;
  /** The function's physical name, as text (the handlers' parameters and the AppSpec name it). */
  public readonly functionName: string;
  /** The deployment group's name, as text. */
  public readonly deploymentGroupName: string;
  public readonly bootstrapVersion: lambda.Version;
  public readonly alias: lambda.Alias;
  public readonly errorRateAlarm: cloudwatch.Alarm;
  public readonly deploymentGroup: codedeploy.LambdaDeploymentGroup;
  public readonly deploymentConfig: codedeploy.ILambdaDeploymentConfig;
  public readonly wave: number;
  public readonly bundleDirectory: string;
  public readonly keepVersions: number;
  public readonly environment: string;
  /** The deployment group's alarms: the error rate's and the extra ones. */
  public readonly alarms: cloudwatch.IAlarm[];
  /** Set only when the construct created the function: its placeholder goes live all at once. */
  public readonly createdFunction?: lambda.Function;
  private preHook?: lambda.IFunction;
  private postHook?: lambda.IFunction;
  private readonly props: ServiceDeploymentProps;

  constructor(scope: Construct, id: string, props: ServiceDeploymentProps) {
    super(scope, id);
    this.props = props;
    const o = props.options;
    validateOptions(o, props.propPrefix, props.keepVersions);
    const names = props.names;
    this.serviceName = o.serviceName;
    this.wave = o.wave ?? 1;
    this.bundleDirectory = o.bundleDirectory.replace(/\/+$/, '');
    this.keepVersions = o.keepVersions ?? props.keepVersions;
    this.environment = props.environment ?? names.environmentSuffix;

    this.createdFunction = o.serviceFunction ? undefined : this.createFunction(names, o.service ?? {});
    this.serviceFunction = this.createdFunction ?? o.serviceFunction!;
    this.functionName = physicalName(this.serviceFunction);
    this.deploymentGroupName = names.deploymentGroup;
    // A fixed version (not `currentVersion`) so CloudFormation never moves the alias after the
    // pipeline has: the alias is the pipeline's from its first deployment on.
    this.bootstrapVersion = new lambda.Version(this, 'BootstrapVersion', {
      lambda: this.serviceFunction,
      description: 'Bootstrap version; the pipeline publishes the following ones',
    });
    this.alias = new lambda.Alias(this, 'LiveAlias', { aliasName: ALIAS_NAME, version: this.bootstrapVersion });

    this.errorRateAlarm = withPropPaths(o, props.propPrefix, ['errorRateThreshold', 'evaluationPeriods', 'alarmPeriod'], () => new ErrorRateAlarm(this, 'ErrorRate', {
      alias: this.alias,
      thresholdPercent: o.errorRateThreshold ?? props.errorRateThreshold,
      evaluationPeriods: o.evaluationPeriods ?? props.evaluationPeriods,
      period: o.alarmPeriod ?? props.alarmPeriod,
      alarmName: names.errorRateAlarm,
    }).alarm);
    notifyTopicOfAlarm(this, this.errorRateAlarm, props.notificationTopic);

    this.alarms = [this.errorRateAlarm, ...(o.extraAlarms ?? [])];
    this.deploymentConfig = o.deploymentConfig ?? props.deploymentConfig;
    checkShiftFitsAction(this.deploymentConfig, propPath(o, props.propPrefix, 'deploymentConfig'));
    this.deploymentGroup = new codedeploy.LambdaDeploymentGroup(this, 'DeploymentGroup', {
      application: props.application,
      deploymentGroupName: names.deploymentGroup,
      alias: this.alias,
      deploymentConfig: this.deploymentConfig,
      role: props.codeDeployRole,
      alarms: this.alarms,
      autoRollback: { failedDeployment: true, deploymentInAlarm: true, stoppedDeployment: false },
    });
    // The group would make CloudFormation shift traffic whenever the template changes the alias;
    // here the pipeline owns every shift, so CloudFormation must not.
    (this.alias.node.defaultChild as lambda.CfnAlias).cfnOptions.updatePolicy = undefined;

    const isSmokeTest = (hook: TrafficHook | undefined) => hook !== undefined && hook._hookFunction === undefined;
    if (isSmokeTest(o.preTrafficHook) && isSmokeTest(o.postTrafficHook)) {
      throw new Error(`${props.propPrefix}preTrafficHook and postTrafficHook cannot both be TrafficHook.smokeTest(); use it for one of them`);
    }
    for (const prop of ['preTrafficHook', 'postTrafficHook'] as const) {
      if (o[prop]?._hookFunction === this.serviceFunction) {
        throw new Error(`${props.propPrefix}${prop} must not be the service function itself: a hook reports on the deployment, it is not the thing deployed`);
      }
    }
  }

  /** The hook CodeDeploy invokes before traffic moves, once bound. */
  public get preTrafficHook(): lambda.IFunction | undefined {
    return this.preHook;
  }

  /** The hook CodeDeploy invokes after all traffic moved, once bound. */
  public get postTrafficHook(): lambda.IFunction | undefined {
    return this.postHook;
  }

  /** The deployment configurations a shift of this service may use: its own, and all-at-once for the placeholder's first release. */
  public get deploymentConfigNames(): string[] {
    return [this.deploymentConfig.deploymentConfigName, ...(this.createdFunction ? [ALL_AT_ONCE_CONFIG] : [])];
  }

  /**
   * Sets the functions CodeDeploy invokes around this service's shifts (named in the AppSpec the
   * Switch-Traffic handler renders) and grants what they take: CodeDeploy may invoke them, they may
   * report their result.
   */
  public addTrafficHooks(pre: lambda.IFunction | undefined, post: lambda.IFunction | undefined): void {
    if (this.preHook || this.postHook) throw new Error(`service "${this.serviceName}": its traffic hooks are already bound`);
    this.preHook = pre && this.grantHook(pre);
    this.postHook = post && this.grantHook(post);
  }

  private grantHook(fn: lambda.IFunction): lambda.IFunction {
    // PutLifecycleEventHookExecutionStatus has no resource-level permissions (Service Authorization
    // Reference): aws-cdk-lib's grantPutLifecycleEventHookExecutionStatus scopes it to the deployment
    // group, which IAM never matches, so the hook's report would be denied.
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['codedeploy:PutLifecycleEventHookExecutionStatus'], resourceArns: ['*'] });
    if (fn.role) {
      acknowledgeFinding(fn.role, 'AwsSolutions-IAM5[Resource::*]',
        'codedeploy:PutLifecycleEventHookExecutionStatus supports no resource-level permissions (nor do the X-Ray writes of a traced hook); the hook reports on deployments it is handed.');
    }
    // CodeDeploy invokes hooks unqualified; no need for the version wildcard grantInvoke adds.
    this.props.codeDeployRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fn.functionArn] }));
    return fn;
  }

  private createFunction(names: ServiceNames, options: ServiceFunctionOptions): lambda.Function {
    const logGroup = retainedLogGroup(this, 'ServiceLogGroup', this.props);
    const role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${names.serviceFunction}; grant it what the service needs`,
    });
    logGroup.grantWrite(role);
    const fn = new lambda.Function(this, 'Service', {
      role,
      functionName: names.serviceFunction,
      description: `${names.serviceName} (${names.environmentSuffix}), deployed blue/green by its pipeline`,
      runtime: options.runtime ?? DEFAULT_SERVICE_RUNTIME,
      handler: options.handler ?? 'index.handler',
      code: options.bootstrapCode ?? lambda.Code.fromInline(BOOTSTRAP_CODE),
      memorySize: options.memorySize ?? 512,
      timeout: options.timeout ?? Duration.seconds(10),
      reservedConcurrentExecutions: options.reservedConcurrentExecutions,
      // Sorted: a Java Map.of or a Go map has no key order, and the template must not change with it.
      environment: options.environment && Object.fromEntries(Object.keys(options.environment).sort().map((key) => [key, options.environment![key]])),
      tracing: options.tracing ?? lambda.Tracing.ACTIVE,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
    });
    this.acknowledgeFunctionFindings(fn, options);
    return fn;
  }

  /** Findings of the function the construct creates; a user's own function is left for its owner to judge. */
  private acknowledgeFunctionFindings(fn: lambda.Function, options: ServiceFunctionOptions) {
    acknowledgeTemplateFindings(fn, { checkov: ['CKV_AWS_117'], guard: ['lambda_inside_vpc_check'] },
      'The construct-created service function has no VPC; to run the service in one, pass your own serviceFunction.');
    const synchronous = 'Callers invoke the service synchronously through the live alias and see its errors; a dead-letter queue applies only to asynchronous invocations.';
    acknowledgeTemplateFindings(fn, { checkov: ['CKV_AWS_116'] }, synchronous);
    acknowledgeFinding(fn, 'Serverless-LambdaDLQ', synchronous);
    if (options.environment !== undefined) {
      acknowledgeTemplateFindings(fn, { checkov: ['CKV_AWS_173'] },
        'Lambda encrypts environment variables at rest with an AWS managed key; keep secrets in Secrets Manager or SSM, or pass your own serviceFunction with a customer managed key.');
    }
    if (options.reservedConcurrentExecutions === undefined) {
      acknowledgeTemplateFindings(fn, { checkov: ['CKV_AWS_115'] },
        'Unreserved by default: reserved concurrency comes out of the account\'s pool; set service.reservedConcurrentExecutions to cap the service.');
    }
    if ((fn.node.defaultChild as lambda.CfnFunction).tracingConfig) {
      acknowledgeFinding(fn.role!, 'AwsSolutions-IAM5[Resource::*]', 'X-Ray tracing: xray:PutTraceSegments and PutTelemetryRecords support no resource-level permissions.');
    }
  }
}

function validateOptions(o: ServiceDeploymentOptions, prefix: string, pipelineKeepVersions: number) {
  if (o.service && o.serviceFunction) {
    throw new Error(`${prefix}service and ${prefix}serviceFunction are mutually exclusive: pass settings for a new function, or an existing function, not both`);
  }
  if (o.serviceFunction) {
    // An unnamed function's name is a lazy token that resolves to nothing (CloudFormation names it).
    const name = Stack.of(o.serviceFunction).resolve((o.serviceFunction.node.defaultChild as lambda.CfnFunction).functionName);
    if (name === undefined) {
      throw new Error(`${prefix}serviceFunction must have an explicit functionName: CloudFormation refuses to replace a function with a fixed name, so no stack update can replace it (and move the live alias back to a bootstrap version outside CodeDeploy)`);
    }
  }
  const memory = o.service?.memorySize;
  if (memory !== undefined && !(Number.isInteger(memory) && memory >= 128 && memory <= 10240)) {
    throw new Error(`${prefix}service.memorySize must be a whole number of MB in [128, 10240]; got ${memory}`);
  }
  const reserved = o.service?.reservedConcurrentExecutions;
  if (reserved !== undefined && !(Number.isInteger(reserved) && reserved >= 1)) {
    throw new Error(`${prefix}service.reservedConcurrentExecutions must be a whole number of at least 1; got ${reserved}`);
  }
  checkEnvironmentSize(o.service?.environment, `${prefix}service.environment`);
  const alarms = 1 + (o.extraAlarms?.length ?? 0);
  if (alarms > MAX_DEPLOYMENT_GROUP_ALARMS) {
    throw new Error(`${prefix}extraAlarms: CodeDeploy allows ${MAX_DEPLOYMENT_GROUP_ALARMS} alarms per deployment group, one of which is the error-rate alarm; got ${o.extraAlarms?.length} extra alarms (at most ${MAX_DEPLOYMENT_GROUP_ALARMS - 1})`);
  }
  const keep = o.keepVersions ?? pipelineKeepVersions;
  if (!(Number.isInteger(keep) && keep >= 1 && keep <= 1000)) {
    throw new Error(`${propPath(o, prefix, 'keepVersions')} must be a whole number in [1, 1000] (published versions kept after each successful shift); got ${keep}`);
  }
  const wave = o.wave ?? 1;
  if (!(Number.isInteger(wave) && wave >= 1 && wave <= MAX_WAVE)) {
    throw new Error(`${prefix}wave must be a whole number in [1, ${MAX_WAVE}] (CodePipeline's runOrder); got ${wave}`);
  }
}

/**
 * Where a per-service setting came from: the service's own (`services[2].errorRateThreshold`) or,
 * when the service leaves it unset, the pipeline default it inherits (`errorRateThreshold`).
 */
function propPath(o: ServiceDeploymentOptions, prefix: string, prop: keyof ServiceDeploymentOptions): string {
  return o[prop] !== undefined ? `${prefix}${prop}` : prop;
}

/** Runs `build`, and names each of `props` in its error by where the value came from. */
function withPropPaths<T>(o: ServiceDeploymentOptions, prefix: string, props: Array<keyof ServiceDeploymentOptions>, build: () => T): T {
  try {
    return build();
  } catch (error) {
    const pattern = new RegExp(`\\b(${props.join('|')})\\b`, 'g');
    throw new Error((error as Error).message.replace(pattern, (prop) => propPath(o, prefix, prop as keyof ServiceDeploymentOptions)));
  }
}

/**
 * Lambda allows 4 KB of environment variables per function, measured as their JSON text. The
 * construct adds none to the service function; a token counts as its placeholder text.
 */
function checkEnvironmentSize(environment: { [key: string]: string } | undefined, path: string) {
  if (environment === undefined) return;
  const bytes = Buffer.byteLength(JSON.stringify(environment));
  if (bytes > MAX_ENVIRONMENT_BYTES) {
    throw new Error(`${path}: the variables come to ${bytes} bytes (as Lambda measures them, their JSON text), but Lambda allows ${MAX_ENVIRONMENT_BYTES} (4 KB) per function; keep large values in SSM Parameter Store or Secrets Manager and pass their names`);
  }
}

/** A function's name as text when it has a fixed one (so parameters and AppSpecs hold no token), else the token. */
export function physicalName(fn: lambda.IFunction): string {
  const cfn = fn.node.defaultChild;
  const name = cfn instanceof lambda.CfnFunction ? Stack.of(fn).resolve(cfn.functionName) : undefined;
  return typeof name === 'string' ? name : fn.functionName;
}
