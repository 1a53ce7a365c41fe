import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import { STAGE_NAMES } from './contract/handler-contract';

/**
 * Where an extra stage goes: right after one of the four fixed stages. Extra stages never
 * replace, remove or rename `Source`, `Build`, `Deploy-Blue` or `Switch-Traffic`.
 */
export class StagePlacement {
  /** After `Source`, before `Build`. */
  public static readonly AFTER_SOURCE = new StagePlacement(STAGE_NAMES.source);
  /** After `Build`, before `Deploy-Blue` (for example integration tests or a security scan). */
  public static readonly AFTER_BUILD = new StagePlacement(STAGE_NAMES.build);
  /** After `Deploy-Blue`, before `Switch-Traffic` (and before the manual approval, if any). */
  public static readonly AFTER_DEPLOY_BLUE = new StagePlacement(STAGE_NAMES.deployBlue);
  /** After `Switch-Traffic`, at the end of the pipeline. */
  public static readonly AFTER_SWITCH_TRAFFIC = new StagePlacement(STAGE_NAMES.switchTraffic);

  /** @param afterStageName the fixed stage this placement follows */
  private constructor(public readonly afterStageName: string) {}
}

/** An extra stage inserted into the pipeline. */
export interface ExtraStageOptions {
  /** The stage name: letters, digits, `.`, `@`, `-`, `_`, at most 100 characters, unique in the pipeline. */
  readonly stageName: string;
  /** Which fixed stage it follows. */
  readonly placement: StagePlacement;
  /** Its actions; at least one. */
  readonly actions: codepipeline.IAction[];
}
