import {
  CodeDeployClient,
  GetDeploymentCommand,
  LifecycleEventStatus,
  PutLifecycleEventHookExecutionStatusCommand,
} from '@aws-sdk/client-codedeploy';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { parseAppSpec } from './runtime/appspec';
import { describeError } from './runtime/codepipeline-job';
import { CLIENT_CONFIG, requireEnv } from './runtime/handler-environment';

/** What the pre-traffic smoke test talks to. */
export interface SmokeTestDependencies {
  readonly lambda: LambdaClient;
  readonly codeDeploy: CodeDeployClient;
  /** The event the target version is invoked with, as JSON text. */
  readonly testEvent: string;
}

/** The event CodeDeploy sends a Lambda lifecycle hook. */
export interface LifecycleHookEvent {
  readonly DeploymentId: string;
  readonly LifecycleEventHookExecutionId: string;
}

/**
 * Builds the BeforeAllowTraffic hook: invokes the target version once with the test event and
 * reports Failed if it throws, so CodeDeploy never shifts traffic onto a version that cannot answer.
 */
export function createSmokeTestHandler(deps: SmokeTestDependencies) {
  async function check(event: LifecycleHookEvent): Promise<string | undefined> {
    const { deploymentInfo } = await deps.codeDeploy.send(new GetDeploymentCommand({ deploymentId: event.DeploymentId }));
    const content = deploymentInfo?.revision?.appSpecContent?.content;
    if (!content) return `deployment ${event.DeploymentId} has no AppSpec content`;
    const { functionName, targetVersion } = parseAppSpec(content);
    const result = await deps.lambda.send(new InvokeCommand({
      FunctionName: functionName,
      Qualifier: targetVersion,
      Payload: new TextEncoder().encode(deps.testEvent),
    }));
    if (result.FunctionError) {
      const payload = result.Payload ? new TextDecoder().decode(result.Payload) : '';
      return `${functionName}:${targetVersion} failed the smoke test (${result.FunctionError}): ${payload.slice(0, 500)}`;
    }
    return undefined;
  }

  return async (event: LifecycleHookEvent): Promise<LifecycleEventStatus> => {
    if (!event?.DeploymentId || !event?.LifecycleEventHookExecutionId) {
      throw new Error('event is not a CodeDeploy lifecycle hook: DeploymentId and LifecycleEventHookExecutionId are required');
    }
    let failure: string | undefined;
    try {
      failure = await check(event);
    } catch (error) {
      failure = `smoke test could not run: ${describeError(error)}`;
    }
    const status = failure ? LifecycleEventStatus.FAILED : LifecycleEventStatus.SUCCEEDED;
    console.log(JSON.stringify({ message: 'smoke test', deploymentId: event.DeploymentId, status, failure }));
    await deps.codeDeploy.send(new PutLifecycleEventHookExecutionStatusCommand({
      deploymentId: event.DeploymentId,
      lifecycleEventHookExecutionId: event.LifecycleEventHookExecutionId,
      status,
    }));
    return status;
  };
}

let handlerFromEnvironment: ((event: LifecycleHookEvent) => Promise<LifecycleEventStatus>) | undefined;

/** The Lambda entry point. */
export async function handler(event: LifecycleHookEvent) {
  handlerFromEnvironment ??= createSmokeTestHandler({
    lambda: new LambdaClient(CLIENT_CONFIG),
    codeDeploy: new CodeDeployClient(CLIENT_CONFIG),
    testEvent: requireEnv('SMOKE_TEST_EVENT'),
  });
  return handlerFromEnvironment(event);
}
