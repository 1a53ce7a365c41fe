// An environment in another account and region, as the stage handlers' tests see it: the tooling
// account runs the handlers, the target account holds the deployer role they assume.
export const TOOLING_ACCOUNT = '111111111111';
export const TARGET_ACCOUNT = '222222222222';
export const PIPELINE_ARN = `arn:aws:codepipeline:us-east-1:${TOOLING_ACCOUNT}:orders-pipeline`;
export const DEPLOYER_ROLE_ARN = `arn:aws:iam::${TARGET_ACCOUNT}:role/orders-pipeline-deployer-staging`;

/** The Lambda context of a tooling handler (`deploy-blue`, `switch-traffic`, `bake`): its ARN names the tooling account. */
export function toolingContext(handler: string, remainingMs: number) {
  return {
    invokedFunctionArn: `arn:aws:lambda:us-east-1:${TOOLING_ACCOUNT}:function:orders-pipeline-${handler}`,
    getRemainingTimeInMillis: () => remainingMs,
  };
}
