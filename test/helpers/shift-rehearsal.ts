// A traffic-shift rehearsal for the integ test: with credentials (integ-runner without --dry-run)
// it publishes two versions of the service and shifts `live` onto each with CodeDeploy, the way
// Switch-Traffic does (same AppSpec renderer, same deployment group, same smoke-test hook): the
// first passes the smoke test and takes the traffic, the second fails it and is rolled back.
// Offline, integ-runner only compares the synthesized assertion stack with the snapshot.
import { ExpectedResult, IApiCall, IDeployAssert } from '@aws-cdk/integ-tests-alpha';
import { ArnFormat, Duration, Stack, Token } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { BlueGreenLambdaPipeline } from '../../src';
import { renderAppSpec } from '../../src/runtime/appspec';

/** Set on a release to make it throw: the smoke-test hook then reports Failed. */
export const FAIL_SMOKE_TEST = 'FAIL_SMOKE_TEST';
/** Set on every rehearsal release: makes each configuration (so each published version) distinct. */
export const REHEARSAL_RELEASE = 'REHEARSAL_RELEASE';

/**
 * Bootstrap code of the rehearsal's service: answers like a healthy service unless
 * `FAIL_SMOKE_TEST=1`, then it throws, which the smoke test sees as a `FunctionError`.
 */
export const REHEARSAL_SERVICE_CODE = [
  'exports.handler = async (event) => {',
  `  if (process.env.${FAIL_SMOKE_TEST} === '1') {`,
  "    throw new Error('rehearsal: this release fails its smoke test on purpose');",
  '  }',
  `  const release = process.env.${REHEARSAL_RELEASE} || 'bootstrap';`,
  '  return { statusCode: 200, body: JSON.stringify({ release, path: event && event.rawPath }) };',
  '};',
].join('\n');

/** The bootstrap version CloudFormation publishes: always 1 in a fresh stack. */
const BOOTSTRAP_VERSION = '1';
/** A fast config for the rehearsal only: the deployment group keeps its own (linear) default. */
const REHEARSAL_DEPLOYMENT_CONFIG = 'CodeDeployDefault.LambdaAllAtOnce';
const ALIAS_NAME = 'live';
/** Where a failed deployment names the rollback CodeDeploy started for it. */
const ROLLBACK_ID_PATH = 'deploymentInfo.rollbackInfo.rollbackDeploymentId';

const FUNCTION_UPDATE_WAIT = { totalTimeout: Duration.minutes(5), interval: Duration.seconds(5) };
const VERSION_CHECK_WAIT = { totalTimeout: Duration.minutes(1), interval: Duration.seconds(10) };
// All at once with one hook takes a minute or two; a deployment that ends otherwise than expected
// is reported when this runs out (the waiter cannot tell "not yet" from "never").
const DEPLOYMENT_WAIT = { totalTimeout: Duration.minutes(15), interval: Duration.seconds(20) };

interface Release {
  /** The version number PublishVersion must return. */
  readonly version: string;
  /** Whether the release throws (so fails the smoke test). */
  readonly failsSmokeTest: boolean;
}

/**
 * Appends the rehearsal to `after` and returns its last step:
 * version 2 (healthy) is shifted onto `live` and takes the traffic; version 3 (throws) fails the
 * smoke test, the deployment fails and rolls back, and `live` stays on version 2.
 */
export function rehearseTrafficShifts(assertions: IDeployAssert, pipeline: BlueGreenLambdaPipeline, after: IApiCall): IApiCall {
  const rehearsal = new ShiftRehearsal(assertions, pipeline);
  const healthy: Release = { version: '2', failsSmokeTest: false };
  const broken: Release = { version: '3', failsSmokeTest: true };

  // Version 2 passes the smoke test and takes the traffic.
  let step = rehearsal.publish(after, healthy);
  const first = rehearsal.shift(BOOTSTRAP_VERSION, healthy.version, 'healthy release: takes the traffic');
  step = step.next(first.create)
    .next(rehearsal.waitForDeployment(first.deploymentId, 'Succeeded'))
    .next(rehearsal.expectLiveOn(healthy.version));

  // Version 3 throws: the smoke test fails it, CodeDeploy rolls back, live stays on 2.
  step = rehearsal.publish(step, broken);
  const second = rehearsal.shift(healthy.version, broken.version, 'broken release: must fail its smoke test and roll back');
  const rollback = rehearsal.rollbackOf(second.deploymentId);
  return step.next(second.create)
    .next(rehearsal.waitForDeployment(second.deploymentId, '^(Failed|Stopped)$'))
    .next(rollback)
    .next(rehearsal.waitForDeployment(rollback.getAttString(ROLLBACK_ID_PATH), 'Succeeded'))
    .next(rehearsal.expectLiveOn(healthy.version));
}

class ShiftRehearsal {
  private readonly functionName: string;
  private readonly physicalFunctionName: string;
  private readonly smokeTestHookName: string;
  private createDeploymentGranted = false;

  constructor(private readonly assertions: IDeployAssert, private readonly pipeline: BlueGreenLambdaPipeline) {
    if (!pipeline.smokeTestFunction) {
      throw new Error('the rehearsal needs the built-in smoke test: pass preTrafficHook: TrafficHook.smokeTest(...)');
    }
    this.functionName = pipeline.serviceFunction.functionName;
    this.physicalFunctionName = literalFunctionName(pipeline.serviceFunction, 'serviceFunction');
    this.smokeTestHookName = literalFunctionName(pipeline.smokeTestFunction, 'smokeTestFunction');
  }

