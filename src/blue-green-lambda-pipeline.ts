import { Annotations, ArnFormat, Aws, CfnOutput, CfnResource, Duration, RemovalPolicy, Stack, Tags, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codeconnections from 'aws-cdk-lib/aws-codeconnections';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct, IConstruct } from 'constructs';
import { acknowledgeFinding, acknowledgeTemplateFindings } from './acknowledge-finding';
import { ArtifactBucket } from './artifact-bucket';
import { BuildOptions } from './build-options';
import { DeployBlueFunction } from './deploy-blue-function';
import { DeploymentHistory } from './deployment-history';
import { ErrorRateAlarm } from './error-rate-alarm';
import { GitHubSourceProps } from './github-source';
import { pipelineHandlerOptions } from './pipeline-handler';
import { ResourceNames } from './resource-names';
import { checkShiftFitsAction } from './shift-duration';
import { SmokeTestHookFunction } from './smoke-test-hook-function';
import { ExtraStageOptions, ManualApprovalOptions } from './stage-placement';
import { SwitchTrafficFunction } from './switch-traffic-function';
import { TrafficHook } from './traffic-hook';

/**
 * Settings of the service function when the construct creates it.
 *
 * Changes to these settings reach live traffic only with the next pipeline deployment:
 * CloudFormation updates the function's unpublished `$LATEST`, and the `live` alias keeps serving
 * the immutable version the pipeline published last. The bootstrap version and the alias never
 * change with these settings, so no stack update moves live traffic.
 */
export interface ServiceFunctionOptions {
  /**
   * The runtime.
   * @default lambda.Runtime.NODEJS_24_X
   */
  readonly runtime?: lambda.Runtime;
  /**
   * The handler, relative to the root of the build artifact.
   * @default "index.handler"
   */
  readonly handler?: string;
  /**
   * Memory in MB.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Timeout.
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * Reserved concurrent executions.
   * @default - unreserved
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Environment variables. Like every other setting here, a change reaches live traffic only
   * with the next pipeline deployment: CloudFormation updates the unpublished function
   * (`$LATEST`), and the `live` alias keeps serving the published version it points to.
   * @default - none
   */
  readonly environment?: { [key: string]: string };
  /**
   * X-Ray tracing of the service.
   * @default lambda.Tracing.ACTIVE
   */
  readonly tracing?: lambda.Tracing;
  /**
   * The code the function starts with, before the pipeline's first deployment. Later pipeline
   * deployments replace it; CloudFormation puts it back only if you change this prop.
   * @default - a placeholder that answers 503 "no release deployed yet"
   */
  readonly bootstrapCode?: lambda.Code;
}

/** Properties of {@link BlueGreenLambdaPipeline}. */
export interface BlueGreenLambdaPipelineProps {
  /**
   * Name of the service: lowercase letters, digits and hyphens. Prefixes every physical name.
   */
  readonly serviceName: string;

  /**
   * Environment suffix carried by every physical name (`{service}-{purpose}-{suffix}`).
   * @default "dev"
   */
  readonly environmentSuffix?: string;

  /** The GitHub repository to deploy from. */
  readonly source: GitHubSourceProps;

  /**
   * Settings of the service function the construct creates. Mutually exclusive with `serviceFunction`.
   * @default - Node.js 24, 512 MB, `index.handler`, a placeholder bootstrap code
   */
  readonly service?: ServiceFunctionOptions;

  /**
   * An existing function (a `lambda.Function` defined in this app) to deploy instead of creating one.
   * The construct adds a bootstrap version and the `live` alias to it. It must have an explicit
   * `functionName`: CloudFormation refuses to replace a resource with a fixed name, so no stack
   * update can swap the function (and the alias with it) back to a bootstrap version behind
   * CodeDeploy's back. Its first pipeline release shifts gradually like every other.
   * @default - the construct creates the function
   */
  readonly serviceFunction?: lambda.IFunction;

  /**
   * How CodeDeploy shifts traffic. Any predefined or custom Lambda configuration whose whole shift
   * takes less than 24 hours (the longest a Lambda invoke action may run). The first release,
   * while `live` still serves the construct's placeholder, goes live at once
   * (`CodeDeployDefault.LambdaAllAtOnce`; hooks still run): nothing real is live yet.
   * @default codedeploy.LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_10MINUTES
   */
  readonly deploymentConfig?: codedeploy.ILambdaDeploymentConfig;

  /**
   * Error rate of the `live` alias, in percent, above which the deployment rolls back. In (0, 100].
   * @default 5
   */
  readonly errorRateThreshold?: number;

  /**
   * Consecutive periods above the threshold before the alarm fires.
   * @default 2
   */
  readonly evaluationPeriods?: number;

  /**
   * Length of one alarm period; a whole number of minutes.
   * @default Duration.minutes(1)
   */
  readonly alarmPeriod?: Duration;

  /**
   * More alarms that stop and roll back a deployment. CodeDeploy allows 10 alarms per
   * deployment group, one of which is the error-rate alarm.
   * @default - none
   */
  readonly extraAlarms?: cloudwatch.IAlarm[];

  /**
   * Hook run before any traffic reaches the new version.
   * @default - none
   */
  readonly preTrafficHook?: TrafficHook;

  /**
   * Hook run after all traffic has moved to the new version.
   * @default - none
   */
  readonly postTrafficHook?: TrafficHook;

  /**
   * How the `Build` stage compiles and tests the service.
   * @default - `npm ci`, `npm run build`, `npm test` on `aws/codebuild/standard:7.0`, bundle in `dist/`
   */
  readonly buildStage?: BuildOptions;

  /**
   * A manual approval, in a stage named `Approve`, between `Deploy-Blue` and `Switch-Traffic`.
   * @default - no approval
   */
  readonly manualApproval?: ManualApprovalOptions;

  /**
   * Extra stages, each inserted right after one of the four fixed stages.
   * @default - none
   */
  readonly extraStages?: ExtraStageOptions[];

  /**
   * Topic for deployment lifecycle events (staged, started, succeeded, rolled back, failed,
   * skipped), alarm notifications and approval requests. CloudWatch delivers alarm
   * notifications only if the topic's resource policy lets `cloudwatch.amazonaws.com` publish:
   * the construct adds that statement (scoped to its alarm with `aws:SourceArn`) to a topic
   * defined in this app; to an imported topic it cannot, and you must add it yourself.
   * @default - a new topic
   */
  readonly notificationTopic?: sns.ITopic;

