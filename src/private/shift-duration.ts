import { Token } from 'aws-cdk-lib';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';

/** How long CodePipeline lets one Lambda invoke action run, continuation tokens included. */
export const LAMBDA_ACTION_LIMIT_MINUTES = 24 * 60;

const PREDEFINED = /^CodeDeployDefault\.Lambda(?:(AllAtOnce)|Canary(\d+)Percent(\d+)Minutes?|Linear(\d+)PercentEvery(\d+)Minutes?)$/;

/**
 * Minutes from the first to the last traffic step of a Lambda deployment configuration, or
 * undefined when it cannot be known at synth time (a config imported by name, a token).
 * Linear P% every N minutes moves P% at once and the rest in ceil(100/P) - 1 more steps.
 */
export function shiftMinutes(config: codedeploy.ILambdaDeploymentConfig): number | undefined {
  const name = config.deploymentConfigName;
  if (!Token.isUnresolved(name)) {
    const m = PREDEFINED.exec(name);
    if (m) {
      if (m[1]) return 0;
      if (m[2]) return Number(m[3]);
      return (Math.ceil(100 / Number(m[4])) - 1) * Number(m[5]);
    }
  }
  const cfn = (config as unknown as { node?: { defaultChild?: unknown } }).node?.defaultChild;
  if (!(cfn instanceof codedeploy.CfnDeploymentConfig)) return undefined;
  const routing = cfn.trafficRoutingConfig as codedeploy.CfnDeploymentConfig.TrafficRoutingConfigProperty | undefined;
  if (!routing || Token.isUnresolved(routing)) return undefined;
  const canary = routing.timeBasedCanary as codedeploy.CfnDeploymentConfig.TimeBasedCanaryProperty | undefined;
  const linear = routing.timeBasedLinear as codedeploy.CfnDeploymentConfig.TimeBasedLinearProperty | undefined;
  if (routing.type === 'TimeBasedCanary' && canary) return numberOrUndefined(canary.canaryInterval);
  if (routing.type === 'TimeBasedLinear' && linear) {
    const interval = numberOrUndefined(linear.linearInterval);
    const percentage = numberOrUndefined(linear.linearPercentage);
    return interval === undefined || percentage === undefined || percentage <= 0 ? undefined : (Math.ceil(100 / percentage) - 1) * interval;
  }
  return routing.type === 'AllAtOnce' ? 0 : undefined;
}

function numberOrUndefined(value: unknown): number | undefined {
  return typeof value === 'number' && !Token.isUnresolved(value) ? value : undefined;
}

/** Rejects a configuration whose shift cannot finish within one Lambda invoke action. */
export function checkShiftFitsAction(config: codedeploy.ILambdaDeploymentConfig, prop: string): void {
  const minutes = shiftMinutes(config);
  if (minutes !== undefined && minutes >= LAMBDA_ACTION_LIMIT_MINUTES) {
    const name = Token.isUnresolved(config.deploymentConfigName)
      ? (config as unknown as { node: { path: string } }).node.path
      : config.deploymentConfigName;
    throw new Error(`${prop}: ${name} shifts traffic over ${minutes} minutes, but Switch-Traffic is a Lambda invoke action, which CodePipeline stops after 24 hours (${LAMBDA_ACTION_LIMIT_MINUTES} minutes); choose a configuration that finishes sooner (fewer steps or shorter intervals)`);
  }
}
