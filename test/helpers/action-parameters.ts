import type { DeployBlueParameters, SwitchTrafficParameters } from '../../src/contract/handler-contract';

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
