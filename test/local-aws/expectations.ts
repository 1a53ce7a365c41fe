/** Assertions with readable failures, shared by the local AWS scenarios. */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { contractProblems, DeploymentMetric, deploymentMetrics } from './emf';
import { Deployment } from './fake-codedeploy';
import { JobResult } from './fake-codepipeline';
import { World } from './world';
import { LOG_SERVICE } from '../../src/runtime/logger';

export function succeeded(result: JobResult | undefined, what: string): asserts result is JobResult {
  if (result?.kind !== 'success') throw new Error(`${what}: expected the job to succeed, CodePipeline recorded ${JSON.stringify(result)}`);
}

export function failed(result: JobResult | undefined, what: string): string {
  if (result?.kind !== 'failure') throw new Error(`${what}: expected the job to fail, CodePipeline recorded ${JSON.stringify(result)}`);
  return result.failureDetails?.message ?? '';
}

/** No handler threw, and no handler called an API the fakes do not model or sent a request they refused as malformed. */
export function expectNoHandlerThrew(w: World) {
  expect(w.thrown().map((i) => `${i.functionName} threw ${i.error?.name}: ${i.error?.message}`)).toEqual([]);
  const malformed = [...w.codeDeploy.calls, ...w.pipeline.calls].filter((c) => c.error === 'UnknownOperationException' || c.error === 'ValidationException');
  expect(malformed.map((c) => `${c.operation}: ${c.error}: ${c.errorMessage}`)).toEqual([]);
  expect(w.proxy.calls.filter((c) => c.status >= 500).map((c) => `${c.operation}: ${c.status} ${c.errorType}`)).toEqual([]);
  expect(w.dynamoProxy.calls.filter((c) => c.status >= 500 || c.errorType === 'ValidationException').map((c) => `DynamoDB ${c.operation}: ${c.status} ${c.errorType}`)).toEqual([]);
}

/** Every job got exactly one accepted result; every refused one was InvalidJobStateException (a duplicate). */
export function expectOneResultPerJob(w: World, jobIds: string[]) {
  for (const jobId of jobIds) {
    expect({ jobId, accepted: w.pipeline.acceptedFor(jobId).length }).toEqual({ jobId, accepted: 1 });
    expect(w.pipeline.rejectedFor(jobId).map((c) => c.error)).toEqual(w.pipeline.rejectedFor(jobId).map(() => 'InvalidJobStateException'));
  }
}

/** The function a CreateDeployment request's AppSpec names. */
export function appSpecFunction(input: any): string | undefined {
  try {
    const resource: any = Object.values(JSON.parse(input.revision.appSpecContent.content).Resources[0])[0];
    return resource.Properties.Name;
  } catch {
    return undefined;
  }
}

/** What changed something: successful code updates and publishes (of one function, or all), and deployments created. */
export function counts(w: World, functionName?: string) {
  const of = (operation: string) => w.proxy.succeeded(operation).filter((c) => functionName === undefined || c.functionName === functionName).length;
  return {
    updateFunctionCode: of('UpdateFunctionCode'),
    publishVersion: of('PublishVersion'),
    // Attempts, refused ones included: a duplicate must not even try.
    createDeployment: w.codeDeploy.calledOperations('CreateDeployment').filter((c) => functionName === undefined || appSpecFunction(c.input) === functionName).length,
  };
}

export function delta(before: ReturnType<typeof counts>, after: ReturnType<typeof counts>) {
  return {
    updateFunctionCode: after.updateFunctionCode - before.updateFunctionCode,
    publishVersion: after.publishVersion - before.publishVersion,
    createDeployment: after.createDeployment - before.createDeployment,
  };
}

/** The user deployment CodeDeploy ran for a service's pipeline deployment (from the history record). */
export function codeDeployDeploymentOf(w: World, history: Record<string, any> | undefined): Deployment {
  const id = history?.codeDeployDeploymentId;
  const deployment = id ? w.codeDeploy.deployments.get(id) : undefined;
  if (!deployment) throw new Error(`history ${JSON.stringify(history)} names no CodeDeploy deployment the fake knows`);
  return deployment;
}

export async function expectAlias(w: World, version: string, service?: string) {
  const alias = await w.alias(service);
  expect({ service: service ?? w.service.name, version: alias.FunctionVersion, weights: alias.RoutingConfig?.AdditionalVersionWeights ?? {} })
    .toEqual({ service: service ?? w.service.name, version, weights: {} });
}

/**
 * The metrics every scenario's handlers wrote keep issue #10's contract:
 * - every EMF line is a valid document CloudWatch extracts (none hidden in a console log event, none outside an invocation);
 * - namespace, metric names, units, dimension sets, outcomes, and the durations each outcome carries;
 * - exactly one Deployments document per final state a service deployment reached: the same
 *   (deployment, outcome) pairs as the lifecycle notifications that announce final states;
 * - the latest document of each deployment agrees with its history item: Timestamp = finishedAt,
 *   ShiftDuration = finishedAt - shiftStartedAt, LeadTime = finishedAt - commitTime, and
 *   commitTime is the AuthorDate the source action gave the execution.
 */
