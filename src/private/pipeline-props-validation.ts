import { Token } from 'aws-cdk-lib';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import type { BlueGreenLambdaPipelineProps } from '../blue-green-lambda-pipeline';
import { STAGE_NAMES } from '../contract/handler-contract';
import { GitHubSourceProps } from '../github-source';

const CONNECTION_ARN_PATTERN = /^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection\/[A-Za-z0-9-]+$/;
const GITHUB_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,100}$/;
const BUNDLE_DIRECTORY_PATTERN = /^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._@+\/-]+$/;
/** CodePipeline allows 50 actions per stage: Deploy-Blue and Switch-Traffic hold one per service. */
const MAX_SERVICES = 50;
/** The single-service props that `services` replaces. */
const SINGLE_SERVICE_PROPS = ['service', 'serviceFunction', 'extraAlarms', 'preTrafficHook', 'postTrafficHook'] as const;

/** Checks the pipeline's props at synth time; each error names the prop path and what is allowed. */
export function validatePipelineProps(props: BlueGreenLambdaPipelineProps): void {
  const { owner, repo } = props.source ?? ({} as GitHubSourceProps);
  for (const [field, value] of [['source.owner', owner], ['source.repo', repo]] as const) {
    if (typeof value !== 'string' || value.trim() === '' || (!Token.isUnresolved(value) && !GITHUB_NAME_PATTERN.test(value))) {
      throw new Error(`${field} must be a GitHub ${field === 'source.owner' ? 'user or organization' : 'repository'} name (letters, digits, "-", "_", "."); got "${value ?? ''}"`);
    }
  }
  const branch = props.source.branch;
  if (branch !== undefined && (branch.trim() === '' || /\s|\.\.|^\/|\/$/.test(branch))) {
    throw new Error(`source.branch must be a Git branch name such as "main"; got "${branch}"`);
  }
  const arn = props.source.connectionArn;
  if (arn !== undefined && !Token.isUnresolved(arn) && !CONNECTION_ARN_PATTERN.test(arn)) {
    throw new Error(`source.connectionArn must be a CodeConnections connection ARN (arn:aws:codeconnections:<region>:<account>:connection/<id> or arn:aws:codestar-connections:...); got "${arn}"`);
  }
  for (const stage of props.extraStages ?? []) {
    const approves = stage.actions.some((a) => a instanceof actions.ManualApprovalAction);
    if (props.manualApproval && approves && stage.placement.afterStageName === STAGE_NAMES.deployBlue) {
      throw new Error(`extraStages: stage "${stage.stageName}" adds a manual approval after Deploy-Blue, where manualApproval already puts one; configure the approval once (manualApproval, or your own stage without manualApproval)`);
    }
  }
  if (props.environments) {
    if (props.manualApproval) {
      throw new Error('manualApproval: with environments, give each environment its own approval (environments[i].approval), which runs before its Deploy-Blue');
    }
    const own = props.serviceFunction ? 'serviceFunction' : props.services?.findIndex((s) => s.serviceFunction !== undefined);
    if (own !== undefined && own !== -1) {
      const path = typeof own === 'string' ? own : `services[${own}].serviceFunction`;
      throw new Error(`${path}: with environments, each environment needs a function of its own, which the construct creates; configure it with ${typeof own === 'string' ? 'service' : `services[${own}].service`} (and environments[i].serviceOverrides) instead`);
    }
    (props.extraStages ?? []).forEach((stage, i) => {
      if (stage.placement.afterStageName === STAGE_NAMES.deployBlue) {
        throw new Error(`extraStages[${i}].placement: with environments there is a Deploy-Blue stage per environment; use AFTER_SOURCE, AFTER_BUILD or AFTER_SWITCH_TRAFFIC (after the last environment)`);
      }
    });
  }
  const services = props.services;
  if (services === undefined) return;
  const given = SINGLE_SERVICE_PROPS.filter((prop) => props[prop] !== undefined);
  if (given.length > 0) {
    throw new Error(`${given.join(', ')}: with services, set these on each service (services[i].${given[0]}), not on the pipeline`);
  }
  if (services.length === 0 || services.length > MAX_SERVICES) {
    throw new Error(`services must list 1 to ${MAX_SERVICES} services (CodePipeline allows ${MAX_SERVICES} actions per stage, and Deploy-Blue and Switch-Traffic hold one per service); got ${services.length}`);
  }
  const seen = new Map<string, number>();
  services.forEach((service, i) => {
    const name = service.serviceName;
    if (seen.has(name)) {
      throw new Error(`services[${i}].serviceName: "${name}" is already the name of services[${seen.get(name)}]; service names must be unique in a pipeline`);
    }
    seen.set(name, i);
    const dir = service.bundleDirectory;
    if (typeof dir !== 'string' || !BUNDLE_DIRECTORY_PATTERN.test(dir.replace(/\/+$/, ''))) {
      throw new Error(`services[${i}].bundleDirectory must be a relative path inside the repository, such as "services/orders/dist" (no leading "/", no "." or ".." segments); got "${dir ?? ''}"`);
    }
  });
  const dirs = services.map((s) => `${s.bundleDirectory.replace(/\/+$/, '')}/`);
  dirs.forEach((dir, i) => dirs.forEach((other, j) => {
    if (i !== j && other.startsWith(dir)) {
      throw new Error(`services[${j}].bundleDirectory "${services[j].bundleDirectory}" lies inside services[${i}].bundleDirectory "${services[i].bundleDirectory}"; each service needs a directory of its own`);
    }
  }));
}
