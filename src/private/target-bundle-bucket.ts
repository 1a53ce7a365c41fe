import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeAutoDeleteProvider, acknowledgeFinding, acknowledgeTemplateFindings } from './acknowledge-finding';
import { BUNDLES_PREFIX } from '../contract/handler-contract';

/** Properties of {@link TargetBundleBucket}. */
export interface TargetBundleBucketProps {
  readonly bucketName: string;
  readonly removalPolicy: RemovalPolicy;
  /** Who writes the bundles and has Lambda read them: the target's deployer role. */
  readonly deployerRole: iam.IRole;
  readonly description: string;
}

/**
 * Where a target's services' bundles wait for UpdateFunctionCode, which reads S3 only in the
 * function's own region: a bucket of the target's account and region, encrypted with a key of its
 * own whose policy lets only the deployer role use it, and only through S3. Bundles are written
 * once per execution and read once; they expire after 30 days.
 */
export class TargetBundleBucket extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: TargetBundleBucketProps) {
    super(scope, id);
    const region = Stack.of(this).region;
    this.key = new kms.Key(this, 'Key', {
      description: `Encrypts ${props.description}`,
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy,
      pendingWindow: Duration.days(7),
    });
    this.key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'DeployerWritesAndLambdaReadsBundlesThroughS3',
      principals: [new iam.ArnPrincipal(props.deployerRole.roleArn)],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: ['*'],
      conditions: { StringEquals: { 'kms:ViaService': `s3.${region}.amazonaws.com` } },
    }));
    // Grants of the key only for AWS resources or by AWS services (Control Tower CT.KMS.PR.3); S3 needs none.
    // One condition key per call, as the example writes it (a Java or Go map keeps no order).
    const grantsForAwsOnly = new iam.PolicyStatement({
      sid: 'GrantsOnlyForAwsResources',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
    });
    grantsForAwsOnly.addCondition('BoolIfExists', { 'kms:GrantIsForAWSResource': 'false' });
    grantsForAwsOnly.addCondition('BoolIfExists', { 'aws:PrincipalIsAWSService': 'false' });
    this.key.addToResourcePolicy(grantsForAwsOnly);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      bucketName: props.bucketName,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned: true,
      lifecycleRules: [{
        prefix: BUNDLES_PREFIX,
        expiration: Duration.days(30),
        noncurrentVersionExpiration: Duration.days(1),
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      }],
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: props.removalPolicy === RemovalPolicy.DESTROY,
    });
    const noAccessLogs = 'Bundles are written by the deployer role and read by Lambda for UpdateFunctionCode, both recorded by CloudTrail; server access logs would need a second bucket in every target.';
    acknowledgeTemplateFindings(this.bucket, { checkov: ['CKV_AWS_18'], guard: ['s3_bucket_logging_enabled_check'] }, noAccessLogs);
    acknowledgeFinding(this.bucket, 'AwsSolutions-S1', noAccessLogs);
    acknowledgeTemplateFindings(this.bucket, { guard: ['s3_bucket_object_lock_enabled_check'] },
      'Bundles are transient: Object Lock would defeat their 30-day expiry and removalPolicy DESTROY.');
    acknowledgeTemplateFindings(this.bucket, { guard: ['s3_event_notifications_enabled_check'] },
      'Nothing consumes bundle events; Deploy-Blue hands each bundle to UpdateFunctionCode itself.');
    acknowledgeTemplateFindings(this.bucket, { checkov: ['CKV_AWS_144'] },
      'A bundle is needed in this region only, and only until UpdateFunctionCode has read it; the build artifact it was cut from stays in the pipeline\'s bucket.');
    acknowledgeAutoDeleteProvider(this);
  }
}
