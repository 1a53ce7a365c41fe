import { ArnFormat, Aws, Duration, Size, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  ALIAS_NAME,
  ALL_AT_ONCE_CONFIG,
  BakeParameters,
  BUNDLES_PREFIX,
  DeployBlueParameters,
  HANDLER_ENVIRONMENT,
  SwitchTrafficParameters,
  LIST_SEPARATOR,
  TARGET_VERSION_VARIABLE,
} from './contract/handler-contract';
import { DeploymentHistory } from './deployment-history';
import { BakeFunction } from './handler-functions/bake-function';
import { DeployBlueFunction } from './handler-functions/deploy-blue-function';
import { SwitchTrafficFunction } from './handler-functions/switch-traffic-function';
import { acknowledgeFinding } from './private/acknowledge-finding';
import { HANDLER_ACTIONS as A } from './private/handler-actions';
import { HandlerDeadLetters } from './private/handler-dead-letters';
import { acknowledgeHandlerFindings, pipelineHandlerOptions } from './private/handler-function-options';
import { arnReference } from './private/logical-id';
import { MAX_ROLE_NAME, ResourceNames } from './private/resource-names';
import { RetentionSettings } from './private/retained-log-group';
import { SmokeTests } from './private/smoke-test-hook';
import { physicalName, ServiceDeployment } from './service-deployment';
import { GitHubSourceStage } from './source-stage';

/** CodePipeline allows 1000 characters per action configuration value, UserParameters included. */
const MAX_USER_PARAMETERS = 1000;

/** Properties of {@link StageHandlers}. */
export interface StageHandlersProps extends RetentionSettings {
  readonly names: ResourceNames;
  readonly history: DeploymentHistory;
  readonly notificationTopic: sns.ITopic;
  readonly artifactBucket: s3.IBucket;
  readonly application: codedeploy.ILambdaApplication;
  /**
   * The pipeline's account and region, given when an environment is in another account or region:
   * the handler roles then get fixed names (the targets' deployer roles trust them by ARN), and the
   * handlers the pipeline's ARN (the deployer roles' external id).
   * @default - every environment is in the pipeline's account and region
   */
  readonly targetsTrust?: { readonly account: string; readonly region: string };
}


/** What the handlers need to know of one service to deploy it. */
export interface HandledService {
  readonly serviceFunction: lambda.IFunction;
  readonly alias: lambda.IAlias;
  readonly deploymentGroup: codedeploy.ILambdaDeploymentGroup;
  /** Configurations the shift may use: the group's, and all-at-once for a first release. */
  readonly deploymentConfigNames: string[];
}

/**
 * What an invoke action names of one service, as text: a service of this stack, or of a target
 * stack in another account or region (which the pipeline may name, never reference).
 */
export interface ActionService {
  readonly serviceName: string;
  readonly functionName: string;
  readonly bundleDirectory: string;
  readonly wave: number;
  readonly deploymentGroupName: string;
  readonly deploymentConfigName: string;
  readonly keepVersions: number;
  /** The hooks' function names; '' for none. */
  readonly beforeAllowTrafficHook: string;
  readonly afterAllowTrafficHook: string;
  /** The construct's placeholder version, whose first release goes live at once; '' for a user's function. */
  readonly bootstrapVersion: string;
  /** The version the stack's AWS::Lambda::Version names, which retention keeps. */
  readonly stackVersion: string;
  /** The deployer role, region and bundle bucket of a service in another account or region. */
  readonly target?: TargetAccess;
  /** The service itself, when in this stack: its handlers get grants on it. */
  readonly local?: ServiceDeployment;
}

/** How the handlers reach a service in another account or region. */
export interface TargetAccess {
  readonly deployerRoleArn: string;
  readonly region: string;
  readonly bundleBucket: string;
}

/** An {@link ActionService} of a service of this stack. */
export function localActionService(d: ServiceDeployment): ActionService {
  return {
    serviceName: d.serviceName,
    functionName: d.functionName,
    bundleDirectory: d.bundleDirectory,
    wave: d.wave,
    deploymentGroupName: d.deploymentGroupName,
    deploymentConfigName: d.deploymentConfig.deploymentConfigName,
    keepVersions: d.keepVersions,
    beforeAllowTrafficHook: d.preTrafficHook ? physicalName(d.preTrafficHook) : '',
    afterAllowTrafficHook: d.postTrafficHook ? physicalName(d.postTrafficHook) : '',
    // The construct's own placeholder serves nothing real: its first release goes live at once.
    // A user's function may already serve real traffic, so it always shifts gradually.
    bootstrapVersion: d.createdFunction ? d.bootstrapVersion.version : '',
    // The version the stack's AWS::Lambda::Version (and so the alias' template) names, for every
    // function, the user's included: version retention must never delete it.
    stackVersion: d.bootstrapVersion.version,
    local: d,
  };
}