  /**
   * Changes the configuration (PublishVersion returns the existing version when nothing changed),
   * waits for the update to finish, publishes, and checks the number and that the number really
   * holds this release (a drift fails the waiter, which stops the chain; a plain `expect` would not).
   */
  public publish(after: IApiCall, release: Release): IApiCall {
    const variables: Record<string, string> = {
      [REHEARSAL_RELEASE]: release.version,
      [FAIL_SMOKE_TEST]: release.failsSmokeTest ? '1' : '0',
    };
    const update = this.assertions.awsApiCall('Lambda', 'updateFunctionConfiguration', {
      FunctionName: this.functionName,
      Environment: { Variables: variables },
    });
    const updated = this.assertions.awsApiCall('Lambda', 'getFunctionConfiguration', { FunctionName: this.functionName })
      .expect(ExpectedResult.objectLike({ LastUpdateStatus: 'Successful', Environment: { Variables: variables } }))
      .waitForAssertions(FUNCTION_UPDATE_WAIT);
    const publish = this.assertions.awsApiCall('Lambda', 'publishVersion', {
      FunctionName: this.functionName,
      Description: `integ rehearsal release ${release.version}${release.failsSmokeTest ? ' (fails the smoke test)' : ''}`,
    }).expect(ExpectedResult.objectLike({ Version: release.version }));
    const published = this.assertions.awsApiCall('Lambda', 'getFunctionConfiguration', {
      FunctionName: this.functionName,
      Qualifier: release.version,
    }).expect(ExpectedResult.objectLike({ Version: release.version, Environment: { Variables: variables } }))
      .waitForAssertions(VERSION_CHECK_WAIT);
    return after.next(update).next(updated).next(publish).next(published);
  }

  /** CreateDeployment with the AppSpec Switch-Traffic would render for the same shift. */
  public shift(currentVersion: string, targetVersion: string, purpose: string): { create: IApiCall; deploymentId: string } {
    const appSpec = renderAppSpec({
      functionName: this.physicalFunctionName,
      aliasName: ALIAS_NAME,
      currentVersion,
      targetVersion,
      beforeAllowTrafficHook: this.smokeTestHookName,
    });
    const create = this.assertions.awsApiCall('CodeDeploy', 'createDeployment', {
      applicationName: this.pipeline.application.applicationName,
      deploymentGroupName: this.pipeline.deploymentGroup.deploymentGroupName,
      deploymentConfigName: REHEARSAL_DEPLOYMENT_CONFIG,
      description: `integ rehearsal: ${ALIAS_NAME} ${currentVersion} -> ${targetVersion}, ${purpose}`,
      revision: { revisionType: 'AppSpecContent', appSpecContent: appSpec },
    });
    this.grantCreateDeployment(create);
    return { create, deploymentId: create.getAttString('deploymentId') };
  }

  /** Waits until the deployment's status matches `status` (a regular expression when it starts with ^). */
  public waitForDeployment(deploymentId: string, status: string): IApiCall {
    // assertAtPath keeps only that path in the custom resource's answer: the whole GetDeployment
    // answer could outgrow CloudFormation's 4 KB response limit.
    return this.assertions.awsApiCall('CodeDeploy', 'getDeployment', { deploymentId })
      .assertAtPath('deploymentInfo.status', status.startsWith('^') ? ExpectedResult.stringLikeRegexp(status) : ExpectedResult.exact(status))
      .waitForAssertions(DEPLOYMENT_WAIT);
  }

  /** Waits until the failed deployment names its automatic rollback; its id is `getAttString(ROLLBACK_ID_PATH)`. */
  public rollbackOf(deploymentId: string): IApiCall {
    return this.assertions.awsApiCall('CodeDeploy', 'getDeployment', { deploymentId })
      .assertAtPath(ROLLBACK_ID_PATH, ExpectedResult.stringLikeRegexp('^d-[A-Z0-9]+$'))
      .waitForAssertions(DEPLOYMENT_WAIT);
  }

  public expectLiveOn(version: string): IApiCall {
    return this.assertions.awsApiCall('Lambda', 'getAlias', { FunctionName: this.functionName, Name: ALIAS_NAME })
      .expect(ExpectedResult.objectLike({ Name: ALIAS_NAME, FunctionVersion: version }));
  }

  /**
   * The provider gets `codedeploy:CreateDeployment` from the call's name; creating a deployment
   * also reads the deployment config and registers (and reads) the revision on the application.
   */
  private grantCreateDeployment(create: IApiCall) {
    // One provider (a singleton) answers every call of the assertion stack: grant once.
    if (this.createDeploymentGranted) return;
    this.createDeploymentGranted = true;
    const stack = Stack.of(create);
    create.provider.addToRolePolicy({
      Effect: 'Allow',
      Action: ['codedeploy:GetDeploymentConfig'],
      Resource: [stack.formatArn({
        service: 'codedeploy',
        resource: 'deploymentconfig',
        resourceName: REHEARSAL_DEPLOYMENT_CONFIG,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      })],
    });
    create.provider.addToRolePolicy({
      Effect: 'Allow',
      Action: ['codedeploy:RegisterApplicationRevision', 'codedeploy:GetApplicationRevision'],
      Resource: [this.pipeline.application.applicationArn],
    });
  }
}

/**
 * The physical name CloudFormation gives the function. The AppSpec must hold literal text so its
 * sha256 matches what CodeDeploy receives, exactly as Switch-Traffic renders it at run time.
 */
function literalFunctionName(fn: lambda.IFunction, what: string): string {
  const cfn = fn.node.defaultChild;
  const name = cfn instanceof lambda.CfnFunction ? cfn.functionName : undefined;
  if (name === undefined || Token.isUnresolved(name)) {
    throw new Error(`the rehearsal needs ${what} to have a literal physical name`);
  }
  return name;
}
