"""The monorepo pipeline from examples/typescript/monorepo-app.ts, written by a Python user.

One repository, three services, one pipeline that ships them in two waves: orders and billing
shift traffic together (wave 1); users follows only if both succeeded (wave 2).
"""
import os

import aws_cdk as cdk
from aws_cdk import aws_codedeploy as codedeploy
from blue_green_lambda_pipeline import (
    BlueGreenLambdaPipeline,
    BuildOptions,
    GitHubSourceProps,
    ServiceDeploymentOptions,
    ServiceFunctionOptions,
    TrafficHook,
)

app = cdk.App(outdir=os.environ.get("CDK_OUTDIR", "cdk.out/python-monorepo"))
stack = cdk.Stack(
    app,
    "ShopPipeline",
    env=cdk.Environment(account="111111111111", region="us-east-1"),
)

BlueGreenLambdaPipeline(
    stack,
    "Shop",
    # Names the pipeline and what its services share: the stage handlers, the deployment
    # history table, the notification topic and the CodeDeploy application.
    service_name="shop",
    # The deployment dashboard (opt-in: dashboards beyond the free ones cost money).
    dashboard=True,
    environment_suffix="dev",
    source=GitHubSourceProps(
        owner="example-org",
        repo="shop",
        branch="main",
        connection_arn="arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789",
    ),
    # One build for the whole repository (npm workspaces); each service's bundle lands in its own
    # services/<name>/dist directory of the build output.
    build_stage=BuildOptions(
        build_commands=["npm run build --workspaces"],
        test_commands=["npm test --workspaces"],
    ),
    # Defaults for every service that does not set its own.
    deployment_config=codedeploy.LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_1_MINUTE,
    error_rate_threshold=5,
    evaluation_periods=2,
    alarm_period=cdk.Duration.minutes(1),
    keep_versions=5,
    services=[
        ServiceDeploymentOptions(
            service_name="orders",
            bundle_directory="services/orders/dist",
            wave=1,
            # Invoked against the new version before it takes any traffic.
            pre_traffic_hook=TrafficHook.smoke_test(
                test_event={
                    "rawPath": "/orders",
                    "requestContext": {"http": {"method": "GET"}},
                    "queryStringParameters": {"limit": "1"},
                },
            ),
        ),
        ServiceDeploymentOptions(
            service_name="billing",
            bundle_directory="services/billing/dist",
            wave=1,
            # Payments: roll back at a 1% error rate, and give the function more room.
            error_rate_threshold=1,
            service=ServiceFunctionOptions(
                memory_size=1024,
                timeout=cdk.Duration.seconds(30),
                environment={
                    "PAYMENT_PROVIDER": "stripe",
                    "CURRENCY": "USD",
                    "LEDGER_TABLE": "shop-ledger-dev",
                    "LOG_LEVEL": "info",
                },
            ),
            keep_versions=20,
        ),
        ServiceDeploymentOptions(
            service_name="users",
            bundle_directory="services/users/dist",
            wave=2,
            # A canary instead of the pipeline's linear shift.
            deployment_config=codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES,
            pre_traffic_hook=TrafficHook.smoke_test(
                test_event={"rawPath": "/users/me", "headers": {"authorization": "Bearer smoke-test"}},
            ),
        ),
    ],
    tags={"project": "shop", "owner": "platform-team", "cost-center": "retail"},
)

app.synth()
