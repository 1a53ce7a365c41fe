import * as http from 'http';
import { AddressInfo } from 'net';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { Caller, Identities } from './aws-identities';
import { motoRequest } from './moto-server';

/** A request the gateway passed to moto, with who made it. */
export interface GatewayCall {
  /** The SigV4 credential scope's service: s3, sns, sqs, monitoring (CloudWatch), sts, iam. */
  readonly service: string;
  readonly method: string;
  readonly path: string;
  /** The operation, where the request names it (`x-amz-target`, or a query protocol's Action). */
  readonly operation?: string;
  /** The request body as text (none for S3, whose bodies are the objects). */
  readonly body?: string;
  readonly caller: Caller;
  readonly status: number;
  readonly at: number;
}

/** One sts:AssumeRole request and how the gateway answered it. */
export interface AssumeRoleCall {
  readonly caller: Caller;
  readonly roleArn: string;
  readonly roleSessionName: string;
  readonly externalId?: string;
  readonly allowed: boolean;
  /** Why it was refused: the role does not exist, or the simulator's result. */
  readonly refusal?: string;
  /** The temporary credentials' access key, when allowed. */
  readonly accessKeyId?: string;
  readonly at: number;
}

export interface MotoGatewayOptions {
  readonly motoUrl: string;
  readonly identities: Identities;
  /**
   * The identity policies of a caller's role (by role ARN) that bear on sts:AssumeRole: what the
   * template attaches to it. None: the caller may assume nothing.
   */
  readonly identityPolicies: (roleArn: string) => Array<{ name: string; policy: unknown }>;
  /**
   * STS's clock (epoch ms): temporary credentials expire DurationSeconds (3600 by default) after
   * it. moto dates them by the real clock; the handlers' clock runs ahead by the time the test
   * played, so their SDK would take moto's credentials for expired and assume the role again
   * before every call. @default Date.now
   */
  readonly now?: () => number;
}

const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]+)$/;

