import { ArnFormat, Aws, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ALL_AT_ONCE_CONFIG, BUNDLES_PREFIX } from '../contract/handler-contract';
import { ServiceDeployment } from '../service-deployment';
import { acknowledgeFinding } from './acknowledge-finding';
import { HANDLER_ACTIONS as A } from './handler-actions';
import { arnReference } from './logical-id';
import { TargetPlan } from './target-plan';

/** What the deployer role may act on in its target. */
export interface DeployerRoleProps {
  readonly plan: TargetPlan;
  readonly services: readonly ServiceDeployment[];
  /** The bundle bucket's name (fixed: the role comes first, the bucket's key policy names it). */
  readonly bundleBucketName: string;
  readonly application: codedeploy.ILambdaApplication;
}

/**
 * The one role the pipeline's stage handlers act through in a target account and region. Its trust
 * names the pipeline's account as principal, and as conditions exactly the handler roles
 * (`aws:PrincipalArn`) and the pipeline (`sts:ExternalId`): IAM would refuse a trust policy naming a
 * role that does not exist yet (the pipeline may be deployed after its targets), and a recreated
 * role would silently lose a trust that named it as principal. It may do what Deploy-Blue,
 * Switch-Traffic and Bake do to this target's services, and nothing else.
 */
export function createDeployerRole(scope: Construct, id: string, props: DeployerRoleProps): iam.Role {
  const { plan } = props;
  const role = new iam.Role(scope, id, {
    roleName: plan.deployerRoleName,
    description: `Deploys environment ${plan.environment} of pipeline ${plan.pipelineArn.split(':').pop()} (account ${plan.pipelineAccount}) for its stage handlers`,
    assumedBy: new iam.AccountPrincipal(plan.pipelineAccount).withConditions({
      ArnEquals: { 'aws:PrincipalArn': plan.trustedRoleArns },
      StringEquals: { 'sts:ExternalId': plan.pipelineArn },
    }),
  });
  const statement = (actions: string[], resources: string[] = []) => {
    const s = new iam.PolicyStatement({ actions, resources });
    role.addToPolicy(s);
    return s;
  };
  // Deploy-Blue: upload the bundle, update the code, publish; read the live version's configuration.
  const publish = statement([...A.publish]);
  // UpdateFunctionCode reads the bundle with the caller's permissions.
  statement(['s3:PutObject', 's3:GetObject'], [`arn:${Aws.PARTITION}:s3:::${props.bundleBucketName}/${BUNDLES_PREFIX}*`]);
  // Switch-Traffic: follow the alias, retain versions, shift through CodeDeploy.
  const readAliases = statement([...A.followAlias]);
  const versions = statement([...A.readVersions, ...A.deleteVersions]);
  // Bake: a rollback reads the group's alarms and overrides them (CreateDeployment requires UpdateDeploymentGroup for that).
  const deploy = statement([...A.shift, ...(plan.baked ? [...A.readGroup, ...A.overrideAlarms] : [])]);
  const configs = statement([...A.configs]);
  statement([...A.revisions], [props.application.applicationArn]);
  // Bake: the groups' alarms, and the live alias' invocations (GetMetricData supports no resource-level permissions).
  const alarms = plan.baked ? statement([...A.alarms]) : undefined;
  if (plan.baked) statement([...A.metrics], ['*']);

  const stack = Stack.of(scope);
  const configArn = (name: string) => stack.formatArn({ service: 'codedeploy', resource: 'deploymentconfig', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  const added = new Set<string>();
  const addOnce = (s: iam.PolicyStatement, arn: string) => {
    const key = `${s.actions[0]} ${arn}`;
    if (!added.has(key)) s.addResources(arn);
    added.add(key);
  };
  for (const d of props.services) {
    const fn = d.serviceFunction.functionArn;
    publish.addResources(fn, d.alias.functionArn);
    readAliases.addResources(fn, d.alias.functionArn);
    // Only qualified ARNs: the function itself can never be deleted.
    versions.addResources(`${fn}:*`);
    deploy.addResources(d.deploymentGroup.deploymentGroupArn);
    for (const name of [...d.deploymentConfigNames, ALL_AT_ONCE_CONFIG]) addOnce(configs, configArn(name));
    for (const alarm of alarms ? d.alarms : []) addOnce(alarms!, alarm instanceof cloudwatch.Alarm ? alarm.alarmArn : '*');
    acknowledgeFinding(role, `AwsSolutions-IAM5[Resource::${arnReference(d.serviceFunction)}:*]`,
      'Deploy-Blue reads the configuration of the version live serves, and version retention deletes old versions: their numbers are only known at run time; the qualified-ARN pattern cannot match the function itself.');
  }
  acknowledgeFinding(role, `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${props.bundleBucketName}/${BUNDLES_PREFIX}*]`,
    `Deploy-Blue writes each service's bundle under ${BUNDLES_PREFIX}<execution>/, only known at run time.`);
  if (plan.baked) {
    acknowledgeFinding(role, 'AwsSolutions-IAM5[Resource::*]',
      'cloudwatch:GetMetricData supports no resource-level permissions; cloudwatch:DescribeAlarms returns composite alarms only when allowed on *, which an imported extra alarm may be.');
  }
  return role;
}
