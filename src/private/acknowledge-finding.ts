import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
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
  // Idempotent: two pipelines in one stack share aws-cdk-lib's singleton providers.
  const skip: Array<{ id: string }> = resource.getMetadata('checkov')?.skip ?? [];
  const checkov = (findings.checkov ?? []).filter((id) => !skip.some((s) => s.id === id));
  if (checkov.length) {
    resource.addMetadata('checkov', { skip: [...skip, ...checkov.map((id) => ({ id, comment: reason }))] });
  }
  const guard = resource.getMetadata('guard') ?? { SuppressedRules: [], Reasons: {} };
  const rules = (findings.guard ?? []).filter((rule) => !guard.SuppressedRules.includes(rule));
  if (rules.length) {
    resource.addMetadata('guard', {
      SuppressedRules: [...guard.SuppressedRules, ...rules],
      Reasons: { ...guard.Reasons, ...Object.fromEntries(rules.map((rule) => [rule, reason])) },
    });
  }
}

/** The findings of aws-cdk-lib's singleton provider that empties a versioned bucket on DESTROY, if `scope`'s stack has it. */
export function acknowledgeAutoDeleteProvider(scope: IConstruct): void {
  const autoDelete = Stack.of(scope).node.tryFindChild('Custom::S3AutoDeleteObjectsCustomResourceProvider')?.node.tryFindChild('Handler');
  if (!autoDelete) return;
  const reason = 'aws-cdk-lib\'s auto-delete-objects provider, run only by CloudFormation on stack deletion; it calls only the S3 API and CloudFormation fails the operation if it errors.';
  acknowledgeTemplateFindings(autoDelete, { checkov: ['CKV_AWS_115', 'CKV_AWS_116', 'CKV_AWS_117'], guard: ['lambda_inside_vpc_check'] }, reason);
}
