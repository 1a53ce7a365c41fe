import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { CodePipelineClient, PutJobFailureResultCommand, PutJobSuccessResultCommand } from '@aws-sdk/client-codepipeline';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { HistoryTableFixture } from './dynalite-history-table';
import { DeploymentHistoryStore } from '../src/runtime/deployment-history-store';
import { LifecycleNotifier } from '../src/runtime/lifecycle-notifier';

/**
 * Clients for handler tests: DynamoDB is real (dynalite); CodePipeline, CodeDeploy, Lambda and
 * SNS, which no local emulator models, are mocked.
 */
export function handlerHarness(fixture: HistoryTableFixture) {
  const clients = {
    lambda: new LambdaClient({ region: 'us-east-1' }),
    codeDeploy: new CodeDeployClient({ region: 'us-east-1' }),
    codePipeline: new CodePipelineClient({ region: 'us-east-1' }),
    sns: new SNSClient({ region: 'us-east-1' }),
  };
  const mocks = {
    lambda: mockClient(clients.lambda),
    codeDeploy: mockClient(clients.codeDeploy),
    codePipeline: mockClient(clients.codePipeline),
    sns: mockClient(clients.sns),
  };
  const history = new DeploymentHistoryStore(fixture.doc, fixture.tableName);
  const notifier = new LifecycleNotifier(clients.sns, 'arn:aws:sns:us-east-1:111111111111:orders-api-deployments-dev');
  const reset = () => {
    Object.values(mocks).forEach((m) => m.reset());
    mocks.codePipeline.on(PutJobSuccessResultCommand).resolves({});
    mocks.codePipeline.on(PutJobFailureResultCommand).resolves({});
    mocks.sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  };
  const jobResults = () => ({
    successes: mocks.codePipeline.commandCalls(PutJobSuccessResultCommand).map((c) => c.args[0].input),
    failures: mocks.codePipeline.commandCalls(PutJobFailureResultCommand).map((c) => c.args[0].input),
  });
  const announced = () => mocks.sns.commandCalls(PublishCommand).map((c) => c.args[0].input.MessageAttributes?.event?.StringValue);
  return { clients, mocks, history, notifier, reset, jobResults, announced };
}