/** What the Bake handler needs to know of one service: its alarms too. */
export interface BakedService extends HandledService {
  /** The alarms of the service's deployment group (error rate and extra alarms). */
  readonly alarms: readonly cloudwatch.IAlarm[];
}

/**
 * The pipeline's stage handlers, one of each however many services it deploys: Deploy-Blue,
 * Switch-Traffic and (once a service asks for it) the smoke-test hook. Per-service settings reach
 * them in each action's UserParameters; per-service permissions are added to one statement per
 * kind of access, so a service adds resources to a statement, never a statement or a policy.
 */
export class StageHandlers extends Construct {
  public readonly deployBlue: lambda.Function;
  public readonly switchTraffic: lambda.Function;
  /** Invocations of any stage handler that failed all of Lambda's retries. */
  public readonly deadLetterQueue: sqs.Queue;
  private readonly smokeTests: SmokeTests;
  private bake?: lambda.Function;
  private readonly invokeRoles = new Map<string, iam.Role>();
  private promotionGateGranted = false;
  private readonly statements: {
    publish: iam.PolicyStatement;
    readAlias: iam.PolicyStatement;
    readVersions: iam.PolicyStatement;
    listVersions: iam.PolicyStatement;
    deleteVersions: iam.PolicyStatement;
    deploy: iam.PolicyStatement;
    configs: iam.PolicyStatement;
    bakeAlarms?: iam.PolicyStatement;
    bakeDeploy?: iam.PolicyStatement;
    bakeConfigs?: iam.PolicyStatement;
  };
  private readonly services: HandledService[] = [];
  /** The deployer roles the handlers may assume, one statement per handler. */
  private readonly assumeDeployer: Array<{ handler: lambda.Function; statement: iam.PolicyStatement; bake: boolean; attached: boolean }> = [];
  private readonly deployerRoles: Array<{ roleArn: string; baked: boolean }> = [];
  /** Statements that name services of this account and region, attached with the first such service. */
  private readonly unattached: Array<[lambda.Function, iam.PolicyStatement]> = [];

