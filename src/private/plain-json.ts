import { Token } from 'aws-cdk-lib';

/**
 * Checks that `value` is plain JSON and returns it with keys sorted at every level: a Java
 * `Map.of` or a Go map has no key order, and the value is synthesized into the template, so the
 * same value must give the same template in every language. A date, a CDK object (a `Duration`)
 * or a function would silently become `{}` or the object's internals in the template. A string or
 * number token (`Aws.REGION`, `stack.account`) is kept: render the result with
 * `Stack.toJsonString`, and CloudFormation fills it in.
 */
export function plainJson(value: unknown, path: string): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) && !Token.isUnresolved(value)) throw notJson(path, String(value));
    return value;
  }
  if (Array.isArray(value)) return value.map((item, i) => plainJson(item, `${path}[${i}]`));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const record = value as Record<string, unknown>;
    return Object.fromEntries(Object.keys(record).sort().map((key) => [key, plainJson(record[key], `${path}.${key}`)]));
  }
  const kind = value === undefined ? 'undefined'
    : typeof value === 'object' ? `an instance of ${(value as object).constructor?.name ?? 'a class'}` : `a ${typeof value}`;
  throw notJson(path, kind);
}

function notJson(path: string, kind: string): Error {
  return new Error(`${path} must be plain JSON (objects, arrays, strings, finite numbers, booleans, null); got ${kind}. Write dates and durations as strings or numbers.`);
}
