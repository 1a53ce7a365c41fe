import { Aws, CfnOutput, Duration, RemovalPolicy, Stack, Tags, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codeconnections from 'aws-cdk-lib/aws-codeconnections';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as notifications from 'aws-cdk-lib/aws-codestarnotifications';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ArtifactBucket } from './artifact-bucket';
import { BuildOptions } from './build-options';
import { BuildStage } from './build-stage';
import { DeploymentDashboard } from './deployment-dashboard';
import { DeploymentHistory } from './deployment-history';
import { ExtraStageOptions, ManualApprovalOptions } from './extra-stages';
import { GitHubSourceProps } from './github-source';
import { acknowledgeFinding, acknowledgeTemplateFindings } from './private/acknowledge-finding';
import { PipelineEventAlerts } from './private/pipeline-notification-rule';
import { ResourceNames } from './private/resource-names';
import { claimPhysicalNames } from './private/unique-physical-names';
import { ALIAS_NAME, physicalName, ServiceDeployment } from './service-deployment';
import { IServiceDeployment, ServiceDeploymentOptions, ServiceFunctionOptions } from './service-deployment-options';
import { StageHandlers } from './stage-handlers';
import { TrafficHook } from './traffic-hook';

/** Properties of {@link BlueGreenLambdaPipeline}. */
export interface BlueGreenLambdaPipelineProps {
  /**
   * Name of the service: lowercase letters, digits and hyphens. Prefixes every physical name.
   * With `services`, it names the pipeline and what its services share (handlers, table, topic,
   * CodeDeploy application), and each service is named by its own `serviceName`.
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
   * The services one pipeline deploys from one repository (a monorepo): one Source and one Build
   * serve all of them; Deploy-Blue publishes every service in parallel, each from its own
   * `bundleDirectory` of the build output; Switch-Traffic shifts them in ascending `wave`s. Each
   * service gets its own function, `live` alias, error-rate alarm and deployment group, with the
   * pipeline's `deploymentConfig`, `errorRateThreshold`, `evaluationPeriods`, `alarmPeriod` and
   * `keepVersions` as defaults. Without it, the pipeline deploys one service named `serviceName`
   * (the single-service props below); with it, those single-service props must not be set.
   * @default - one service, named `serviceName`, whose bundle is the whole build output
   */
  readonly services?: ServiceDeploymentOptions[];

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
  readonly serviceFunction?: lambda.Function;

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
   * A CloudWatch dashboard of the pipeline's deployments: per service, traffic by executed version
   * of the `live` alias during a shift, the error rate against the rollback threshold with the
   * alarm's state, duration p99 by version, deployments by outcome and lead time. Off by default:
   * dashboards beyond the free ones cost money.
   * @default false
   */
  readonly dashboard?: boolean;

  /**
   * Send pipeline events to the notification topic through a CodeStar notification rule: an
   * execution failed (a build or test included) and a manual approval is needed. The alarm,
   * lifecycle and pipeline messages then all arrive in one place.
   * @default true
   */
  readonly notifyPipelineEvents?: boolean;

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

/** The fixed stage names; users and dashboards key on them. */
const STAGES = { source: 'Source', build: 'Build', deployBlue: 'Deploy-Blue', switchTraffic: 'Switch-Traffic' };
const APPROVAL_STAGE = 'Approve';
const STAGE_NAME_PATTERN = /^[A-Za-z0-9.@_-]{1,100}$/;
const CONNECTION_ARN_PATTERN = /^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection\/[A-Za-z0-9-]+$/;
const GITHUB_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,100}$/;
const BUNDLE_DIRECTORY_PATTERN = /^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._@+\/-]+$/;
const DEFAULT_KEEP_VERSIONS = 10;
/** CodePipeline allows 50 actions per stage: Deploy-Blue and Switch-Traffic hold one per service. */
const MAX_SERVICES = 50;
/** CodePipeline allows 1000 characters per action configuration value, UserParameters included. */
const MAX_USER_PARAMETERS = 1000;
/** The single-service props that `services` replaces. */
const SINGLE_SERVICE_PROPS = ['service', 'serviceFunction', 'extraAlarms', 'preTrafficHook', 'postTrafficHook'] as const;

