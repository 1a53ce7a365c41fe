import { IncomingHttpHeaders } from 'http';
import { Placement } from './moto-server';

/** moto's default account: requests with credentials it did not issue land there. */
export const DEFAULT_ACCOUNT = '123456789012';
export const DEFAULT_REGION = 'us-east-1';

/** Temporary credentials STS issued (moto's, through the test's STS gate or the world's set-up): whose they are. */
export interface IssuedCredentials {
  readonly accessKeyId: string;
  /** The account of the role: moto attributes every request signed with the key to it. */
  readonly account: string;
  /** The role assumed (`arn:aws:iam::<account>:role/<name>`): the caller's aws:PrincipalArn. */
  readonly roleArn: string;
  readonly sessionName: string;
  /** `arn:aws:sts::<account>:assumed-role/<role>/<session>`. */
  readonly sessionArn: string;
  readonly externalId?: string;
  /** Who assumed it: a Lambda execution role given to a function by the world, or a deployer role assumed by a handler. */
  readonly assumedBy: 'lambda' | string;
}

/** Who signed a request, as local AWS tells: the access key, its account and the credential scope's region. */
export interface Caller extends Placement {
  readonly accessKeyId: string;
  /** The credentials, when STS issued them in this run. */
  readonly issued?: IssuedCredentials;
}

/**
 * The temporary credentials issued in a world, so that the proxies and fakes in front of moto can
 * tell which account a request is in, as moto does (an assumed role's key belongs to the role's
 * account; the `x-moto-account-id` header overrides; anything else is moto's default account),
 * and the scenarios can tell whose credentials every call used.
 */
export class Identities {
  private readonly keys = new Map<string, IssuedCredentials>();

  register(credentials: IssuedCredentials) {
    this.keys.set(credentials.accessKeyId, credentials);
  }

  issued(accessKeyId: string): IssuedCredentials | undefined {
    return this.keys.get(accessKeyId);
  }

  all(): IssuedCredentials[] {
    return [...this.keys.values()];
  }

  /** The caller of a SigV4-signed request: `Credential=<key>/<date>/<region>/<service>/aws4_request`. */
  callerOf(headers: IncomingHttpHeaders): Caller {
    const authorization = String(headers.authorization ?? '');
    const scope = /Credential=([^/,\s]+)\/\d{8}\/([a-z0-9-]+)\//.exec(authorization);
    const accessKeyId = scope?.[1] ?? '';
    const issued = this.keys.get(accessKeyId);
    const header = headers['x-moto-account-id'];
    const account = typeof header === 'string' && header ? header : issued?.account ?? DEFAULT_ACCOUNT;
    return { accessKeyId, account, region: scope?.[2] ?? DEFAULT_REGION, issued };
  }
}

/** Reads a caller without a registry: the header's account or moto's default, the scope's region. */
export function callerOf(headers: IncomingHttpHeaders, identities?: Identities): Caller {
  return (identities ?? new Identities()).callerOf(headers);
}

export const placementKey = (p: Placement) => `${p.account}/${p.region}`;
