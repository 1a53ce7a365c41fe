import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import { STAGE_NAMES } from '../contract/handler-contract';
import { ExtraStageOptions } from '../extra-stages';

const STAGE_NAME_PATTERN = /^[A-Za-z0-9.@_-]{1,100}$/;

/**
 * The pipeline's stage names, and where extra stages go: several at one placement keep the order
 * they were added in.
 */
export class ExtraStages {
  private readonly lastStageAfter = new Map<string, codepipeline.IStage>();
  private readonly stageNames: Set<string>;

  /**
   * @param anchors the stage each placement's fixed stage name stands for, where it is not that
   * stage itself (a pipeline with environments: after Switch-Traffic = after the last environment)
   */
  constructor(private readonly pipeline: codepipeline.Pipeline, private readonly anchors: ReadonlyMap<string, string> = new Map()) {
    this.stageNames = new Set(pipeline.stages.map((stage) => stage.stageName));
  }

  /** Records a stage the construct itself added (the approval). */
  public claim(stageName: string): void {
    this.stageNames.add(stageName);
  }

  public add(options: ExtraStageOptions): codepipeline.IStage {
    if (!STAGE_NAME_PATTERN.test(options.stageName)) {
      throw new Error(`extraStages: stageName must be 1-100 letters, digits, ".", "@", "-" or "_"; got "${options.stageName}"`);
    }
    if (this.stageNames.has(options.stageName)) {
      const fixed = [STAGE_NAMES.source, STAGE_NAMES.build, STAGE_NAMES.deployBlue, STAGE_NAMES.switchTraffic].join(', ');
      throw new Error(`extraStages: a stage named "${options.stageName}" already exists; the fixed stages ${fixed} cannot be replaced, and extra stage names must be unique`);
    }
    if (options.actions.length === 0) {
      throw new Error(`extraStages: stage "${options.stageName}" needs at least one action`);
    }
    const anchorName = options.placement.afterStageName;
    const anchor = this.lastStageAfter.get(anchorName) ?? this.pipeline.stage(this.anchors.get(anchorName) ?? anchorName);
    const stage = this.pipeline.addStage({ stageName: options.stageName, actions: options.actions, placement: { justAfter: anchor } });
    this.lastStageAfter.set(anchorName, stage);
    this.stageNames.add(options.stageName);
    return stage;
  }
}
