import { FunctionConfiguration, GetAliasCommand, GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { describeError } from './codepipeline-job';

/** Whether a staged bundle is what the alias serves already, and why (or why not). */
export type CodeComparison =
  | { readonly unchanged: true; readonly version: string }
  | { readonly unchanged: false; readonly reason: string };

/**
 * Fields of GetFunctionConfiguration that describe the version, not its settings: they differ
 * between $LATEST and any published version of the same settings. Description is set per version
 * by PublishVersion; RuntimeVersionConfig is Lambda's runtime patch level, not the user's choice.
 */
const NOT_SETTINGS = new Set([
  '$metadata', 'FunctionArn', 'Version', 'LastModified', 'RevisionId', 'CodeSha256', 'CodeSize', 'Description', 'ConfigSha256',
  'State', 'StateReason', 'StateReasonCode', 'LastUpdateStatus', 'LastUpdateStatusReason', 'LastUpdateStatusReasonCode',
  'RuntimeVersionConfig', 'MasterArn', 'SigningJobArn', 'SigningProfileVersionArn',
]);

/** JSON with sorted keys, so that two answers compare by content, not by key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().filter((k) => (value as any)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((value as any)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The settings a version freezes (GetFunctionConfiguration "includes only options that can vary between versions"). */
function settingsOf(configuration: FunctionConfiguration): string {
  const settings: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(configuration)) if (!NOT_SETTINGS.has(key)) settings[key] = value;
  // SnapStart: the setting is ApplyOn; OptimizationStatus is On for a published version, Off for $LATEST.
  if (configuration.SnapStart) settings.SnapStart = { ApplyOn: configuration.SnapStart.ApplyOn };
  return canonical(settings);
}

/**
 * Tells whether publishing `codeSha256` would give the alias nothing new: the alias serves one
 * version (no routing weights: a split alias is being shifted, and which side stays live is not
 * known yet), that version's CodeSha256 is the staged zip's, and its settings are $LATEST's (so a
 * configuration change made by a stack update still goes out with the next release). A version's
 * CodeSha256 comes from GetFunctionConfiguration with the version as Qualifier; GetAlias has none.
 * Anything that cannot be read answers "changed": when in doubt, deploy.
 */
export async function compareWithLive(lambda: LambdaClient,
  request: { functionName: string; aliasName: string; codeSha256: string }): Promise<CodeComparison> {
  const { functionName, aliasName, codeSha256 } = request;
  try {
    const alias = await lambda.send(new GetAliasCommand({ FunctionName: functionName, Name: aliasName }));
    const weights = Object.keys(alias.RoutingConfig?.AdditionalVersionWeights ?? {});
    if (!alias.FunctionVersion || weights.length > 0) {
      return { unchanged: false, reason: `alias ${aliasName} serves ${alias.FunctionVersion ?? 'no version'}${weights.length ? ` and routes to ${weights.join(', ')}` : ''}` };
    }
    const version = alias.FunctionVersion;
    const [live, latest] = await Promise.all([
      lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName, Qualifier: version })),
      lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName })),
    ]);
    if (live.CodeSha256 !== codeSha256) return { unchanged: false, reason: `version ${version} has other code (${live.CodeSha256})` };
    if (settingsOf(live) !== settingsOf(latest)) return { unchanged: false, reason: `version ${version} has the same code but other settings than $LATEST` };
    return { unchanged: true, version };
  } catch (error) {
    return { unchanged: false, reason: `could not compare with the live version: ${describeError(error)}` };
  }
}
