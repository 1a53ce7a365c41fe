import { Duration, Size } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeTemplateFindings } from './acknowledge-finding';
import { RetentionSettings, retainedLogGroup } from './retained-log-group';

/** What every pipeline handler gets besides its code. */
export interface PipelineHandlerSettings extends RetentionSettings {
  readonly functionName: string;
  readonly description: string;
  readonly timeout: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  /** @default 512 MiB, Lambda's default */
  readonly ephemeralStorageSize?: Size;
  readonly environment: { [key: string]: string };
  /**
   * Receives invocations that failed all of Lambda's asynchronous retries: the event itself,
   * credentials included, so never a topic people subscribe to.
   */
  readonly deadLetterQueue: sqs.IQueue;
  /**
   * A fixed role name, for a role other accounts' trust policies name by ARN.
   * @default - CloudFormation names the role
   */
  readonly roleName?: string;
}

/**
 * Production settings for a handler: its own log group with retention, a role that may write to
 * that log group and nothing else yet (callers add scoped grants), JSON logs, X-Ray tracing and
 * a dead-letter queue.
 */
export function pipelineHandlerOptions(scope: Construct, id: string, settings: PipelineHandlerSettings): lambda.FunctionOptions {
  const logGroup = retainedLogGroup(scope, `${id}LogGroup`, settings);
  const role = new iam.Role(scope, `${id}Role`, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `Execution role of ${settings.functionName}`,
    roleName: settings.roleName,
  });
  logGroup.grantWrite(role);
  return {
    functionName: settings.functionName,
    description: settings.description,
    timeout: settings.timeout,
    memorySize: settings.memorySize ?? 256,
    ephemeralStorageSize: settings.ephemeralStorageSize,
    environment: settings.environment,
    logGroup,
    role,
    loggingFormat: lambda.LoggingFormat.JSON,
    tracing: lambda.Tracing.ACTIVE,
    deadLetterQueue: settings.deadLetterQueue,
  };
}

/** The template findings every pipeline handler shares, acknowledged on the function. */
export function acknowledgeHandlerFindings(handler: lambda.Function): void {
  acknowledgeTemplateFindings(handler, { checkov: ['CKV_AWS_117'], guard: ['lambda_inside_vpc_check'] },
    'Calls only public AWS API endpoints; a VPC would need a NAT gateway or interface endpoints and protects nothing here.');
  acknowledgeTemplateFindings(handler, { checkov: ['CKV_AWS_115'] },
    'Reserved concurrency comes out of the account\'s unreserved pool (accounts at the default limit cannot reserve any); the pipeline runs one execution at a time.');
  acknowledgeTemplateFindings(handler, { checkov: ['CKV_AWS_173'] },
    'The variables hold resource names and ARNs, no secrets; Lambda encrypts them at rest with an AWS managed key.');
}