export async function expectMetricsKeepContract(w: World) {
  const records = w.metrics();
  expect(records.filter((r) => r.problems.length > 0).map((r) => `${r.functionName} ${r.requestId ?? '(no invocation)'}: ${r.problems.join('; ')}: ${r.line.slice(0, 300)}`)).toEqual([]);
  const metrics = deploymentMetrics(records);
  expect(metrics.flatMap((m) => contractProblems(m.record.document!).map((p) => `${m.deploymentId}: ${p}`))).toEqual([]);
  // Every document is some Deployments document (no metric published on its own).
  expect(records.filter((r) => !metrics.some((m) => m.record === r)).map((r) => r.line)).toEqual([]);

  const finalEvents: Record<string, string> = { SUCCEEDED: 'Succeeded', ROLLED_BACK: 'RolledBack', FAILED: 'Failed', SKIPPED: 'Skipped', NOT_STARTED: 'NotStarted' };
  const announced = (await w.notifications())
    .filter((n) => finalEvents[n.event] !== undefined)
    // The item's key: `<execution>/<service>`, or `<execution>/<environment>/<service>` with environments.
    .map((n) => `${n.body?.deploymentId ?? `${n.body?.executionId}/${n.body?.service}`} ${finalEvents[n.event]}`).sort();
  expect({ deploymentsMetric: metrics.map((m) => `${m.deploymentId} ${m.outcome}`).sort() }).toEqual({ deploymentsMetric: announced });

  const latest = new Map(metrics.map((m) => [m.deploymentId, m]));
  for (const m of latest.values()) {
    const history = await w.historyItem(m.deploymentId);
    const executionId = history?.executionId ?? m.deploymentId.slice(0, m.deploymentId.lastIndexOf('/'));
    const finishedAt = Date.parse(history?.finishedAt);
    const commit = w.commitOf(executionId);
    const seconds = (from: string | undefined) => (from ? (finishedAt - Date.parse(from)) / 1000 : undefined);
    expect({
      deploymentId: m.deploymentId,
      executionId: m.executionId,
      state: history?.state,
      timestamp: m.timestamp,
      commitTime: history?.commitTime && Date.parse(history.commitTime),
      shiftDuration: m.shiftDuration,
      leadTime: m.leadTime,
    }).toEqual({
      deploymentId: m.deploymentId,
      executionId,
      state: ({ Succeeded: 'SUCCEEDED', RolledBack: 'ROLLED_BACK', Failed: 'FAILED', Skipped: 'SKIPPED', NotStarted: 'NOT_STARTED' } as Record<string, string>)[m.outcome],
      timestamp: finishedAt,
      // Deploy-Blue records the commit time when it stages (a failure before that has none).
      commitTime: history?.commitTime === undefined ? undefined : commit && Date.parse(commit.authorDate),
      shiftDuration: m.shiftDuration === undefined ? undefined : seconds(history?.shiftStartedAt),
      leadTime: m.leadTime === undefined ? undefined : seconds(history?.commitTime),
    });
    // Written when the item reached its final state: during this world's run (on the handlers' clock).
    expect(m.timestamp).toBeGreaterThanOrEqual(w.createdAt);
    expect(m.timestamp).toBeLessThanOrEqual(w.now());
  }
}

/**
 * The Deployments metric of one execution: exactly one document per service, with the outcome
 * expected (services left out emitted none); Succeeded and RolledBack with a ShiftDuration >= 0;
 * Succeeded with a LeadTime of finish time - commit time, which lies within the run: at least the
 * commit's age when the execution's first action ran, at most its age now.
 * @returns the documents, by service
 */
export function expectDeploymentMetrics(w: World, executionId: string, expected: Record<string, string>,
  environment?: string): Record<string, DeploymentMetric> {
  const metrics = deploymentMetrics(w.metrics(), executionId)
    .filter((m) => environment === undefined || m.record.document?.Environment === environment);
  expect({ executionId, environment, deployments: metrics.map((m) => [m.service, m.outcome, m.deployments]).sort() })
    .toEqual({ executionId, environment, deployments: Object.entries(expected).map(([service, outcome]) => [service, outcome, 1]).sort() });
  const commit = w.commitOf(executionId);
  if (!commit) throw new Error(`execution ${executionId} never ran an action in this world`);
  const committedAt = Date.parse(commit.authorDate);
  for (const m of metrics) {
    if (m.outcome === 'Succeeded' || m.outcome === 'RolledBack') expect({ service: m.service, shiftDuration: m.shiftDuration! >= 0 }).toEqual({ service: m.service, shiftDuration: true });
    else expect({ service: m.service, shiftDuration: m.shiftDuration }).toEqual({ service: m.service, shiftDuration: undefined });
    if (m.outcome === 'Succeeded') {
      expect(m.leadTime).toBeCloseTo((m.timestamp - committedAt) / 1000, 3);
      expect(m.leadTime! * 1000).toBeGreaterThanOrEqual(commit.firstActionAt - committedAt);
      expect(m.leadTime! * 1000).toBeLessThanOrEqual(w.now() - committedAt);
    } else {
      expect({ service: m.service, leadTime: m.leadTime }).toEqual({ service: m.service, leadTime: undefined });
    }
  }
  return Object.fromEntries(metrics.map((m) => [m.service, m]));
}

