import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeFinding, acknowledgeTemplateFindings } from './acknowledge-finding';
import { notifyTopicOfAlarm } from './alarm-notifications';

/** Properties of {@link HandlerDeadLetters}. */
export interface HandlerDeadLettersProps {
  readonly queueName: string;
  readonly alarmName: string;
  /** Whose handlers dead-letter here, for the alarm's description. */
  readonly pipelineName: string;
  /** Told (by the alarm, never with a message) that dead letters wait. */
  readonly notificationTopic: sns.ITopic;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * Where the stage handlers' failed invocations go after Lambda's asynchronous retries. A dead
 * letter is the event as Lambda received it, and a CodePipeline job event carries temporary
 * credentials (`data.artifactCredentials`): so a queue, not the topic people subscribe to. Nothing
 * is granted to read it; the handlers may only send (Lambda adds `sqs:SendMessage` to their
 * roles). SQS-managed encryption (SSE-SQS) rather than a KMS key: who may read is decided by IAM
 * either way (a key policy that delegates to the account narrows nothing), and a key would cost
 * a monthly fee and add a way to lose dead letters (a role without `kms:GenerateDataKey`).
 * The alarm says that dead letters wait and where; it carries no part of them.
 */
export class HandlerDeadLetters extends Construct {
  public readonly queue: sqs.Queue;
  public readonly alarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: HandlerDeadLettersProps) {
    super(scope, id);
    this.queue = new sqs.Queue(this, 'Queue', {
      queueName: props.queueName,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // The longest SQS keeps a message: time to notice, read and delete.
      retentionPeriod: Duration.days(14),
      removalPolicy: props.removalPolicy,
    });
    const isDeadLetterQueue = 'This queue is itself the dead-letter queue of the stage handlers (Lambda DeadLetterConfig); a dead-letter queue of its own would only move the messages again.';
    acknowledgeFinding(this.queue, 'Serverless-SQSRedrivePolicy', isDeadLetterQueue);
    acknowledgeTemplateFindings(this.queue, { guard: ['sqs_dlq_check'] }, isDeadLetterQueue);
    acknowledgeTemplateFindings(this.queue, { checkov: ['CKV_AWS_27'] },
      'Encrypted at rest with SSE-SQS (SqsManagedSseEnabled), which this check does not recognise; a KMS key would not narrow who may read (IAM decides) and could lose dead letters to a missing kms:GenerateDataKey.');
    this.alarm = new cloudwatch.Alarm(this, 'Alarm', {
      alarmName: props.alarmName,
      alarmDescription: `Dead letters of ${props.pipelineName}: a stage handler invocation failed every retry and waits in SQS queue ${props.queueName}. `
        + 'The message is the job event with temporary credentials: read it as README "How each stage works" says, then delete it; retry the failed stage in CodePipeline.',
      metric: this.queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // SQS stops publishing the metrics of a queue that stays empty: an empty queue is fine.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    notifyTopicOfAlarm(this, this.alarm, props.notificationTopic);
  }
}
