import * as lambda from 'aws-cdk-lib/aws-lambda';

/** The runtime of a service function the construct creates, unless `service.runtime` says otherwise. */
export const DEFAULT_SERVICE_RUNTIME = lambda.Runtime.NODEJS_24_X;
