import { GetAliasCommand, LambdaClient } from '@aws-sdk/client-lambda';

/** What an alias serves: its version, and the versions it routes a share of traffic to besides. */
export interface AliasRouting {
  readonly version: string;
  readonly weights: Record<string, number>;
}

/** Reads an alias' version and routing weights. */
export async function aliasRoutingOf(lambda: LambdaClient, functionName: string, aliasName: string): Promise<AliasRouting> {
  const alias = await lambda.send(new GetAliasCommand({ FunctionName: functionName, Name: aliasName }));
  if (!alias?.FunctionVersion) throw new Error(`alias ${functionName}:${aliasName} has no function version`);
  return { version: alias.FunctionVersion, weights: alias.RoutingConfig?.AdditionalVersionWeights ?? {} };
}

/** The command that puts all of an alias' traffic on one version. */
export function aliasRepairCommand(functionName: string, aliasName: string, version = '<version>'): string {
  return `aws lambda update-alias --function-name ${functionName} --name ${aliasName} --function-version ${version} --routing-config '{}'`;
}

/**
 * Why a split alias with no deployment in progress cannot be shifted from, and how to repair it:
 * an interrupted deployment (or a hand edit) left it, and shifting from it would deploy blindly.
 */
export function splitAliasMessage(functionName: string, aliasName: string, routing: AliasRouting, deploymentGroupName?: string): string {
  return `alias ${functionName}:${aliasName} still routes traffic to ${JSON.stringify(routing.weights)} besides version ${routing.version}, ` +
    `but no CodeDeploy deployment is in progress${deploymentGroupName ? ` in deployment group ${deploymentGroupName}` : ''}: ` +
    'an interrupted deployment or a hand edit left it split. Choose the version that should serve all traffic and repair the alias with ' +
    `"${aliasRepairCommand(functionName, aliasName)}", then retry the stage.`;
}

/**
 * Returns the version an alias serves, refusing an alias that still splits traffic: that is
 * what an interrupted deployment leaves behind, and shifting from it would deploy blindly.
 */
export async function liveVersionOf(lambda: LambdaClient, functionName: string, aliasName: string): Promise<string> {
  const routing = await aliasRoutingOf(lambda, functionName, aliasName);
  if (Object.keys(routing.weights).length > 0) throw new Error(splitAliasMessage(functionName, aliasName, routing));
  return routing.version;
}

/**
 * The version an alias serves as its main version, split or not. While a CodeDeploy deployment
 * shifts the alias this is the version it shifts from; Deploy-Blue reports it, and Switch-Traffic
 * reads the alias again when its shift starts.
 */
export async function servedVersionOf(lambda: LambdaClient, functionName: string, aliasName: string): Promise<string> {
  return (await aliasRoutingOf(lambda, functionName, aliasName)).version;
}
