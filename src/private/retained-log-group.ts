import { RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledgeTemplateFindings } from './acknowledge-finding';

/** Retention of what the construct creates. */
export interface RetentionSettings {
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/** A log group with retention; CloudWatch Logs' own encryption is acknowledged where it is created. */
export function retainedLogGroup(scope: Construct, id: string, settings: RetentionSettings): logs.LogGroup {
  const logGroup = new logs.LogGroup(scope, id, { retention: settings.logRetention, removalPolicy: settings.removalPolicy });
  acknowledgeTemplateFindings(logGroup, { checkov: ['CKV_AWS_158'], guard: ['cloudwatch_log_group_encrypted_check'] },
    'CloudWatch Logs encrypts every log group at rest; these logs carry no secrets, and a customer managed key would add a key policy and a monthly cost.');
  return logGroup;
}
