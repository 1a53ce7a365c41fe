import * as codebuild from 'aws-cdk-lib/aws-codebuild';

/**
 * How the `Build` stage compiles and tests the service. Any failing command fails the stage;
 * commands that end in an OR-fallback to `true`, `echo` or `:` (hiding the failure) are rejected at synth time.
 */
export interface BuildOptions {
  /**
   * The CodeBuild image.
   * @default codebuild.LinuxBuildImage.STANDARD_7_0
   */
  readonly buildImage?: codebuild.IBuildImage;
  /**
   * The Node.js major version the image installs (`runtime-versions`). Build on the version the
   * service runs on, so the tests exercise the runtime that will serve traffic.
   * @default - the service runtime's major version (`nodejs24.x` builds on "24"); "22" for a non-Node.js runtime
   */
  readonly nodeVersion?: string;
  /**
   * Commands of the install phase.
   * @default ["npm ci"]
   */
  readonly installCommands?: string[];
  /**
   * Commands that compile the service.
   * @default ["npm run build"]
   */
  readonly buildCommands?: string[];
  /**
   * Commands that test the service; a non-zero exit fails the build.
   * @default ["npm test"]
   */
  readonly testCommands?: string[];
  /**
   * Environment variables of the build.
   * @default - none
   */
  readonly environmentVariables?: { [name: string]: codebuild.BuildEnvironmentVariable };
  /**
   * The directory whose contents become the deployable bundle; the Lambda handler file must be
   * at its root (for example `index.js` for the default handler `index.handler`).
   * @default "dist"
   */
  readonly artifactDirectory?: string;
  /**
   * JUnit XML files the tests write, relative to `testReportDirectory`, shown as a CodeBuild test report.
   * @default ["*.xml"]
   */
  readonly testReportFiles?: string[];
  /**
   * Where the tests write JUnit XML (for jest, `jest-junit`'s output directory).
   * @default "test-reports"
   */
  readonly testReportDirectory?: string;
}
