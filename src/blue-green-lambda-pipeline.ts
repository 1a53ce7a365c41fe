import { Duration, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as notifications from 'aws-cdk-lib/aws-codestarnotifications';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ArtifactBucket } from './artifact-bucket';
import { BuildOptions } from './build-options';
import { BuildStage, newestRuntime } from './build-stage';
import { environmentStageName, STAGE_NAMES } from './contract/handler-contract';
import { DeploymentDashboard } from './deployment-dashboard';
import { DeploymentHistory } from './deployment-history';
import { ExtraStageOptions } from './extra-stages';
import { GitHubSourceProps } from './github-source';
import { ManualApprovalOptions } from './manual-approval';
import { PipelineEnvironment } from './pipeline-environment';
import { acknowledgeApprovalGrants, addApprovalStage, environmentApprovalAction } from './private/approval-stage';
import { checkPipelineRoles } from './private/cross-account-checks';
import { EnvironmentPlan, planEnvironments } from './private/environment-plans';
import { ExtraStages } from './private/extra-stage-insertion';
import { acknowledgeArtifactBucketGrants } from './private/pipeline-acknowledgements';
import { PipelineNotificationRule } from './private/pipeline-notification-rule';
import { addPipelineOutputs } from './private/pipeline-outputs';
import { validatePipelineProps } from './private/pipeline-props-validation';
import { ResourceNames } from './private/resource-names';
import { DEFAULT_SERVICE_RUNTIME } from './private/service-defaults';
import { codeDeployServiceRole, notificationTopic } from './private/shared-resources';
import { planTarget, TargetPlan } from './private/target-plan';
import { claimPhysicalNames } from './private/unique-physical-names';
import { ServiceDeployment } from './service-deployment';
import { IServiceDeployment, ServiceDeploymentOptions, ServiceFunctionOptions } from './service-deployment-options';
import { GitHubSourceStage } from './source-stage';
import { InvokeActions, localActionService, StageHandlers } from './stage-handlers';
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
   * Environment suffix carried by every physical name (`{service}-{purpose}-{suffix}`). With
   * `environments`, it names what they share (the pipeline, its handlers, table and topic), and
   * each environment's services carry the environment's name instead.
   * @default "dev"; "release" with `environments`
   */
  readonly environmentSuffix?: string;

  /**
   * The environments one build is promoted through, in order (for example dev, staging, prod).
   * Source and Build run once per execution; each environment then gets its own copy of every
   * service and its own stages: `Approve-<name>` (with an approval), `Deploy-Blue-<name>` and
   * `Switch-Traffic-<name>` (whose Bake actions, with a bake time, follow the last wave). Every
   * environment deploys the same bundle, and its code hash must equal the first environment's. An
   * environment refuses a build that failed, rolled back or failed its bake in an earlier one, even
   * when an old execution's stage is retried later. Each environment's settings override the
   * pipeline's (`deploymentConfig`, `errorRateThreshold`, ...). Services must be created by the
   * construct (no `serviceFunction`), and `manualApproval` gives way to each environment's
   * `approval`.
   * @default - one environment, named by `environmentSuffix`, with the stages Source, Build, Deploy-Blue, Switch-Traffic
   */
  readonly environments?: PipelineEnvironment[];

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
   * dashboards beyond the free ones cost money. It shows the environments in the pipeline's own
   * account and region (a target's metrics are in its account).
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
   * Tags applied to every resource of the construct, and of its targets (`BlueGreenLambdaTarget`).
   * @default - none
   */
  readonly tags?: { [key: string]: string };
}

