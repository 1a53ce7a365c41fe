import { createHash } from 'crypto';
import { DEFAULT_ACCOUNT, DEFAULT_REGION, Identities } from './aws-identities';
import { AwsError, startJsonServer } from './aws-json-server';
import { motoRequest, Placement } from './moto-server';

/** A deployment group, as the construct's AWS::CodeDeploy::DeploymentGroup defines it. */
export interface FakeDeploymentGroup {
  readonly applicationName: string;
  readonly deploymentGroupName: string;
  readonly deploymentConfigName: string;
  readonly alarms: string[];
  readonly autoRollbackEvents: string[];
  /** Where the group is (CodeDeploy is per account and region). @default the fake's placement */
  readonly placement?: Placement;
}

type TrafficRouting =
  | { type: 'AllAtOnce' }
  | { type: 'TimeBasedLinear'; timeBasedLinear: { linearPercentage: number; linearInterval: number } }
  | { type: 'TimeBasedCanary'; timeBasedCanary: { canaryPercentage: number; canaryInterval: number } };

/**
 * CodeDeploy's predefined Lambda deployment configurations.
 * @see https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html#deployment-configuration-lambda
 */
export const LAMBDA_CONFIGS: Record<string, TrafficRouting> = {
  'CodeDeployDefault.LambdaAllAtOnce': { type: 'AllAtOnce' },
  ...Object.fromEntries([5, 10, 15, 30].map((m) => [`CodeDeployDefault.LambdaCanary10Percent${m}Minutes`,
    { type: 'TimeBasedCanary', timeBasedCanary: { canaryPercentage: 10, canaryInterval: m } }])),
  ...Object.fromEntries([1, 2, 3, 10].map((m) => [`CodeDeployDefault.LambdaLinear10PercentEvery${m}Minute${m === 1 ? '' : 's'}`,
    { type: 'TimeBasedLinear', timeBasedLinear: { linearPercentage: 10, linearInterval: m } }])),
};

/** The traffic weights of the target version, one per step. */
function shiftSteps(routing: TrafficRouting): number[] {
  if (routing.type === 'AllAtOnce') return [1];
  if (routing.type === 'TimeBasedCanary') return [routing.timeBasedCanary.canaryPercentage / 100, 1];
  const steps: number[] = [];
  for (let p = routing.timeBasedLinear.linearPercentage; p < 100; p += routing.timeBasedLinear.linearPercentage) steps.push(p / 100);
  steps.push(1);
  return steps;
}

const ACTIVE = ['Created', 'Queued', 'InProgress', 'Baking', 'Ready'];

interface HookExecution {
  readonly id: string;
  readonly hook: 'BeforeAllowTraffic' | 'AfterAllowTraffic';
  readonly functionName: string;
  status: 'Pending' | 'InProgress' | 'Succeeded' | 'Failed';
  reports: number;
  stepsWaited: number;
}

export interface Deployment {
  readonly id: string;
  /** The account and region of its group. */
  readonly placement: Placement;
  readonly applicationName: string;
  readonly deploymentGroupName: string;
  readonly deploymentConfigName: string;
  readonly creator: 'user' | 'codeDeployRollback';
  readonly description?: string;
  readonly appSpec: { content: string; sha256: string };
  readonly spec: { functionName: string; alias: string; currentVersion: string; targetVersion: string; before?: string; after?: string };
  /** The alarms CodeDeploy polls for it: the group's, or CreateDeployment's overrideAlarmConfiguration. */
  readonly alarms: string[];
  /** The events that roll it back: the group's, or CreateDeployment's autoRollbackConfiguration. */
  readonly autoRollbackEvents: string[];
  status: string;
  phase: 'validate' | 'before' | 'shift' | 'after' | 'rollback' | 'done';
  step: number;
  readonly steps: number[];
  readonly createTime: number;
  startTime?: number;
  completeTime?: number;
  errorInformation?: { code: string; message: string };
  rollbackInfo?: { rollbackDeploymentId?: string; rollbackTriggeringDeploymentId?: string; rollbackMessage?: string };
  hooks: HookExecution[];
}

