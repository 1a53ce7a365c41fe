import { Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * Records that a policy-validation finding on `scope` (and its children) is understood and why,
 * where cdk-nag 3 looks for it: the metadata `Validations.acknowledge()` writes. Written directly
 * because aws-cdk-lib before 2.269 refuses finding ids containing `::`
 * (`AwsSolutions-IAM5[Resource::*]`), and cdk-nag 3 matches findings only by their full id.
 */
export function acknowledgeFinding(scope: IConstruct, id: string, reason: string): void {
  scope.node.addMetadata(Validations.ACKNOWLEDGED_RULES_METADATA_KEY, { [id]: reason });
}
