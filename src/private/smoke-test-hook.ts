import { Duration, Lazy, Stack } from 'aws-cdk-lib';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeFinding } from './acknowledge-finding';
import { acknowledgeHandlerFindings, pipelineHandlerOptions } from './handler-function-options';
import { arnReference } from './logical-id';
import { ResourceNames } from './resource-names';
import { RetentionSettings } from './retained-log-group';
import { HANDLER_ENVIRONMENT } from '../contract/handler-contract';
import { SmokeTestHookFunction } from '../handler-functions/smoke-test-hook-function';

/** Lambda allows 4 KB of environment variables per function. */
const MAX_ENVIRONMENT_BYTES = 4096;

/** Properties of {@link SmokeTests}. */
export interface SmokeTestsProps extends RetentionSettings {
  readonly names: ResourceNames;
  readonly deadLetterQueue: sqs.IQueue;
  /** The CodeDeploy application of the deployment groups it reports on. */
  readonly application: codedeploy.ILambdaApplication;
}

/** A service the smoke test invokes: the function whose new versions it tests, and its deployment group. */
export interface SmokeTestedService {
  readonly serviceFunction: lambda.IFunction;
  readonly deploymentGroup: codedeploy.ILambdaDeploymentGroup;
}

/**
 * The built-in smoke-test hook of one account and region, created (as `SmokeTest` in `scope`) for
 * the first service that asks for it and shared by all: it looks up the event by the function name
 * in the AppSpec it is handed.
 */
export class SmokeTests {
  private smoke?: lambda.Function;
  private readonly events: Record<string, unknown> = {};
  private invoke?: iam.PolicyStatement;
  private deployments?: iam.PolicyStatement;

  constructor(private readonly scope: Construct, private readonly props: SmokeTestsProps) {}

  /** The smoke-test function, if a service uses it. */
  public get function(): lambda.Function | undefined {
    return this.smoke;
  }

  /** The smoke-test function, set up to test `service` (named `functionName`) with `testEventJson`. */
  public for(functionName: string, service: SmokeTestedService, testEventJson: string): lambda.Function {
    const smoke = this.smoke ??= this.create();
    this.events[functionName] = JSON.parse(testEventJson);
    this.invoke!.addResources(`${service.serviceFunction.functionArn}:*`);
    this.deployments!.addResources(service.deploymentGroup.deploymentGroupArn);
    acknowledgeFinding(smoke.role!, `AwsSolutions-IAM5[Resource::${arnReference(service.serviceFunction)}:*]`,
      'The smoke test invokes the version being deployed, whose number is only known at run time.');
    return smoke;
  }

  private create(): lambda.Function {
    const { names } = this.props;
    const scope = this.scope;
    const sorted = () => Object.fromEntries(Object.keys(this.events).sort().map((k) => [k, this.events[k]]));
    // For the size check; a token counts as its placeholder text.
    const events = () => JSON.stringify(sorted());
    const smoke = new SmokeTestHookFunction(scope, 'SmokeTest', pipelineHandlerOptions(scope, 'SmokeTest', {
      ...this.props,
      functionName: names.handler('smoke-test'),
      description: `Smoke test of ${names.pipeline}: invokes each service's new version before it receives traffic`,
      timeout: Duration.minutes(5),
      // toJsonString, not JSON.stringify: a token in a test event (Aws.REGION) becomes a reference CloudFormation fills in.
      environment: { [HANDLER_ENVIRONMENT.smokeTestEvents]: Lazy.string({ produce: () => Stack.of(scope).toJsonString(sorted()) }) },
    }));
    scope.node.addValidation({
      validate: () => {
        const bytes = Buffer.byteLength(events());
        return bytes > MAX_ENVIRONMENT_BYTES - 64
          ? [`TrafficHook.smokeTest: the test events of all services come to ${bytes} bytes, but Lambda allows 4 KB of environment variables; use shorter events, or TrafficHook.fromFunction for some services`]
          : [];
      },
    });
    this.invoke = new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'] });
    this.deployments = new iam.PolicyStatement({ actions: ['codedeploy:GetDeployment'] });
    smoke.addToRolePolicy(this.invoke);
    smoke.addToRolePolicy(this.deployments);
    // GetDeployment never returns the AppSpec text; the hook reads it from the application's revision.
    smoke.addToRolePolicy(new iam.PolicyStatement({ actions: ['codedeploy:GetApplicationRevision'], resources: [this.props.application.applicationArn] }));
    acknowledgeHandlerFindings(smoke);
    return smoke;
  }
}