/**
 * A CodePipeline that deploys Lambda services blue/green: `Source` (GitHub) → `Build` (CodeBuild:
 * compile, test) → `Deploy-Blue` (publish each service's new immutable version, which takes no
 * traffic) → `Switch-Traffic` (CodeDeploy shifts each service's `live` alias, in waves, rolling
 * back when its error-rate alarm fires). Every deployment is recorded in a DynamoDB table and
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
  /** Every service the pipeline deploys, in the order given. */
  public readonly services: IServiceDeployment[];
  /** The (first) service's function. */
  public readonly serviceFunction: lambda.Function;
  /** The (first) service's bootstrap version, before any pipeline deployment. */
  public readonly bootstrapVersion: lambda.Version;
  /** The (first) service's `live` alias. */
  public readonly alias: lambda.Alias;
  /** The CodeDeploy application of all the pipeline's services. */
  public readonly application: codedeploy.LambdaApplication;
  /** The (first) service's deployment group. */
  public readonly deploymentGroup: codedeploy.LambdaDeploymentGroup;
  /** The (first) service's error-rate alarm. */
  public readonly errorRateAlarm: cloudwatch.Alarm;
  /** The service role CodeDeploy uses for every deployment group of the pipeline. */
  public readonly codeDeployRole: iam.Role;
  /** The deployment history table. */
  public readonly historyTable: DeploymentHistory;
  /** The artifact bucket. */
  public readonly artifactBucket: s3.Bucket;
  /** The lifecycle notification topic. */
  public readonly notificationTopic: sns.ITopic;
  /** The handler of the `Deploy-Blue` stage (one for all services). */
  public readonly deployBlueFunction: lambda.Function;
  /** The handler of the `Switch-Traffic` stage (one for all services). */
  public readonly switchTrafficFunction: lambda.Function;
  /** The built-in smoke-test hook (one for all services), if a service uses it. */
  public readonly smokeTestFunction?: lambda.Function;
  /**
   * The stage handlers' dead-letter queue: invocations that failed all of Lambda's retries. A
   * message is the event as the handler received it, temporary credentials included; nothing
   * may read it until you grant it (`grantConsumeMessages`), and an alarm on its depth notifies
   * the topic.
   */
  public readonly deadLetterQueue: sqs.IQueue;
  /**
   * The `Source` stage's output: the repository at the pushed commit. Use it as the input of
   * actions you add with `addStage()`.
   */
  public readonly sourceOutput: codepipeline.Artifact;
  /**
   * The `Build` stage's output: the deployable bundle(s). Use it as the input of actions you add
   * with `addStage()`.
   */
  public readonly buildOutput: codepipeline.Artifact;
  /** The role the `Source` action runs with; it may use the connection. */
  public readonly sourceActionRole: iam.Role;
  /** ARN of the CodeConnections connection the source uses. */
  public readonly connectionArn: string;
  /** The pipeline's console URL. */
  public readonly pipelineConsoleUrl: string;
  /** The deployment dashboard, when `dashboard` is set. */
  public readonly dashboard?: cloudwatch.Dashboard;
  /** The notification rule that sends pipeline events to the topic, unless `notifyPipelineEvents` is false. */
  public readonly pipelineNotificationRule?: notifications.NotificationRule;

  private readonly lastStageAfter = new Map<string, codepipeline.IStage>();
  private readonly stageNames = new Set<string>();

  constructor(scope: Construct, id: string, props: BlueGreenLambdaPipelineProps) {
    super(scope, id);
    const names = ResourceNames.of(props.serviceName, props.environmentSuffix ?? 'dev');
    this.environmentSuffix = names.environmentSuffix;
    validateProps(props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const retention = { logRetention, removalPolicy };

    for (const [key, value] of Object.entries(props.tags ?? {})) Tags.of(this).add(key, value);

    // ---- what every service shares: notifications, history, artifacts, CodeDeploy, handlers
    if (props.notificationTopic) {
      this.notificationTopic = props.notificationTopic;
    } else {
      const topic = new sns.Topic(this, 'NotificationTopic', {
        topicName: names.notificationTopic,
        displayName: `${names.serviceName} deployments (${names.environmentSuffix})`,
        enforceSSL: true,
      });
      topic.applyRemovalPolicy(removalPolicy);
      const unencryptedTopic = 'CloudWatch alarms cannot publish to a topic encrypted with the AWS managed key; pass notificationTopic with a customer managed key to encrypt.';
      acknowledgeTemplateFindings(topic, { checkov: ['CKV_AWS_26'] }, unencryptedTopic);
      acknowledgeFinding(topic, 'AwsSolutions-SNS2', unencryptedTopic);
      this.notificationTopic = topic;
    }
    this.historyTable = new DeploymentHistory(this, 'History', { tableName: names.historyTable, removalPolicy });
    this.artifactBucket = new ArtifactBucket(this, 'Artifacts', {
      removalPolicy,
      serverAccessLogsBucket: props.accessLogsBucket,
      artifactExpiration: props.artifactExpiration,
    }).bucket;
    this.application = new codedeploy.LambdaApplication(this, 'Application', { applicationName: names.codeDeployApplication });
    this.codeDeployRole = new iam.Role(this, 'CodeDeployRole', {
      assumedBy: new iam.ServicePrincipal('codedeploy.amazonaws.com'),
      description: `CodeDeploy service role of ${names.pipeline}: shifts the live aliases of its services`,
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSCodeDeployRoleForLambdaLimited')],
    });
    acknowledgeFinding(this.codeDeployRole, 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]',
      'The AWS-maintained service-role policy for CodeDeploy Lambda deployments; it lets CodeDeploy update aliases and invoke only CodeDeployHook_* functions (our hooks get their own scoped grant).');
    const handlers = new StageHandlers(this, 'Handlers', {
      ...retention,
      names,
      history: this.historyTable,
      notificationTopic: this.notificationTopic,
      artifactBucket: this.artifactBucket,
      application: this.application,
    });
    this.deployBlueFunction = handlers.deployBlue;
    this.switchTrafficFunction = handlers.switchTraffic;
    this.deadLetterQueue = handlers.deadLetterQueue;

    // ---- the services
    const single = props.services === undefined;
    const serviceOptions: ServiceDeploymentOptions[] = props.services ?? [{
      serviceName: props.serviceName,
      bundleDirectory: '',
      service: props.service,
      serviceFunction: props.serviceFunction,
      extraAlarms: props.extraAlarms,
      preTrafficHook: props.preTrafficHook,
      postTrafficHook: props.postTrafficHook,
    }];
    const deployments = serviceOptions.map((options, i) => new ServiceDeployment(
      // One service keeps the construct ids (and so the logical ids) it has always had.
      this, single ? 'Default' : `Service-${options.serviceName}`, {
        ...retention,
        options,
        // One service keeps the names it has always had; a monorepo's carry the pipeline's name.
        names: single ? names : names.service(options.serviceName, `services[${i}].serviceName`),
        application: this.application,
        codeDeployRole: this.codeDeployRole,
        handlers,
        notificationTopic: this.notificationTopic,
        deploymentConfig: props.deploymentConfig ?? codedeploy.LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_10MINUTES,
        errorRateThreshold: props.errorRateThreshold,
        evaluationPeriods: props.evaluationPeriods,
        alarmPeriod: props.alarmPeriod,
        keepVersions: props.keepVersions ?? DEFAULT_KEEP_VERSIONS,
        propPrefix: single ? '' : `services[${i}].`,
      }));
    this.services = deployments;
    const [first] = deployments;
    this.serviceFunction = first.serviceFunction;
    this.bootstrapVersion = first.bootstrapVersion;
    this.alias = first.alias;
    this.deploymentGroup = first.deploymentGroup;
    this.errorRateAlarm = first.errorRateAlarm;
    this.smokeTestFunction = handlers.smokeTestFunction;

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

    const build = new BuildStage(this, 'Build', {
      ...retention,
      names,
      options: props.buildStage ?? {},
      serviceRuntime: newestRuntime(deployments.map((d) => d.serviceFunction.runtime)),
      bundleDirectories: single ? [] : deployments.map((d) => d.bundleDirectory),
    });
    this.buildProject = build.project;
    this.testReportGroup = build.reportGroup;

    // One role per stage serves every service's invoke action.
    const invokeRole = (purpose: string) => new iam.Role(this, `${purpose}ActionRole`, {
      assumedBy: new iam.AccountRootPrincipal(),
      description: `${purpose} actions of ${names.pipeline}: invoke the stage handler`,
    });
    const deployBlueRole = invokeRole('DeployBlue');
    const switchTrafficRole = invokeRole('SwitchTraffic');
    const repository = `${props.source.owner}/${props.source.repo}`;
    const deployBlueActions = new Map<ServiceDeployment, actions.LambdaInvokeAction>();
    for (const d of deployments) {
      deployBlueActions.set(d, new actions.LambdaInvokeAction({
        actionName: single ? 'PublishVersion' : `Publish-${d.serviceName}`,
        lambda: this.deployBlueFunction,
        role: deployBlueRole,
        inputs: [buildOutput],
        variablesNamespace: single ? 'DeployBlue' : `DeployBlue-${d.serviceName}`,
        userParameters: checkedUserParameters(d, {
          deploymentId: codepipeline.GlobalVariables.executionId,
          service: d.serviceName,
          functionName: d.functionName,
          aliasName: ALIAS_NAME,
          bundleDirectory: d.bundleDirectory,
          wave: String(d.wave),
          commitId: sourceAction.variables.commitId,
          // The commit's author date (ISO 8601): lead time runs from it to live.
          commitTime: sourceAction.variables.authorDate,
          repository,
          branch,
        }),
      }));
    }
    const switchTrafficActions = deployments.map((d) => new actions.LambdaInvokeAction({
      actionName: single ? 'ShiftTraffic' : `Shift-${d.serviceName}`,
      lambda: this.switchTrafficFunction,
      role: switchTrafficRole,
      // Waves: CodePipeline starts a higher runOrder only when every action of the lower ones succeeded.
      runOrder: d.wave,
      userParameters: checkedUserParameters(d, {
        deploymentId: codepipeline.GlobalVariables.executionId,
        service: d.serviceName,
        targetVersion: deployBlueActions.get(d)!.variable('targetVersion'),
        functionName: d.functionName,
        aliasName: ALIAS_NAME,
        deploymentGroupName: d.deploymentGroupName,
        deploymentConfigName: d.deploymentConfig.deploymentConfigName,
        beforeAllowTrafficHook: d.preTrafficHook ? physicalName(d.preTrafficHook) : '',
        afterAllowTrafficHook: d.postTrafficHook ? physicalName(d.postTrafficHook) : '',
        // The construct's own placeholder serves nothing real: its first release goes live at once.
        // A user's function may already serve real traffic, so it always shifts gradually.
        bootstrapVersion: d.createdFunction ? d.bootstrapVersion.version : '',
        // The version the stack's AWS::Lambda::Version (and so the alias' template) names, for every
        // function, the user's included: version retention must never delete it.
        stackVersion: d.bootstrapVersion.version,
        keepVersions: String(d.keepVersions),
        wave: String(d.wave),
      }),
    }));

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
        { stageName: STAGES.deployBlue, actions: [...deployBlueActions.values()] },
        { stageName: STAGES.switchTraffic, actions: switchTrafficActions },
      ],
    });
    Object.values(STAGES).forEach((name) => this.stageNames.add(name));

    if (props.manualApproval) {
      this.addApproval(props.manualApproval, single ? deployBlueActions.get(first) : undefined);
    }
    for (const stage of props.extraStages ?? []) {
      const approves = stage.actions.some((a) => a instanceof actions.ManualApprovalAction);
      if (props.manualApproval && approves && stage.placement.afterStageName === STAGES.deployBlue) {
        throw new Error(`extraStages: stage "${stage.stageName}" adds a manual approval after Deploy-Blue, where manualApproval already puts one; configure the approval once (manualApproval, or your own stage without manualApproval)`);
      }
      this.addStage(stage);
    }
    this.acknowledgePipelineFindings([deployBlueRole, switchTrafficRole]);
    if (props.notifyPipelineEvents ?? true) {
      this.pipelineNotificationRule = new PipelineEventAlerts(this, 'PipelineEvents', {
        pipeline: this.pipeline,
        topic: this.notificationTopic,
        ruleName: names.notificationRule,
      }).rule;
    }
    if (props.dashboard) {
      this.dashboard = new DeploymentDashboard(this, 'Dashboard', {
        dashboardName: names.dashboard,
        pipelineName: names.pipeline,
        services: deployments,
      }).dashboard;
    }

    this.pipelineConsoleUrl = `https://${Aws.REGION}.console.aws.amazon.com/codesuite/codepipeline/pipelines/${this.pipeline.pipelineName}/view?region=${Aws.REGION}`;
    new CfnOutput(this, 'PipelineConsoleUrl', { value: this.pipelineConsoleUrl, description: 'The deployment pipeline in the AWS console' });
    new CfnOutput(this, 'HistoryTableName', { value: this.historyTable.table.tableName, description: 'DynamoDB table recording every deployment' });
    if (!props.source.connectionArn) {
      new CfnOutput(this, 'ConnectionArn', { value: this.connectionArn, description: 'GitHub connection: complete its handshake in the console before the first run' });
    }
    claimPhysicalNames(this);
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

  /** Lets a principal read the deployment history. */
  public grantReadHistory(grantee: iam.IGrantable): iam.Grant {
    return this.historyTable.grantRead(grantee);
  }

  private addApproval(options: ManualApprovalOptions, deployBlueAction: actions.LambdaInvokeAction | undefined) {
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
    const waves = new Set(this.services.map((s) => s.wave)).size;
    const stage = this.pipeline.addStage({
      stageName: APPROVAL_STAGE,
      placement: { rightBefore: this.pipeline.stage(STAGES.switchTraffic) },
      actions: [new actions.ManualApprovalAction({
        actionName: 'ApproveTrafficShift',
        notificationTopic: topic,
        additionalInformation: options.additionalInformation ?? (deployBlueAction
          ? `Version ${deployBlueAction.variable('targetVersion')} of ${this.serviceFunction.functionName} is published and takes no traffic yet. Approve to shift ${ALIAS_NAME} onto it.`
          : `New versions of ${this.services.length} services are published and take no traffic yet. Approve to shift their ${ALIAS_NAME} aliases in ${waves} wave(s).`),
      })],
    });
    this.stageNames.add(APPROVAL_STAGE);
    return stage;
  }

  /**
   * Findings of aws-cdk-lib's own pipeline grants, acknowledged on the pipeline and the action
   * roles they land on, each by its exact finding id (cdk-nag 3 matches `Rule[finding]`).
   */
  private acknowledgePipelineFindings(invokeRoles: iam.Role[]) {
    const ref = (construct: Construct) => `<${Stack.of(this).resolve((construct.node.defaultChild as codepipeline.CfnPipeline).logicalId)}.Arn>`;
    for (const role of invokeRoles) {
      acknowledgeFinding(role, 'AwsSolutions-IAM5[Resource::*]', 'Added by aws-cdk-lib LambdaInvokeAction: lambda:ListFunctions supports no resource-level permissions.');
    }
    acknowledgeFinding(invokeRoles[0], `AwsSolutions-IAM5[Resource::${ref(this.deployBlueFunction)}:*]`,
      'Added by aws-cdk-lib LambdaInvokeAction (invoke on the function and its versions); the function itself is fixed.');
    acknowledgeFinding(invokeRoles[1], `AwsSolutions-IAM5[Resource::${ref(this.switchTrafficFunction)}:*]`,
      'Added by aws-cdk-lib LambdaInvokeAction (invoke on the function and its versions); the function itself is fixed.');
    // Bucket grants from aws-cdk-lib (pipeline, CodeBuild, action roles): artifact keys are generated per execution.
    for (const finding of ['Action::s3:GetObject*', 'Action::s3:GetBucket*', 'Action::s3:List*', 'Action::s3:DeleteObject*', 'Action::s3:Abort*', `Resource::${ref(this.artifactBucket)}/*`]) {
      acknowledgeFinding(this, `AwsSolutions-IAM5[${finding}]`, 'aws-cdk-lib bucket grants limited to the pipeline\'s own artifact bucket, whose object keys CodePipeline generates per execution.');
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
  const services = props.services;
  if (services === undefined) return;
  const given = SINGLE_SERVICE_PROPS.filter((prop) => props[prop] !== undefined);
  if (given.length > 0) {
    throw new Error(`${given.join(', ')}: with services, set these on each service (services[i].${given[0]}), not on the pipeline`);
  }
  if (services.length === 0 || services.length > MAX_SERVICES) {
    throw new Error(`services must list 1 to ${MAX_SERVICES} services (CodePipeline allows ${MAX_SERVICES} actions per stage, and Deploy-Blue and Switch-Traffic hold one per service); got ${services.length}`);
  }
  const seen = new Map<string, number>();
  services.forEach((service, i) => {
    const name = service.serviceName;
    if (seen.has(name)) {
      throw new Error(`services[${i}].serviceName: "${name}" is already the name of services[${seen.get(name)}]; service names must be unique in a pipeline`);
    }
    seen.set(name, i);
    const dir = service.bundleDirectory;
    if (typeof dir !== 'string' || !BUNDLE_DIRECTORY_PATTERN.test(dir.replace(/\/+$/, ''))) {
      throw new Error(`services[${i}].bundleDirectory must be a relative path inside the repository, such as "services/orders/dist" (no leading "/", no "." or ".." segments); got "${dir ?? ''}"`);
    }
  });
  const dirs = services.map((s) => `${s.bundleDirectory.replace(/\/+$/, '')}/`);
  dirs.forEach((dir, i) => dirs.forEach((other, j) => {
    if (i !== j && other.startsWith(dir)) {
      throw new Error(`services[${j}].bundleDirectory "${services[j].bundleDirectory}" lies inside services[${i}].bundleDirectory "${services[i].bundleDirectory}"; each service needs a directory of its own`);
    }
  }));
}

/**
 * Renders an action's UserParameters and checks them against CodePipeline's 1000-character limit,
 * counting each unresolved token (a name CloudFormation generates) at its longest.
 */
function checkedUserParameters(deployment: ServiceDeployment, parameters: Record<string, string>): Record<string, string> {
  const estimate = JSON.stringify(Object.fromEntries(Object.entries(parameters).map(([k, v]) => [k, Token.isUnresolved(v) ? 'x'.repeat(100) : v])));
  if (estimate.length > MAX_USER_PARAMETERS) {
    throw new Error(`service "${deployment.serviceName}": its action parameters come to about ${estimate.length} characters, but CodePipeline allows ${MAX_USER_PARAMETERS}; shorten serviceName, bundleDirectory or the names of its hooks and deployment configuration`);
  }
  return parameters;
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

/** The runtime with the newest Node.js major (the build runs every service's tests on it). */
function newestRuntime(runtimes: lambda.Runtime[]): lambda.Runtime {
  const major = (r: lambda.Runtime) => Number(/^nodejs(\d+)\.x$/.exec(r.name)?.[1] ?? 0);
  return runtimes.reduce((a, b) => (major(b) > major(a) ? b : a));
}