  constructor(scope: Construct, id: string, private readonly props: StageHandlersProps) {
    super(scope, id);
    const { names } = props;
    this.deadLetterQueue = new HandlerDeadLetters(this, 'DeadLetters', {
      queueName: names.deadLetters,
      alarmName: names.deadLetters,
      pipelineName: names.pipeline,
      notificationTopic: props.notificationTopic,
      removalPolicy: props.removalPolicy,
    }).queue;
    const settings = { ...props, deadLetterQueue: this.deadLetterQueue };
    this.smokeTests = new SmokeTests(this, settings);
    const env = HANDLER_ENVIRONMENT;
    const shared = {
      [env.historyTableName]: props.history.table.tableName,
      [env.notificationTopicArn]: props.notificationTopic.topicArn,
      [env.pipelineName]: names.pipeline,
      ...(props.targetsTrust ? { [env.pipelineArn]: this.pipelineArn } : {}),
    };
    this.deployBlue = new DeployBlueFunction(this, 'DeployBlue', pipelineHandlerOptions(this, 'DeployBlue', {
      ...settings,
      // It stages the build artifact in /tmp and cuts a service's bundle out of it, normalized: the
      // artifact and the bundle on disk (twice the artifact for a whole one), about 100 MB in memory;
      // 1024 MB buys the CPU that deflating takes.
      memorySize: 1024,
      ephemeralStorageSize: Size.mebibytes(2048),
      functionName: names.handler('deploy-blue'),
      roleName: this.handlerRoleName('deploy-blue'),
      description: `Deploy-Blue of ${names.pipeline}: publishes each service's build as a new version`,
      timeout: Duration.minutes(10),
      // The pipeline's name: to ask CodePipeline whether an earlier execution has ended (history housekeeping).
      environment: { ...shared, [env.artifactBucketName]: props.artifactBucket.bucketName },
    }));
    this.switchTraffic = new SwitchTrafficFunction(this, 'SwitchTraffic', pipelineHandlerOptions(this, 'SwitchTraffic', {
      ...settings,
      functionName: names.handler('switch-traffic'),
      roleName: this.handlerRoleName('switch-traffic'),
      description: `Switch-Traffic of ${names.pipeline}: shifts each service's live alias with CodeDeploy and follows the deployment`,
      timeout: Duration.minutes(2),
      environment: { ...shared, [env.codeDeployApplicationName]: props.application.applicationName },
    }));

    // UpdateFunctionCode reads the S3 object with the caller's permissions; each service's bundle is
    // cut out of the build artifact, normalized, and written under the bundles prefix first.
    this.deployBlue.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [props.artifactBucket.arnForObjects('*')] }));
    this.deployBlue.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [props.artifactBucket.arnForObjects(`${BUNDLES_PREFIX}*`)] }));
    this.switchTraffic.addToRolePolicy(new iam.PolicyStatement({ actions: [...A.revisions], resources: [props.application.applicationArn] }));
    props.history.grantQueryExecution(this.switchTraffic);
    // Execution order (is a newer execution shifting or live?) and earlier executions' items.
    props.history.grantQueryService(this.switchTraffic);
    props.history.grantQueryService(this.deployBlue);
    this.deployBlue.addToRolePolicy(new iam.PolicyStatement({
      actions: ['codepipeline:GetPipelineExecution'],
      resources: [Stack.of(this).formatArn({ service: 'codepipeline', resource: names.pipeline })],
    }));
    for (const handler of [this.deployBlue, this.switchTraffic]) {
      this.allowAssumingDeployers(handler);
      props.history.grantRecord(handler);
      props.notificationTopic.grantPublish(handler);
      acknowledgeHandlerFindings(handler);
      acknowledgeFinding(handler.role!, 'AwsSolutions-IAM5[Resource::*]',
        'codepipeline:PutJobSuccessResult/PutJobFailureResult and xray:PutTraceSegments/PutTelemetryRecords support no resource-level permissions.');
    }
    const objects = `Resource::${arnReference(props.artifactBucket)}/*`;
    acknowledgeFinding(this.deployBlue.role!, `AwsSolutions-IAM5[${objects}]`,
      'Deploy-Blue reads the build artifact, whose object key CodePipeline generates per execution.');
    acknowledgeFinding(this.deployBlue.role!, `AwsSolutions-IAM5[Resource::${arnReference(props.artifactBucket)}/${BUNDLES_PREFIX}*]`,
      `Deploy-Blue writes each service's extracted bundle under ${BUNDLES_PREFIX}<execution>/, only known at run time.`);

    // One statement per kind of access; services add their resources to it. Attached with the
    // first service of this account and region (a pipeline whose environments are all targets has none).
    const statement = (fn: lambda.Function, allowed: string[]) => {
      const s = new iam.PolicyStatement({ actions: allowed });
      this.unattached.push([fn, s]);
      return s;
    };
    this.statements = {
      publish: statement(this.deployBlue, [...A.publish]),
      readAlias: statement(this.deployBlue, ['lambda:GetAlias']),
      // An unchanged service: the code hash and settings of the version live serves (a qualified ARN).
      readVersions: statement(this.deployBlue, [...A.readVersions]),
      listVersions: statement(this.switchTraffic, [...A.followAlias]),
      // Version retention: only qualified ARNs, so the function itself can never be deleted.
      deleteVersions: statement(this.switchTraffic, [...A.deleteVersions]),
      // ListDeployments: is another deployment of the group in progress, and whose is it?
      deploy: statement(this.switchTraffic, [...A.shift]),
      configs: statement(this.switchTraffic, [...A.configs]),
    };
  }

  /**
   * The ARN of the pipeline (`arn:<partition>:codepipeline:<region>:<account>:<name>`), as text
   * but for the partition: the external id every deployer role requires.
   */
  public get pipelineArn(): string {
    const trust = this.requireTargetsTrust();
    return `arn:${Aws.PARTITION}:codepipeline:${trust.region}:${trust.account}:${this.props.names.pipeline}`;
  }

  /**
   * The ARNs of the handler roles a target's deployer role trusts: Deploy-Blue's and
   * Switch-Traffic's, and Bake's when the target's environment bakes.
   */
  public trustedRoleArns(baked: boolean): string[] {
    const trust = this.requireTargetsTrust();
    return ['deploy-blue', 'switch-traffic', ...(baked ? ['bake'] : [])]
      .map((purpose) => `arn:${Aws.PARTITION}:iam::${trust.account}:role/${this.handlerRoleName(purpose)}`);
  }

  /**
   * Lets the handlers assume a target's deployer role (named by ARN: it lives in another account or
   * region): Deploy-Blue and Switch-Traffic always, Bake when the environment bakes.
   */
  public addDeployerRole(roleArn: string, baked: boolean): void {
    if (this.deployerRoles.some((r) => r.roleArn === roleArn)) return;
    this.deployerRoles.push({ roleArn, baked });
    for (const entry of this.assumeDeployer.filter((e) => baked || !e.bake)) {
      entry.statement.addResources(roleArn);
      if (!entry.attached) entry.handler.addToRolePolicy(entry.statement);
      entry.attached = true;
    }
  }

  /** The deployer roles each handler may assume, by handler role. */
  public get assumableDeployers(): Array<{ role: iam.IRole; roleArns: string[] }> {
    return [
      { role: this.deployBlue.role!, roleArns: this.deployerRoles.map((r) => r.roleArn) },
      { role: this.switchTraffic.role!, roleArns: this.deployerRoles.map((r) => r.roleArn) },
      ...(this.bake ? [{ role: this.bake.role!, roleArns: this.deployerRoles.filter((r) => r.baked).map((r) => r.roleArn) }] : []),
    ];
  }

  /** Grants the handlers what deploying `service` takes. */
  public addService(service: HandledService): void {
    this.attachServiceStatements();
    this.services.push(service);
    const fn = service.serviceFunction.functionArn;
    const s = this.statements;
    s.publish.addResources(fn);
    s.readAlias.addResources(service.alias.functionArn);
    s.readVersions.addResources(`${fn}:*`);
    s.listVersions.addResources(fn, service.alias.functionArn);
    s.deleteVersions.addResources(`${fn}:*`);
    s.deploy.addResources(service.deploymentGroup.deploymentGroupArn);
    const stack = Stack.of(this);
    for (const name of service.deploymentConfigNames) {
      const arn = stack.formatArn({ service: 'codedeploy', resource: 'deploymentconfig', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
      if (!s.configs.resources.includes(arn)) s.configs.addResources(arn);
    }
    acknowledgeFinding(this.switchTraffic.role!, `AwsSolutions-IAM5[Resource::${arnReference(service.serviceFunction)}:*]`,
      'Version retention deletes old published versions of the service, whose numbers are only known at run time; the qualified-ARN pattern cannot match the function itself.');
    acknowledgeFinding(this.deployBlue.role!, `AwsSolutions-IAM5[Resource::${arnReference(service.serviceFunction)}:*]`,
      'Deploy-Blue reads the configuration of the version the live alias serves (is the new build unchanged?), whose number is only known at run time.');
  }

  /**
   * The built-in smoke-test hook, created for the first service that asks for it and shared by
   * all: it looks up the event by the function name in the AppSpec it is handed.
   */
  public smokeTestFor(functionName: string, service: HandledService, testEventJson: string): lambda.Function {
    return this.smokeTests.for(functionName, service, testEventJson);
  }

  /**
   * Grants the Bake handler (created for the first service that bakes, and shared by all) what
   * watching `service` and rolling it back takes.
   */
  public addBakedService(service: BakedService): lambda.Function {
    const bake = this.createdBake();
    this.attachServiceStatements();
    const s = this.statements;
    for (const alarm of service.alarms) {
      // DescribeAlarms returns a composite alarm only to a caller allowed it on * (CloudWatch API
      // reference); a metric alarm of this app can be named. An imported alarm may be either.
      const arn = alarm instanceof cloudwatch.Alarm ? alarm.alarmArn : '*';
      if (!s.bakeAlarms!.resources.includes(arn)) s.bakeAlarms!.addResources(arn);
    }
    s.bakeDeploy!.addResources(service.deploymentGroup.deploymentGroupArn);
    return bake;
  }

  /** The Bake handler, created for the first environment that bakes. */
  private createdBake(): lambda.Function {
    return this.bake ??= this.createBake();
  }

  /** The Bake handler, if an environment bakes. */
  public get bakeFunction(): lambda.Function | undefined {
    return this.bake;
  }

  /**
   * The invoke actions of Deploy-Blue and Switch-Traffic, one per service, each with the service's
   * UserParameters (see the handler contract). One role per stage serves every service's action;
   * the roles are created in `scope` (the pipeline), where their logical ids have always been.
   */
  public createInvokeActions(scope: Construct, stages: InvokeActionsProps): InvokeActions {
    const { services, source, buildOutput, single, environment } = stages;
    const { names } = this.props;
    const invokeRole = (purpose: string, handler: lambda.Function) => {
      const existing = this.invokeRoles.get(purpose);
      if (existing) return existing;
      const role = new iam.Role(scope, `${purpose}ActionRole`, {
        assumedBy: new iam.AccountRootPrincipal(),
        description: `${purpose} actions of ${names.pipeline}: invoke the stage handler`,
      });
      acknowledgeFinding(role, 'AwsSolutions-IAM5[Resource::*]', 'Added by aws-cdk-lib LambdaInvokeAction: lambda:ListFunctions supports no resource-level permissions.');
      acknowledgeFinding(role, `AwsSolutions-IAM5[Resource::${arnReference(handler)}:*]`,
        'Added by aws-cdk-lib LambdaInvokeAction (invoke on the function and its versions); the function itself is fixed.');
      this.invokeRoles.set(purpose, role);
      return role;
    };
    if (environment && !this.promotionGateGranted) {
      // The promotion gate: the execution's items in the earlier environments.
      this.props.history.grantQueryExecution(this.deployBlue);
      this.promotionGateGranted = true;
    }
    const deployBlueRole = invokeRole('DeployBlue', this.deployBlue);
    const switchTrafficRole = invokeRole('SwitchTraffic', this.switchTraffic);
    // Several environments: each environment's keys carry it (namespaces are unique per pipeline).
    const qualified = (base: string, d: ActionService) =>
      [base, environment?.name, single ? undefined : d.serviceName].filter(Boolean).join('-');
    const promotion = environment ? {
      environments: environment.environments.join(LIST_SEPARATOR),
    } : {};
    // A service in another account or region: the handler assumes its deployer role there.
    const reach = (d: ActionService) => d.target ? { deployerRoleArn: d.target.deployerRoleArn, region: d.target.region } : {};
    const deployBlue = services.map((d) => new actions.LambdaInvokeAction({
      actionName: single ? 'PublishVersion' : `Publish-${d.serviceName}`,
      lambda: this.deployBlue,
      role: deployBlueRole,
      inputs: [buildOutput],
      variablesNamespace: qualified('DeployBlue', d),
      userParameters: checkedUserParameters<DeployBlueParameters>(d, {
        deploymentId: codepipeline.GlobalVariables.executionId,
        service: d.serviceName,
        functionName: d.functionName,
        aliasName: ALIAS_NAME,
        bundleDirectory: d.bundleDirectory,
        wave: String(d.wave),
        commitId: source.action.variables.commitId,
        // The commit's author date (ISO 8601): lead time runs from it to live.
        commitTime: source.action.variables.authorDate,
        repository: source.repository,
        branch: source.branch,
        environment: environment?.name ?? names.environmentSuffix,
        ...promotion,
        ...(environment && environment.baked.length > 0 ? { bakedEnvironments: environment.baked.join(LIST_SEPARATOR) } : {}),
        ...reach(d),
        ...(d.target ? { bundleBucket: d.target.bundleBucket } : {}),
      }),
    }));
    const switchTraffic = services.map((d, i) => new actions.LambdaInvokeAction({
      actionName: single ? 'ShiftTraffic' : `Shift-${d.serviceName}`,
      lambda: this.switchTraffic,
      role: switchTrafficRole,
      // Waves: CodePipeline starts a higher runOrder only when every action of the lower ones succeeded.
      runOrder: d.wave,
      userParameters: checkedUserParameters<SwitchTrafficParameters>(d, {
        deploymentId: codepipeline.GlobalVariables.executionId,
        service: d.serviceName,
        targetVersion: deployBlue[i].variable(TARGET_VERSION_VARIABLE),
        functionName: d.functionName,
        aliasName: ALIAS_NAME,
        deploymentGroupName: d.deploymentGroupName,
        deploymentConfigName: d.deploymentConfigName,
        beforeAllowTrafficHook: d.beforeAllowTrafficHook,
        afterAllowTrafficHook: d.afterAllowTrafficHook,
        bootstrapVersion: d.bootstrapVersion,
        stackVersion: d.stackVersion,
        keepVersions: String(d.keepVersions),
        wave: String(d.wave),
        ...(environment ? { environment: environment.name, ...promotion } : {}),
        ...reach(d),
      }),
    }));
    const bakeMinutes = environment?.bakeMinutes;
    if (bakeMinutes === undefined) return { deployBlue, switchTraffic, bake: [] };
    // After the last wave, in the same stage: CodePipeline locks stages, so no newer execution
    // shifts the environment while this one bakes (a rollback would then move traffic back).
    const lastWave = Math.max(...services.map((d) => d.wave));
    const bake = services.map((d) => {
      const handler = d.local ? this.addBakedService(d.local) : this.createdBake();
      return new actions.LambdaInvokeAction({
        actionName: single ? 'Bake' : `Bake-${d.serviceName}`,
        lambda: handler,
        role: invokeRole('Bake', handler),
        runOrder: lastWave + 1,
        userParameters: checkedUserParameters<BakeParameters>(d, {
          deploymentId: codepipeline.GlobalVariables.executionId,
          service: d.serviceName,
          functionName: d.functionName,
          aliasName: ALIAS_NAME,
          deploymentGroupName: d.deploymentGroupName,
          environment: environment!.name,
          bakeMinutes: String(bakeMinutes),
          minInvocations: String(environment!.minInvocations ?? 0),
          wave: String(d.wave),
          beforeAllowTrafficHook: d.beforeAllowTrafficHook,
          afterAllowTrafficHook: d.afterAllowTrafficHook,
          ...promotion,
          ...reach(d),
        }),
      });
    });
    return { deployBlue, switchTraffic, bake };
  }

  private handlerRoleName(purpose: string): string | undefined {
    const trust = this.props.targetsTrust;
    if (!trust) return undefined;
    // Role names are unique per account, function names per region: the region keeps two copies apart.
    const name = `${this.props.names.handler(purpose)}-${trust.region}`;
    if (name.length > MAX_ROLE_NAME) {
      throw new Error(`serviceName "${this.props.names.serviceName}" with environmentSuffix "${this.props.names.environmentSuffix}" gives the handler role name "${name}" (${name.length} characters), which target accounts trust by name; IAM allows ${MAX_ROLE_NAME}: shorten serviceName or environmentSuffix`);
    }
    return name;
  }

  private attachServiceStatements() {
    for (const [fn, statement] of this.unattached.splice(0)) fn.addToRolePolicy(statement);
  }

  private requireTargetsTrust() {
    const trust = this.props.targetsTrust;
    if (!trust) throw new Error('the stage handlers act only in the pipeline\'s account and region');
    return trust;
  }

  /** `sts:AssumeRole` on the deployer roles, for a handler that acts in target accounts. */
  private allowAssumingDeployers(handler: lambda.Function, bake = false) {
    if (!this.props.targetsTrust) return;
    const roles = this.deployerRoles.filter((r) => r.baked || !bake).map((r) => r.roleArn);
    // Resources are added as targets come: the first may be planned after the handler.
    const statement = new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: roles });
    // Attached with its first role: a Bake handler that bakes only the pipeline's own environments assumes nothing.
    const attached = roles.length > 0;
    if (attached) handler.addToRolePolicy(statement);
    this.assumeDeployer.push({ handler, statement, bake, attached });
  }

  /** The smoke-test hook, if any service uses it. */
  public get smokeTestFunction(): lambda.Function | undefined {
    return this.smokeTests.function;
  }

  private createBake(): lambda.Function {
    const { names, history, notificationTopic, application } = this.props;
    const env = HANDLER_ENVIRONMENT;
    const bake = new BakeFunction(this, 'Bake', {
      ...pipelineHandlerOptions(this, 'Bake', {
        ...this.props,
        deadLetterQueue: this.deadLetterQueue,
        functionName: names.handler('bake'),
        roleName: this.handlerRoleName('bake'),
        description: `Bake of ${names.pipeline}: watches each environment's alarms after its shift and rolls it back when one fires`,
        timeout: Duration.minutes(2),
        environment: {
          [env.historyTableName]: history.table.tableName,
          [env.notificationTopicArn]: notificationTopic.topicArn,
          [env.pipelineName]: names.pipeline,
          [env.codeDeployApplicationName]: application.applicationName,
          ...(this.props.targetsTrust ? { [env.pipelineArn]: this.pipelineArn } : {}),
        },
      }),
      // CodePipeline fails a job it has heard nothing of for 20 minutes; an older (queued or
      // retried) event must not start a rollback after the stage has ended.
      maxEventAge: Duration.minutes(15),
    });
    acknowledgeFinding(bake, 'Serverless-LambdaAsyncFailureDestination',
      'Events that fail or expire go to the function\'s dead-letter queue (DeadLetterConfig, an encrypted queue no role may read); an on-failure destination would be a second copy of the event, credentials included.');
    history.grantRecord(bake);
    // The environment's other services (one execution's items) and newer executions (one service's items).
    history.grantQueryExecution(bake);
    history.grantQueryService(bake);
    notificationTopic.grantPublish(bake);
    const statement = (allowed: string[], resources?: string[]) => {
      const s = new iam.PolicyStatement({ actions: allowed, resources });
      this.unattached.push([bake, s]);
      return s;
    };
    this.statements.bakeAlarms = statement([...A.alarms]);
    // A rollback is a deployment of the group like any other; GetDeploymentGroup names its alarms.
    // It overrides the group's alarm configuration (the alarm that fired would stop it), which
    // CreateDeployment allows only with codedeploy:UpdateDeploymentGroup (API reference).
    // ListDeployments: a rollback created but not recorded (a lost response, a delivery that died) is adopted, not made twice.
    this.statements.bakeDeploy = statement([...A.readGroup, ...A.shift, ...A.overrideAlarms]);
    const stack = Stack.of(this);
    this.statements.bakeConfigs = statement([...A.configs], [stack.formatArn({
      service: 'codedeploy', resource: 'deploymentconfig', resourceName: ALL_AT_ONCE_CONFIG, arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    })]);
    statement([...A.revisions], [application.applicationArn]);
    // GetMetricData (the bake's invocation count) supports no resource-level permissions.
    statement([...A.metrics], ['*']);
    this.allowAssumingDeployers(bake, true);
    acknowledgeHandlerFindings(bake);
    acknowledgeFinding(bake.role!, 'AwsSolutions-IAM5[Resource::*]',
      'cloudwatch:GetMetricData, codepipeline:PutJobSuccessResult/PutJobFailureResult and xray:PutTraceSegments/PutTelemetryRecords support no resource-level permissions; '
      + 'cloudwatch:DescribeAlarms returns composite alarms only when allowed on *, which an imported extra alarm may be.');
    return bake;
  }
}

