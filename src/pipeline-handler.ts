import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

/** What every pipeline handler gets besides its code. */
export interface PipelineHandlerSettings {
  readonly functionName: string;
  readonly description: string;
  readonly timeout: Duration;
  readonly environment: { [key: string]: string };
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** Receives invocations that failed all of Lambda's asynchronous retries. */
  readonly deadLetterTopic: sns.ITopic;
}

/**
 * Production settings for a handler: its own log group with retention, a role that may write to
 * that log group and nothing else yet (callers add scoped grants), JSON logs, X-Ray tracing and
 * a dead-letter topic.
 */
export function pipelineHandlerOptions(scope: Construct, id: string, settings: PipelineHandlerSettings): lambda.FunctionOptions {
  const logGroup = new logs.LogGroup(scope, `${id}LogGroup`, {
    retention: settings.logRetention,
    removalPolicy: settings.removalPolicy,
  });
  const role = new iam.Role(scope, `${id}Role`, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `Execution role of ${settings.functionName}`,
  });
  logGroup.grantWrite(role);
  return {
    functionName: settings.functionName,
    description: settings.description,
    timeout: settings.timeout,
    memorySize: 256,
    environment: settings.environment,
    logGroup,
    role,
    loggingFormat: lambda.LoggingFormat.JSON,
    tracing: lambda.Tracing.ACTIVE,
    deadLetterTopic: settings.deadLetterTopic,
  };
}
