import { GetAliasCommand, LambdaClient } from '@aws-sdk/client-lambda';

/**
 * Returns the version an alias serves, refusing an alias that still splits traffic: that is
 * what an interrupted deployment leaves behind, and shifting from it would deploy blindly.
 */
export async function liveVersionOf(lambda: LambdaClient, functionName: string, aliasName: string): Promise<string> {
  const alias = await lambda.send(new GetAliasCommand({ FunctionName: functionName, Name: aliasName }));
  const weights = alias?.RoutingConfig?.AdditionalVersionWeights ?? {};
  if (Object.keys(weights).length > 0) {
    throw new Error(
      `alias ${functionName}:${aliasName} still routes traffic to ${JSON.stringify(weights)} besides version ${alias?.FunctionVersion}, ` +
      'left by an interrupted deployment. Stop any CodeDeploy deployment in progress, then repair the alias with ' +
      `"aws lambda update-alias --function-name ${functionName} --name ${aliasName} --function-version <version> --routing-config '{}'" and retry.`);
  }
  if (!alias?.FunctionVersion) throw new Error(`alias ${functionName}:${aliasName} has no function version`);
  return alias.FunctionVersion;
}