  /**
   * How many published versions of the service to keep. After each successful shift,
   * Switch-Traffic deletes older versions (published code counts toward Lambda's regional
   * code-storage quota), never one an alias points to, the bootstrap version, or the versions
   * of the deployment in progress.
   * @default 10
   */
  readonly keepVersions?: number;

  /**
   * How long a pipeline artifact stays in the artifact bucket. CodePipeline writes new object
   * keys for every execution; expired artifacts become noncurrent versions, which are deleted 30
   * days later.
   * @default Duration.days(30)
   */
  readonly artifactExpiration?: Duration;

  /**
   * What happens to the bucket, table, log groups and topic when they leave the stack.
   * `DESTROY` suits the non-production environments this construct defaults to; use `RETAIN`
   * for production history.
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Retention of every log group the construct creates. The handler and build logs are the
   * deployment audit trail; AWS Control Tower's CT.CLOUDWATCH.PR.2 asks for at least a year.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Bucket for the artifact bucket's server access logs.
   * @default - no access logging
   */
  readonly accessLogsBucket?: s3.IBucket;

  /**
   * Tags applied to every resource of the construct.
   * @default - none
   */
  readonly tags?: { [key: string]: string };
}

/** Retention of what the construct creates. */
interface RetentionSettings {
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/** What the pipeline handlers get besides retention: the topic their failed invocations go to. */
type HandlerSettings = RetentionSettings & { readonly deadLetterTopic: sns.ITopic };

/** The fixed stage names; users and dashboards key on them. */
const STAGES = { source: 'Source', build: 'Build', deployBlue: 'Deploy-Blue', switchTraffic: 'Switch-Traffic' };
const APPROVAL_STAGE = 'Approve';
const ALIAS_NAME = 'live';
const MAX_DEPLOYMENT_GROUP_ALARMS = 10;
const STAGE_NAME_PATTERN = /^[A-Za-z0-9.@_-]{1,100}$/;
const CONNECTION_ARN_PATTERN = /^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection\/[A-Za-z0-9-]+$/;
const GITHUB_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,100}$/;
const HIDDEN_FAILURE_PATTERN = /\|\|\s*(true|:|echo)\b|\|\|\s*:?\s*$/;
const DEFAULT_KEEP_VERSIONS = 10;
const FIRST_RELEASE_CONFIG = 'CodeDeployDefault.LambdaAllAtOnce';
/** The Node.js major CodeBuild installs when the service runtime is not Node.js. */
const FALLBACK_BUILD_NODE_VERSION = '22';

const BOOTSTRAP_CODE = 'exports.handler = async () => ({ statusCode: 503, body: JSON.stringify({ message: "no release deployed yet" }) });';

/**
 * A four-stage CodePipeline that deploys a Lambda service blue/green:
 * `Source` (GitHub) → `Build` (CodeBuild: compile, test) → `Deploy-Blue` (publish an immutable
 * version that takes no traffic) → `Switch-Traffic` (CodeDeploy shifts the `live` alias, rolling
 * back when the error-rate alarm fires). Every deployment is recorded in a DynamoDB table and
 * announced on SNS.
 */
export class BlueGreenLambdaPipeline extends Construct {
  /** The suffix every physical name carries. */
  public readonly environmentSuffix: string;
  /** The CodePipeline (V2). */
  public readonly pipeline: codepipeline.Pipeline;
  /** The CodeBuild project of the `Build` stage. */
  public readonly buildProject: codebuild.PipelineProject;
  /** The report group that receives the test results. */
  public readonly testReportGroup: codebuild.ReportGroup;
  /** The service function. */
  public readonly serviceFunction: lambda.Function;
  /** The version the `live` alias was created with, before any pipeline deployment. */
  public readonly bootstrapVersion: lambda.Version;
  /** The `live` alias that receives production traffic. */
  public readonly alias: lambda.Alias;
  /** The CodeDeploy application. */
  public readonly application: codedeploy.LambdaApplication;
  /** The CodeDeploy deployment group that shifts the alias. */
  public readonly deploymentGroup: codedeploy.LambdaDeploymentGroup;
  /** The error-rate alarm of the `live` alias. */
  public readonly errorRateAlarm: cloudwatch.Alarm;
  /** The deployment history table. */
  public readonly historyTable: DeploymentHistory;
  /** The artifact bucket. */
  public readonly artifactBucket: s3.Bucket;
  /** The lifecycle notification topic. */
  public readonly notificationTopic: sns.ITopic;
  /** The handler of the `Deploy-Blue` stage. */
  public readonly deployBlueFunction: lambda.Function;
  /** The handler of the `Switch-Traffic` stage. */
  public readonly switchTrafficFunction: lambda.Function;
  /** The built-in smoke-test hook, if one is configured. */
  public readonly smokeTestFunction?: lambda.Function;
  /**
   * The `Source` stage's output: the repository at the pushed commit. Use it as the input of
   * actions you add with `addStage()`.
   */
  public readonly sourceOutput: codepipeline.Artifact;
  /**
   * The `Build` stage's output: the deployable bundle. Use it as the input of actions you add
   * with `addStage()`.
   */
  public readonly buildOutput: codepipeline.Artifact;
  /** The role the `Source` action runs with; it may use the connection. */
  public readonly sourceActionRole: iam.Role;
  /** ARN of the CodeConnections connection the source uses. */
  public readonly connectionArn: string;
  /** The pipeline's console URL. */
  public readonly pipelineConsoleUrl: string;

  private readonly lastStageAfter = new Map<string, codepipeline.IStage>();
  private readonly stageNames = new Set<string>();
  private smokeTestHandler?: lambda.Function;
  /** The service function when the construct created it (not a user's). */
  private readonly createdServiceFunction?: lambda.Function;