/** What the invoke actions are built from. */
export interface InvokeActionsProps {
  readonly services: readonly ActionService[];
  readonly source: GitHubSourceStage;
  readonly buildOutput: codepipeline.Artifact;
  /** One service (no `services` prop): it keeps the action names and namespace it always had; a monorepo's carry the service. */
  readonly single: boolean;
  /** The environment the actions deploy to, in a pipeline that promotes through several. */
  readonly environment?: EnvironmentActions;
}

/** One environment of a promoting pipeline, as its actions see it. */
export interface EnvironmentActions {
  readonly name: string;
  /** Every environment, in promotion order. */
  readonly environments: readonly string[];
  /** The environments with a bake. */
  readonly baked: readonly string[];
  /** This environment's bake, in whole minutes; none without. */
  readonly bakeMinutes?: number;
  readonly minInvocations?: number;
}

/** The invoke actions of the two deployment stages, in the order of the services. */
export interface InvokeActions {
  readonly deployBlue: actions.LambdaInvokeAction[];
  readonly switchTraffic: actions.LambdaInvokeAction[];
  /** The Bake actions (Switch-Traffic stage, after the last wave); none without a bake. */
  readonly bake: actions.LambdaInvokeAction[];
}

/**
 * An action's UserParameters, checked against CodePipeline's 1000-character limit, counting each
 * unresolved token (a name CloudFormation generates) at its longest.
 */
function checkedUserParameters<P extends object>(deployment: ActionService, parameters: P): Record<string, string> {
  const entries = Object.entries(parameters) as Array<[string, string]>;
  const estimate = JSON.stringify(Object.fromEntries(entries.map(([k, v]) => [k, Token.isUnresolved(v) ? 'x'.repeat(100) : v])));
  if (estimate.length > MAX_USER_PARAMETERS) {
    throw new Error(`service "${deployment.serviceName}": its action parameters come to about ${estimate.length} characters, but CodePipeline allows ${MAX_USER_PARAMETERS}; shorten serviceName, bundleDirectory or the names of its hooks and deployment configuration`);
  }
  return Object.fromEntries(entries);
}
