/**
 * What the stage handlers do to a service, by kind of access: granted to the handlers' own roles for
 * a service of the pipeline's account and region, and to a target's deployer role (which they
 * assume) for one elsewhere. One list, so a new call of a handler is granted on both sides.
 */
export const HANDLER_ACTIONS = {
  /** Deploy-Blue: update the code, publish, read the function and its alias. */
  publish: ['lambda:UpdateFunctionCode', 'lambda:PublishVersion', 'lambda:GetFunction', 'lambda:GetFunctionConfiguration', 'lambda:GetAlias'],
  /** Deploy-Blue: the configuration of the version live serves (is the build unchanged?), on qualified ARNs. */
  readVersions: ['lambda:GetFunctionConfiguration'],
  /** Switch-Traffic: the alias and the versions (retention). */
  followAlias: ['lambda:GetAlias', 'lambda:ListVersionsByFunction', 'lambda:ListAliases'],
  /** Switch-Traffic: version retention, on qualified ARNs only (the function itself can never be deleted). */
  deleteVersions: ['lambda:DeleteFunction'],
  /** Switch-Traffic and Bake: a shift, and whose deployment of the group is in progress. */
  shift: ['codedeploy:CreateDeployment', 'codedeploy:GetDeployment', 'codedeploy:ListDeployments'],
  /** Bake: the group names its alarms. */
  readGroup: ['codedeploy:GetDeploymentGroup'],
  /**
   * Bake: a rollback overrides the group's alarms (the one that fired would stop it), which
   * CreateDeployment allows only with codedeploy:UpdateDeploymentGroup (API reference).
   */
  overrideAlarms: ['codedeploy:UpdateDeploymentGroup'],
  configs: ['codedeploy:GetDeploymentConfig'],
  /** The AppSpec revision a shift registers and the smoke test reads. */
  revisions: ['codedeploy:GetApplicationRevision', 'codedeploy:RegisterApplicationRevision'],
  /** Bake: the group's alarms. */
  alarms: ['cloudwatch:DescribeAlarms'],
  /** Bake: the live alias' invocations; GetMetricData supports no resource-level permissions. */
  metrics: ['cloudwatch:GetMetricData'],
} as const;
