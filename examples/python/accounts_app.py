"""The accounts pipeline from examples/typescript/accounts-app.ts, written by a Python user.

The pipeline lives in a tooling account and deploys into one account per environment, prod in two
regions. dev (222222222222) takes every release at once; staging (333333333333) shifts linearly and
bakes for an hour; prod (444444444444, us-east-1) waits for a release manager's approval, shifts by
canary and bakes for two hours; prod-eu (the same account, eu-west-1) follows once prod has baked.
One CDK app holds every stack: the tooling stack and one stack per target environment.

Deploy order: bootstrap each target account and region with `cdk bootstrap --trust 111111111111`,
deploy the four target stacks, then the tooling stack (its first execution needs the deployer roles).
"""
import os

import aws_cdk as cdk
from aws_cdk import aws_codedeploy as codedeploy
from blue_green_lambda_pipeline import (
    BlueGreenLambdaPipeline,
    BlueGreenLambdaTarget,
    BuildOptions,
    EnvironmentApprovalOptions,
    GitHubSourceProps,
    PipelineEnvironment,
    ServiceDeploymentOptions,
    ServiceFunctionOptions,
    TrafficHook,
)

app = cdk.App(outdir=os.environ.get("CDK_OUTDIR", "cdk.out/python-accounts"))
# A concrete account and region: the pipeline compares them with each environment's to tell which
# environments are targets, and writes literal ARNs in both directions.
tooling = cdk.Stack(
    app,
    "StorefrontTooling",
    env=cdk.Environment(account="111111111111", region="us-east-1"),
)

# In promotion order: every execution builds once and deploys that one bundle to each.
environments = [
    PipelineEnvironment(
        name="dev",
        account="222222222222",
        region="us-east-1",
        deployment_config=codedeploy.LambdaDeploymentConfig.ALL_AT_ONCE,
    ),
    PipelineEnvironment(
        name="staging",
        account="333333333333",
        region="us-east-1",
        deployment_config=codedeploy.LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_1_MINUTE,
        # An alarm within the hour rolls staging back and the build goes no further.
        bake_time=cdk.Duration.hours(1),
    ),
    PipelineEnvironment(
        name="prod",
        account="444444444444",
        region="us-east-1",
        # The approval goes out from the tooling account: approvers never need access to prod.
        approval=EnvironmentApprovalOptions(
            notify_emails=["release-managers@example.com"],
            timeout=cdk.Duration.hours(8),
            additional_information="This build baked in staging for an hour without an alarm. Approve to release it to production in us-east-1, then eu-west-1.",
        ),
        deployment_config=codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES,
        bake_time=cdk.Duration.hours(2),
        # A quiet night must not pass the bake by silence.
        bake_min_invocations=100,
    ),
    # The same account in a second region is an environment of its own: CodeDeploy, Lambda and
    # CloudWatch are regional. The one approval above releases both regions; prod-eu gets the build
    # only after it baked in us-east-1.
    PipelineEnvironment(
        name="prod-eu",
        account="444444444444",
        region="eu-west-1",
        deployment_config=codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES,
        bake_time=cdk.Duration.hours(2),
        bake_min_invocations=100,
    ),
]

pipeline = BlueGreenLambdaPipeline(
    tooling,
    "Storefront",
    service_name="storefront",
    environment_suffix="release",
    source=GitHubSourceProps(
        owner="example-org",
        repo="storefront",
        branch="main",
        connection_arn="arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789",
    ),
    build_stage=BuildOptions(
        build_commands=["npm run build --workspaces"],
        test_commands=["npm test --workspaces"],
    ),
    error_rate_threshold=5,
    evaluation_periods=2,
    alarm_period=cdk.Duration.minutes(1),
    keep_versions=5,
    # The services are declared once, here; each target creates its copies of them.
    services=[
        ServiceDeploymentOptions(
            service_name="catalog",
            bundle_directory="services/catalog/dist",
            wave=1,
            # CodeDeploy invokes a hook in its own account: each target gets its own smoke-test function.
            pre_traffic_hook=TrafficHook.smoke_test(
                test_event={
                    "rawPath": "/products",
                    "requestContext": {"http": {"method": "GET"}},
                    "queryStringParameters": {"limit": "1"},
                },
            ),
        ),
        ServiceDeploymentOptions(
            service_name="checkout",
            bundle_directory="services/checkout/dist",
            # Shifts only after catalog's shift succeeded.
            wave=2,
            error_rate_threshold=1,
            service=ServiceFunctionOptions(
                memory_size=512,
                timeout=cdk.Duration.seconds(30),
                environment={"PAYMENT_PROVIDER": "stripe", "LOG_LEVEL": "info"},
            ),
        ),
    ],
    environments=environments,
    tags={"project": "storefront", "owner": "platform-team", "cost-center": "retail"},
)

# Every environment the pipeline cannot reach from its own account and region needs a target stack
# there: the pipeline says which, so a forgotten one is visible here rather than at deploy.
for name in pipeline.target_environments:
    environment = next(e for e in environments if e.name == name)
    target = cdk.Stack(
        app,
        f"Storefront-{name}",
        env=cdk.Environment(account=environment.account, region=environment.region),
    )
    BlueGreenLambdaTarget(target, "Target", pipeline=pipeline, environment=name)

app.synth()