  constructor(scope: Construct, id: string, props: BlueGreenLambdaPipelineProps) {
    super(scope, id);
    const names = ResourceNames.of(props.serviceName, props.environmentSuffix ?? 'dev');
    this.environmentSuffix = names.environmentSuffix;
    validateProps(props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const handlerSettings = { logRetention, removalPolicy };

    for (const [key, value] of Object.entries(props.tags ?? {})) Tags.of(this).add(key, value);

    // ---- service function, bootstrap version, live alias
    this.createdServiceFunction = props.serviceFunction ? undefined : this.createServiceFunction(names, props.service ?? {}, handlerSettings);
    this.serviceFunction = this.createdServiceFunction ?? props.serviceFunction as lambda.Function;
    // A fixed version (not `currentVersion`) so CloudFormation never moves the alias after the
    // pipeline has: the alias is the pipeline's from its first deployment on.
    this.bootstrapVersion = new lambda.Version(this, 'BootstrapVersion', {
      lambda: this.serviceFunction,
      description: 'Bootstrap version; the pipeline publishes the following ones',
    });
    this.alias = new lambda.Alias(this, 'LiveAlias', { aliasName: ALIAS_NAME, version: this.bootstrapVersion });

    // ---- notifications, history, artifacts
    if (props.notificationTopic) {
      this.notificationTopic = props.notificationTopic;
    } else {
      const topic = new sns.Topic(this, 'NotificationTopic', {
        topicName: names.notificationTopic,
        displayName: `${names.serviceName} deployments (${names.environmentSuffix})`,
        enforceSSL: true,
      });
      topic.applyRemovalPolicy(removalPolicy);
      this.notificationTopic = topic;
    }
    this.historyTable = new DeploymentHistory(this, 'History', { tableName: names.historyTable, removalPolicy });
    this.artifactBucket = new ArtifactBucket(this, 'Artifacts', {
      removalPolicy,
      serverAccessLogsBucket: props.accessLogsBucket,
      artifactExpiration: props.artifactExpiration,
    }).bucket;

    // ---- error-rate alarm and deployment group
    this.errorRateAlarm = new ErrorRateAlarm(this, 'ErrorRate', {
      alias: this.alias,
      thresholdPercent: props.errorRateThreshold,
      evaluationPeriods: props.evaluationPeriods,
      period: props.alarmPeriod,
      alarmName: names.errorRateAlarm,
    }).alarm;
    this.errorRateAlarm.addAlarmAction(new cloudwatchActions.SnsAction(this.notificationTopic));
    this.allowAlarmNotifications(this.errorRateAlarm);

    this.application = new codedeploy.LambdaApplication(this, 'Application', { applicationName: names.codeDeployApplication });
    const deploymentConfig = props.deploymentConfig ?? codedeploy.LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_10MINUTES;
    checkShiftFitsAction(deploymentConfig, 'deploymentConfig');
    this.deploymentGroup = new codedeploy.LambdaDeploymentGroup(this, 'DeploymentGroup', {
      application: this.application,
      deploymentGroupName: names.deploymentGroup,
      alias: this.alias,
      deploymentConfig,
      alarms: [this.errorRateAlarm, ...(props.extraAlarms ?? [])],
      autoRollback: { failedDeployment: true, deploymentInAlarm: true, stoppedDeployment: false },
    });
    // The group would make CloudFormation shift traffic whenever the template changes the alias;
    // here the pipeline owns every shift, so CloudFormation must not.
    (this.alias.node.defaultChild as lambda.CfnAlias).cfnOptions.updatePolicy = undefined;

    // CodePipeline and CodeDeploy invoke the handlers asynchronously: an invocation that dies
    // before reporting (timeout, crash) lands on the notification topic after Lambda's retries.
    const pipelineHandlerSettings = { ...handlerSettings, deadLetterTopic: this.notificationTopic };
    const preHook = this.bindHook(props.preTrafficHook, names, pipelineHandlerSettings);
    const postHook = this.bindHook(props.postTrafficHook, names, pipelineHandlerSettings);
    this.smokeTestFunction = this.smokeTestHandler;

    // ---- handlers of Deploy-Blue and Switch-Traffic
    const common = {
      SERVICE_NAME: names.serviceName,
      SERVICE_FUNCTION_NAME: this.serviceFunction.functionName,
      SERVICE_ALIAS_NAME: ALIAS_NAME,
      HISTORY_TABLE_NAME: this.historyTable.table.tableName,
      NOTIFICATION_TOPIC_ARN: this.notificationTopic.topicArn,
    };
    this.deployBlueFunction = new DeployBlueFunction(this, 'DeployBlue', pipelineHandlerOptions(this, 'DeployBlue', {
      ...pipelineHandlerSettings,
      functionName: names.handler('deploy-blue'),
      description: `Deploy-Blue of ${names.pipeline}: publishes the build as a new version of ${names.serviceFunction}`,
      timeout: Duration.minutes(10),
      environment: common,
    }));
    this.switchTrafficFunction = new SwitchTrafficFunction(this, 'SwitchTraffic', pipelineHandlerOptions(this, 'SwitchTraffic', {
      ...pipelineHandlerSettings,
      functionName: names.handler('switch-traffic'),
      description: `Switch-Traffic of ${names.pipeline}: shifts ${ALIAS_NAME} with CodeDeploy and follows the deployment`,
      timeout: Duration.minutes(2),
      environment: {
        ...common,
        CODEDEPLOY_APPLICATION_NAME: this.application.applicationName,
        CODEDEPLOY_DEPLOYMENT_GROUP_NAME: this.deploymentGroup.deploymentGroupName,
        CODEDEPLOY_DEPLOYMENT_CONFIG_NAME: deploymentConfig.deploymentConfigName,
        BEFORE_ALLOW_TRAFFIC_HOOK: preHook?.functionName ?? '',
        AFTER_ALLOW_TRAFFIC_HOOK: postHook?.functionName ?? '',
        // The construct's own placeholder serves nothing real: its first release goes live at once.
        // A user's function may already serve real traffic, so it always shifts gradually.
        ...(this.createdServiceFunction ? { BOOTSTRAP_VERSION: this.bootstrapVersion.version } : {}),
        KEEP_VERSIONS: String(props.keepVersions ?? DEFAULT_KEEP_VERSIONS),
      },
    }));
    this.grantHandlerPermissions(deploymentConfig);

    // ---- the pipeline
    const sourceOutput = this.sourceOutput = new codepipeline.Artifact('SourceOutput');
    const buildOutput = this.buildOutput = new codepipeline.Artifact('BuildOutput');
    this.connectionArn = props.source.connectionArn ?? new codeconnections.CfnConnection(this, 'GitHubConnection', {
      connectionName: names.connection,
      providerType: 'GitHub',
    }).attrConnectionArn;
    const branch = props.source.branch ?? 'main';
    // The Source action runs as this role, not as the pipeline role: the connection grant goes here.
    this.sourceActionRole = new iam.Role(this, 'SourceActionRole', {
      assumedBy: new iam.AccountRootPrincipal(),
      description: `Source action of ${names.pipeline}: reads ${props.source.owner}/${props.source.repo} through the connection`,
    });
    this.sourceActionRole.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: connectionActions(props.source.connectionArn),
      resources: [this.connectionArn],
    }));
    const sourceAction = new actions.CodeStarConnectionsSourceAction({
      actionName: 'GitHub',
      owner: props.source.owner,
      repo: props.source.repo,
      branch,
      connectionArn: this.connectionArn,
      output: sourceOutput,
      role: this.sourceActionRole,
    });

    const built = this.createBuildProject(names, props.buildStage ?? {}, handlerSettings, this.serviceFunction.runtime);
    this.buildProject = built.project;
    this.testReportGroup = built.reportGroup;

    const deployBlueAction = new actions.LambdaInvokeAction({
      actionName: 'PublishVersion',
      lambda: this.deployBlueFunction,
      inputs: [buildOutput],
      variablesNamespace: 'DeployBlue',
      userParameters: {
        deploymentId: codepipeline.GlobalVariables.executionId,
        commitId: sourceAction.variables.commitId,
        repository: `${props.source.owner}/${props.source.repo}`,
        branch,
      },
    });
    const switchTrafficAction = new actions.LambdaInvokeAction({
      actionName: 'ShiftTraffic',
      lambda: this.switchTrafficFunction,
      userParameters: {
        deploymentId: codepipeline.GlobalVariables.executionId,
        targetVersion: deployBlueAction.variable('targetVersion'),
      },
    });

    this.pipeline = new codepipeline.Pipeline(this, 'Pipeline', {
      pipelineName: names.pipeline,
      pipelineType: codepipeline.PipelineType.V2,
      artifactBucket: this.artifactBucket,
      restartExecutionOnUpdate: false,
      // One deployment at a time: two executions racing for one alias would fight.
      executionMode: codepipeline.ExecutionMode.QUEUED,
      triggers: [{
        providerType: codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
        gitConfiguration: { sourceAction, pushFilter: [{ branchesIncludes: [branch] }] },
      }],
      stages: [
        { stageName: STAGES.source, actions: [sourceAction] },
        {
          stageName: STAGES.build,
          actions: [new actions.CodeBuildAction({ actionName: 'CompileAndTest', project: this.buildProject, input: sourceOutput, outputs: [buildOutput] })],
        },
        { stageName: STAGES.deployBlue, actions: [deployBlueAction] },
        { stageName: STAGES.switchTraffic, actions: [switchTrafficAction] },
      ],
    });
    Object.values(STAGES).forEach((name) => this.stageNames.add(name));

    if (props.manualApproval) {
      this.addApproval(props.manualApproval, deployBlueAction);
    }
    for (const stage of props.extraStages ?? []) {
      const approves = stage.actions.some((a) => a instanceof actions.ManualApprovalAction);
      if (props.manualApproval && approves && stage.placement.afterStageName === STAGES.deployBlue) {
        throw new Error(`extraStages: stage "${stage.stageName}" adds a manual approval after Deploy-Blue, where manualApproval already puts one; configure the approval once (manualApproval, or your own stage without manualApproval)`);
      }
      this.addStage(stage);
    }

    this.acknowledgeInherentFindings();
    this.acknowledgeTemplateFindings(props);

    this.pipelineConsoleUrl = `https://${Aws.REGION}.console.aws.amazon.com/codesuite/codepipeline/pipelines/${this.pipeline.pipelineName}/view?region=${Aws.REGION}`;
    new CfnOutput(this, 'PipelineConsoleUrl', { value: this.pipelineConsoleUrl, description: 'The deployment pipeline in the AWS console' });
    new CfnOutput(this, 'HistoryTableName', { value: this.historyTable.table.tableName, description: 'DynamoDB table recording every deployment' });
    if (!props.source.connectionArn) {
      new CfnOutput(this, 'ConnectionArn', { value: this.connectionArn, description: 'GitHub connection: complete its handshake in the console before the first run' });
    }
  }

  /**
   * Inserts an extra stage right after one of the four fixed stages. Several stages at the same
   * placement keep the order they were added in.
   */
  public addStage(options: ExtraStageOptions): codepipeline.IStage {
    if (!STAGE_NAME_PATTERN.test(options.stageName)) {
      throw new Error(`extraStages: stageName must be 1-100 letters, digits, ".", "@", "-" or "_"; got "${options.stageName}"`);
    }
    if (this.stageNames.has(options.stageName)) {
      throw new Error(`extraStages: a stage named "${options.stageName}" already exists; the fixed stages ${Object.values(STAGES).join(', ')} cannot be replaced, and extra stage names must be unique`);
    }
    if (options.actions.length === 0) {
      throw new Error(`extraStages: stage "${options.stageName}" needs at least one action`);
    }
    const anchorName = options.placement.afterStageName;
    const anchor = this.lastStageAfter.get(anchorName) ?? this.pipeline.stage(anchorName);
    const stage = this.pipeline.addStage({ stageName: options.stageName, actions: options.actions, placement: { justAfter: anchor } });
    this.lastStageAfter.set(anchorName, stage);
    this.stageNames.add(options.stageName);
    return stage;
  }

  /**
   * CloudWatch publishes alarm notifications through the topic's resource policy, which a
   * TopicPolicy (here: the enforceSSL deny) replaces wholesale: allow this alarm explicitly.
   */
  private allowAlarmNotifications(alarm: cloudwatch.IAlarm) {
    const stack = Stack.of(this);
    const added = this.notificationTopic.addToResourcePolicy(new iam.PolicyStatement({
      // Unique per alarm: several pipelines may share one topic.
      sid: `AllowAlarmNotifications${alarm.node.addr}`,
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [this.notificationTopic.topicArn],
      conditions: {
        ArnLike: { 'aws:SourceArn': alarm.alarmArn },
        StringEquals: { 'aws:SourceAccount': stack.account },
      },
    }));
    if (!added.statementAdded) {
      Annotations.of(this).addWarningV2('blue-green-lambda-pipeline:notificationTopicPolicy',
        `notificationTopic is imported, so its resource policy cannot be changed here: add a statement allowing cloudwatch.amazonaws.com to sns:Publish to it (condition aws:SourceArn = the alarm ${alarm.node.path}), or CloudWatch cannot deliver alarm notifications`);
    }
  }

  /** Lets a principal read the deployment history. */
  public grantReadHistory(grantee: iam.IGrantable): iam.Grant {
    return this.historyTable.grantRead(grantee);
  }

  private createServiceFunction(names: ResourceNames, options: ServiceFunctionOptions, settings: RetentionSettings): lambda.Function {
    const logGroup = new logs.LogGroup(this, 'ServiceLogGroup', { retention: settings.logRetention, removalPolicy: settings.removalPolicy });
    const role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${names.serviceFunction}; grant it what the service needs`,
    });
    logGroup.grantWrite(role);
    return new lambda.Function(this, 'Service', {
      role,
      functionName: names.serviceFunction,
      description: `${names.serviceName} (${names.environmentSuffix}), deployed by ${names.pipeline}`,
      runtime: options.runtime ?? lambda.Runtime.NODEJS_24_X,
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
  }

  private bindHook(hook: TrafficHook | undefined, names: ResourceNames, settings: HandlerSettings): lambda.IFunction | undefined {
    if (!hook) return undefined;
    let fn: lambda.IFunction;
    if (hook.hookFunction) {
      fn = hook.hookFunction;
    } else {
      if (this.smokeTestHandler) {
        throw new Error('preTrafficHook and postTrafficHook cannot both be TrafficHook.smokeTest(); use it for one of them');
      }
      const smoke = new SmokeTestHookFunction(this, 'SmokeTest', pipelineHandlerOptions(this, 'SmokeTest', {
        ...settings,
        functionName: names.handler('smoke-test'),
        description: `Smoke test of ${names.serviceFunction}: invokes the new version before it receives traffic`,
        timeout: Duration.minutes(5),
        environment: { SMOKE_TEST_EVENT: hook.smokeTestEvent ?? '{}' },
      }));
      this.serviceFunction.grantInvoke(smoke);
      smoke.addToRolePolicy(new iam.PolicyStatement({ actions: ['codedeploy:GetDeployment'], resources: [this.deploymentGroup.deploymentGroupArn] }));
      // GetDeployment never returns the AppSpec text; the hook reads it from the application's revision.
      smoke.addToRolePolicy(new iam.PolicyStatement({ actions: ['codedeploy:GetApplicationRevision'], resources: [this.application.applicationArn] }));
      this.smokeTestHandler = smoke;
      fn = smoke;
    }
    // PutLifecycleEventHookExecutionStatus has no resource-level permissions (Service Authorization
    // Reference): aws-cdk-lib's grantPutLifecycleEventHookExecutionStatus scopes it to the deployment
    // group, which IAM never matches, so the hook's report would be denied.
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['codedeploy:PutLifecycleEventHookExecutionStatus'], resourceArns: ['*'] });
    if (fn.role) {
      acknowledgeFinding(fn.role, 'AwsSolutions-IAM5[Resource::*]',
        'codedeploy:PutLifecycleEventHookExecutionStatus supports no resource-level permissions (nor do the X-Ray writes of a traced hook); the hook reports on deployments it is handed.');
    }
    // CodeDeploy invokes hooks unqualified; no need for the version wildcard grantInvoke adds.
    this.deploymentGroup.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fn.functionArn] }));
    return fn;
  }

  private grantHandlerPermissions(deploymentConfig: codedeploy.ILambdaDeploymentConfig) {
    const fn = this.serviceFunction;
    const stack = Stack.of(this);
    this.deployBlueFunction.addToRolePolicy(new iam.PolicyStatement({
      actions: ['lambda:UpdateFunctionCode', 'lambda:PublishVersion', 'lambda:GetFunction', 'lambda:GetFunctionConfiguration'],
      resources: [fn.functionArn],
    }));
    // UpdateFunctionCode reads the S3 object with the caller's permissions.
    this.deployBlueFunction.addToRolePolicy(new iam.PolicyStatement({
      actions: ['s3:GetObject', 's3:GetObjectVersion'],
      resources: [this.artifactBucket.arnForObjects('*')],
    }));
    for (const handler of [this.deployBlueFunction, this.switchTrafficFunction]) {
      handler.addToRolePolicy(new iam.PolicyStatement({ actions: ['lambda:GetAlias'], resources: [fn.functionArn, this.alias.functionArn] }));
    }
    this.switchTrafficFunction.addToRolePolicy(new iam.PolicyStatement({
      actions: ['codedeploy:CreateDeployment', 'codedeploy:GetDeployment'],
      resources: [this.deploymentGroup.deploymentGroupArn],
    }));
    // The group's configuration, and all-at-once for the first release from the placeholder.
    const configs = [deploymentConfig.deploymentConfigName, ...(this.createdServiceFunction ? [FIRST_RELEASE_CONFIG] : [])];
    this.switchTrafficFunction.addToRolePolicy(new iam.PolicyStatement({
      actions: ['codedeploy:GetDeploymentConfig'],
      resources: [...new Set(configs)].map((name) => stack.formatArn({ service: 'codedeploy', resource: 'deploymentconfig', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME })),
    }));
    // Version retention: list versions and aliases, delete old versions. Only qualified ARNs may be
    // deleted, so the function itself can never be.
    this.switchTrafficFunction.addToRolePolicy(new iam.PolicyStatement({
      actions: ['lambda:ListVersionsByFunction', 'lambda:ListAliases'],
      resources: [fn.functionArn],
    }));
    this.switchTrafficFunction.addToRolePolicy(new iam.PolicyStatement({
      actions: ['lambda:DeleteFunction'],
      resources: [`${fn.functionArn}:*`],
    }));
    this.switchTrafficFunction.addToRolePolicy(new iam.PolicyStatement({
      actions: ['codedeploy:GetApplicationRevision', 'codedeploy:RegisterApplicationRevision'],
      resources: [this.application.applicationArn],
    }));
    for (const handler of [this.deployBlueFunction, this.switchTrafficFunction]) {
      this.historyTable.grantRecord(handler);
      this.notificationTopic.grantPublish(handler);
    }
  }

  private createBuildProject(names: ResourceNames, build: BuildOptions, settings: RetentionSettings, serviceRuntime: lambda.Runtime) {
    const commands = {
      installCommands: build.installCommands ?? ['npm ci'],
      buildCommands: build.buildCommands ?? ['npm run build'],
      testCommands: build.testCommands ?? ['npm test'],
    };
    for (const [prop, list] of Object.entries(commands)) {
      for (const command of list) {
        if (HIDDEN_FAILURE_PATTERN.test(command)) {
          throw new Error(`buildStage.${prop}: "${command}" hides a failing command (|| true, || echo, || :); a failing compile or test must fail the Build stage`);
        }
      }
    }
    if (commands.testCommands.length === 0) {
      throw new Error('buildStage.testCommands must not be empty: the Build stage must run the service tests');
    }
    const reportGroup = new codebuild.ReportGroup(this, 'TestReports', {
      reportGroupName: names.testReportGroup,
      removalPolicy: settings.removalPolicy,
      deleteReports: settings.removalPolicy === RemovalPolicy.DESTROY,
    });
    const logGroup = new logs.LogGroup(this, 'BuildLogGroup', { retention: settings.logRetention, removalPolicy: settings.removalPolicy });
    const project = new codebuild.PipelineProject(this, 'BuildProject', {
      projectName: names.buildProject,
      description: `Compiles and tests ${names.serviceName}; a failing test fails the build`,
      environment: {
        buildImage: build.buildImage ?? codebuild.LinuxBuildImage.STANDARD_7_0,
        computeType: codebuild.ComputeType.SMALL,
        environmentVariables: build.environmentVariables,
      },
      timeout: Duration.minutes(30),
      logging: { cloudWatch: { logGroup } },
      buildSpec: codebuild.BuildSpec.fromObject({
        version: '0.2',
        env: { shell: 'bash' },
        phases: {
          install: { 'runtime-versions': { nodejs: build.nodeVersion ?? nodeMajorOf(serviceRuntime) }, 'commands': commands.installCommands, 'on-failure': 'ABORT' },
          build: { 'commands': [...commands.buildCommands, ...commands.testCommands], 'on-failure': 'ABORT' },
        },
        reports: {
          [reportGroup.reportGroupArn]: {
            'files': build.testReportFiles ?? ['*.xml'],
            'base-directory': build.testReportDirectory ?? 'test-reports',
            'file-format': 'JUNITXML',
          },
        },
        artifacts: { 'base-directory': build.artifactDirectory ?? 'dist', 'files': ['**/*'] },
      }),
    });
    reportGroup.grantWrite(project);
    acknowledgeFinding(project, 'AwsSolutions-CB4',
      'CodeBuild encrypts the build output with the AWS managed key aws/s3 (SSE-KMS), as CodePipeline does every artifact; a customer managed key would cost every user a KMS key and its grants for no added control.');
    return { project, reportGroup };
  }

  private addApproval(options: ManualApprovalOptions, deployBlueAction: actions.LambdaInvokeAction) {
    const topic = this.notificationTopic;
    for (const email of options.notifyEmails ?? []) {
      if (!Token.isUnresolved(email) && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
        throw new Error(`manualApproval.notifyEmails: "${email}" is not an email address`);
      }
      if (topic instanceof sns.Topic) {
        const subscription = topic.addSubscription(new subscriptions.EmailSubscription(email));
        acknowledgeFinding(subscription, 'Serverless-SNSRedrivePolicy',
          'An approval email that cannot be delivered needs no replay: the approval waits in CodePipeline (up to 7 days) and can be given in the console.');
      }
    }
    const stage = this.pipeline.addStage({
      stageName: APPROVAL_STAGE,
      placement: { rightBefore: this.pipeline.stage(STAGES.switchTraffic) },
      actions: [new actions.ManualApprovalAction({
        actionName: 'ApproveTrafficShift',
        notificationTopic: topic,
        additionalInformation: options.additionalInformation
          ?? `Version ${deployBlueAction.variable('targetVersion')} of ${this.serviceFunction.functionName} is published and takes no traffic yet. Approve to shift ${ALIAS_NAME} onto it.`,
      })],
    });
    this.stageNames.add(APPROVAL_STAGE);
    return stage;
  }

  /**
   * Findings that follow from what AWS and aws-cdk-lib allow, acknowledged on the construct that
   * causes them, each by its exact finding id (cdk-nag 3 matches `Rule[finding]`, not the bare rule).
   */
  private acknowledgeInherentFindings() {
    const ack = (scope: IConstruct, finding: string, reason: string) => acknowledgeFinding(scope, `AwsSolutions-${finding}`, reason);
    const ref = (construct: IConstruct) => `<${Stack.of(this).resolve((construct.node.defaultChild as CfnResource).logicalId)}.Arn>`;

    ack(this.deploymentGroup, 'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]',
      'The AWS-maintained service-role policy for CodeDeploy Lambda deployments; it lets CodeDeploy update aliases and invoke only CodeDeployHook_* functions (our hooks get their own scoped grant).');
    for (const handler of [this.deployBlueFunction, this.switchTrafficFunction]) {
      ack(handler.role!, 'IAM5[Resource::*]', 'codepipeline:PutJobSuccessResult/PutJobFailureResult and xray:PutTraceSegments/PutTelemetryRecords support no resource-level permissions.');
    }
    const service = this.createdServiceFunction;
    if (service?.role && (service.node.defaultChild as lambda.CfnFunction).tracingConfig) {
      ack(service.role, 'IAM5[Resource::*]', 'X-Ray tracing: xray:PutTraceSegments and PutTelemetryRecords support no resource-level permissions.');
    }
    ack(this.pipeline, 'IAM5[Resource::*]', 'Added by aws-cdk-lib LambdaInvokeAction: lambda:ListFunctions supports no resource-level permissions.');
    if (this.smokeTestFunction) {
      ack(this.smokeTestFunction.role!, `IAM5[Resource::${ref(this.serviceFunction)}:*]`,
        'The smoke test invokes the version being deployed, whose number is only known at run time.');
    }
    ack(this.switchTrafficFunction.role!, `IAM5[Resource::${ref(this.serviceFunction)}:*]`,
      'Version retention deletes old published versions of the service, whose numbers are only known at run time; the qualified-ARN pattern cannot match the function itself.');
    ack(this.pipeline, `IAM5[Resource::${ref(this.deployBlueFunction)}:*]`, 'Added by aws-cdk-lib LambdaInvokeAction (invoke on the function and its versions); the function itself is fixed.');
    ack(this.pipeline, `IAM5[Resource::${ref(this.switchTrafficFunction)}:*]`, 'Added by aws-cdk-lib LambdaInvokeAction (invoke on the function and its versions); the function itself is fixed.');
    const buildProject = Stack.of(this).resolve((this.buildProject.node.defaultChild as CfnResource).logicalId);
    // cdk-nag renders the stack's region and account literally when known, as pseudo parameters when not.
    const regionPart = Token.isUnresolved(Stack.of(this).region) ? '<AWS::Region>' : Stack.of(this).region;
    const accountPart = Token.isUnresolved(Stack.of(this).account) ? '<AWS::AccountId>' : Stack.of(this).account;
    ack(this.buildProject, `IAM5[Resource::arn:<AWS::Partition>:logs:${regionPart}:${accountPart}:log-group:/aws/codebuild/<${buildProject}>:*]`,
      'Default CodeBuild log-group grant added by aws-cdk-lib; the project logs to its own log group.');
    ack(this.buildProject, `IAM5[Resource::arn:<AWS::Partition>:codebuild:${regionPart}:${accountPart}:report-group/<${buildProject}>-*]`,
      'Default report-group grant added by aws-cdk-lib for the project\'s own report groups.');
    // Bucket grants from aws-cdk-lib (pipeline, CodeBuild, action roles, Deploy-Blue): artifact keys are generated per execution.
    for (const finding of ['Action::s3:GetObject*', 'Action::s3:GetBucket*', 'Action::s3:List*', 'Action::s3:DeleteObject*', 'Action::s3:Abort*', `Resource::${ref(this.artifactBucket)}/*`]) {
      ack(this, `IAM5[${finding}]`, 'aws-cdk-lib bucket grants limited to the pipeline\'s own artifact bucket, whose object keys CodePipeline generates per execution.');
    }
  }

  /**
   * Findings of the template validators (checkov, cfn-guard with the Control Tower rules), and the
   * cdk-nag findings that share their cause, acknowledged on the resource with the reason. Findings
   * caused by a user's choice (a short logRetention, their own function) are left for them to see.
   */
  private acknowledgeTemplateFindings(props: BlueGreenLambdaPipelineProps) {
    const handlers = [this.deployBlueFunction, this.switchTrafficFunction, ...(this.smokeTestFunction ? [this.smokeTestFunction] : [])];
    const noVpc = 'Calls only public AWS API endpoints; a VPC would need a NAT gateway or interface endpoints and protects nothing here.';
    for (const handler of handlers) {
      acknowledgeTemplateFindings(handler, { checkov: ['CKV_AWS_117'], guard: ['lambda_inside_vpc_check'] }, noVpc);
      acknowledgeTemplateFindings(handler, { checkov: ['CKV_AWS_115'] },
        'Reserved concurrency comes out of the account\'s unreserved pool (accounts at the default limit cannot reserve any); the pipeline runs one execution at a time.');
      acknowledgeTemplateFindings(handler, { checkov: ['CKV_AWS_173'] },
        'The variables hold resource names and ARNs, no secrets; Lambda encrypts them at rest with an AWS managed key.');
    }
    const service = this.createdServiceFunction;
    if (service) {
      acknowledgeTemplateFindings(service, { checkov: ['CKV_AWS_117'], guard: ['lambda_inside_vpc_check'] },
        'The construct-created service function has no VPC; to run the service in one, pass your own serviceFunction.');
      const synchronous = 'Callers invoke the service synchronously through the live alias and see its errors; a dead-letter queue applies only to asynchronous invocations.';
      acknowledgeTemplateFindings(service, { checkov: ['CKV_AWS_116'] }, synchronous);
      acknowledgeFinding(service, 'Serverless-LambdaDLQ', synchronous);
      if (props.service?.reservedConcurrentExecutions === undefined) {
        acknowledgeTemplateFindings(service, { checkov: ['CKV_AWS_115'] },
          'Unreserved by default: reserved concurrency comes out of the account\'s pool; set service.reservedConcurrentExecutions to cap the service.');
      }
    }
    for (const logGroup of this.node.findAll().filter((c): c is logs.LogGroup => c instanceof logs.LogGroup)) {
      acknowledgeTemplateFindings(logGroup, { checkov: ['CKV_AWS_158'], guard: ['cloudwatch_log_group_encrypted_check'] },
        'CloudWatch Logs encrypts every log group at rest; these logs carry no secrets, and a customer managed key would add a key policy and a monthly cost.');
    }
    acknowledgeTemplateFindings(this.artifactBucket, { guard: ['s3_bucket_default_encryption_kms_check'] },
      'CodePipeline and CodeBuild write every artifact with SSE-KMS under the AWS managed key aws/s3 (the bucket default, SSE-S3, covers anything else); a customer managed key would need key grants for every action role and a monthly cost without adding control here.');
    acknowledgeTemplateFindings(this.artifactBucket, { guard: ['s3_bucket_object_lock_enabled_check'] },
      'Artifacts are transient: Object Lock would defeat the 30-day noncurrent-version expiry and removalPolicy DESTROY.');
    acknowledgeTemplateFindings(this.artifactBucket, { guard: ['s3_event_notifications_enabled_check'] },
      'Nothing consumes artifact events; CodePipeline tracks its own artifacts.');
    if (!props.accessLogsBucket) {
      const noAccessLogs = 'Access logging needs a second bucket the user owns; pass accessLogsBucket to enable it. CloudTrail records pipeline access to artifacts.';
      acknowledgeTemplateFindings(this.artifactBucket, { checkov: ['CKV_AWS_18'], guard: ['s3_bucket_logging_enabled_check'] }, noAccessLogs);
      acknowledgeFinding(this.artifactBucket, 'AwsSolutions-S1', noAccessLogs);
    }
    if (!props.notificationTopic) {
      const unencryptedTopic = 'CloudWatch alarms cannot publish to a topic encrypted with the AWS managed key; pass notificationTopic with a customer managed key to encrypt.';
      acknowledgeTemplateFindings(this.notificationTopic, { checkov: ['CKV_AWS_26'] }, unencryptedTopic);
      acknowledgeFinding(this.notificationTopic, 'AwsSolutions-SNS2', unencryptedTopic);
    }
    acknowledgeTemplateFindings(this.historyTable.table, { checkov: ['CKV_AWS_119'] },
      'Encrypted at rest with the AWS managed key (aws/dynamodb); the history holds deployment metadata, no secrets.');

    // aws-cdk-lib's singleton provider that empties the versioned artifact bucket on DESTROY.
    const autoDelete = Stack.of(this).node.tryFindChild('Custom::S3AutoDeleteObjectsCustomResourceProvider')?.node.tryFindChild('Handler');
    if (autoDelete) {
      const reason = 'aws-cdk-lib\'s auto-delete-objects provider, run only by CloudFormation on stack deletion; it calls only the S3 API and CloudFormation fails the operation if it errors.';
      acknowledgeTemplateFindings(autoDelete, { checkov: ['CKV_AWS_115', 'CKV_AWS_116', 'CKV_AWS_117'], guard: ['lambda_inside_vpc_check'] }, reason);
    }
  }
}

