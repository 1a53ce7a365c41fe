import * as lambda from 'aws-cdk-lib/aws-lambda';
import { plainJson } from './private/plain-json';

/** Options of the built-in smoke test. */
export interface SmokeTestOptions {
  /**
   * The event the new version is invoked with: plain JSON (objects, arrays, strings, finite
   * numbers, booleans, null); strings and numbers may be CDK tokens (`Aws.REGION`,
   * `stack.account`), which CloudFormation fills in. It fails the deployment if the invocation throws (a
   * `FunctionError`); the response body is not inspected.
   * @default {}
   */
  readonly testEvent?: { [key: string]: any };
}

/**
 * A CodeDeploy lifecycle hook (`BeforeAllowTraffic` or `AfterAllowTraffic`) run around the
 * traffic shift. The hook must report `Succeeded` or `Failed` with
 * `PutLifecycleEventHookExecutionStatus`; the construct grants that permission.
 *
 * @see https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html#appspec-hooks-lambda
 */
export class TrafficHook {
  /**
   * The built-in smoke test: invokes the newly published version once with `testEvent` and
   * fails the deployment if the invocation throws. One smoke-test function serves every service
   * of a pipeline.
   */
  public static smokeTest(options: SmokeTestOptions = {}): TrafficHook {
    return new TrafficHook(undefined, JSON.stringify(plainJson(options.testEvent ?? {}, 'testEvent')));
  }

  /** Your own hook function. */
  public static fromFunction(hookFunction: lambda.IFunction): TrafficHook {
    return new TrafficHook(hookFunction, undefined);
  }

  private constructor(
    /** @internal The user's function, for `fromFunction`. */
    public readonly _hookFunction: lambda.IFunction | undefined,
    /** @internal The smoke-test event as JSON, for `smokeTest`. */
    public readonly _smokeTestEvent: string | undefined,
  ) {}

  /**
   * The function CodeDeploy invokes for this hook: the user's, or the pipeline's smoke test set
   * up (by `smokeTest`, which the pipeline passes) with this hook's event.
   * @internal
   */
  public _bind(smokeTest: (testEvent: string) => lambda.IFunction): lambda.IFunction {
    return this._hookFunction ?? smokeTest(this._smokeTestEvent!);
  }
}
