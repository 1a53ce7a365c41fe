import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { describeError, InvalidJobError, PipelineJob, ReadableJobError } from './codepipeline-job';
import { CLIENT_CONFIG } from './handler-environment';
import type { HandlerName } from './logger';
import { HANDLER_ENVIRONMENT, REGION_NAME_PATTERN, TARGET_PARAMETERS } from '../contract/handler-contract';

/** The clients a job acts on its service with (history, SNS, CodePipeline and metrics stay the handler's own). */
export interface TargetClients {
  readonly lambda: LambdaClient;
  readonly codeDeploy: CodeDeployClient;
  readonly cloudWatch: CloudWatchClient;
  readonly s3: S3Client;
}

export type TargetClientName = keyof TargetClients;

/** The account and region a service is deployed to; either may be unknown (outside Lambda, say). */
export interface Placement {
  readonly account?: string;
  readonly region?: string;
}

/** Where one job acts, and with which of the clients `N`. */
export type TargetSession<N extends TargetClientName = TargetClientName> = Pick<TargetClients, N> & SessionPlacement;

/** A session's account, region and role. */
export interface SessionPlacement extends Placement {
  /** The deployer role the clients act as; absent when they are the handler's own. */
  readonly deployerRoleArn?: string;
  /**
   * Assumes the deployer role now (a no-op for the handler's own clients), so a denied AssumeRole
   * fails the job before anything is done, with a {@link DeployerRoleError}.
   */
  ready(): Promise<void>;
}

/** The UserParameters of an environment in another account or region. */
export interface TargetParameters {
  readonly deployerRoleArn?: string;
  readonly region?: string;
}

/** A job's deployer role and region, read from its UserParameters. */
export interface Target {
  readonly deployerRoleArn: string;
  readonly account: string;
  readonly region: string;
}

/** A role could not be assumed: the message names the role, the environment and what to check. */
export class DeployerRoleError extends ReadableJobError {
  constructor(message: string, readonly cause?: unknown) {
    super(message);
    this.name = 'DeployerRoleError';
  }
}

const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/[\w+=,.@/-]{1,512}$/;

/**
 * Reads `deployerRoleArn` and `region` (TARGET_PARAMETERS): both or neither, a role ARN and a
 * region name; undefined when the job acts in the handler's own account and region.
 */
export function targetOf(job: PipelineJob<TargetParameters>): Target | undefined {
  const deployerRoleArn = job.userParameters.deployerRoleArn?.trim() || undefined;
  const region = job.userParameters.region?.trim() || undefined;
  if (!deployerRoleArn && !region) return undefined;
  if (!deployerRoleArn || !region) {
    const [has, lacks] = deployerRoleArn
      ? [TARGET_PARAMETERS.deployerRoleArn, TARGET_PARAMETERS.region]
      : [TARGET_PARAMETERS.region, TARGET_PARAMETERS.deployerRoleArn];
    throw new InvalidJobError(`job ${job.id}: UserParameters has ${has} but no ${lacks}; an environment in another account or region needs both`);
  }
  const account = ROLE_ARN.exec(deployerRoleArn)?.[1];
  if (!account) {
    throw new InvalidJobError(`job ${job.id}: UserParameters ${TARGET_PARAMETERS.deployerRoleArn} must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), got "${deployerRoleArn.slice(0, 200)}"`);
  }
  if (!REGION_NAME_PATTERN.test(region)) {
    throw new InvalidJobError(`job ${job.id}: UserParameters ${TARGET_PARAMETERS.region} must be a region name such as eu-west-1, got "${region.slice(0, 50)}"`);
  }
  return { deployerRoleArn, account, region };
}

/** The account of a Lambda function ARN (the context's invokedFunctionArn). */
export function accountOfFunctionArn(arn: string | undefined): string | undefined {
  return /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:(\d{12}):function:/.exec(arn ?? '')?.[1];
}

/**
 * AssumeRole's RoleSessionName: the handler and the execution, as CloudTrail in the target account
 * shows them. STS allows 2 to 64 characters of `[\w+=,.@-]` (AssumeRoleRequest in AssumeRoleCommand.d.ts).
 */
