import * as http from 'http';
import { AddressInfo } from 'net';
import * as vm from 'vm';
import { Caller, callerOf, Identities } from './aws-identities';
import { motoRequest, Placement } from './moto-server';
import { codeSha256, NotAZipError, unzipFiles } from './zip';

/** A Lambda API call a handler made through the proxy. */
export interface LambdaCall {
  readonly operation: string;
  readonly functionName: string;
  readonly qualifier?: string;
  readonly status: number;
  readonly errorType?: string;
  readonly body?: any;
  readonly response?: any;
  readonly at: number;
  /** Who called: the access key, and the account and region the call was in. */
  readonly account: string;
  readonly region: string;
  readonly accessKeyId: string;
}

/** One Invoke the proxy answered. */
export interface Invocation {
  readonly functionName: string;
  readonly qualifier?: string;
  readonly executedVersion: string;
  readonly functionError?: string;
  readonly payload: string;
  readonly at: number;
  readonly account: string;
  readonly region: string;
}

export interface LambdaProxyOptions {
  /**
   * How long Lambda reports `LastUpdateStatus: InProgress` after UpdateFunctionCode. 0 (the
   * default) keeps moto's instant update; > 0 makes the proxy answer like Lambda during an
   * update: GetFunction(Configuration) say InProgress, and another UpdateFunctionCode or a
   * PublishVersion answer ResourceConflictException.
   */
  updateWindowMs?: number;
  /** Lambda's clock (epoch ms), which stamps the metrics of each invocation. @default Date.now */
  now?: () => number;
  /**
   * Whose credentials are whose: each request acts in the account its credentials belong to (or the
   * `x-moto-account-id` header's) and the region of its credential scope, as moto scopes it.
   * @default every request in moto's default account, or the header's
   */
  identities?: Identities;
}

/** Splits a FunctionName path parameter (name, name:qualifier, partial or full ARN). */
function parseFunctionName(raw: string): { name: string; qualifier?: string } {
  const decoded = decodeURIComponent(raw);
  const arn = decoded.match(/^arn:[^:]+:lambda:[^:]+:\d+:function:([^:]+)(?::(.+))?$/);
  if (arn) return { name: arn[1], qualifier: arn[2] };
  const partial = decoded.match(/^(?:\d+:function:)?([^:]+)(?::(.+))?$/);
  return { name: partial?.[1] ?? decoded, qualifier: partial?.[2] };
}

function lambdaError(res: http.ServerResponse, status: number, type: string, message: string) {
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type, 'x-amzn-requestid': 'proxy' });
  res.end(JSON.stringify({ Type: 'User', Message: message, message }));
}