const DEFAULT_KEEP_VERSIONS = 10;

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
  /**
   * Every service the pipeline deploys, in the order given; with `environments`, every
   * environment's, environment by environment (each knows its `environment`).
   */
  public readonly services: IServiceDeployment[];
  /** The names of the environments the pipeline deploys to, in promotion order. */
  public readonly environmentNames: string[];
  /**
   * The environments in another account or region, in promotion order: each needs a
   * {@link BlueGreenLambdaTarget} in a stack of its account and region.
   */
  public readonly targetEnvironments: string[];
  /** The CodeDeploy application of all the pipeline's services. */
  public readonly application: codedeploy.LambdaApplication;
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
  /** The handler of the Bake actions (one for all services and environments), if an environment bakes. */
  public readonly bakeFunction?: lambda.Function;
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

  private readonly extraStages: ExtraStages;
  private readonly firstService?: ServiceDeployment;
  private readonly targetPlans = new Map<string, TargetPlan>();
  private readonly targets = new Map<string, Construct>();

  constructor(scope: Construct, id: string, props: BlueGreenLambdaPipelineProps) {
    super(scope, id);
    const names = ResourceNames.of(props.serviceName, props.environmentSuffix ?? (props.environments ? 'release' : 'dev'));
    this.environmentSuffix = names.environmentSuffix;
    validatePipelineProps(props);
    const stack = Stack.of(this);
    const serviceOptions = this.serviceOptions(props);
    const plans = props.environments && planEnvironments(props.environments, serviceOptions, 2 + (props.extraStages?.length ?? 0),
      { account: stack.account, region: stack.region });
    const targetsTrust = plans?.some((p) => p.target) ? { account: stack.account, region: stack.region } : undefined;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    const retention = { logRetention: props.logRetention ?? logs.RetentionDays.ONE_YEAR, removalPolicy };
    for (const [key, value] of Object.entries(props.tags ?? {})) Tags.of(this).add(key, value);

    // ---- what every service shares: notifications, history, artifacts, CodeDeploy, stage handlers
    this.notificationTopic = props.notificationTopic ?? notificationTopic(this, names, removalPolicy);
    this.historyTable = new DeploymentHistory(this, 'History', { tableName: names.historyTable, removalPolicy });
    this.artifactBucket = new ArtifactBucket(this, 'Artifacts', {
      removalPolicy,
      serverAccessLogsBucket: props.accessLogsBucket,
      artifactExpiration: props.artifactExpiration,
    }).bucket;
    this.application = new codedeploy.LambdaApplication(this, 'Application', { applicationName: names.codeDeployApplication });
    this.codeDeployRole = codeDeployServiceRole(this, names);
    const handlers = new StageHandlers(this, 'Handlers', {
      ...retention,
      names,
      history: this.historyTable,
      notificationTopic: this.notificationTopic,
      artifactBucket: this.artifactBucket,
      application: this.application,
      targetsTrust,
    });
    this.deployBlueFunction = handlers.deployBlue;
    this.switchTrafficFunction = handlers.switchTraffic;
    this.deadLetterQueue = handlers.deadLetterQueue;

    // ---- the services of each environment, each wired to the handlers and given its traffic hooks
    const single = props.services === undefined;
    const defaults = {
      deploymentConfig: props.deploymentConfig ?? codedeploy.LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_10MINUTES,
      errorRateThreshold: props.errorRateThreshold,
      evaluationPeriods: props.evaluationPeriods,
      alarmPeriod: props.alarmPeriod,
      keepVersions: props.keepVersions ?? DEFAULT_KEEP_VERSIONS,
    };
    const environments = (plans ?? [undefined]).map((plan) => {
      if (plan?.target) {
        // Its services live in a target stack of another account or region: named, never referenced.
        const target = planTarget({ plan, pipelineNames: names, single, defaults, handlers, pipelineAccount: stack.account, tags: props.tags });
        this.targetPlans.set(plan.name, target);
        return { name: plan.name, plan, deployments: [] as ServiceDeployment[], actionServices: target.actionServices };
      }
      // Without environments, the services keep the construct ids (and so the logical ids) they have always had.
      const parent = plan ? new Construct(this, `Environment-${plan.name}`) : this;
      const envNames = plan ? ResourceNames.of(props.serviceName, plan.name) : names;
      const deployments = (plan?.services ?? serviceOptions).map((options, i) => new ServiceDeployment(
        parent, single ? 'Default' : `Service-${options.serviceName}`, {
          ...retention,
          options,
          // One service keeps the names it has always had; a monorepo's carry the pipeline's name.
          names: single ? envNames : envNames.service(options.serviceName, `services[${i}].serviceName`),
          application: this.application,
          codeDeployRole: this.codeDeployRole,
          notificationTopic: this.notificationTopic,
          ...defaults,
          propPrefix: [plan?.path, single ? undefined : `services[${i}]`].filter(Boolean).map((p) => `${p}.`).join(''),
          environment: envNames.environmentSuffix,
        }));
      deployments.forEach((d, i) => {
        handlers.addService(d);
        const bind = (hook: TrafficHook | undefined) => hook?._bind((testEvent) => handlers.smokeTestFor(d.functionName, d, testEvent));
        d.addTrafficHooks(bind(serviceOptions[i].preTrafficHook), bind(serviceOptions[i].postTrafficHook));
      });
      return { name: envNames.environmentSuffix, plan, deployments, actionServices: deployments.map(localActionService) };
    });
    const deployments = environments.flatMap((e) => e.deployments);
    this.services = deployments;
    this.environmentNames = environments.map((e) => e.name);
    this.targetEnvironments = [...this.targetPlans.keys()];
    this.firstService = deployments[0];
    this.smokeTestFunction = handlers.smokeTestFunction;
    this.node.addValidation({ validate: () => this.missingTargets() });
    if (targetsTrust) this.node.addValidation({ validate: () => checkPipelineRoles(this, handlers.assumableDeployers) });

    // ---- the pipeline: Source, Build, then each environment's (Approve), Deploy-Blue and Switch-Traffic, extra stages
    const source = new GitHubSourceStage(this, { source: props.source, names });
    this.sourceOutput = source.output;
    this.connectionArn = source.connectionArn;
    this.sourceActionRole = source.role;
    const build = new BuildStage(this, 'Build', {
      ...retention,
      names,
      options: props.buildStage ?? {},
      serviceRuntime: newestRuntime(serviceOptions.map((o) => o.serviceFunction?.runtime ?? o.service?.runtime ?? DEFAULT_SERVICE_RUNTIME)),
      bundleDirectories: single ? [] : environments[0].actionServices.map((d) => d.bundleDirectory),
    });
    this.buildProject = build.project;
    this.testReportGroup = build.reportGroup;
    this.buildOutput = new codepipeline.Artifact('BuildOutput');
    const baked = (plans ?? []).filter((p) => p.bakeMinutes !== undefined).map((p) => p.name);
    const invoked = environments.map(({ plan, actionServices }) => handlers.createInvokeActions(this, {
      services: actionServices,
      source,
      buildOutput: this.buildOutput,
      single,
      environment: plan && {
        name: plan.name,
        environments: this.environmentNames,
        baked,
        bakeMinutes: plan.bakeMinutes,
        minInvocations: plan.options.bakeMinInvocations,
      },
    }));
    this.bakeFunction = handlers.bakeFunction;

    this.pipeline = new codepipeline.Pipeline(this, 'Pipeline', {
      pipelineName: names.pipeline,
      pipelineType: codepipeline.PipelineType.V2,
      artifactBucket: this.artifactBucket,
      restartExecutionOnUpdate: false,
      // One deployment at a time: two executions racing for one alias would fight.
      executionMode: codepipeline.ExecutionMode.QUEUED,
      triggers: [source.trigger],
      stages: [
        { stageName: STAGE_NAMES.source, actions: [source.action] },
        {
          stageName: STAGE_NAMES.build,
          actions: [new actions.CodeBuildAction({ actionName: 'CompileAndTest', project: this.buildProject, input: this.sourceOutput, outputs: [this.buildOutput] })],
        },
        ...plans
          ? plans.flatMap((plan, i) => this.environmentStages(plan, plans[i - 1], invoked[i], serviceOptions.length))
          : [
            { stageName: STAGE_NAMES.deployBlue, actions: invoked[0].deployBlue },
            { stageName: STAGE_NAMES.switchTraffic, actions: invoked[0].switchTraffic },
          ],
      ],
    });
    const last = plans?.[plans.length - 1];
    for (const plan of plans?.filter((p) => p.options.approval) ?? []) {
      acknowledgeApprovalGrants(this.pipeline, environmentStageName(STAGE_NAMES.approval, plan.name));
    }
    const lastSwitchTraffic = last && environmentStageName(STAGE_NAMES.switchTraffic, last.name);
    this.extraStages = new ExtraStages(this.pipeline, new Map(lastSwitchTraffic ? [[STAGE_NAMES.switchTraffic, lastSwitchTraffic]] : []));
    if (props.manualApproval) {
      addApprovalStage(this.pipeline, {
        options: props.manualApproval,
        topic: this.notificationTopic,
        services: deployments,
        deployBlueAction: single ? invoked[0].deployBlue[0] : undefined,
      });
      this.extraStages.claim(STAGE_NAMES.approval);
    }
    for (const stage of props.extraStages ?? []) this.addStage(stage);
    acknowledgeArtifactBucketGrants(this, this.artifactBucket);

    // ---- insight: notifications, dashboard, outputs
    if (props.notifyPipelineEvents ?? true) {
      const alerts = { pipeline: this.pipeline, topic: this.notificationTopic, ruleName: names.notificationRule };
      this.pipelineNotificationRule = new PipelineNotificationRule(this, 'PipelineEvents', alerts).rule;
    }
    if (props.dashboard) {
      // A target's metrics are in its own account and region: its dashboard is a matter for that account.
      const sections = environments.filter((e) => e.deployments.length > 0).map((e) => ({ name: e.name, services: e.deployments }));
      if (sections.length === 0) {
        throw new Error('dashboard: every environment of this pipeline is in another account or region, and the dashboard shows the services of the pipeline\'s own; leave dashboard unset (each target account has its services\' metrics and alarms)');
      }
      this.dashboard = new DeploymentDashboard(this, 'Dashboard', { dashboardName: names.dashboard, pipelineName: names.pipeline, environments: sections }).dashboard;
    }
    const outputs = { pipeline: this.pipeline, historyTable: this.historyTable.table, createdConnection: source.connection };
    this.pipelineConsoleUrl = addPipelineOutputs(this, outputs);
    claimPhysicalNames(this);
  }

  /** The (first environment's first) service's function. */
  public get serviceFunction(): lambda.Function {
    return this.requireFirstService('serviceFunction').serviceFunction;
  }

  /** The (first) service's bootstrap version, before any pipeline deployment. */
  public get bootstrapVersion(): lambda.Version {
    return this.requireFirstService('bootstrapVersion').bootstrapVersion;
  }

  /** The (first) service's `live` alias. */
  public get alias(): lambda.Alias {
    return this.requireFirstService('alias').alias;
  }

  /** The (first) service's deployment group. */
  public get deploymentGroup(): codedeploy.LambdaDeploymentGroup {
    return this.requireFirstService('deploymentGroup').deploymentGroup;
  }

  /** The (first) service's error-rate alarm. */
  public get errorRateAlarm(): cloudwatch.Alarm {
    return this.requireFirstService('errorRateAlarm').errorRateAlarm;
  }

  /**
   * What a {@link BlueGreenLambdaTarget} of `environment` creates and names, and registers it: one
   * target per environment in another account or region.
   * @internal
   */
  public _claimTarget(environment: string, target: Construct): TargetPlan {
    const plan = this.targetPlans.get(environment);
    if (!plan) {
      const targets = this.targetEnvironments.length > 0 ? this.targetEnvironments.map((e) => `"${e}"`).join(', ') : 'none: every environment is in the pipeline\'s account and region';
      throw new Error(`environment: "${environment}" is not an environment of pipeline ${this.node.path} in another account or region; those are ${targets}`);
    }
    const claimed = this.targets.get(environment);
    if (claimed) throw new Error(`environment: "${environment}" already has its BlueGreenLambdaTarget at ${claimed.node.path}; one per environment`);
    this.targets.set(environment, target);
    return plan;
  }

  /**
   * Inserts an extra stage right after one of the four fixed stages. Several stages at the same
   * placement keep the order they were added in.
   */
  public addStage(options: ExtraStageOptions): codepipeline.IStage {
    return this.extraStages.add(options);
  }

  /** Lets a principal read the deployment history. */
  public grantReadHistory(grantee: iam.IGrantable): iam.Grant {
    return this.historyTable.grantRead(grantee);
  }

  /** One environment's stages: its approval (if any), Deploy-Blue, and Switch-Traffic with its Bake actions. */
  private environmentStages(plan: EnvironmentPlan, previous: EnvironmentPlan | undefined, invoked: InvokeActions,
    services: number): codepipeline.StageProps[] {
    const approval = plan.options.approval;
    return [
      ...approval ? [{
        stageName: environmentStageName(STAGE_NAMES.approval, plan.name),
        actions: [environmentApprovalAction({
          options: approval,
          pipelineTopic: this.notificationTopic,
          environment: plan.name,
          previousEnvironment: previous?.name,
          services,
          path: `${plan.path}.approval`,
        })],
      }] : [],
      { stageName: environmentStageName(STAGE_NAMES.deployBlue, plan.name), actions: invoked.deployBlue },
      { stageName: environmentStageName(STAGE_NAMES.switchTraffic, plan.name), actions: [...invoked.switchTraffic, ...invoked.bake] },
    ];
  }

  private requireFirstService(property: string): ServiceDeployment {
    if (!this.firstService) {
      throw new Error(`${property}: every environment of this pipeline is in another account or region; its services are those of each BlueGreenLambdaTarget (target.services)`);
    }
    return this.firstService;
  }

  /** Every environment in another account or region needs its target, or its stages act on nothing. */
  private missingTargets(): string[] {
    return [...this.targetPlans.values()].filter((t) => !this.targets.has(t.environment)).map((t) =>
      `${t.path} ("${t.environment}", account ${t.account}, region ${t.region}) has no BlueGreenLambdaTarget: add new BlueGreenLambdaTarget(stack, id, { pipeline, environment: "${t.environment}" }) in a stack with env { account: "${t.account}", region: "${t.region}" }`);
  }

  /** The services to deploy: `services`, or the one service the single-service props describe. */
  private serviceOptions(props: BlueGreenLambdaPipelineProps): ServiceDeploymentOptions[] {
    return props.services ?? [{
      serviceName: props.serviceName,
      bundleDirectory: '',
      service: props.service,
      serviceFunction: props.serviceFunction,
      extraAlarms: props.extraAlarms,
      preTrafficHook: props.preTrafficHook,
      postTrafficHook: props.postTrafficHook,
    }];
  }
}