export function roleSessionName(handler: HandlerName, executionId: string): string {
  return `${handler}-${executionId}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
}

/** `staging (account 222222222222, region eu-west-1)`, or what of it is known. */
export function describePlacement(placement: Placement, environment?: string): string {
  const where = [placement.account && `account ${placement.account}`, placement.region && `region ${placement.region}`].filter(Boolean).join(', ');
  return [environment, where && `(${where})`].filter(Boolean).join(' ') || 'this account and region';
}

/** Credentials are assumed again when they expire within this: the SDK's own refresh window. */
const REFRESH_MS = 5 * 60_000;

interface AssumedCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/**
 * One AssumeRole for every client of a session (each SDK client memoizes its own provider, so four
 * clients would assume the role four times): callers share the call in flight and its credentials
 * until they come within {@link REFRESH_MS} of expiring; a failed call is not kept.
 */
export function shareCredentials(assume: () => Promise<AssumedCredentials>): () => Promise<AssumedCredentials> {
  let entry: { promise: Promise<AssumedCredentials>; expiresAt?: number; failed?: boolean } | undefined;
  return () => {
    const fresh = entry && !entry.failed && (entry.expiresAt === undefined || entry.expiresAt - Date.now() > REFRESH_MS);
    if (!fresh) {
      const current: NonNullable<typeof entry> = { promise: assume() };
      current.promise.then((c) => { current.expiresAt = c.expiration?.getTime(); }, () => { current.failed = true; });
      entry = current;
    }
    return entry!.promise;
  };
}

/** What {@link TargetSessions} needs. */
export interface TargetSessionsOptions<N extends TargetClientName> {
  readonly handler: HandlerName;
  /** The handler's own clients: a job without a deployer role acts with them, as before. */
  readonly own: Pick<TargetClients, N>;
  /** Which clients this handler acts with on a target: they are built, and {@link SessionPlacement.ready} resolves their credentials. */
  readonly uses: readonly N[];
  /** PIPELINE_ARN: the external id every deployer role requires. */
  readonly pipelineArn?: string;
  /** The handler's own region (AWS_REGION), where STS is called. */
  readonly region?: string;
  /** STS, with the handler's own credentials. @default a client for `region` */
  readonly sts?: STSClient;
}

/** One job: which service of which execution, in which environment, and the invocation's function. */
export interface SessionRequest {
  readonly jobId: string;
  readonly executionId: string;
  readonly environment?: string;
  /** The Lambda context's invokedFunctionArn: the handler's own account. */
  readonly invokedFunctionArn?: string;
}

/**
 * The clients each job acts with. Without `deployerRoleArn`, the handler's own. With it, clients
 * for the job's region whose credentials come from STS AssumeRole on the deployer role, with the
 * pipeline's ARN as external id. Each client memoizes its credentials and refreshes them before
 * they expire (the SDK's own identity cache); a warm container keeps one session per role and
 * region, replaced when a job of another execution (a new session name) comes.
 */
export class TargetSessions<N extends TargetClientName> {
  private readonly sessions = new Map<string, { name: string; session: TargetSession<N> }>();
  private stsClient?: STSClient;

  constructor(private readonly options: TargetSessionsOptions<N>) {}

  /** The session a job acts in; a bad target, or one without PIPELINE_ARN, is an {@link InvalidJobError}. */
  sessionFor(job: PipelineJob<TargetParameters>, request: SessionRequest): TargetSession<N> {
    const target = targetOf(job);
    if (!target) {
      return {
        ...this.options.own,
        account: accountOfFunctionArn(request.invokedFunctionArn),
        region: this.options.region,
        ready: async () => {},
      };
    }
    if (!this.options.pipelineArn) {
      throw new InvalidJobError(`job ${job.id}: UserParameters names deployer role ${target.deployerRoleArn}, but ${HANDLER_ENVIRONMENT.pipelineArn} ` +
        '(the external id it requires) is not set on this handler; update the pipeline stack to this library\'s version');
    }
    const key = `${target.deployerRoleArn} ${target.region}`;
    const name = roleSessionName(this.options.handler, request.executionId);
    const cached = this.sessions.get(key);
    if (cached?.name === name) return cached.session;
    const session = this.assumedSession(target, name, this.options.pipelineArn, request);
    this.sessions.set(key, { name, session });
    return session;
  }

  private sts(): STSClient {
    return this.stsClient ??= this.options.sts ?? new STSClient({ ...CLIENT_CONFIG, region: this.options.region });
  }

  private assumedSession(target: Target, sessionName: string, externalId: string, request: SessionRequest): TargetSession<N> {
    const where = describePlacement(target, request.environment);
    const credentials = async () => {
      try {
        const { Credentials: c } = await this.sts().send(new AssumeRoleCommand({
          RoleArn: target.deployerRoleArn,
          RoleSessionName: sessionName,
          ExternalId: externalId,
        }));
        if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error('AssumeRole returned no credentials');
        return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
      } catch (error) {
        throw new DeployerRoleError(`could not assume deployer role ${target.deployerRoleArn} to deploy to ${where}: ${describeError(error)}. ` +
          `Check that the target stack (BlueGreenLambdaTarget) of ${request.environment ?? 'this environment'} is deployed in account ${target.account}, ` +
          `region ${target.region}, and that the role's trust policy names this handler's role and the external id ${externalId}`, error);
      }
    };
    const config = { ...CLIENT_CONFIG, region: target.region, credentials: shareCredentials(credentials) };
    const build: { [K in TargetClientName]: () => TargetClients[K] } = {
      lambda: () => new LambdaClient(config),
      codeDeploy: () => new CodeDeployClient(config),
      cloudWatch: () => new CloudWatchClient(config),
      s3: () => new S3Client(config),
    };
    const clients = Object.fromEntries(this.options.uses.map((name) => [name, build[name]()])) as Pick<TargetClients, N>;
    return {
      ...clients,
      account: target.account,
      region: target.region,
      deployerRoleArn: target.deployerRoleArn,
      ready: async () => {
        // Each client resolves (and caches) its credentials the way its first call would.
        await Promise.all(this.options.uses.map((name) => (clients[name] as TargetClients[TargetClientName]).config.credentials()));
      },
    };
  }
}
