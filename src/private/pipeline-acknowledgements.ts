import { Construct } from 'constructs';
import { acknowledgeFinding } from './acknowledge-finding';
import { arnReference } from './logical-id';

/**
 * Findings of aws-cdk-lib's own bucket grants (the pipeline, CodeBuild and action roles),
 * acknowledged on the pipeline construct by their exact finding ids (cdk-nag 3 matches
 * `Rule[finding]`).
 */
export function acknowledgeArtifactBucketGrants(scope: Construct, artifactBucket: Construct): void {
  for (const finding of ['Action::s3:GetObject*', 'Action::s3:GetBucket*', 'Action::s3:List*', 'Action::s3:DeleteObject*', 'Action::s3:Abort*', `Resource::${arnReference(artifactBucket)}/*`]) {
    acknowledgeFinding(scope, `AwsSolutions-IAM5[${finding}]`, 'aws-cdk-lib bucket grants limited to the pipeline\'s own artifact bucket, whose object keys CodePipeline generates per execution.');
  }
}
