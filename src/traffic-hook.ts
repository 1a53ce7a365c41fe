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

/** What a traffic hook binds to: one service deployment of a pipeline. */
export interface ITrafficHookTarget {
  /** The function being deployed. */
  readonly serviceFunction: lambda.IFunction;
  /**
   * The pipeline's built-in smoke-test function, set up to invoke this service's new version with
   * `testEvent` (JSON text).
   */
  smokeTestFunction(testEvent: string): lambda.IFunction;
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
    /** The user's function, for `fromFunction`. */
    public readonly hookFunction: lambda.IFunction | undefined,
    /** The smoke-test event as JSON, for `smokeTest`. */
    public readonly smokeTestEvent: string | undefined,
  ) {}

  /** Whether this is the built-in smoke test. */
  public get isSmokeTest(): boolean {
    return this.hookFunction === undefined;
  }

  /** The function CodeDeploy invokes for this hook when it deploys `target`. */
  public bind(target: ITrafficHookTarget): lambda.IFunction {
    return this.hookFunction ?? target.smokeTestFunction(this.smokeTestEvent!);
  }
}
