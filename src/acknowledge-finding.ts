import { CfnResource, Validations } from 'aws-cdk-lib';
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

/** Checks of the template validators that read their suppressions from a resource's `Metadata`. */
export interface TemplateFindings {
  /** checkov check ids (`CKV_AWS_117`), written as `Metadata.checkov.skip[{ id, comment }]`. */
  readonly checkov?: string[];
  /**
   * cfn-guard rule names (`lambda_inside_vpc_check`), written as `Metadata.guard.SuppressedRules`
   * (the Guard rules registry convention) with the reason under `Metadata.guard.Reasons`.
   */
  readonly guard?: string[];
}

/**
 * Acknowledges template-validator findings on the CloudFormation resource behind `scope`, so the
 * suppression and its reason travel with the resource into every synthesized template.
 */
export function acknowledgeTemplateFindings(scope: IConstruct, findings: TemplateFindings, reason: string): void {
  const resource = CfnResource.isCfnResource(scope) ? scope : scope.node.defaultChild;
  if (!resource || !CfnResource.isCfnResource(resource)) {
    throw new Error(`acknowledgeTemplateFindings: ${scope.node.path} has no CloudFormation resource to carry the acknowledgement`);
  }
  if (findings.checkov?.length) {
    const skip = resource.getMetadata('checkov')?.skip ?? [];
    resource.addMetadata('checkov', { skip: [...skip, ...findings.checkov.map((id) => ({ id, comment: reason }))] });
  }
  if (findings.guard?.length) {
    const guard = resource.getMetadata('guard') ?? { SuppressedRules: [], Reasons: {} };
    resource.addMetadata('guard', {
      SuppressedRules: [...guard.SuppressedRules, ...findings.guard],
      Reasons: { ...guard.Reasons, ...Object.fromEntries(findings.guard.map((rule) => [rule, reason])) },
    });
  }
}