/**
 * The Lambda endpoint the handlers see: moto behind a small proxy. moto models functions,
 * versions and aliases but cannot Invoke without Docker, and it differs from Lambda in a few
 * documented behaviours the proxy restores:
 * - Invoke: runs the version's code (the test registers each zip's source by CodeSha256) in a
 *   `vm` context; a throw answers 200 with `X-Amz-Function-Error: Unhandled` and the error as
 *   the payload, like Lambda (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html,
 *   https://docs.aws.amazon.com/lambda/latest/dg/nodejs-exceptions.html).
 * - DeleteFunction with a Qualifier: "You can't delete a version that an alias references"
 *   (https://docs.aws.amazon.com/lambda/latest/api/API_DeleteFunction.html): Lambda answers 409
 *   ResourceConflictException "Unable to delete version because the following aliases reference it: [live]";
 *   moto deletes it. `$LATEST` cannot be deleted by qualifier (InvalidParameterValueException).
 * - PublishVersion with CodeSha256: "Only publish a version if the hash value matches"
 *   (https://docs.aws.amazon.com/lambda/latest/api/API_PublishVersion.html): a mismatch answers
 *   400 InvalidParameterValueException "CodeSHA256 (...) is different from current CodeSHA256 in $LATEST";
 *   moto ignores it.
 * - PublishVersion of unchanged code: "Lambda doesn't publish a version if the function's
 *   configuration and code haven't changed since the last version" (API_PublishVersion): it
 *   answers the last version. moto publishes a new one after any UpdateFunctionCode, even of
 *   identical code; the proxy answers the last version when CodeSha256 and configuration match.
 * - Deleted versions: moto 5.2.5 numbers a new version `len(versions) + 1`, so after a
 *   DeleteFunction(Qualifier) it reuses numbers (publishes a second "5"); Lambda never reuses a
 *   version number. The proxy therefore keeps deleted versions in moto and hides them: they are
 *   left out of ListVersionsByFunction, and GetFunction(Configuration)/Invoke/aliases on them
 *   answer ResourceNotFoundException. Deleting an absent version answers 204 like Lambda.
 * - Optional update window (see {@link LambdaProxyOptions.updateWindowMs}), per
 *   https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html.
 * - UpdateFunctionCode (S3Bucket/S3Key or ZipFile): Lambda unzips the package ("Could not unzip
 *   uploaded file" InvalidParameterValueException otherwise, API_UpdateFunctionCode); moto stores
 *   any bytes. The proxy reads the package as Lambda would (the S3 object from moto's S3), refuses
 *   one that is not a zip, and registers the handler file (`index.handler` -> `index.js`) under the
 *   package's CodeSha256 so that Invoke runs exactly the code the function was given. A package
 *   without the handler file fails at Invoke with `Runtime.ImportModuleError`, as Lambda's does.
 * Everything else is forwarded to moto unchanged.
 */