/** One alias change CodeDeploy made, for assertions on the traffic shift. */
export interface TrafficChange {
  readonly deploymentId: string;
  readonly functionVersion: string;
  readonly weights: Record<string, number>;
  readonly at: number;
}

export interface FakeCodeDeployOptions {
  readonly motoUrl: string;
  readonly groups: FakeDeploymentGroup[];
  /** Invokes a lifecycle hook function; resolves when the invocation ended (thrown errors are the caller's to record). */
  readonly invokeHook: (functionName: string, event: { DeploymentId: string; LifecycleEventHookExecutionId: string }) => Promise<void>;
  /**
   * Whose credentials are whose: a request acts in its credentials' account (or the
   * `x-moto-account-id` header's) and its credential scope's region, where CodeDeploy would.
   */
  readonly identities?: Identities;
  /** The placement of groups that name none. @default moto's default account, us-east-1 */
  readonly placement?: Placement;
}

/** Parses a Lambda AppSpec (JSON; the handlers render JSON, which is valid YAML). */
function parseLambdaAppSpec(content: string): Deployment['spec'] {
  let spec: any;
  try {
    spec = JSON.parse(content);
  } catch (error) {
    throw new AwsError('InvalidRevisionException', `The AppSpec content is not valid JSON/YAML: ${String(error)}`);
  }
  // https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-resources.html
  if (spec?.version !== 0) throw new AwsError('InvalidRevisionException', 'AppSpec version must be 0.0');
  const resources = spec.Resources;
  if (!Array.isArray(resources) || resources.length !== 1) throw new AwsError('InvalidRevisionException', 'AppSpec must declare exactly one Lambda resource');
  const resource: any = Object.values(resources[0] ?? {})[0];
  const props = resource?.Properties ?? {};
  if (resource?.Type !== 'AWS::Lambda::Function') throw new AwsError('InvalidRevisionException', 'AppSpec resource Type must be AWS::Lambda::Function');
  for (const key of ['Name', 'Alias', 'CurrentVersion', 'TargetVersion']) {
    if (typeof props[key] !== 'string' || props[key] === '') throw new AwsError('InvalidRevisionException', `AppSpec resource property ${key} is required`);
  }
  const hooks: Array<Record<string, string>> = Array.isArray(spec.Hooks) ? spec.Hooks : [];
  const hook = (name: string) => hooks.map((h) => h[name]).find(Boolean);
  return {
    functionName: props.Name,
    alias: props.Alias,
    currentVersion: props.CurrentVersion,
    targetVersion: props.TargetVersion,
    before: hook('BeforeAllowTraffic'),
    after: hook('AfterAllowTraffic'),
  };
}

/**
 * CodeDeploy for the Lambda compute platform, as far as the pipeline handlers use it. Answers
 * shaped as the CodeDeploy API reference documents (https://docs.aws.amazon.com/codedeploy/latest/APIReference/):
 * - CreateDeployment: AppSpecContent revisions; one active deployment per deployment group
 *   (DeploymentLimitExceededException); `deploymentConfigName` overrides the group's config;
 *   the revision is registered with the application as a side effect.
 * - GetDeployment: `revision.appSpecContent` carries `sha256` only: "content" is never
 *   returned (the SDK's GetDeploymentCommand doc comment says so); status
 *   Created/InProgress/Succeeded/Failed/Stopped, errorInformation, rollbackInfo.
 * - GetApplicationRevision: returns the registered AppSpec content for its sha256.
 * - PutLifecycleEventHookExecutionStatus: one report per hook execution; a second answers
 *   LifecycleEventAlreadyCompletedException.
 * - ListDeployments: the ids of a group's deployments, newest first, filtered by includeOnlyStatuses
 *   (applicationName and deploymentGroupName go together, else InvalidInputException). A rollback
 *   deployment's creator is `codeDeployRollback` (DeploymentCreator in the SDK model).
 * - GetDeploymentConfig / GetDeploymentGroup / RegisterApplicationRevision / StopDeployment.
 *
 * Time is the test's: each {@link advance} is one step (one traffic increment of the config, a
 * hook, a rollback), on every active deployment. Traffic moves the alias on moto with
 * UpdateAlias + RoutingConfig.AdditionalVersionWeights, as CodeDeploy does
 * (https://docs.aws.amazon.com/lambda/latest/dg/configuring-alias-routing.html).
 * On a failed hook or a raised alarm the deployment ends Failed (HOOK_EXECUTION_FAILURE) or
 * Stopped (ALARM_ACTIVE), and, when the group's auto-rollback covers the event, a rollback
 * deployment (creator codeDeployRollback, its own id) moves the alias back on the next step
 * (https://docs.aws.amazon.com/codedeploy/latest/userguide/deployments-rollback-and-redeploy.html).
 */
