import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import {
  DEPLOYMENT_OUTCOMES, DEPLOYMENTS_METRIC, ENVIRONMENT_DIMENSION, LEAD_TIME_METRIC, METRICS_NAMESPACE,
  OUTCOME_DIMENSION, PIPELINE_DIMENSION, SERVICE_DIMENSION,
} from './contract/deployment-metrics';
import { ALIAS_NAME } from './contract/handler-contract';
import { ServiceDeployment } from './service-deployment';

/** The handlers' metric names, the very strings they publish. */
const DEPLOYMENT_METRICS = {
  namespace: METRICS_NAMESPACE,
  deployments: DEPLOYMENTS_METRIC,
  leadTime: LEAD_TIME_METRIC,
  pipelineDimension: PIPELINE_DIMENSION,
  environmentDimension: ENVIRONMENT_DIMENSION,
  serviceDimension: SERVICE_DIMENSION,
  outcomeDimension: OUTCOME_DIMENSION,
  outcomes: DEPLOYMENT_OUTCOMES,
};

/** Properties of {@link DeploymentDashboard}. */
export interface DeploymentDashboardProps {
  readonly dashboardName: string;
  readonly pipelineName: string;
  /** Each environment (the Environment dimension of the handlers' metrics) and its services, in promotion order. */
  readonly environments: ReadonlyArray<{ readonly name: string; readonly services: readonly ServiceDeployment[] }>;
}

const FULL_WIDTH = 24;
const ROW_HEIGHT = 6;

/**
 * A CloudWatch dashboard of the pipeline's deployments: for each service, traffic by executed
 * version of its `live` alias (the shift, step by step), the error rate against the rollback
 * threshold with the alarm's state, duration p99 by version, deployments by outcome, and lead time.
 */
export class DeploymentDashboard extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: DeploymentDashboardProps) {
    super(scope, id);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(3),
    });
    for (const environment of props.environments) this.addEnvironment(props.pipelineName, environment.name, environment.services);
  }

  /** One environment's section: its heading, its alarms' states, a row per service. */
  private addEnvironment(pipelineName: string, environment: string, services: readonly ServiceDeployment[]) {
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: `# ${pipelineName} (${environment})\nTraffic moves from the live version to the new one step by step; a rollback returns it. Deployment counts and lead time come from the stage handlers' metrics (namespace \`${DEPLOYMENT_METRICS.namespace}\`).`,
        width: FULL_WIDTH,
        height: 2,
      }),
      new cloudwatch.AlarmStatusWidget({
        title: 'Rollback alarms',
        alarms: services.map((s) => s.errorRateAlarm),
        width: FULL_WIDTH,
        height: 2,
      }),
    );
    const within = { [DEPLOYMENT_METRICS.pipelineDimension]: pipelineName, [DEPLOYMENT_METRICS.environmentDimension]: environment };
    for (const service of services) this.dashboard.addWidgets(...serviceRow(service, within));
  }
}

/** One row of widgets for one service. */
function serviceRow(service: ServiceDeployment, within: Record<string, string>): cloudwatch.IWidget[] {
  const width = 5; // four widgets of 5 and one of 4 fill a row of 24
  const name = service.serviceName;
  // Lambda publishes alias metrics per executed version with FunctionName + Resource + ExecutedVersion:
  // during a shift both versions appear, each with its share of the traffic.
  const byVersion = (metricName: string, statistic: string, label: string) => new cloudwatch.MathExpression({
    expression: `SEARCH('{AWS/Lambda,ExecutedVersion,FunctionName,Resource} MetricName="${metricName}" FunctionName="${service.functionName}" Resource="${service.functionName}:${ALIAS_NAME}"', '${statistic}', 60)`,
    label,
    period: Duration.minutes(1),
  });
  const perService = (metricName: string, statistic: string, dimensions: Record<string, string>, label: string) => new cloudwatch.Metric({
    namespace: DEPLOYMENT_METRICS.namespace,
    metricName,
    dimensionsMap: { ...within, [DEPLOYMENT_METRICS.serviceDimension]: name, ...dimensions },
    statistic,
    period: Duration.days(1),
    label,
  });
  return [
    new cloudwatch.GraphWidget({
      title: `${name}: traffic by version`,
      left: [byVersion('Invocations', 'Sum', 'invocations')],
      stacked: true,
      width,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.AlarmWidget({
      title: `${name}: error rate vs rollback threshold`,
      alarm: service.errorRateAlarm,
      width,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: `${name}: duration p99 by version`,
      left: [byVersion('Duration', 'p99', 'p99')],
      width,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: `${name}: deployments by outcome`,
      left: DEPLOYMENT_METRICS.outcomes.map((outcome) => perService(DEPLOYMENT_METRICS.deployments, 'Sum', { [DEPLOYMENT_METRICS.outcomeDimension]: outcome }, outcome)),
      stacked: true,
      width,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: `${name}: lead time, commit to live (s)`,
      left: [perService(DEPLOYMENT_METRICS.leadTime, 'Average', {}, 'average'), perService(DEPLOYMENT_METRICS.leadTime, 'p50', {}, 'median')],
      width: FULL_WIDTH - 4 * width,
      height: ROW_HEIGHT,
    }),
  ];
}
