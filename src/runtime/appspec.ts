import { createHash } from 'crypto';

/** What one traffic shift moves: the alias, from which version, to which, and the hooks around it. */
export interface TrafficShift {
  readonly functionName: string;
  readonly aliasName: string;
  readonly currentVersion: string;
  readonly targetVersion: string;
  readonly beforeAllowTrafficHook?: string;
  readonly afterAllowTrafficHook?: string;
}

const VERSION_PATTERN = /^[1-9][0-9]*$/;

/**
 * Renders the AppSpec for a Lambda deployment. CodeDeploy accepts only numbered versions
 * (never `$LATEST`).
 * @see https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-resources.html
 */
export function renderAppSpec(shift: TrafficShift): { content: string; sha256: string } {
  for (const [field, value] of [['currentVersion', shift.currentVersion], ['targetVersion', shift.targetVersion]]) {
    if (!VERSION_PATTERN.test(value)) {
      throw new Error(`${field} must be a published version number (1, 2, ...), got "${value}"`);
    }
  }
  const hooks: Array<Record<string, string>> = [];
  if (shift.beforeAllowTrafficHook) hooks.push({ BeforeAllowTraffic: shift.beforeAllowTrafficHook });
  if (shift.afterAllowTrafficHook) hooks.push({ AfterAllowTraffic: shift.afterAllowTrafficHook });
  const appSpec = {
    version: '__APPSPEC_VERSION__',
    Resources: [{
      [shift.functionName]: {
        Type: 'AWS::Lambda::Function',
        Properties: {
          Name: shift.functionName,
          Alias: shift.aliasName,
          CurrentVersion: shift.currentVersion,
          TargetVersion: shift.targetVersion,
        },
      },
    }],
    ...(hooks.length > 0 ? { Hooks: hooks } : {}),
  };
  // AppSpec wants the number 0.0, which JSON.stringify would print as 0.
  const content = JSON.stringify(appSpec).replace('"__APPSPEC_VERSION__"', '0.0');
  return { content, sha256: createHash('sha256').update(content).digest('hex') };
}

/** Reads the function and target version back out of an AppSpec this module rendered. */
export function parseAppSpec(content: string): { functionName: string; targetVersion: string } {
  const spec = JSON.parse(content);
  const resource = Object.values(spec?.Resources?.[0] ?? {})[0] as any;
  const functionName = resource?.Properties?.Name;
  const targetVersion = resource?.Properties?.TargetVersion;
  if (typeof functionName !== 'string' || typeof targetVersion !== 'string') {
    throw new Error('AppSpec has no Resources[0].*.Properties.Name/TargetVersion');
  }
  return { functionName, targetVersion };
}