export async function startFakeCodeDeploy(options: FakeCodeDeployOptions) {
  // Applications, groups and revisions are per account and region, as CodeDeploy's are.
  const home: Placement = options.placement ?? { account: DEFAULT_ACCOUNT, region: DEFAULT_REGION };
  const where = (p: Placement) => `${p.account}/${p.region}`;
  const placed = options.groups.map((g) => ({ ...g, placement: g.placement ?? home }));
  const groups = new Map(placed.map((g) => [`${where(g.placement)}/${g.applicationName}/${g.deploymentGroupName}`, g]));
  const applications = new Set(placed.map((g) => `${where(g.placement)}/${g.applicationName}`));
  const deployments = new Map<string, Deployment>();
  const revisions = new Map<string, { applicationName: string; content: string; sha256: string; registerTime: number; groups: Set<string> }>();
  const traffic: TrafficChange[] = [];
  const raisedAlarms = new Set<string>();
  let clock = 1_750_000_000;
  let counter = 0;
  /** How the fake delivers each hook: once, or twice (Lambda may deliver an invocation more than once). */
  let hookDelivery: 'once' | 'twice-sequential' | 'twice-concurrent' = 'once';

  const newId = () => `d-${createHash('sha256').update(`${Date.now()}-${++counter}-${Math.random()}`).digest('hex').slice(0, 9).toUpperCase()}`;

  function groupOf(p: Placement, applicationName: unknown, groupName: unknown) {
    if (!applicationName) throw new AwsError('ApplicationNameRequiredException', 'The minimum number of required application names was not specified.');
    if (!applications.has(`${where(p)}/${String(applicationName)}`)) throw new AwsError('ApplicationDoesNotExistException', `No application found for name: ${String(applicationName)}`);
    if (!groupName) throw new AwsError('DeploymentGroupNameRequiredException', 'The deployment group name was not specified.');
    const group = groups.get(`${where(p)}/${applicationName}/${groupName}`);
    if (!group) throw new AwsError('DeploymentGroupDoesNotExistException', `No Deployment Group found for name: ${String(groupName)}`);
    return group;
  }

  /** A deployment by id; with a placement, only one of that account and region (another's does not exist there). */
  function deploymentOf(id: unknown, p?: Placement) {
    if (!id) throw new AwsError('DeploymentIdRequiredException', 'At least one deployment ID must be specified.');
    if (typeof id !== 'string' || !/^d-[A-Z0-9]{9}$/.test(id)) throw new AwsError('InvalidDeploymentIdException', `Specified DeploymentId is not in the valid format: ${String(id)}`);
    const deployment = deployments.get(id);
    if (!deployment || (p && where(deployment.placement) !== where(p))) throw new AwsError('DeploymentDoesNotExistException', `Deployment ${id} does not exist`);
    return deployment;
  }

  function info(d: Deployment) {
    return {
      applicationName: d.applicationName,
      deploymentGroupName: d.deploymentGroupName,
      deploymentConfigName: d.deploymentConfigName,
      deploymentId: d.id,
      // GetDeployment never returns the AppSpec text: appSpecContent has the sha256 only.
      revision: { revisionType: 'AppSpecContent', appSpecContent: { sha256: d.appSpec.sha256 } },
      status: d.status,
      ...(d.errorInformation ? { errorInformation: d.errorInformation } : {}),
      createTime: d.createTime,
      ...(d.startTime ? { startTime: d.startTime } : {}),
      ...(d.completeTime ? { completeTime: d.completeTime } : {}),
      description: d.description,
      creator: d.creator,
      ignoreApplicationStopFailures: false,
      autoRollbackConfiguration: { enabled: d.autoRollbackEvents.length > 0, events: d.autoRollbackEvents },
      updateOutdatedInstancesOnly: false,
      ...(d.rollbackInfo ? { rollbackInfo: d.rollbackInfo } : {}),
      deploymentStyle: { deploymentType: 'BLUE_GREEN', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
      instanceTerminationWaitTimeStarted: false,
      computePlatform: 'Lambda',
      deploymentStatusMessages: [],
    };
  }

  async function updateAlias(d: Deployment, functionVersion: string, weights: Record<string, number>) {
    const response = await motoRequest(options.motoUrl, 'lambda', 'PUT',
      `/2015-03-31/functions/${encodeURIComponent(d.spec.functionName)}/aliases/${encodeURIComponent(d.spec.alias)}`,
      JSON.stringify({ FunctionVersion: functionVersion, RoutingConfig: { AdditionalVersionWeights: weights } }),
      { 'content-type': 'application/json' }, d.placement);
    if (response.status < 200 || response.status >= 300) throw new Error(`fake CodeDeploy could not update the alias: ${response.status} ${response.body}`);
    traffic.push({ deploymentId: d.id, functionVersion, weights, at: Date.now() });
  }

  function finish(d: Deployment, status: 'Succeeded' | 'Failed' | 'Stopped', error?: { code: string; message: string }) {
    d.status = status;
    d.phase = 'done';
    d.completeTime = clock;
    if (error) d.errorInformation = error;
    if (status === 'Succeeded' || d.creator === 'codeDeployRollback') return;
    const event = status === 'Stopped' ? 'DEPLOYMENT_STOP_ON_ALARM' : 'DEPLOYMENT_FAILURE';
    // A deployment refused before it touched the alias (AppSpec vs. alias mismatch) has nothing to roll back.
    if (!d.autoRollbackEvents.includes(event) || error?.code?.startsWith('INVALID_LAMBDA')) return;
    const rollback: Deployment = {
      id: newId(),
      placement: d.placement,
      applicationName: d.applicationName,
      deploymentGroupName: d.deploymentGroupName,
      deploymentConfigName: 'CodeDeployDefault.LambdaAllAtOnce',
      creator: 'codeDeployRollback',
      description: `Rollback of ${d.id}`,
      appSpec: d.appSpec,
      spec: d.spec,
      alarms: [],
      autoRollbackEvents: [],
      status: 'InProgress',
      phase: 'rollback',
      step: 0,
      steps: [1],
      createTime: clock,
      startTime: clock,
      hooks: [],
      rollbackInfo: { rollbackTriggeringDeploymentId: d.id },
    };
    deployments.set(rollback.id, rollback);
    d.rollbackInfo = {
      rollbackDeploymentId: rollback.id,
      rollbackMessage: `Automatic rollback triggered: ${error?.code ?? status}. Rollback deployment ${rollback.id} is in progress.`,
    };
  }

  async function runHook(d: Deployment, hook: HookExecution['hook'], functionName: string): Promise<'wait' | 'ok' | 'failed'> {
    let execution = d.hooks.find((h) => h.hook === hook);
    if (!execution) {
      execution = { id: `${hook}-${d.id}-${createHash('sha256').update(String(Math.random())).digest('hex').slice(0, 24)}`, hook, functionName, status: 'InProgress', reports: 0, stepsWaited: 0 };
      d.hooks.push(execution);
      const event = { DeploymentId: d.id, LifecycleEventHookExecutionId: execution.id };
      if (hookDelivery === 'twice-concurrent') {
        await Promise.all([options.invokeHook(functionName, event), options.invokeHook(functionName, event)]);
      } else {
        await options.invokeHook(functionName, event);
        if (hookDelivery === 'twice-sequential') await options.invokeHook(functionName, event);
      }
    }
    if (execution.status === 'Succeeded') return 'ok';
    if (execution.status === 'Failed') return 'failed';
    // A hook has one hour to report (six 10-minute steps here) before the event fails.
    return ++execution.stepsWaited > 6 ? 'failed' : 'wait';
  }

  /** The alarms of `names` in ALARM: raised by the test (raiseAlarm), or in ALARM on moto's CloudWatch (DescribeAlarms). */
  async function alarmsInAlarm(p: Placement, names: string[]): Promise<string[]> {
    if (names.length === 0) return [];
    const response = await motoRequest(options.motoUrl, 'monitoring', 'POST', '/', JSON.stringify({ AlarmNames: names, AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] }), {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'GraniteServiceVersion20100801.DescribeAlarms',
    }, p);
    if (response.status !== 200) throw new Error(`fake CodeDeploy could not read the alarms on moto: ${response.status} ${response.body}`);
    const body = JSON.parse(response.body);
    const states = new Map<string, string>([...body.MetricAlarms ?? [], ...body.CompositeAlarms ?? []].map((a: any) => [a.AlarmName, a.StateValue]));
    return names.filter((name) => raisedAlarms.has(name) || states.get(name) === 'ALARM');
  }

  /** One step of one deployment. */
  async function step(d: Deployment) {
    const active = d.creator === 'user' && d.phase !== 'done' ? await alarmsInAlarm(d.placement, d.alarms) : [];
    if (active.length > 0) {
      return finish(d, 'Stopped', {
        code: 'ALARM_ACTIVE',
        message: `One or more alarms have been activated according to the Amazon CloudWatch metrics you selected, and the affected deployments have been stopped. Activated alarms: <${active.join(', ')}>`,
      });
    }
    switch (d.phase) {
      case 'validate': {
        d.status = 'InProgress';
        d.startTime = clock;
        const fn = encodeURIComponent(d.spec.functionName);
        const alias = await motoRequest(options.motoUrl, 'lambda', 'GET', `/2015-03-31/functions/${fn}/aliases/${encodeURIComponent(d.spec.alias)}`, undefined, {}, d.placement);
        const target = await motoRequest(options.motoUrl, 'lambda', 'GET', `/2015-03-31/functions/${fn}/configuration?Qualifier=${encodeURIComponent(d.spec.targetVersion)}`, undefined, {}, d.placement);
        // moto answers GetAlias with 201, Lambda with 200.
        const aliasInfo = alias.status >= 200 && alias.status < 300 ? JSON.parse(alias.body) : undefined;
        const weights = aliasInfo?.RoutingConfig?.AdditionalVersionWeights ?? {};
        if (!aliasInfo || target.status !== 200) {
          return finish(d, 'Failed', { code: 'INVALID_LAMBDA_FUNCTION', message: `The Lambda function ${d.spec.functionName}, alias ${d.spec.alias} or version ${d.spec.targetVersion} does not exist (alias: ${alias.status}, version: ${target.status} ${target.body.slice(0, 200)}).` });
        }
        if (aliasInfo.FunctionVersion !== d.spec.currentVersion || Object.keys(weights).length > 0) {
          return finish(d, 'Failed', {
            code: 'INVALID_LAMBDA_CONFIGURATION',
            message: `The alias ${d.spec.alias} points to version ${aliasInfo.FunctionVersion}${Object.keys(weights).length ? ` with routing ${JSON.stringify(weights)}` : ''}, not to CurrentVersion ${d.spec.currentVersion} of the AppSpec.`,
          });
        }
        d.phase = d.spec.before ? 'before' : 'shift';
        return;
      }
      case 'before': {
        const outcome = await runHook(d, 'BeforeAllowTraffic', d.spec.before!);
        if (outcome === 'failed') return finish(d, 'Failed', { code: 'HOOK_EXECUTION_FAILURE', message: 'The deployment failed because one or more of the lifecycle event hook executions failed (BeforeAllowTraffic).' });
        if (outcome === 'ok') d.phase = 'shift';
        return;
      }
      case 'shift': {
        const weight = d.steps[d.step++];
        if (weight < 1) {
          await updateAlias(d, d.spec.currentVersion, { [d.spec.targetVersion]: weight });
        } else {
          await updateAlias(d, d.spec.targetVersion, {});
          d.phase = d.spec.after ? 'after' : 'done';
          if (d.phase === 'done') finish(d, 'Succeeded');
        }
        return;
      }
      case 'after': {
        const outcome = await runHook(d, 'AfterAllowTraffic', d.spec.after!);
        if (outcome === 'failed') return finish(d, 'Failed', { code: 'HOOK_EXECUTION_FAILURE', message: 'The deployment failed because one or more of the lifecycle event hook executions failed (AfterAllowTraffic).' });
        if (outcome === 'ok') finish(d, 'Succeeded');
        return;
      }
      case 'rollback':
        await updateAlias(d, d.spec.currentVersion, {});
        return finish(d, 'Succeeded');
      default:
    }
  }

  const server = await startJsonServer('CodeDeploy_20141006', {
    CreateDeployment: (input, caller) => {
      const group = groupOf(caller, input.applicationName, input.deploymentGroupName);
      const configName = input.deploymentConfigName ?? group.deploymentConfigName;
      const routing = LAMBDA_CONFIGS[configName];
      if (!routing) throw new AwsError('DeploymentConfigDoesNotExistException', `No deployment configuration found for name: ${String(configName)}`);
      const revision = input.revision;
      if (!revision) throw new AwsError('RevisionRequiredException', 'The revision ID was not specified.');
      if (revision.revisionType !== 'AppSpecContent' || typeof revision.appSpecContent?.content !== 'string') {
        throw new AwsError('InvalidRevisionException', 'This fake models AppSpecContent revisions (with content) only');
      }
      const content: string = revision.appSpecContent.content;
      const sha256 = createHash('sha256').update(content).digest('hex');
      if (revision.appSpecContent.sha256 && revision.appSpecContent.sha256 !== sha256) {
        throw new AwsError('InvalidRevisionException', `The AppSpec sha256 ${String(revision.appSpecContent.sha256)} does not match its content (${sha256})`);
      }
      const spec = parseLambdaAppSpec(content);
      const active = [...deployments.values()].find((d) => where(d.placement) === where(group.placement)
        && d.applicationName === group.applicationName
        && d.deploymentGroupName === group.deploymentGroupName && ACTIVE.includes(d.status));
      if (active) {
        throw new AwsError('DeploymentLimitExceededException', `The Deployment Group '${group.deploymentGroupName}' already has an active Deployment '${active.id}'`);
      }
      // "The alarm configuration that you specify here will override the alarm configuration at the
      // deployment group level" (CreateDeploymentInput.overrideAlarmConfiguration); likewise
      // autoRollbackConfiguration, "added when a deployment is created".
      const override = input.overrideAlarmConfiguration;
      const alarms: string[] = override ? (override.enabled ? (override.alarms ?? []).map((a: any) => a.name) : []) : group.alarms;
      const rollback = input.autoRollbackConfiguration;
      const autoRollbackEvents: string[] = rollback ? (rollback.enabled ? rollback.events ?? [] : []) : group.autoRollbackEvents;
      const id = newId();
      deployments.set(id, {
        id,
        placement: group.placement,
        applicationName: group.applicationName,
        deploymentGroupName: group.deploymentGroupName,
        deploymentConfigName: configName,
        creator: 'user',
        description: input.description,
        appSpec: { content, sha256 },
        spec,
        alarms,
        autoRollbackEvents,
        status: 'Created',
        phase: 'validate',
        step: 0,
        steps: shiftSteps(routing),
        createTime: clock,
        hooks: [],
      });
      const key = `${where(group.placement)}/${group.applicationName}/${sha256}`;
      const registered = revisions.get(key)
        ?? { applicationName: group.applicationName, content, sha256, registerTime: clock, groups: new Set<string>() };
      registered.groups.add(group.deploymentGroupName);
      revisions.set(key, registered);
      return { deploymentId: id };
    },
    GetDeployment: (input, caller) => ({ deploymentInfo: info(deploymentOf(input.deploymentId, caller)) }),
    ListDeployments: (input, caller) => {
      if (!!input.applicationName !== !!input.deploymentGroupName) {
        throw new AwsError('InvalidInputException', 'applicationName and deploymentGroupName must be specified together');
      }
      if (input.applicationName) groupOf(caller, input.applicationName, input.deploymentGroupName);
      const statuses: string[] | undefined = input.includeOnlyStatuses?.length ? input.includeOnlyStatuses : undefined;
      for (const status of statuses ?? []) {
        if (![...ACTIVE, 'Succeeded', 'Failed', 'Stopped'].includes(status)) throw new AwsError('InvalidDeploymentStatusException', `Invalid deployment status: ${status}`);
      }
      const ids = [...deployments.values()]
        .filter((d) => where(d.placement) === where(caller))
        .filter((d) => !input.applicationName || (d.applicationName === input.applicationName && d.deploymentGroupName === input.deploymentGroupName))
        .filter((d) => !statuses || statuses.includes(d.status))
        .reverse().map((d) => d.id);
      return { deployments: ids };
    },
    BatchGetDeployments: (input, caller) => ({ deploymentsInfo: (input.deploymentIds ?? []).map((id: string) => info(deploymentOf(id, caller))) }),
    StopDeployment: (input, caller) => {
      const d = deploymentOf(input.deploymentId, caller);
      if (!ACTIVE.includes(d.status)) throw new AwsError('DeploymentAlreadyCompletedException', `Deployment ${d.id} has already completed`);
      finish(d, 'Stopped', { code: 'MANUAL_STOP', message: 'The deployment was stopped by a user' });
      return { status: 'Succeeded', statusMessage: 'Deployment stopped' };
    },
    RegisterApplicationRevision: (input, caller) => {
      if (!applications.has(`${where(caller)}/${input.applicationName}`)) throw new AwsError('ApplicationDoesNotExistException', `No application found for name: ${String(input.applicationName)}`);
      const content = input.revision?.appSpecContent?.content;
      if (typeof content !== 'string') throw new AwsError('InvalidRevisionException', 'AppSpecContent with content is required');
      const sha256 = createHash('sha256').update(content).digest('hex');
      const key = `${where(caller)}/${input.applicationName}/${sha256}`;
      if (!revisions.has(key)) {
        revisions.set(key, { applicationName: input.applicationName, content, sha256, registerTime: clock, groups: new Set() });
      }
      return {};
    },
    GetApplicationRevision: (input, caller) => {
      if (!input.applicationName) throw new AwsError('ApplicationNameRequiredException', 'The minimum number of required application names was not specified.');
      if (!applications.has(`${where(caller)}/${input.applicationName}`)) throw new AwsError('ApplicationDoesNotExistException', `No application found for name: ${String(input.applicationName)}`);
      const asked = input.revision?.appSpecContent;
      if (!input.revision || input.revision.revisionType !== 'AppSpecContent' || !asked) throw new AwsError('InvalidRevisionException', 'An AppSpecContent revision is required');
      const sha256 = asked.sha256 ?? (typeof asked.content === 'string' ? createHash('sha256').update(asked.content).digest('hex') : undefined);
      const found = sha256 ? revisions.get(`${where(caller)}/${input.applicationName}/${sha256}`) : undefined;
      if (!found) throw new AwsError('RevisionDoesNotExistException', `No application revision found for ${String(sha256)}`);
      return {
        applicationName: found.applicationName,
        revision: { revisionType: 'AppSpecContent', appSpecContent: { content: found.content, sha256: found.sha256 } },
        revisionInfo: { description: '', deploymentGroups: [...found.groups], firstUsedTime: found.registerTime, lastUsedTime: clock, registerTime: found.registerTime },
      };
    },
    PutLifecycleEventHookExecutionStatus: (input, caller) => {
      const d = deploymentOf(input.deploymentId, caller);
      const execution = d.hooks.find((h) => h.id === input.lifecycleEventHookExecutionId);
      if (!execution) throw new AwsError('InvalidLifecycleEventHookExecutionIdException', `A lifecycle event hook execution ID ${String(input.lifecycleEventHookExecutionId)} is invalid`);
      if (!['Succeeded', 'Failed'].includes(input.status)) throw new AwsError('InvalidLifecycleEventHookExecutionStatusException', `The status ${String(input.status)} is not Succeeded or Failed`);
      execution.reports++;
      if (execution.status !== 'InProgress' || !ACTIVE.includes(d.status)) {
        throw new AwsError('LifecycleEventAlreadyCompletedException', `The lifecycle event ${execution.hook} of deployment ${d.id} has already completed`);
      }
      execution.status = input.status;
      return { lifecycleEventHookExecutionId: execution.id };
    },
    GetDeploymentConfig: (input) => {
      const routing = LAMBDA_CONFIGS[input.deploymentConfigName];
      if (!routing) throw new AwsError('DeploymentConfigDoesNotExistException', `No deployment configuration found for name: ${String(input.deploymentConfigName)}`);
      return {
        deploymentConfigInfo: {
          deploymentConfigId: createHash('sha256').update(input.deploymentConfigName).digest('hex').slice(0, 36),
          deploymentConfigName: input.deploymentConfigName,
          createTime: 1_500_000_000,
          computePlatform: 'Lambda',
          trafficRoutingConfig: routing,
        },
      };
    },
    GetDeploymentGroup: (input, caller) => {
      const group = groupOf(caller, input.applicationName, input.deploymentGroupName);
      return {
        deploymentGroupInfo: {
          applicationName: group.applicationName,
          deploymentGroupId: createHash('sha256').update(group.deploymentGroupName).digest('hex').slice(0, 36),
          deploymentGroupName: group.deploymentGroupName,
          deploymentConfigName: group.deploymentConfigName,
          alarmConfiguration: { enabled: group.alarms.length > 0, ignorePollAlarmFailure: false, alarms: group.alarms.map((name) => ({ name })) },
          autoRollbackConfiguration: { enabled: group.autoRollbackEvents.length > 0, events: group.autoRollbackEvents },
          deploymentStyle: { deploymentType: 'BLUE_GREEN', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
          computePlatform: 'Lambda',
          serviceRoleArn: `arn:aws:iam::${group.placement.account}:role/codedeploy-service-role`,
        },
      };
    },
  }, options.identities);

  return {
    ...server,
    traffic,
    deployments,
    setHookDelivery(mode: typeof hookDelivery) {
      hookDelivery = mode;
    },
    raiseAlarm(name: string) {
      raisedAlarms.add(name);
    },
    clearAlarm(name: string) {
      raisedAlarms.delete(name);
    },
    /** One step of time (one traffic increment) on every active deployment. */
    async advance() {
      clock += 600;
      for (const d of [...deployments.values()]) {
        if (ACTIVE.includes(d.status)) await step(d);
      }
    },
    hookExecutions() {
      return [...deployments.values()].flatMap((d) => d.hooks.map((h) => ({ deploymentId: d.id, ...h })));
    },
    /** What GetDeployment would answer. */
    describe(id: string) {
      return info(deploymentOf(id));
    },
    calledOperations(operation: string) {
      return server.calls.filter((c) => c.operation === operation);
    },
  };
}

export type FakeCodeDeploy = Awaited<ReturnType<typeof startFakeCodeDeploy>>;
