import { createWriteStream } from 'fs';
import { readFile } from 'fs/promises';
import * as path from 'path';
import { Readable } from 'stream';
import { pipeline } from 'stream/promises';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BundleDirectoryError, cutBundle, CutBundle, normalizeBundleDirectory, ZipFormatError } from './bundle-archive';
import type { ArtifactLocation } from './codepipeline-job';
import { describeError } from './codepipeline-job';
import { freeBytes, isDiskFull, withScratchDirectory } from './scratch-directory';

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
  /**
   * Writes the zip: a deployer role's session for a bucket in another account or region, which
   * also takes nothing but a normalized bundle (its function cannot read the artifact as built).
   * @default - the client that reads the artifact, and an artifact that cannot be normalized is deployed as built
   */
  readonly uploadClient?: S3Client;
  /**
   * The account that must own the bucket written to (S3 answers 403 otherwise): bucket names are
   * global, so a target's bucket deleted and claimed by someone else never receives the code.
   * @default - not checked (the pipeline's own bucket)
   */
  readonly expectedBucketOwner?: string;
  /**
   * Largest artifact staged; larger ones fail before they are read.
   * @default - what the scratch directory's file system has free
   */
  readonly maxArtifactBytes?: number;
  /** Where the artifact and the bundle are written while staging. @default the OS temp directory (Lambda's /tmp) */
  readonly scratchRoot?: string;
}

const MiB = 1024 * 1024;

/** A whole artifact that cannot be normalized, for a function that cannot read it as built. */
class NotDeployableAsBuiltError extends Error {}

/** What to do about a full disk: Deploy-Blue's scratch space is its ephemeral storage. */
const RAISE_STORAGE = 'raise the Deploy-Blue function\'s ephemeral storage (/tmp)';

function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/**
 * Reads the build artifact, cuts `bundleDirectory` out of it (or takes all of it) into a zip of its
 * own (index.js at its root, normalized so that identical files give an identical zip) and uploads
 * that. The key is written only under the caller's claim, so the location is not pinned to the S3
 * version (which would cost UpdateFunctionCode s3:GetObjectVersion).
 *
 * Everything streams through a scratch directory (removed afterwards), so memory stays bounded
 * whatever the artifact's size; disk space is the limit: the artifact, then the new zip beside it.
 *
 * A whole artifact that cannot be normalized here (too large for the disk, or a zip the cutter does
 * not read) is not a failure: it is answered as built ({@link ArtifactAsBuilt}), for
 * UpdateFunctionCode to take as it did before. A service's directory has no such way out.
 */
export async function stageBundle(s3: S3Client, request: BundleRequest): Promise<StagedBundle | ArtifactAsBuilt> {
  return withScratchDirectory((directory) => stageIn(directory, s3, request), request.scratchRoot);
}

async function stageIn(directory: string, s3: S3Client, request: BundleRequest): Promise<StagedBundle | ArtifactAsBuilt> {
  const source = s3Url(request.artifact.bucketName, request.artifact.objectKey);
  const whole = normalizeBundleDirectory(request.bundleDirectory) === '';
  const asBuilt = (why: string): ArtifactAsBuilt => {
    if (request.uploadClient) {
      throw new NotDeployableAsBuiltError(`the build artifact ${source} cannot be deployed as built to another account or region, ` +
        `only a bundle cut out of it and uploaded to ${s3Url(request.bucketName, request.key)}: ${why}`);
    }
    return { location: { S3Bucket: request.artifact.bucketName, S3Key: request.artifact.objectKey }, asBuilt: why };
  };
  const artifactPath = path.join(directory, 'artifact.zip');
  const bundlePath = path.join(directory, 'bundle.zip');
  // Re-zipping all of an artifact writes about as much again beside it; a service's part, less.
  const room = Math.min(await freeBytes(directory), request.maxArtifactBytes ?? Infinity);
  const limit = whole ? Math.floor(room / 2) : room;
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: request.artifact.bucketName, Key: request.artifact.objectKey }));
    if ((object.ContentLength ?? 0) > limit) {
      // Free the connection; the body is never read.
      (object.Body as { destroy?: () => void } | undefined)?.destroy?.();
      const size = `it is ${Math.ceil((object.ContentLength ?? 0) / MiB)} MiB, more than the ${Math.floor(limit / MiB)} MiB this handler can stage on disk`;
      if (whole) return asBuilt(`${size} to normalize; ${RAISE_STORAGE} to have unchanged builds recognised`);
      throw new Error(`${size}; ${RAISE_STORAGE}`);
    }
    if (!object.Body) throw new Error('GetObject returned no body');
    await pipeline(object.Body as Readable, createWriteStream(artifactPath));
  } catch (error) {
    if (error instanceof NotDeployableAsBuiltError) throw error;
    const reason = isDiskFull(error) ? `no space left on disk for it; ${RAISE_STORAGE}` : describeError(error);
    throw new Error(`could not read the build artifact ${source}: ${reason}`);
  }

  let bundle: CutBundle;
  try {
    bundle = await cutBundle(artifactPath, request.bundleDirectory, bundlePath);
  } catch (error) {
    // Our own errors read as sentences; anything else keeps its name.
    const ours = error instanceof BundleDirectoryError || error instanceof ZipFormatError;
    const reason = ours ? error.message : isDiskFull(error) ? `no space left on disk for the bundle; ${RAISE_STORAGE}` : describeError(error);
    // Lambda judges the artifact as before (it may take what the cutter does not: another compression method, for one).
    if (whole && (ours || isDiskFull(error))) return asBuilt(`it cannot be normalized: ${reason}`);
    throw new Error(`${reason} (build artifact ${source})`);
  }

  try {
    const put = await (request.uploadClient ?? s3).send(new PutObjectCommand({
      Bucket: request.bucketName,
      Key: request.key,
      // A buffer, not a stream: the SDK retries throttling and 5xx by sending the body again, which a
      // consumed stream cannot do. The bundle (at most Lambda's 250 MB unzipped, zipped) is what it
      // holds, never the artifact.
      Body: await readFile(bundlePath),
      ContentLength: bundle.zipBytes,
      ContentType: 'application/zip',
      ...(request.expectedBucketOwner ? { ExpectedBucketOwner: request.expectedBucketOwner } : {}),
    }));
    return {
      location: { S3Bucket: request.bucketName, S3Key: request.key },
      // Unversioned buckets answer no VersionId (or "null").
      ...(put.VersionId && put.VersionId !== 'null' ? { versionId: put.VersionId } : {}),
      files: bundle.files.length,
      size: bundle.size,
      codeSha256: bundle.codeSha256,
    };
  } catch (error) {
    throw new Error(`could not upload the bundle of ${whole ? 'the build artifact' : request.bundleDirectory} to ${s3Url(request.bucketName, request.key)}: ${describeError(error)}`);
  }
}

/** `s3://bucket/key`, with `?versionId=` when known: how history records the code's origin. */
export function describeCodeLocation(location: CodeLocation, versionId?: string): string {
  return `${s3Url(location.S3Bucket, location.S3Key)}${versionId ? `?versionId=${versionId}` : ''}`;
}
