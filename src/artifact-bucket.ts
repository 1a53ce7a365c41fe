import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeAutoDeleteProvider, acknowledgeFinding, acknowledgeTemplateFindings } from './private/acknowledge-finding';

/** Properties of {@link ArtifactBucket}. */
export interface ArtifactBucketProps {
  /**
   * What happens to the bucket when it leaves the stack.
   * @default RemovalPolicy.DESTROY (objects are deleted with it)
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * How long an artifact stays current. CodePipeline writes a new object key for every
   * execution, so artifacts are rarely overwritten and a noncurrent-version rule alone would
   * almost never delete anything; this expires them (on a versioned bucket expiry makes the
   * object noncurrent, and `noncurrentVersionExpiration` then deletes it).
   * @default Duration.days(30)
   */
  readonly artifactExpiration?: Duration;
  /**
   * How long superseded object versions are kept.
   * @default Duration.days(30)
   */
  readonly noncurrentVersionExpiration?: Duration;
  /**
   * A bucket for S3 server access logs.
   * @default - no access logging
   */
  readonly serverAccessLogsBucket?: s3.IBucket;
}

/**
 * The pipeline's artifact store: private, encrypted, TLS only, versioned; artifacts expire, and
 * so do the versions they leave behind.
 *
 * The bucket's default encryption is SSE-S3, but CodePipeline and CodeBuild write every artifact
 * with SSE-KMS under the AWS managed key `aws/s3`, because the pipeline names no key of its own.
 */
export class ArtifactBucket extends Construct {
  /** The bucket. */
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: ArtifactBucketProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned: true,
      lifecycleRules: [{
        expiration: props.artifactExpiration ?? Duration.days(30),
        noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? Duration.days(30),
        abortIncompleteMultipartUploadAfter: Duration.days(7),
      }],
      serverAccessLogsBucket: props.serverAccessLogsBucket,
      serverAccessLogsPrefix: props.serverAccessLogsBucket ? 'artifacts/' : undefined,
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
    });
    this.acknowledgeFindings(props);
  }

  private acknowledgeFindings(props: ArtifactBucketProps) {
    acknowledgeTemplateFindings(this.bucket, { guard: ['s3_bucket_default_encryption_kms_check'] },
      'CodePipeline and CodeBuild write every artifact with SSE-KMS under the AWS managed key aws/s3 (the bucket default, SSE-S3, covers anything else); a customer managed key would need key grants for every action role and a monthly cost without adding control here.');
    acknowledgeTemplateFindings(this.bucket, { guard: ['s3_bucket_object_lock_enabled_check'] },
      'Artifacts are transient: Object Lock would defeat the 30-day noncurrent-version expiry and removalPolicy DESTROY.');
    acknowledgeTemplateFindings(this.bucket, { guard: ['s3_event_notifications_enabled_check'] },
      'Nothing consumes artifact events; CodePipeline tracks its own artifacts.');
    if (!props.serverAccessLogsBucket) {
      const noAccessLogs = 'Access logging needs a second bucket the user owns; pass accessLogsBucket to enable it. CloudTrail records pipeline access to artifacts.';
      acknowledgeTemplateFindings(this.bucket, { checkov: ['CKV_AWS_18'], guard: ['s3_bucket_logging_enabled_check'] }, noAccessLogs);
      acknowledgeFinding(this.bucket, 'AwsSolutions-S1', noAccessLogs);
    }
    acknowledgeAutoDeleteProvider(this);
  }
}