function validateProps(props: BlueGreenLambdaPipelineProps) {
  const { owner, repo } = props.source ?? ({} as GitHubSourceProps);
  for (const [field, value] of [['source.owner', owner], ['source.repo', repo]] as const) {
    if (typeof value !== 'string' || value.trim() === '' || (!Token.isUnresolved(value) && !GITHUB_NAME_PATTERN.test(value))) {
      throw new Error(`${field} must be a GitHub ${field === 'source.owner' ? 'user or organization' : 'repository'} name (letters, digits, "-", "_", "."); got "${value ?? ''}"`);
    }
  }
  const branch = props.source.branch;
  if (branch !== undefined && (branch.trim() === '' || /\s|\.\.|^\/|\/$/.test(branch))) {
    throw new Error(`source.branch must be a Git branch name such as "main"; got "${branch}"`);
  }
  const arn = props.source.connectionArn;
  if (arn !== undefined && !Token.isUnresolved(arn) && !CONNECTION_ARN_PATTERN.test(arn)) {
    throw new Error(`source.connectionArn must be a CodeConnections connection ARN (arn:aws:codeconnections:<region>:<account>:connection/<id> or arn:aws:codestar-connections:...); got "${arn}"`);
  }
  if (props.service && props.serviceFunction) {
    throw new Error('service and serviceFunction are mutually exclusive: pass settings for a new function, or an existing function, not both');
  }
  if (props.serviceFunction && !(props.serviceFunction instanceof lambda.Function)) {
    throw new Error('serviceFunction must be a lambda.Function defined in this app; an imported function (fromFunctionArn/fromFunctionName) cannot get the versions and the alias the pipeline manages');
  }
  const memory = props.service?.memorySize;
  if (memory !== undefined && !(Number.isInteger(memory) && memory >= 128 && memory <= 10240)) {
    throw new Error(`service.memorySize must be a whole number of MB in [128, 10240]; got ${memory}`);
  }
  const reserved = props.service?.reservedConcurrentExecutions;
  if (reserved !== undefined && !(Number.isInteger(reserved) && reserved >= 1)) {
    throw new Error(`service.reservedConcurrentExecutions must be a whole number of at least 1; got ${reserved}`);
  }
  if (props.serviceFunction instanceof lambda.Function) {
    // An unnamed function's name is a lazy token that resolves to nothing (CloudFormation names it).
    const name = Stack.of(props.serviceFunction).resolve((props.serviceFunction.node.defaultChild as lambda.CfnFunction).functionName);
    if (name === undefined) {
      throw new Error('serviceFunction must have an explicit functionName: CloudFormation refuses to replace a function with a fixed name, so no stack update can replace it (and move the live alias back to a bootstrap version outside CodeDeploy)');
    }
  }
  const keep = props.keepVersions;
  if (keep !== undefined && !(Number.isInteger(keep) && keep >= 1 && keep <= 1000)) {
    throw new Error(`keepVersions must be a whole number in [1, 1000] (published versions kept after each successful shift); got ${keep}`);
  }
  const alarms = 1 + (props.extraAlarms?.length ?? 0);
  if (alarms > MAX_DEPLOYMENT_GROUP_ALARMS) {
    throw new Error(`extraAlarms: CodeDeploy allows ${MAX_DEPLOYMENT_GROUP_ALARMS} alarms per deployment group, one of which is the error-rate alarm; got ${props.extraAlarms?.length} extra alarms (at most ${MAX_DEPLOYMENT_GROUP_ALARMS - 1})`);
  }
  for (const [prop, hook] of [['preTrafficHook', props.preTrafficHook], ['postTrafficHook', props.postTrafficHook]] as const) {
    if (hook?.hookFunction && props.serviceFunction && hook.hookFunction === props.serviceFunction) {
      throw new Error(`${prop} must not be the service function itself: a hook reports on the deployment, it is not the thing deployed`);
    }
  }
}

/**
 * The UseConnection action whose service prefix matches the connection ARN's: IAM matches
 * `codeconnections:` only to `arn:aws:codeconnections:` and `codestar-connections:` only to the old
 * prefix. The construct's own connection (AWS::CodeConnections::Connection) has the new one; an
 * ARN known only at deploy time may have either.
 */
function connectionActions(userArn: string | undefined): string[] {
  if (userArn === undefined) return ['codeconnections:UseConnection'];
  if (Token.isUnresolved(userArn)) return ['codeconnections:UseConnection', 'codestar-connections:UseConnection'];
  return [`${userArn.split(':')[2]}:UseConnection`];
}

/** The Node.js major version of a Lambda runtime (`nodejs24.x` → `24`), for CodeBuild's runtime-versions. */
function nodeMajorOf(runtime: lambda.Runtime): string {
  return /^nodejs(\d+)\.x$/.exec(runtime.name)?.[1] ?? FALLBACK_BUILD_NODE_VERSION;
}
