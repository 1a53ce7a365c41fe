import { jobHandler } from '../runtime/codepipeline-job';
import { defaultLogger } from '../runtime/logger';

// Work in progress (#16): the Bake handler is being written; until then every bake job fails.
const logger = defaultLogger();
export const handler = jobHandler(logger, 'bake', async (jobId: string) => {
  throw new Error(`job ${jobId}: the Bake handler is not written yet`);
});
