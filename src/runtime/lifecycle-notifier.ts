import { MessageAttributeValue, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { DeploymentRecord, DeploymentState } from './deployment-history-store';
import { defaultLogger, Logger } from './logger';
import type { Placement } from './target-session';

/** Lifecycle events announced on the notification topic. */
export type LifecycleEvent = 'STAGED' | 'STARTED' | 'SUCCEEDED' | 'ROLLED_BACK' | 'FAILED' | 'SKIPPED' | 'NOT_STARTED'
/** The bake after the shift (the item keeps its state; ROLLED_BACK announces a bake that rolled it back). */
| 'BAKE_PASSED' | 'BAKE_ROLLING_BACK' | 'BAKE_FAILED';

/** What each state means for a service's traffic, in words a subscriber reads. */
const OUTCOME: Record<DeploymentState, string> = {
  STAGING: 'staging',
  STAGED: 'staged, not started yet',
  STARTING: 'starting its traffic shift',
  SHIFTING: 'shifting traffic',
  SUCCEEDED: 'went live',
  SKIPPED: 'already live, nothing shifted',
  ROLLED_BACK: 'rolled back',
  FAILED: 'failed',
  NOT_STARTED: 'never started',
};

/** One service of the execution, as a message lists it. */
export interface ServiceOutcome {
  readonly service: string;
  readonly wave?: number;
  readonly state: DeploymentState;
  readonly outcome: string;
  readonly currentVersion?: string;
  readonly targetVersion?: string;
}

/** The execution's services, waves first: which went live, which rolled back, which never started. */
export function executionOutcomes(records: readonly DeploymentRecord[]): ServiceOutcome[] {
  return records
    .map((r) => ({
      service: r.service ?? r.deploymentId,
      ...(r.wave !== undefined ? { wave: Number(r.wave) } : {}),
      state: r.state,
      outcome: OUTCOME[r.state] ?? r.state,
      ...(r.currentVersion ? { currentVersion: r.currentVersion } : {}),
      ...(r.targetVersion ? { targetVersion: r.targetVersion } : {}),
    }))
    .sort((a, b) => (a.wave ?? 0) - (b.wave ?? 0) || a.service.localeCompare(b.service));
}

/** Whether a record's service runs outside `home` (another account or region): its messages say where. */
function elsewhere(record: DeploymentRecord, home: Placement | undefined): boolean {
  if (!home) return false;
  return (!!record.account && !!home.account && record.account !== home.account)
    || (!!record.region && !!home.region && record.region !== home.region);
}

/**
 * One line saying what happened to this service; for a service in another account or region than
 * `home` (the topic's), which account and region.
 */
export function headline(event: LifecycleEvent, record: DeploymentRecord, home?: Placement): string {
  // A pipeline with several environments keys its items by environment too: say which one.
  const promoted = record.environment !== undefined && record.deploymentId.includes(`/${record.environment}/`);
  const named = promoted ? `${record.service} in ${record.environment}` : record.service ?? record.deploymentId;
  const service = elsewhere(record, home) ? `${named} (${[record.account, record.region].filter(Boolean).join(' ')})` : named;
  const current = record.currentVersion ?? '?';
  const target = record.targetVersion ?? '?';
  switch (event) {
    case 'STAGED': return `[${service}] staged version ${target} (live: ${current})`;
    case 'STARTED': return `[${service}] shifting traffic ${current} -> ${target}`;
    case 'SUCCEEDED': return `[${service}] went live: version ${target} (was ${current})`;
    case 'SKIPPED': return `[${service}] skipped: version ${target} is already live`;
    case 'ROLLED_BACK': return `[${service}] rolled back to version ${current} (${target} failed)`;
    case 'FAILED': return `[${service}] deployment failed: ${current} -> ${target}`;
    case 'NOT_STARTED': return `[${service}] never started${record.failureReason ? `: ${record.failureReason}` : ''}`;
    case 'BAKE_PASSED': return `[${service}] passed its bake: version ${target}`;
    case 'BAKE_ROLLING_BACK': return `[${service}] bake: rolling back to version ${current}${record.bakeFailureReason ? ` (${record.bakeFailureReason})` : ''}`;
    case 'BAKE_FAILED': return `[${service}] bake failed${record.bakeFailureReason ? `: ${record.bakeFailureReason}` : ''}`;
  }
}

/**
 * Publishes lifecycle events, one message per service and event. A failed notification is
 * logged, never thrown: the deployment result must not be lost because a message could not be sent.
 */
export class LifecycleNotifier {
  /** The topic's account and region: the pipeline's, from which a target's are told apart. */
  private readonly home?: Placement;

  constructor(private readonly client: SNSClient, private readonly topicArn: string | undefined, private readonly logger: Logger = defaultLogger()) {
    const [, , , region, account] = topicArn?.split(':') ?? [];
    if (region && account) this.home = { account, region };
  }

  /**
   * @param execution every service of the execution, when the caller has them: listed in the
   *   message so one message tells the whole outcome of a failed wave
   */
  async announce(event: LifecycleEvent, record: DeploymentRecord, execution?: readonly DeploymentRecord[]): Promise<boolean> {
    if (!this.topicArn) return false;
    const service = record.service ?? 'service';
    const subject = headline(event, record, this.home);
    // Publish: "UTF-8 text with no line breaks or control characters, and less than 100 characters long".
    // eslint-disable-next-line no-control-regex
    const line = subject.replace(/[\u0000-\u001f\u007f]+/g, ' ');
    const attributes: Record<string, MessageAttributeValue> = {
      event: { DataType: 'String', StringValue: event },
      service: { DataType: 'String', StringValue: service },
    };
    if (record.executionId) attributes.executionId = { DataType: 'String', StringValue: record.executionId };
    // Lets a subscription's filter policy pick one environment (prod's on-call, say).
    if (record.environment) attributes.environment = { DataType: 'String', StringValue: record.environment };
    // Where the service runs: a filter policy can select one account or region too.
    if (record.account) attributes.account = { DataType: 'String', StringValue: record.account };
    if (record.region) attributes.region = { DataType: 'String', StringValue: record.region };
    if (record.wave !== undefined) attributes.wave = { DataType: 'Number', StringValue: String(record.wave) };
    try {
      await this.client.send(new PublishCommand({
        TopicArn: this.topicArn,
        Subject: line.length > 99 ? `${line.slice(0, 96)}...` : line,
        // Job id sets would print as {}; subscribers get arrays.
        Message: JSON.stringify({
          event,
          summary: subject,
          ...record,
          ...(execution ? { execution: executionOutcomes(execution) } : {}),
        }, (_key, value) => value instanceof Set ? [...value] : value, 2),
        MessageAttributes: attributes,
      }));
      return true;
    } catch (error) {
      this.logger.error('lifecycle notification failed', { event, itemDeploymentId: record.deploymentId, error: String(error) });
      return false;
    }
  }
}