/**
 * No part of the job events' artifactCredentials left the events (issue 14 item 3; the Lambda invoke
 * action reference: "Do not log the JSON event that CodePipeline sends to Lambda"): not in any line
 * the handlers wrote to their log streams (records, EMF documents, stray lines), not in a
 * notification the topic delivered, not in a job result, a CodeDeploy or Lambda request, a
 * history item, or any SQS queue but the stage handlers' dead-letter queue. (The runner's own
 * framing lines, which carry the event, are not log output.)
 */
export async function expectNoCredentialsLeaked(w: World) {
  const secrets = Object.values(w.artifactCredentials);
  const functions = w.handlerFunctions();
  const items = await w.doc.send(new ScanCommand({ TableName: w.names.table }));
  // What is left out must be an SQS queue of the template (never the topic people subscribe to), and nothing else.
  const deadLetterQueues = w.deadLetterQueueNames();
  expect({ world: w.tag, deadLetterQueues: deadLetterQueues.filter((name) => name === w.names.topic || name === w.names.queue) })
    .toEqual({ world: w.tag, deadLetterQueues: [] });
  const places: Record<string, string[]> = {
    'log lines': functions.flatMap((fn) => fn.invocations.flatMap((i) => i.output)),
    'stray lines': functions.flatMap((fn) => fn.strayLines.map((s) => s.line)),
    'notifications': (await w.notifications()).map((n) => JSON.stringify(n)),
    // Every SQS queue but the dead-letter queue: a dead letter is the event, credentials included, by
    // Lambda's design; that queue is for operators only (issue 14 item 3), and only the handlers'
    // DeadLetterConfig targets are left out here.
    'SQS queues other than the dead-letter queue': (await w.queuedMessages())
      .filter((m) => !deadLetterQueues.includes(m.queueName)).map((m) => JSON.stringify(m)),
    'CodePipeline calls': w.pipeline.calls.map((c) => JSON.stringify(c)),
    'CodeDeploy calls': w.codeDeploy.calls.map((c) => JSON.stringify(c)),
    'Lambda calls': w.proxy.calls.map((c) => JSON.stringify(c)),
    'history items': (items.Items ?? []).map((item) => JSON.stringify(item, (_key, value) => (value instanceof Set ? [...value] : value))),
  };
  for (const [place, texts] of Object.entries(places)) {
    const leaked = texts.filter((text) => secrets.some((secret) => text.includes(secret)));
    expect({ world: w.tag, place, leaked: leaked.map((text) => text.slice(0, 300)) }).toEqual({ world: w.tag, place, leaked: [] });
  }
  // The job events carried them (all but hand-made malformed ones): the search looks for what was really there.
  const events = functions.flatMap((fn) => fn.invocations.map((i) => JSON.stringify(i.event))).filter((text) => text.includes('CodePipeline.job'));
  if (events.length > 0) expect(events.filter((event) => secrets.every((secret) => event.includes(secret))).length).toBeGreaterThan(0);
}

/**
 * Every line the stage handlers wrote, EMF documents aside, is a structured record CloudWatch Logs
 * keeps as it is (issue 14 item 10): a JSON object with `level`, a text `message` (not a JSON
 * document wrapped by the runtime's console) and `service` at the top level, and the correlation
 * key of what the invocation handled: the CodePipeline job's `jobId`, or the hook's CodeDeploy
 * `codeDeployDeploymentId`.
 */
export function expectStructuredLogs(w: World) {
  const problems: string[] = [];
  for (const fn of w.handlerFunctions()) {
    for (const invocation of fn.invocations) {
      const event = invocation.event as any;
      const expected: Record<string, unknown> = event?.['CodePipeline.job']?.id
        ? { jobId: event['CodePipeline.job'].id }
        : { codeDeployDeploymentId: event?.DeploymentId };
      for (const line of invocation.output.filter((l) => !l.startsWith('{"_aws"'))) {
        let record: any;
        try {
          record = JSON.parse(line);
        } catch {
          record = undefined;
        }
        const wrong = !record || typeof record !== 'object' ? 'not a JSON object'
          : typeof record.level !== 'string' ? 'no level'
            : typeof record.message !== 'string' || /^\s*[{[]/.test(record.message) ? 'message is not text'
              : record.service !== LOG_SERVICE ? `service is ${record.service}`
                : Object.entries(expected).filter(([key, value]) => record[key] !== value).map(([key, value]) => `${key} is ${record[key]}, not ${value}`).join('; ');
        if (wrong) problems.push(`${fn.functionName}: ${wrong}: ${line.slice(0, 300)}`);
      }
    }
  }
  expect({ world: w.tag, problems }).toEqual({ world: w.tag, problems: [] });
}
