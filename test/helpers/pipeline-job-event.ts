/** Builds CodePipeline Lambda-invoke job events the way CodePipeline sends them. */
export function pipelineJobEvent(options: {
  jobId?: string;
  userParameters?: Record<string, string> | string;
  artifact?: { bucketName: string; objectKey: string } | null;
  continuationToken?: string;
  /** The temporary credentials CodePipeline hands the action (secrets: no handler may log or send them). */
  artifactCredentials?: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
} = {}) {
  const userParameters = typeof options.userParameters === 'string'
    ? options.userParameters
    : JSON.stringify(options.userParameters ?? {});
  const artifact = options.artifact === undefined
    ? { bucketName: 'artifact-bucket', objectKey: 'orders-api-pipeline/BuildOutpu/abc123' }
    : options.artifact;
  return {
    'CodePipeline.job': {
      id: options.jobId ?? 'job-1',
      accountId: '111111111111',
      data: {
        actionConfiguration: { configuration: { FunctionName: 'handler', UserParameters: userParameters } },
        inputArtifacts: artifact ? [{ name: 'BuildOutput', revision: null, location: { type: 'S3', s3Location: artifact } }] : [],
        outputArtifacts: [],
        artifactCredentials: options.artifactCredentials ?? { accessKeyId: 'x', secretAccessKey: 'y', sessionToken: 'z' },
        ...(options.continuationToken ? { continuationToken: options.continuationToken } : {}),
      },
    },
  };
}
