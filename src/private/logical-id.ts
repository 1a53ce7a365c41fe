import { Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** The logical id of a construct's CloudFormation resource (its default child's, for an L2). */
export function logicalIdOf(construct: IConstruct): string {
  const child = construct.node.defaultChild ?? construct;
  return Stack.of(construct).resolve((child as unknown as { logicalId: string }).logicalId);
}

/** `<LogicalId.Arn>`: how cdk-nag writes a resource's ARN in a finding id. */
export function arnReference(construct: IConstruct): string {
  return `<${logicalIdOf(construct)}.Arn>`;
}