export async function startLambdaProxy(motoUrl: string, sources: Map<string, string>, options: LambdaProxyOptions = {}) {
  const calls: LambdaCall[] = [];
  const invocations: Invocation[] = [];
  // Function names are unique per account and region: state is kept per `<account>/<region>/<name>`.
  const updatingUntil = new Map<string, number>();
  const deleted = new Map<string, Set<string>>();
  const keyOf = (p: Placement, name: string) => `${p.account}/${p.region}/${name}`;
  const isDeleted = (p: Placement, name: string, version?: string | null) => !!version && (deleted.get(keyOf(p, name))?.has(version) ?? false);
  const packages = new Map<string, Record<string, Buffer>>();
  const CONFIG_FIELDS = ['CodeSha256', 'Handler', 'Runtime', 'MemorySize', 'Timeout', 'Role'];

  const moto = async (p: Placement, method: string, requestPath: string, body?: string) => {
    const response = await motoRequest(motoUrl, 'lambda', method, requestPath, body, body ? { 'content-type': 'application/json' } : {}, p);
    let parsed: any;
    try {
      parsed = response.body ? JSON.parse(response.body) : undefined;
    } catch {
      parsed = response.body;
    }
    return { status: response.status, body: parsed };
  };

  /** The most recently published version that still exists (moto lists versions in publish order). */
  async function lastVersion(p: Placement, name: string): Promise<any | undefined> {
    const all: any[] = [];
    let marker: string | undefined;
    do {
      const page = await moto(p, 'GET', `/2015-03-31/functions/${encodeURIComponent(name)}/versions${marker ? `?Marker=${encodeURIComponent(marker)}` : ''}`);
      if (page.status !== 200) return undefined;
      all.push(...(page.body.Versions ?? []));
      marker = page.body.NextMarker;
    } while (marker);
    const published = all.filter((v) => v.Version !== '$LATEST' && !isDeleted(p, name, v.Version));
    return published.sort((a, b) => Number(a.Version) - Number(b.Version)).pop();
  }

  /** Lambda loads the handler's module from the package; the proxy keeps its source by CodeSha256. */
  async function registerPackage(p: Placement, name: string, zip: Buffer): Promise<string | undefined> {
    let files: Record<string, Buffer>;
    try {
      files = unzipFiles(zip);
    } catch (error) {
      if (error instanceof NotAZipError || error instanceof RangeError) return 'Could not unzip uploaded file. Please check your file, then try to upload again.';
      throw error;
    }
    const config = await moto(p, 'GET', `/2015-03-31/functions/${encodeURIComponent(name)}/configuration`);
    const handler = String(config.body?.Handler ?? 'index.handler');
    const module = handler.slice(0, handler.lastIndexOf('.'));
    const file = [`${module}.js`, `${module}.cjs`].find((candidate) => files[candidate] !== undefined);
    const sha = codeSha256(zip);
    sources.set(sha, file ? files[file].toString('utf8')
      : `exports.handler = async () => { const e = new Error(${JSON.stringify(`Cannot find module '${module}'`)}); e.name = 'Runtime.ImportModuleError'; throw e; };\n`);
    packages.set(sha, files);
    return undefined;
  }

  async function forward(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse, rewrite?: (json: any) => any) {
    const target = new URL(req.url ?? '/', motoUrl);
    await new Promise<void>((resolve, reject) => {
      const headers = { ...req.headers, host: target.host };
      const upstream = http.request(target, { method: req.method, headers }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          let out = Buffer.concat(chunks);
          const outHeaders = { ...response.headers };
          if (rewrite && response.statusCode === 200 && out.length > 0) {
            out = Buffer.from(JSON.stringify(rewrite(JSON.parse(out.toString('utf8')))));
            outHeaders['content-length'] = String(out.length);
          }
          res.writeHead(response.statusCode ?? 502, outHeaders);
          res.end(out);
          resolve();
        });
      });
      upstream.on('error', reject);
      upstream.end(body);
    });
  }

  /**
   * The metrics Lambda publishes for an invocation, which moto's Invoke does not: AWS/Lambda
   * Invocations (and Errors for a function error), by FunctionName; by FunctionName and Resource
   * (`<function>:<qualifier>`) for a version or alias; and by FunctionName, Resource and
   * ExecutedVersion for an alias ("view metrics for an alias and version combination").
   * @see https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
   */
  async function publishMetrics(p: Placement, name: string, qualifier: string | undefined, executedVersion: string, error: boolean) {
    const timestamp = (options.now ?? Date.now)() / 1000;
    const sets: Array<Array<{ Name: string; Value: string }>> = [[{ Name: 'FunctionName', Value: name }]];
    if (qualifier && qualifier !== '$LATEST') {
      const resource = [{ Name: 'FunctionName', Value: name }, { Name: 'Resource', Value: `${name}:${qualifier}` }];
      sets.push(resource);
      if (!/^\d+$/.test(qualifier)) sets.push([...resource, { Name: 'ExecutedVersion', Value: executedVersion }]);
    }
    const metricData = sets.flatMap((dimensions) => [
      { MetricName: 'Invocations', Dimensions: dimensions, Value: 1, Unit: 'Count', Timestamp: timestamp },
      ...(error ? [{ MetricName: 'Errors', Dimensions: dimensions, Value: 1, Unit: 'Count', Timestamp: timestamp }] : []),
    ]);
    const response = await motoRequest(motoUrl, 'monitoring', 'POST', '/', JSON.stringify({ Namespace: 'AWS/Lambda', MetricData: metricData }), {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'GraniteServiceVersion20100801.PutMetricData',
    }, p);
    if (response.status !== 200) throw new Error(`CloudWatch PutMetricData on moto answered ${response.status}: ${response.body}`);
  }

  async function invoke(p: Placement, name: string, qualifier: string | undefined, payload: Buffer, res: http.ServerResponse) {
    let version = qualifier ?? '$LATEST';
    if (!/^(\d+|\$LATEST)$/.test(version)) {
      const alias = await moto(p, 'GET', `/2015-03-31/functions/${encodeURIComponent(name)}/aliases/${encodeURIComponent(version)}`);
      if (alias.status < 200 || alias.status >= 300) return lambdaError(res, 404, 'ResourceNotFoundException', `Function not found: ${name}:${version}`);
      version = alias.body.FunctionVersion;
      let draw = Math.random();
      for (const [weighted, weight] of Object.entries<number>(alias.body.RoutingConfig?.AdditionalVersionWeights ?? {})) {
        if (draw < weight) {
          version = weighted;
          break;
        }
        draw -= weight;
      }
    }
    const config = await moto(p, 'GET', `/2015-03-31/functions/${encodeURIComponent(name)}/configuration?Qualifier=${encodeURIComponent(version)}`);
    if (config.status !== 200 || isDeleted(p, name, version)) return lambdaError(res, 404, 'ResourceNotFoundException', `Function not found: arn:aws:lambda:${p.region}:${p.account}:function:${name}:${version}`);
    const source = sources.get(config.body.CodeSha256);
    if (source === undefined) {
      return lambdaError(res, 502, 'InvalidZipFileException', `the test registered no source for CodeSha256 ${config.body.CodeSha256} of ${name}:${version}`);
    }
    let result: string;
    let functionError: string | undefined;
    try {
      const module = { exports: {} as any };
      vm.runInNewContext(source, { module, exports: module.exports, console: { log() {}, error() {} } }, { timeout: 1000 });
      const event = payload.length ? JSON.parse(payload.toString('utf8')) : {};
      const value = await module.exports.handler(event, { functionName: name, functionVersion: version });
      result = JSON.stringify(value ?? null);
    } catch (error) {
      functionError = 'Unhandled';
      const e = error as Error;
      result = JSON.stringify({ errorType: e?.name ?? 'Error', errorMessage: e?.message ?? String(error), trace: [] });
    }
    invocations.push({
      functionName: name, qualifier, executedVersion: version, functionError, payload: result, at: Date.now(), account: p.account, region: p.region,
    });
    await publishMetrics(p, name, qualifier, version, functionError !== undefined);
    res.writeHead(200, {
      'content-type': 'application/json',
      'x-amz-executed-version': version,
      ...(functionError ? { 'x-amz-function-error': functionError } : {}),
    });
    res.end(result);
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const url = new URL(req.url ?? '/', 'http://proxy');
        const match = url.pathname.match(/^\/2015-03-31\/functions\/([^/]+)(\/.*)?$/);
        const fn = match ? parseFunctionName(match[1]) : undefined;
        const rest = match?.[2] ?? '';
        const qualifier = url.searchParams.get('Qualifier') ?? fn?.qualifier;
        const method = req.method ?? 'GET';
        const caller: Caller = callerOf(req.headers, options.identities);
        const p: Placement = { account: caller.account, region: caller.region };
        const operation = !fn ? `${method} ${url.pathname}`
          : method === 'POST' && rest === '/invocations' ? 'Invoke'
            : method === 'PUT' && rest === '/code' ? 'UpdateFunctionCode'
              : method === 'PUT' && rest === '/configuration' ? 'UpdateFunctionConfiguration'
                : method === 'POST' && rest === '/versions' ? 'PublishVersion'
                  : method === 'GET' && rest === '/versions' ? 'ListVersionsByFunction'
                    : method === 'DELETE' && rest === '' ? 'DeleteFunction'
                      : method === 'GET' && rest === '' ? 'GetFunction'
                        : method === 'GET' && rest === '/configuration' ? 'GetFunctionConfiguration'
                          : method === 'GET' && rest.startsWith('/aliases/') ? 'GetAlias'
                            : method === 'GET' && rest === '/aliases' ? 'ListAliases'
                              : method === 'PUT' && rest.startsWith('/aliases/') ? 'UpdateAlias'
                                : method === 'POST' && rest === '/aliases' ? 'CreateAlias'
                                  : `${method} ${rest || '/'}`;
        let parsedBody: any;
        try {
          parsedBody = body.length && operation !== 'Invoke' ? JSON.parse(body.toString('utf8')) : undefined;
        } catch {
          parsedBody = undefined;
        }
        // Record what the handler asked and what it was answered.
        const record = (status: number, errorType?: string, response?: any) => calls.push({
          operation,
          functionName: fn?.name ?? '',
          qualifier: qualifier ?? undefined,
          status,
          errorType,
          body: parsedBody,
          response,
          at: Date.now(),
          account: p.account,
          region: p.region,
          accessKeyId: caller.accessKeyId,
        });
        const originalWriteHead = res.writeHead.bind(res);
        (res as any).writeHead = (status: number, headers?: any) => {
          record(status, headers?.['x-amzn-errortype'] ?? headers?.['X-Amzn-ErrorType']);
          return originalWriteHead(status, headers);
        };
        try {
          if (!fn) return await forward(req, body, res);
          const name = fn.name;
          const updating = (updatingUntil.get(keyOf(p, name)) ?? 0) > Date.now();
          const arn = `arn:aws:lambda:${p.region}:${p.account}:function:${name}`;
          switch (operation) {
            case 'Invoke':
              return await invoke(p, name, qualifier ?? undefined, body, res);
            case 'UpdateFunctionCode':
            case 'UpdateFunctionConfiguration':
            case 'PublishVersion': {
              if (updating) {
                return lambdaError(res, 409, 'ResourceConflictException', `The operation cannot be performed at this time. An update is in progress for resource: ${arn}`);
              }
              if (operation === 'PublishVersion' && parsedBody?.CodeSha256) {
                const latest = await moto(p, 'GET', `/2015-03-31/functions/${encodeURIComponent(name)}/configuration`);
                if (latest.status === 200 && latest.body.CodeSha256 !== parsedBody.CodeSha256) {
                  return lambdaError(res, 400, 'InvalidParameterValueException',
                    `CodeSHA256 (${parsedBody.CodeSha256}) is different from current CodeSHA256 in $LATEST (${latest.body.CodeSha256}). Please try again with the CodeSHA256 in $LATEST.`);
                }
              }
              if (operation === 'PublishVersion') {
                const last = await lastVersion(p, name);
                const latest = await moto(p, 'GET', `/2015-03-31/functions/${encodeURIComponent(name)}/configuration`);
                if (last && latest.status === 200 && CONFIG_FIELDS.every((f) => JSON.stringify(last[f]) === JSON.stringify(latest.body[f]))
                  && JSON.stringify(last.Environment ?? {}) === JSON.stringify(latest.body.Environment ?? {})) {
                  res.writeHead(201, { 'content-type': 'application/json' });
                  return res.end(JSON.stringify(last));
                }
              }
              if (operation === 'UpdateFunctionCode') {
                let zip: Buffer | undefined;
                if (typeof parsedBody?.ZipFile === 'string') zip = Buffer.from(parsedBody.ZipFile, 'base64');
                if (parsedBody?.S3Bucket && parsedBody?.S3Key) {
                  const bucket = encodeURIComponent(parsedBody.S3Bucket);
                  // "S3Bucket: An Amazon S3 bucket in the same AWS Region as your function. The bucket can
                  // be in a different AWS account" (API_UpdateFunctionCode). Lambda reads the object with
                  // the caller's credentials, in the function's region.
                  const asCaller = { authorization: `AWS4-HMAC-SHA256 Credential=${caller.accessKeyId || 'test'}/20250101/${p.region}/s3/aws4_request, SignedHeaders=host, Signature=0` };
                  const location = await motoRequest(motoUrl, 's3', 'GET', `/${bucket}?location`, undefined, asCaller);
                  const bucketRegion = location.status === 200 ? (/<LocationConstraint[^>]*>([^<]*)</.exec(location.body)?.[1] || 'us-east-1') : undefined;
                  if (bucketRegion && bucketRegion !== p.region) {
                    return lambdaError(res, 400, 'InvalidParameterValueException',
                      `Error occurred while GetObject. S3 Error Code: PermanentRedirect. S3 Error Message: The bucket is in this region: ${bucketRegion}. Please use this region to retry the request`);
                  }
                  const key = String(parsedBody.S3Key).split('/').map(encodeURIComponent).join('/');
                  const version = parsedBody.S3ObjectVersion ? `?versionId=${encodeURIComponent(parsedBody.S3ObjectVersion)}` : '';
                  const object = await motoRequest(motoUrl, 's3', 'GET', `/${bucket}/${key}${version}`, undefined, asCaller);
                  // A missing bucket or key: moto answers as Lambda does (InvalidParameterValueException ... GetObject).
                  if (object.status === 200) zip = object.bytes;
                }
                if (zip) {
                  const refused = await registerPackage(p, name, zip);
                  if (refused) return lambdaError(res, 400, 'InvalidParameterValueException', refused);
                }
              }
              if (operation !== 'PublishVersion' && (options.updateWindowMs ?? 0) > 0) {
                updatingUntil.set(keyOf(p, name), Date.now() + options.updateWindowMs!);
                return await forward(req, body, res, (json) => ({ ...json, LastUpdateStatus: 'InProgress', LastUpdateStatusReason: 'The function is being created.' }));
              }
              return await forward(req, body, res);
            }
            case 'GetFunction':
            case 'GetFunctionConfiguration':
              if (isDeleted(p, name, qualifier)) return lambdaError(res, 404, 'ResourceNotFoundException', `Function not found: ${arn}:${qualifier}`);
              if (updating && (!qualifier || qualifier === '$LATEST')) {
                return await forward(req, body, res, (json) => operation === 'GetFunction'
                  ? { ...json, Configuration: { ...json.Configuration, LastUpdateStatus: 'InProgress' } }
                  : { ...json, LastUpdateStatus: 'InProgress' });
              }
              return await forward(req, body, res);
            case 'DeleteFunction': {
              if (qualifier === '$LATEST') {
                return lambdaError(res, 400, 'InvalidParameterValueException', '$LATEST version cannot be deleted without deleting the function.');
              }
              if (qualifier) {
                const aliases = await moto(p, 'GET', `/2015-03-31/functions/${encodeURIComponent(name)}/aliases`);
                const referencing = (aliases.body?.Aliases ?? []).filter((a: any) => a.FunctionVersion === qualifier
                  || Object.keys(a.RoutingConfig?.AdditionalVersionWeights ?? {}).includes(qualifier)).map((a: any) => a.Name);
                if (referencing.length > 0) {
                  return lambdaError(res, 409, 'ResourceConflictException', `Unable to delete version because the following aliases reference it: [${referencing.join(', ')}]`);
                }
                const exists = await moto(p, 'GET', `/2015-03-31/functions/${encodeURIComponent(name)}/configuration?Qualifier=${encodeURIComponent(qualifier)}`);
                if (exists.status === 200) {
                  if (!deleted.has(keyOf(p, name))) deleted.set(keyOf(p, name), new Set());
                  deleted.get(keyOf(p, name))!.add(qualifier);
                }
                res.writeHead(204, {});
                return res.end();
              }
              return await forward(req, body, res);
            }
            case 'ListVersionsByFunction':
              return await forward(req, body, res, (json) => ({
                ...json,
                Versions: (json.Versions ?? []).filter((v: any) => !isDeleted(p, name, v.Version)),
              }));
            case 'CreateAlias':
            case 'UpdateAlias': {
              const versions = [parsedBody?.FunctionVersion, ...Object.keys(parsedBody?.RoutingConfig?.AdditionalVersionWeights ?? {})];
              const gone = versions.find((v) => isDeleted(p, name, v));
              if (gone) return lambdaError(res, 404, 'ResourceNotFoundException', `Function not found: ${arn}:${gone}`);
              return await forward(req, body, res);
            }
            default:
              return await forward(req, body, res);
          }
        } catch (error) {
          if (!res.headersSent) lambdaError(res, 500, 'ServiceException', `proxy: ${String(error)}`);
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    invocations,
    /** The files of each deployment package a function was given, by CodeSha256. */
    packages,
    /** Versions deleted through the proxy (hidden from moto's answers), of a function in one account and region or in any. */
    deletedVersions(name: string, placement?: Placement): string[] {
      if (placement) return [...(deleted.get(keyOf(placement, name)) ?? [])];
      return [...deleted].filter(([key]) => key.endsWith(`/${name}`)).flatMap(([, versions]) => [...versions]);
    },
    /** Successful calls of one operation (what really changed something). */
    succeeded(operation: string) {
      return calls.filter((c) => c.operation === operation && c.status >= 200 && c.status < 300);
    },
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export type LambdaProxy = Awaited<ReturnType<typeof startLambdaProxy>>;
