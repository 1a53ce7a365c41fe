import { LIST_SEPARATOR } from '../../src/contract/handler-contract';
import type { BakeParameters, DeployBlueParameters, SwitchTrafficParameters } from '../../src/contract/handler-contract';

/** What both of orders-api's actions carry in pipeline execution `executionId` (the contract's deploymentId). */
const ordersApi = (executionId: string) => ({
  deploymentId: executionId,
  service: 'orders-api',
  functionName: 'orders-api-dev',
  aliasName: 'live',
  wave: '1',
});

/**
 * The UserParameters the construct gives orders-api's Deploy-Blue action: the keys every test's
 * action has. Another service, a bundle directory or the commit keys come as overrides; a key the
 * contract lacks does not compile.
 */
export function deployBlueParameters(executionId: string, overrides: Partial<DeployBlueParameters> = {}): DeployBlueParameters {
  return { ...ordersApi(executionId), bundleDirectory: '', environment: 'dev', ...overrides };
}

/** The commit the Source action reports for the shop repository: Deploy-Blue records it, and LeadTime counts from commitTime. */
export const SHOP_COMMIT = {
  commitId: 'c0ffee',
  repository: 'example-org/shop',
  branch: 'main',
  commitTime: '2026-11-22T09:00:00Z',
} as const satisfies Partial<DeployBlueParameters>;

/**
 * The UserParameters the construct gives orders-api's Switch-Traffic action, shifting to version 4:
 * the keys every test's action has. A deployment config, hooks and version retention come as
 * overrides; a key the contract lacks does not compile.
 */
export function switchTrafficParameters(executionId: string, overrides: Partial<SwitchTrafficParameters> = {}): SwitchTrafficParameters {
  return { ...ordersApi(executionId), targetVersion: '4', deploymentGroupName: 'orders-api-live-dev', ...overrides };
}

/** The promotion order of the tests' pipeline with several environments. */
export const ENVIRONMENTS = ['dev', 'staging', 'prod'] as const;

/** Which environments a pipeline promotes through, and which of them bake. */
export interface EnvironmentOptions {
  /** @default ENVIRONMENTS */
  readonly environments?: readonly string[];
  /** @default none */
  readonly bakedEnvironments?: readonly string[];
}

/** orders-api's function in one environment: each environment has its own copy (`orders-api-prod`). */
export const functionIn = (environment: string) => `orders-api-${environment}`;

/**
 * orders-api's Deploy-Blue UserParameters in `environment` of a pipeline that promotes through
 * several: the environment, the promotion order, the baked environments and that environment's function.
 */
export function deployBlueInEnvironment(executionId: string, environment: string, options: EnvironmentOptions = {},
  overrides: Partial<DeployBlueParameters> = {}): DeployBlueParameters {
  return deployBlueParameters(executionId, {
    environment,
    environments: (options.environments ?? ENVIRONMENTS).join(LIST_SEPARATOR),
    ...(options.bakedEnvironments?.length ? { bakedEnvironments: options.bakedEnvironments.join(LIST_SEPARATOR) } : {}),
    functionName: functionIn(environment),
    ...overrides,
  });
}

/** orders-api's Switch-Traffic UserParameters in `environment` of a pipeline that promotes through several. */
export function switchTrafficInEnvironment(executionId: string, environment: string, options: Pick<EnvironmentOptions, 'environments'> = {},
  overrides: Partial<SwitchTrafficParameters> = {}): SwitchTrafficParameters {
  return switchTrafficParameters(executionId, {
    environment,
    environments: (options.environments ?? ENVIRONMENTS).join(LIST_SEPARATOR),
    functionName: functionIn(environment),
    deploymentGroupName: `orders-api-live-${environment}`,
    ...overrides,
  });
}

/**
 * The UserParameters the construct gives orders-api's Bake action in `environment` (staging by
 * default) of a pipeline that promotes through several: a 30-minute bake, no minimum of
 * invocations. Hooks and minInvocations come as overrides; a key the contract lacks does not compile.
 */
export function bakeParameters(executionId: string, overrides: Partial<BakeParameters> = {}, environment = 'staging'): BakeParameters {
  return {
    ...ordersApi(executionId),
    functionName: functionIn(environment),
    deploymentGroupName: `orders-api-live-${environment}`,
    environment,
    environments: ENVIRONMENTS.join(LIST_SEPARATOR),
    bakeMinutes: '30',
    ...overrides,
  };
}
