import { Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { BuildOptions } from './build-options';
import { acknowledgeFinding } from './private/acknowledge-finding';
import { ResourceNames } from './private/resource-names';
import { RetentionSettings, retainedLogGroup } from './private/retained-log-group';

/** Properties of {@link BuildStage}. */
export interface BuildStageProps extends RetentionSettings {
  readonly names: ResourceNames;
  readonly options: BuildOptions;
  /** The runtime the services run on: the build installs its Node.js major by default. */
  readonly serviceRuntime: lambda.Runtime;
  /**
   * The directories holding each service's bundle, kept with their paths in the build output;
   * empty for one service whose bundle is the whole output (`options.artifactDirectory`).
   */
  readonly bundleDirectories: string[];
}

const HIDDEN_FAILURE_PATTERN = /\|\|\s*(true|:|echo)\b|\|\|\s*:?\s*$/;
/** The Node.js major CodeBuild installs when the service runtime is not Node.js. */
const FALLBACK_BUILD_NODE_VERSION = '22';

/**
 * The `Build` stage's CodeBuild project: install, compile, test (any failure fails the stage),
 * test reports to a report group, and the deployable bundle(s) as the output artifact.
 */
export class BuildStage extends Construct {
  public readonly project: codebuild.PipelineProject;
  public readonly reportGroup: codebuild.ReportGroup;

  constructor(scope: Construct, id: string, props: BuildStageProps) {
    super(scope, id);
    const { names, options: build } = props;
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
    if (props.bundleDirectories.length > 0 && build.artifactDirectory !== undefined) {
      throw new Error('buildStage.artifactDirectory applies to a single service; with services, each service names its own bundleDirectory');
    }
    this.reportGroup = new codebuild.ReportGroup(this, 'TestReports', {
      reportGroupName: names.testReportGroup,
      removalPolicy: props.removalPolicy,
      deleteReports: props.removalPolicy === RemovalPolicy.DESTROY,
    });
    const logGroup = retainedLogGroup(this, 'BuildLogGroup', props);
    // One service: its bundle is the output's root. Several: each bundle keeps its path, and
    // Deploy-Blue takes each service's directory out of the one output.
    const artifacts = props.bundleDirectories.length === 0
      ? { 'base-directory': build.artifactDirectory ?? 'dist', 'files': ['**/*'] }
      : { files: props.bundleDirectories.map((dir) => `${dir}/**/*`) };
    this.project = new codebuild.PipelineProject(this, 'BuildProject', {
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
          install: { 'runtime-versions': { nodejs: build.nodeVersion ?? nodeMajorOf(props.serviceRuntime) }, 'commands': commands.installCommands, 'on-failure': 'ABORT' },
          build: { 'commands': [...commands.buildCommands, ...commands.testCommands], 'on-failure': 'ABORT' },
        },
        reports: {
          [this.reportGroup.reportGroupArn]: {
            'files': build.testReportFiles ?? ['*.xml'],
            'base-directory': build.testReportDirectory ?? 'test-reports',
            'file-format': 'JUNITXML',
          },
        },
        artifacts,
      }),
    });
    this.reportGroup.grantWrite(this.project);
    this.acknowledgeFindings();
  }

  private acknowledgeFindings() {
    acknowledgeFinding(this.project, 'AwsSolutions-CB4',
      'CodeBuild encrypts the build output with the AWS managed key aws/s3 (SSE-KMS), as CodePipeline does every artifact; a customer managed key would cost every user a KMS key and its grants for no added control.');
    const stack = Stack.of(this);
    const project = stack.resolve((this.project.node.defaultChild as codebuild.CfnProject).logicalId);
    // cdk-nag renders the stack's region and account literally when known, as pseudo parameters when not.
    const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    acknowledgeFinding(this.project, `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:${region}:${account}:log-group:/aws/codebuild/<${project}>:*]`,
      'Default CodeBuild log-group grant added by aws-cdk-lib; the project logs to its own log group.');
    acknowledgeFinding(this.project, `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:codebuild:${region}:${account}:report-group/<${project}>-*]`,
      'Default report-group grant added by aws-cdk-lib for the project\'s own report groups.');
  }
}

/** The Node.js major version of a Lambda runtime (`nodejs24.x` → `24`), for CodeBuild's runtime-versions. */
function nodeMajorOf(runtime: lambda.Runtime): string {
  return /^nodejs(\d+)\.x$/.exec(runtime.name)?.[1] ?? FALLBACK_BUILD_NODE_VERSION;
}

/** The runtime with the newest Node.js major (the build runs every service's tests on it). */
export function newestRuntime(runtimes: lambda.Runtime[]): lambda.Runtime {
  const major = (r: lambda.Runtime) => Number(/^nodejs(\d+)\.x$/.exec(r.name)?.[1] ?? 0);
  return runtimes.reduce((a, b) => (major(b) > major(a) ? b : a));
}
