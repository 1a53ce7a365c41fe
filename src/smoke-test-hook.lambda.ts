import {
  CodeDeployClient,
  GetApplicationRevisionCommand,
  GetDeploymentCommand,
  LifecycleEventAlreadyCompletedException,
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
  /** GetDeployment never returns the AppSpec text (its SDK doc comment says so); GetApplicationRevision does. */
  async function appSpecOf(deploymentId: string): Promise<string | { failure: string }> {
    const { deploymentInfo } = await deps.codeDeploy.send(new GetDeploymentCommand({ deploymentId }));
    const applicationName = deploymentInfo?.applicationName;
    const revision = deploymentInfo?.revision;
    if (!applicationName || revision?.revisionType !== 'AppSpecContent' || !revision.appSpecContent?.sha256) {
      return {
        failure: `deployment ${deploymentId} has no AppSpecContent revision to read ` +
          `(applicationName ${applicationName ?? 'missing'}, revisionType ${revision?.revisionType ?? 'missing'}, ` +
          `appSpecContent.sha256 ${revision?.appSpecContent?.sha256 ? 'present' : 'missing'})`,
      };
    }
    // The revision is named by its sha256; AWS left its content null.
    const stored = await deps.codeDeploy.send(new GetApplicationRevisionCommand({
      applicationName,
      revision: { revisionType: 'AppSpecContent', appSpecContent: { sha256: revision.appSpecContent.sha256 } },
    }));
    const content = stored.revision?.appSpecContent?.content;
    if (!content) {
      return { failure: `application ${applicationName} returned no appSpecContent.content for the revision of deployment ${deploymentId}` };
    }
    return content;
  }

  async function check(event: LifecycleHookEvent): Promise<string | undefined> {
    const appSpec = await appSpecOf(event.DeploymentId);
    if (typeof appSpec !== 'string') return appSpec.failure;
    const { functionName, targetVersion } = parseAppSpec(appSpec);
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
    try {
      await deps.codeDeploy.send(new PutLifecycleEventHookExecutionStatusCommand({
        deploymentId: event.DeploymentId,
        lifecycleEventHookExecutionId: event.LifecycleEventHookExecutionId,
        status,
      }));
    } catch (error) {
      // Hooks are delivered at least once: a duplicate finds the hook already reported.
      if (!(error instanceof LifecycleEventAlreadyCompletedException) && (error as Error)?.name !== 'LifecycleEventAlreadyCompletedException') throw error;
      console.log(JSON.stringify({ message: 'hook already reported; this result is dropped', deploymentId: event.DeploymentId, status, detail: (error as Error).message }));
    }
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
