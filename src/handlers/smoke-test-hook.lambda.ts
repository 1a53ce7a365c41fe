import {
  CodeDeployClient,
  GetApplicationRevisionCommand,
  GetDeploymentCommand,
  LifecycleEventAlreadyCompletedException,
  LifecycleEventStatus,
  PutLifecycleEventHookExecutionStatusCommand,
} from '@aws-sdk/client-codedeploy';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { HANDLER_ENVIRONMENT } from '../contract/handler-contract';
import { parseAppSpec } from '../runtime/appspec';
import { describeError } from '../runtime/codepipeline-job';
import { CLIENT_CONFIG, lazyEntryPoint } from '../runtime/handler-environment';
import { defaultLogger, Logger, withInvocation } from '../runtime/logger';

const EVENTS = HANDLER_ENVIRONMENT.smokeTestEvents;

/** What the pre-traffic smoke test talks to. */
export interface SmokeTestDependencies {
  readonly lambda: LambdaClient;
  readonly codeDeploy: CodeDeployClient;
  /**
   * SMOKE_TEST_EVENTS: JSON text of an object mapping each service's function name (as the
   * AppSpec names it) to the event its target version is invoked with (any JSON value).
   */
  readonly testEvents: string | undefined;
  /** Writes the structured log records. @default the process's Powertools logger */
  readonly logger?: Logger;
}

/** The test event of `functionName`, as JSON text, or why there is none. */
export function testEventFor(testEvents: string | undefined, functionName: string): { event: string } | { failure: string } {
  if (!testEvents) return { failure: `${EVENTS} is not set; this function must be deployed by BlueGreenLambdaPipeline` };
  let events: unknown;
  try {
    events = JSON.parse(testEvents);
  } catch {
    return { failure: `${EVENTS} is not valid JSON: ${testEvents.slice(0, 200)}` };
  }
  if (!events || typeof events !== 'object' || Array.isArray(events)) {
    return { failure: `${EVENTS} must be a JSON object mapping function names to test events` };
  }
  if (!Object.prototype.hasOwnProperty.call(events, functionName)) {
    const known = Object.keys(events);
    return {
      failure: `${EVENTS} has no test event for function ${functionName}; ` +
        `it has events for: ${known.length > 0 ? known.join(', ') : '(none)'}`,
    };
  }
  return { event: JSON.stringify((events as Record<string, unknown>)[functionName]) };
}

/** The event CodeDeploy sends a Lambda lifecycle hook. */
export interface LifecycleHookEvent {
  readonly DeploymentId: string;
  readonly LifecycleEventHookExecutionId: string;
}

/**
 * Builds the BeforeAllowTraffic hook: invokes the target version once with its service's test
 * event and reports Failed if it throws (or has no test event), so CodeDeploy never shifts traffic
 * onto a version that cannot answer.
 */
export function createSmokeTestHandler(deps: SmokeTestDependencies) {
  const logger = deps.logger ?? defaultLogger();

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
    logger.appendKeys({ functionName, targetVersion });
    // One hook serves every service of the pipeline: the AppSpec says which one this is.
    const testEvent = testEventFor(deps.testEvents, functionName);
    if ('failure' in testEvent) return testEvent.failure;
    const result = await deps.lambda.send(new InvokeCommand({
      FunctionName: functionName,
      Qualifier: targetVersion,
      Payload: new TextEncoder().encode(testEvent.event),
    }));
    if (result.FunctionError) {
      const payload = result.Payload ? new TextDecoder().decode(result.Payload) : '';
      return `${functionName}:${targetVersion} failed the smoke test (${result.FunctionError}): ${payload.slice(0, 500)}`;
    }
    return undefined;
  }

  async function invoke(event: LifecycleHookEvent): Promise<LifecycleEventStatus> {
    let failure: string | undefined;
    try {
      failure = await check(event);
    } catch (error) {
      failure = `smoke test could not run: ${describeError(error)}`;
    }
    const status = failure ? LifecycleEventStatus.FAILED : LifecycleEventStatus.SUCCEEDED;
    if (failure) logger.warn('smoke test', { status, failure });
    else logger.info('smoke test', { status });
    try {
      await deps.codeDeploy.send(new PutLifecycleEventHookExecutionStatusCommand({
        deploymentId: event.DeploymentId,
        lifecycleEventHookExecutionId: event.LifecycleEventHookExecutionId,
        status,
      }));
    } catch (error) {
      // Hooks are delivered at least once: a duplicate finds the hook already reported.
      if (!(error instanceof LifecycleEventAlreadyCompletedException) && (error as Error)?.name !== 'LifecycleEventAlreadyCompletedException') throw error;
      logger.info('hook already reported; this result is dropped', { status, detail: (error as Error).message });
    }
    return status;
  }

  return async (event: LifecycleHookEvent, context?: unknown): Promise<LifecycleEventStatus> => {
    if (!event?.DeploymentId || !event?.LifecycleEventHookExecutionId) {
      throw new Error('event is not a CodeDeploy lifecycle hook: DeploymentId and LifecycleEventHookExecutionId are required');
    }
    return withInvocation(logger, {
      handler: 'smoke-test-hook',
      codeDeployDeploymentId: event.DeploymentId,
      lifecycleEventHookExecutionId: event.LifecycleEventHookExecutionId,
    }, context, () => invoke(event));
  };
}

/** The Lambda entry point. */
export const handler = lazyEntryPoint(() => createSmokeTestHandler({
  lambda: new LambdaClient(CLIENT_CONFIG),
  codeDeploy: new CodeDeployClient(CLIENT_CONFIG),
  testEvents: process.env[HANDLER_ENVIRONMENT.smokeTestEvents],
}));
