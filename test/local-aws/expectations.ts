/** Assertions with readable failures, shared by the local AWS scenarios. */
import { Deployment } from './fake-codedeploy';
import { JobResult } from './fake-codepipeline';
import { World } from './world';

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
