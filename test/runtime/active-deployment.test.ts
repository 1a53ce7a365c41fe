import { CodeDeployClient, GetDeploymentCommand, ListDeploymentsCommand } from '@aws-sdk/client-codedeploy';
import { mockClient } from 'aws-sdk-client-mock';
import { activeDeploymentOf, pipelineDeploymentDescription } from '../../src/runtime/active-deployment';
import { DeploymentHistoryStore } from '../../src/runtime/deployment-history-store';
import { HistoryTableFixture, startHistoryTable } from '../helpers/dynalite-history-table';
import { deploymentInfo, REGION, shiftingRecord, stagedRecord } from '../helpers/handler-harness';

let fixture: HistoryTableFixture;
let history: DeploymentHistoryStore;
const client = new CodeDeployClient({ region: REGION });
const codeDeploy = mockClient(client);
beforeAll(async () => {
  fixture = await startHistoryTable();
  history = new DeploymentHistoryStore(fixture.doc, fixture.tableName);
});
afterAll(() => fixture.stop());
beforeEach(() => codeDeploy.reset());

/** The group's one active deployment: ListDeployments answers its id, GetDeployment its info (their .d.ts). */
const active = (deploymentId: string, description: string) => {
  codeDeploy.on(ListDeploymentsCommand).resolves({ deployments: [deploymentId] });
  codeDeploy.on(GetDeploymentCommand).resolves({ deploymentInfo: { ...deploymentInfo({ deploymentId, status: 'InProgress' }), description } });
};
const PROD = { applicationName: 'shop', deploymentGroupName: 'orders-live-prod', service: 'orders', environment: 'prod', environments: ['dev', 'staging', 'prod'] };

test('a deployment whose SHIFTING write was lost is found by its description under the environment\'s history key', async () => {
  // Switch-Traffic's claim was taken, CreateDeployment ran, the SHIFTING write never happened.
  await stagedRecord(history, 'exec-7/prod/orders', { executionId: 'exec-7', service: 'orders', environment: 'prod', targetVersion: '4' });
  active('d-LOST', pipelineDeploymentDescription('exec-7', 'orders-prod:live 3 -> 4'));
  const found = await activeDeploymentOf(client, history, PROD);
  expect(found).toMatchObject({ kind: 'pipeline', record: { deploymentId: 'exec-7/prod/orders' }, awaited: 'd-LOST' });
  // a pipeline without environments keeps its keys
  await stagedRecord(history, 'exec-8/orders', { executionId: 'exec-8', service: 'orders', environment: 'prod', targetVersion: '4' });
  active('d-LOST-8', pipelineDeploymentDescription('exec-8', 'orders-prod:live 3 -> 4'));
  const single = await activeDeploymentOf(client, history, { applicationName: 'shop', deploymentGroupName: 'orders-live-prod', service: 'orders' });
  expect(single).toMatchObject({ kind: 'pipeline', record: { deploymentId: 'exec-8/orders' } });
});

test('another environment\'s item never claims a group\'s deployment', async () => {
  await shiftingRecord(history, 'exec-9/staging/orders', {
    executionId: 'exec-9', service: 'orders', environment: 'staging', targetVersion: '4', codeDeployDeploymentId: 'd-SHARED-ID',
  });
  active('d-SHARED-ID', 'started by hand');
  await expect(activeDeploymentOf(client, history, PROD)).resolves.toMatchObject({ kind: 'foreign' });
});
