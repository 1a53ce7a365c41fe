export * from './blue-green-lambda-pipeline';
export * from './artifact-bucket';
export * from './build-options';
export * from './deployment-history';
export * from './error-rate-alarm';
export * from './github-source';
export * from './stage-placement';
export * from './traffic-hook';
