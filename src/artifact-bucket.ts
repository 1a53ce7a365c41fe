import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

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
  }
}
