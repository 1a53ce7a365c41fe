import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { LifecycleNotifier } from '../../src/runtime/lifecycle-notifier';

const sns = mockClient(SNSClient);

test('the message lists the job ids that claimed the deployment', async () => {
  // Publish answers MessageId (PublishCommand.d.ts).
  sns.on(PublishCommand).resolves({ MessageId: '5b2b1c2d-0000-4000-8000-000000000001' });
  const notifier = new LifecycleNotifier(new SNSClient({ region: 'us-east-1' }), 'arn:aws:sns:us-east-1:111111111111:deployments');
  await notifier.announce('STAGED', { deploymentId: 'exec-1', state: 'STAGED', service: 'orders-api', deployBlueJobIds: new Set(['job-1', 'job-2']) });
  const message = JSON.parse(sns.commandCalls(PublishCommand)[0].args[0].input.Message!);
  expect(message).toMatchObject({ event: 'STAGED', deploymentId: 'exec-1', deployBlueJobIds: ['job-1', 'job-2'] });
});
