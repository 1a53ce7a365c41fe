import { createHash } from 'crypto';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ArtifactLocation } from './codepipeline-job';
import { describeError } from './codepipeline-job';
import { BundleDirectoryError, extractDirectory, normalizeBundleDirectory, ZipFormatError } from './zip';

/** Where UpdateFunctionCode finds a service's code. */
export interface CodeLocation {
  readonly S3Bucket: string;
  readonly S3Key: string;
}

/** What {@link stageBundle} uploaded. */
export interface StagedBundle {
  readonly location: CodeLocation;
  /** The S3 version of the upload, when the bucket keeps versions; recorded, not pinned (see below). */
  readonly versionId?: string;
  readonly files: number;
  readonly size: number;
  /** What Lambda will report as the code's CodeSha256: the base64 SHA-256 of the uploaded zip. */
  readonly codeSha256: string;
}

/**
 * The whole build artifact left as the build wrote it, because it could not be normalized here:
 * deployed as before, but a rebuild of unchanged code is not recognised.
 */
export interface ArtifactAsBuilt {
  readonly location: CodeLocation;
  /** Why it was not normalized. */
  readonly asBuilt: string;
}

/** What {@link stageBundle} needs. */
export interface BundleRequest {
  /** The build artifact (a zip holding every service's bundle directory, or one service's bundle). */
  readonly artifact: ArtifactLocation;
  /** The service's directory in the artifact; "" when the whole artifact is the bundle. */
  readonly bundleDirectory: string;
  /** Where the service's own zip goes. */
  readonly bucketName: string;
  readonly key: string;
  /** Largest artifact read into memory; larger ones fail before they are read. @default no limit */
  readonly maxArtifactBytes?: number;
}

const MiB = 1024 * 1024;

/**
 * The largest artifact a function with `memoryMb` can cut up: the artifact and the service's zip
 * are both in memory, next to the runtime (~128 MB). Undefined outside Lambda.
 */
export function artifactLimitForMemory(memoryMb: string | undefined): number | undefined {
  const memory = Number(memoryMb);
  if (!memoryMb || !Number.isFinite(memory) || memory <= 0) return undefined;
  return Math.max(Math.floor(((memory - 128) * MiB) / 2), 16 * MiB);
}

function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/**
 * Reads the build artifact, cuts `bundleDirectory` out of it (or takes all of it) into a zip of its
 * own (index.js at its root, normalized so that identical files give an identical zip) and uploads
 * that. The key is written only under the caller's claim, so the location is not pinned to the S3
 * version (which would cost UpdateFunctionCode s3:GetObjectVersion).
 *
 * A whole artifact that cannot be normalized here (larger than the handler can hold, or a zip the
 * normalizer does not write) is not a failure: it is answered as built ({@link ArtifactAsBuilt}),
 * for UpdateFunctionCode to take as it did before. A service's directory has no such way out.
 */
export async function stageBundle(s3: S3Client, request: BundleRequest): Promise<StagedBundle | ArtifactAsBuilt> {
  const source = s3Url(request.artifact.bucketName, request.artifact.objectKey);
  const whole = normalizeBundleDirectory(request.bundleDirectory) === '';
  const asBuilt = (why: string): ArtifactAsBuilt => ({
    location: { S3Bucket: request.artifact.bucketName, S3Key: request.artifact.objectKey },
    asBuilt: why,
  });
  // Re-zipping all of an artifact holds about four copies of it at once (the artifact, its files
  // deflated again, the new zip, inflated files not yet collected: a 50 MB artifact peaked 154 MB
  // above the artifact read), twice what cutting one service's part out of it holds.
  const limit = whole && request.maxArtifactBytes !== undefined ? Math.floor(request.maxArtifactBytes / 2) : request.maxArtifactBytes;
  let archive: Buffer;
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: request.artifact.bucketName, Key: request.artifact.objectKey }));
    if (limit !== undefined && (object.ContentLength ?? 0) > limit) {
      // Free the connection; the body is never read.
      (object.Body as { destroy?: () => void } | undefined)?.destroy?.();
      const size = `it is ${Math.ceil((object.ContentLength ?? 0) / MiB)} MiB, more than the ${Math.floor(limit / MiB)} MiB this handler can hold in memory`;
      if (whole) return asBuilt(`${size} to normalize; give the Deploy-Blue function more memory to have unchanged builds recognised`);
      throw new Error(`${size}; give the Deploy-Blue function more memory`);
    }
    if (!object.Body) throw new Error('GetObject returned no body');
    const bytes = await object.Body.transformToByteArray();
    archive = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch (error) {
    throw new Error(`could not read the build artifact ${source}: ${describeError(error)}`);
  }

  let bundle: ReturnType<typeof extractDirectory>;
  try {
    bundle = extractDirectory(archive, request.bundleDirectory);
  } catch (error) {
    // Our own errors read as sentences; anything else keeps its name.
    const ours = error instanceof BundleDirectoryError || error instanceof ZipFormatError;
    const reason = ours ? error.message : describeError(error);
    // Lambda judges the artifact as before (it may take what this writer does not, ZIP64 for one).
    if (whole && ours) return asBuilt(`it cannot be normalized: ${reason}`);
    throw new Error(`${reason} (build artifact ${source})`);
  }

  try {
    const put = await s3.send(new PutObjectCommand({
      Bucket: request.bucketName,
      Key: request.key,
      Body: bundle.zip,
      ContentType: 'application/zip',
    }));
    return {
      location: { S3Bucket: request.bucketName, S3Key: request.key },
      // Unversioned buckets answer no VersionId (or "null").
      ...(put.VersionId && put.VersionId !== 'null' ? { versionId: put.VersionId } : {}),
      files: bundle.files.length,
      size: bundle.size,
      codeSha256: codeSha256Of(bundle.zip),
    };
  } catch (error) {
    throw new Error(`could not upload the bundle of ${whole ? 'the build artifact' : request.bundleDirectory} to ${s3Url(request.bucketName, request.key)}: ${describeError(error)}`);
  }
}

/**
 * Lambda's CodeSha256 of a deployment package: "the SHA256 hash of the function's deployment
 * package" (FunctionConfiguration), base64-encoded as in the API reference's examples.
 */
export function codeSha256Of(zip: Buffer): string {
  return createHash('sha256').update(zip).digest('base64');
}

/** `s3://bucket/key`, with `?versionId=` when known: how history records the code's origin. */
export function describeCodeLocation(location: CodeLocation, versionId?: string): string {
  return `${s3Url(location.S3Bucket, location.S3Key)}${versionId ? `?versionId=${versionId}` : ''}`;
}
