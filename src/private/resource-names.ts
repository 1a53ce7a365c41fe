import { Token } from 'aws-cdk-lib';
import { ALIAS_NAME } from '../contract/handler-contract';

const SUFFIX_PATTERN = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const SERVICE_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const MAX_SUFFIX_LENGTH = 20;
/** IAM role names allow 64 characters. */
export const MAX_ROLE_NAME = 64;

/** The physical names of one service's own resources. */
export interface ServiceNames {
  readonly serviceName: string;
  readonly environmentSuffix: string;
  readonly serviceFunction: string;
  readonly deploymentGroup: string;
  readonly errorRateAlarm: string;
}

/**
 * Between a pipeline's name and one of its services' names: `--` never occurs in a service name,
 * an environment suffix or a purpose, so no name of a monorepo service can equal a name that a
 * single-service pipeline (or another pipeline's service) derives.
 */
const SERVICE_SEPARATOR = '--';

/** Physical names of everything the construct names, each `{service}-{purpose}-{suffix}`. */
export class ResourceNames implements ServiceNames {
  /** Checks `serviceName` and `environmentSuffix` and derives every physical name from them. */
  public static of(serviceName: string, environmentSuffix: string): ResourceNames {
    if (Token.isUnresolved(serviceName) || !SERVICE_PATTERN.test(serviceName)) {
      throw new Error(`serviceName must be lowercase letters, digits and single hyphens, starting with a letter (for example "orders-api"); got "${serviceName}"`);
    }
    if (Token.isUnresolved(environmentSuffix) || !SUFFIX_PATTERN.test(environmentSuffix) || environmentSuffix.length > MAX_SUFFIX_LENGTH) {
      throw new Error(`environmentSuffix must be 1-${MAX_SUFFIX_LENGTH} lowercase letters, digits and single hyphens (for example "dev" or "pr-42"), because it appears in resource names; got "${environmentSuffix}"`);
    }
    return new ResourceNames(serviceName, environmentSuffix);
  }

  private constructor(public readonly serviceName: string, public readonly environmentSuffix: string) {
    // Lambda function names are the tightest limit (64 characters).
    for (const name of [this.serviceFunction, this.handler('switch-traffic'), this.handler('deploy-blue'), this.handler('smoke-test')]) {
      this.checkLength(name, 64, 'Lambda function name');
    }
  }

  /**
   * The names of `serviceName`, one of the services of a pipeline that deploys several:
   * `{pipeline}--{service}-{purpose}-{suffix}`, so that two pipelines with a service of the same
   * name, or a monorepo service and a single-service pipeline, never claim the same name.
   * @param path where the name was given, for errors (`services[2].serviceName`)
   */
  public service(serviceName: string, path: string): ServiceNames {
    if (typeof serviceName !== 'string' || Token.isUnresolved(serviceName) || !SERVICE_PATTERN.test(serviceName)) {
      throw new Error(`${path} must be lowercase letters, digits and single hyphens, starting with a letter (for example "orders"); got "${serviceName}"`);
    }
    const name = (purpose?: string) => [`${this.serviceName}${SERVICE_SEPARATOR}${serviceName}`, purpose, this.environmentSuffix].filter(Boolean).join('-');
    const names: ServiceNames = {
      serviceName,
      environmentSuffix: this.environmentSuffix,
      serviceFunction: name(),
      deploymentGroup: name(ALIAS_NAME),
      errorRateAlarm: name('error-rate'),
    };
    if (names.serviceFunction.length > 64) {
      throw new Error(`${path} "${serviceName}", with serviceName "${this.serviceName}" and environmentSuffix "${this.environmentSuffix}", gives the Lambda function name "${names.serviceFunction}" (${names.serviceFunction.length} characters); at most 64 are allowed: shorten ${path}, serviceName or environmentSuffix`);
    }
    return names;
  }

  public get serviceFunction() { return this.name(); }
  public handler(purpose: string) { return this.name(purpose); }
  public get pipeline() { return this.name('pipeline'); }
  public get buildProject() { return this.name('build'); }
  public get testReportGroup() { return this.name('tests'); }
  public get codeDeployApplication() { return this.name(); }
  public get deploymentGroup() { return this.name(ALIAS_NAME); }
  public get historyTable() { return this.name('deployments'); }
  public get notificationTopic() { return this.name('deployments'); }
  public get errorRateAlarm() { return this.name('error-rate'); }
  public get dashboard() { return this.name('deployments'); }
  /** The stage handlers' dead-letter queue and the alarm on its depth. */
  public get deadLetters() { return this.name('dead-letters'); }
  public get notificationRule() {
    const name = this.name('pipeline-events');
    this.checkLength(name, 64, 'CodeStar notification rule name (or set notifyPipelineEvents: false)');
    return name;
  }

  /** A CodeConnections connection name allows 32 characters; checked only when the construct creates one. */
  public get connection() {
    const name = this.name();
    this.checkLength(name, 32, 'CodeConnections connection name (pass source.connectionArn to use an existing connection instead)');
    return name;
  }

  private name(purpose?: string) {
    return [this.serviceName, purpose, this.environmentSuffix].filter(Boolean).join('-');
  }

  private checkLength(name: string, max: number, what: string) {
    if (name.length > max) {
      throw new Error(`serviceName "${this.serviceName}" with environmentSuffix "${this.environmentSuffix}" gives the ${what} "${name}" (${name.length} characters); at most ${max} are allowed: shorten serviceName or environmentSuffix`);
    }
  }
}
