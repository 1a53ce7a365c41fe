import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { DeploymentRecord } from './deployment-history-store';

/** Lifecycle events announced on the notification topic. */
export type LifecycleEvent = 'STAGED' | 'STARTED' | 'SUCCEEDED' | 'ROLLED_BACK' | 'FAILED' | 'SKIPPED';

/**
 * Publishes lifecycle events. A failed notification is logged, never thrown: the deployment
 * result must not be lost because a message could not be sent.
 */
export class LifecycleNotifier {
  constructor(private readonly client: SNSClient, private readonly topicArn: string | undefined) {}

  async announce(event: LifecycleEvent, record: DeploymentRecord): Promise<boolean> {
    if (!this.topicArn) return false;
    const service = record.service ?? 'service';
    const subject = `[${service}] deployment ${event.toLowerCase().replace('_', ' ')}: ` +
      `${record.currentVersion ?? '?'} -> ${record.targetVersion ?? '?'}`;
    try {
      await this.client.send(new PublishCommand({
        TopicArn: this.topicArn,
        Subject: subject.slice(0, 100),
        // Job id sets would print as {}; subscribers get arrays.
        Message: JSON.stringify({ event, ...record }, (_key, value) => value instanceof Set ? [...value] : value, 2),
        MessageAttributes: {
          event: { DataType: 'String', StringValue: event },
          service: { DataType: 'String', StringValue: service },
        },
      }));
      return true;
    } catch (error) {
      console.error(JSON.stringify({ message: 'lifecycle notification failed', event, deploymentId: record.deploymentId, error: String(error) }));
      return false;
    }
  }
}
