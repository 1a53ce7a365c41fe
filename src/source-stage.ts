import { Token } from 'aws-cdk-lib';
import * as codeconnections from 'aws-cdk-lib/aws-codeconnections';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { GitHubSourceProps } from './github-source';
import { ResourceNames } from './private/resource-names';

/** Properties of {@link GitHubSourceStage}. */
export interface GitHubSourceStageProps {
  readonly source: GitHubSourceProps;
  readonly names: ResourceNames;
}

/**
 * The `Source` stage: the GitHub connection (the given one, or a new one whose handshake is done
 * in the console), the role the source action runs as, and the action. It builds into the
 * pipeline's own scope rather than a construct of its own: a new logical id for the connection
 * would replace it, and a replaced connection needs its handshake again.
 */
export class GitHubSourceStage {
  public readonly connectionArn: string;
  /** The connection the construct created, when none was given. */
  public readonly connection?: codeconnections.CfnConnection;
  /** The role the action runs as (not the pipeline role): the connection grant goes here. */
  public readonly role: iam.Role;
  public readonly action: actions.CodeStarConnectionsSourceAction;
  public readonly output = new codepipeline.Artifact('SourceOutput');
  public readonly branch: string;
  /** `owner/repo`. */
  public readonly repository: string;

  constructor(scope: Construct, props: GitHubSourceStageProps) {
    const { source, names } = props;
    this.branch = source.branch ?? 'main';
    this.repository = `${source.owner}/${source.repo}`;
    this.connection = source.connectionArn ? undefined : new codeconnections.CfnConnection(scope, 'GitHubConnection', {
      connectionName: names.connection,
      providerType: 'GitHub',
    });
    this.connectionArn = source.connectionArn ?? this.connection!.attrConnectionArn;
    this.role = new iam.Role(scope, 'SourceActionRole', {
      assumedBy: new iam.AccountRootPrincipal(),
      description: `Source action of ${names.pipeline}: reads ${this.repository} through the connection`,
    });
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: connectionActions(source.connectionArn),
      resources: [this.connectionArn],
    }));
    this.action = new actions.CodeStarConnectionsSourceAction({
      actionName: 'GitHub',
      owner: source.owner,
      repo: source.repo,
      branch: this.branch,
      connectionArn: this.connectionArn,
      output: this.output,
      role: this.role,
    });
  }

  /** The pipeline trigger: a push to the branch starts an execution. */
  public get trigger(): codepipeline.TriggerProps {
    return {
      providerType: codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
      gitConfiguration: { sourceAction: this.action, pushFilter: [{ branchesIncludes: [this.branch] }] },
    };
  }
}

/**
 * The UseConnection action whose service prefix matches the connection ARN's: IAM matches
 * `codeconnections:` only to `arn:aws:codeconnections:` and `codestar-connections:` only to the old
 * prefix. The construct's own connection (AWS::CodeConnections::Connection) has the new one; an
 * ARN known only at deploy time may have either.
 */
function connectionActions(userArn: string | undefined): string[] {
  if (userArn === undefined) return ['codeconnections:UseConnection'];
  if (Token.isUnresolved(userArn)) return ['codeconnections:UseConnection', 'codestar-connections:UseConnection'];
  return [`${userArn.split(':')[2]}:UseConnection`];
}
