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
 * The pipeline's artifact store: private, encrypted, TLS only, versioned, with old versions expiring.
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