function xmlEscape(text: string) {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * The endpoint the handlers of a multi-account world reach moto through (S3, SNS, SQS, CloudWatch,
 * STS, IAM): every request is passed on unchanged and recorded with its caller (the access key, the
 * account moto attributes it to, the credential scope's region), so a scenario can tell whose
 * credentials each call used. moto does not enforce IAM, and its AssumeRole issues credentials for
 * any role ARN, existing or not ("the role does not need to exist", moto's sts/models.py). STS does
 * not: it answers 403 AccessDenied ("User: <caller> is not authorized to perform: sts:AssumeRole on
 * resource: <role>") unless the role exists, its trust policy allows the caller, and for a role of
 * another account the caller's identity policy allows sts:AssumeRole on it too
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html).
 * The gateway plays that: it reads the role's trust policy from moto's IAM in the role's account and
 * evaluates it, with the caller's identity policies, in @cloud-copilot/iam-simulate (the evaluator
 * validation/iam-simulation.ts uses), with the request's context: aws:PrincipalArn (the caller's
 * role), aws:PrincipalAccount, and sts:ExternalId when the request carries one.
 */
export async function startMotoGateway(options: MotoGatewayOptions) {
  const calls: GatewayCall[] = [];
  const assumeRoleCalls: AssumeRoleCall[] = [];

  function forward(req: http.IncomingMessage, body: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    const target = new URL(req.url ?? '/', options.motoUrl);
    return new Promise((resolve, reject) => {
      const upstream = http.request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: Buffer.concat(chunks) }));
      });
      upstream.on('error', reject);
      upstream.end(body);
    });
  }

  /** Whether STS would let the caller assume the role: undefined when allowed, else why not. */
  async function refusal(caller: Caller, roleArn: string, externalId: string | undefined): Promise<string | undefined> {
    const role = ROLE_ARN.exec(roleArn);
    if (!role) return `${roleArn} is not a role ARN`;
    const [, account, name] = role;
    const got = await motoRequest(options.motoUrl, 'iam', 'POST', '/', new URLSearchParams({ Action: 'GetRole', Version: '2010-05-08', RoleName: name }).toString(),
      { 'content-type': 'application/x-www-form-urlencoded' }, { account, region: 'us-east-1' });
    if (got.status !== 200) return `role ${name} does not exist in account ${account}`;
    const encoded = /<AssumeRolePolicyDocument>([^<]*)<\/AssumeRolePolicyDocument>/.exec(got.body)?.[1];
    if (!encoded) return `role ${name} has no trust policy`;
    const trust = JSON.parse(decodeURIComponent(encoded.replace(/&amp;/g, '&').replace(/&quot;/g, '"')));
    const principalArn = caller.issued?.roleArn;
    if (!principalArn) return `the caller ${caller.accessKeyId} is no role this world issued credentials for`;
    const result = await runSimulation({
      request: {
        principal: principalArn,
        action: 'sts:AssumeRole',
        resource: { resource: roleArn, accountId: account },
        contextVariables: {
          'aws:PrincipalArn': principalArn,
          'aws:PrincipalAccount': caller.issued!.account,
          ...(externalId !== undefined ? { 'sts:ExternalId': externalId } : {}),
        },
      },
      identityPolicies: options.identityPolicies(principalArn) as any,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: trust,
    }, {});
    if (result.resultType === 'error') throw new Error(`iam-simulate could not evaluate AssumeRole of ${roleArn}: ${JSON.stringify(result.errors)}`);
    return result.overallResult === 'Allowed' ? undefined : `${result.overallResult} by the trust policy and identity policies`;
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const caller = options.identities.callerOf(req.headers);
        const service = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1] ?? '?';
        const text = service === 's3' ? undefined : body.toString('utf8');
        const form = text && String(req.headers['content-type'] ?? '').includes('x-www-form-urlencoded') ? new URLSearchParams(text) : undefined;
        const operation = req.headers['x-amz-target'] ? String(req.headers['x-amz-target']).split('.').pop() : form?.get('Action') ?? undefined;
        const record = (status: number) => calls.push({ service, method: req.method ?? 'GET', path: req.url ?? '/', operation, body: text, caller, status, at: Date.now() });
        try {
          if (service === 'sts' && operation === 'AssumeRole' && form) {
            const roleArn = form.get('RoleArn') ?? '';
            const roleSessionName = form.get('RoleSessionName') ?? '';
            const externalId = form.get('ExternalId') ?? undefined;
            const why = await refusal(caller, roleArn, externalId);
            if (why) {
              assumeRoleCalls.push({ caller, roleArn, roleSessionName, externalId, allowed: false, refusal: why, at: Date.now() });
              const who = caller.issued?.sessionArn ?? `arn:aws:iam::${caller.account}:user/${caller.accessKeyId}`;
              const message = `User: ${who} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`;
              record(403);
              res.writeHead(403, { 'content-type': 'text/xml' });
              res.end('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code>'
                + `<Message>${xmlEscape(message)}</Message></Error><RequestId>gateway-${assumeRoleCalls.length}</RequestId></ErrorResponse>`);
              return;
            }
            let answer = await forward(req, body);
            if (answer.status === 200) {
              const expiration = new Date((options.now ?? Date.now)() + Number(form.get('DurationSeconds') ?? 3600) * 1000).toISOString();
              const dated = Buffer.from(answer.body.toString('utf8').replace(/<Expiration>[^<]*<\/Expiration>/, `<Expiration>${expiration}</Expiration>`));
              answer = { ...answer, body: dated, headers: { ...answer.headers, 'content-length': String(dated.length) } };
            }
            const xml = answer.body.toString('utf8');
            const accessKeyId = /<AccessKeyId>([^<]+)<\/AccessKeyId>/.exec(xml)?.[1];
            const sessionArn = /<AssumedRoleUser>[\s\S]*?<Arn>([^<]+)<\/Arn>/.exec(xml)?.[1];
            if (answer.status === 200 && accessKeyId) {
              options.identities.register({
                accessKeyId,
                account: ROLE_ARN.exec(roleArn)![1],
                roleArn,
                sessionName: roleSessionName,
                sessionArn: sessionArn ?? roleArn,
                externalId,
                assumedBy: caller.issued?.roleArn ?? caller.accessKeyId,
              });
            }
            assumeRoleCalls.push({ caller, roleArn, roleSessionName, externalId, allowed: answer.status === 200, accessKeyId, at: Date.now() });
            record(answer.status);
            res.writeHead(answer.status, answer.headers);
            res.end(answer.body);
            return;
          }
          const answer = await forward(req, body);
          record(answer.status);
          res.writeHead(answer.status, answer.headers);
          res.end(answer.body);
        } catch (error) {
          record(500);
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`gateway: ${String(error)}`);
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    assumeRoleCalls,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export type MotoGateway = Awaited<ReturnType<typeof startMotoGateway>>;
