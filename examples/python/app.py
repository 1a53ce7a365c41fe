"""The reference pipeline from examples/typescript/reference-app.ts, written by a Python user."""
import os

import aws_cdk as cdk
from aws_cdk import aws_codedeploy as codedeploy
from blue_green_lambda_pipeline import BlueGreenLambdaPipeline, GitHubSourceProps, TrafficHook

app = cdk.App(outdir=os.environ.get("CDK_OUTDIR", "cdk.out/python"))
stack = cdk.Stack(
    app,
    "OrdersApiPipeline",
    env=cdk.Environment(account="111111111111", region="us-east-1"),
)

BlueGreenLambdaPipeline(
    stack,
    "OrdersApi",
    service_name="orders-api",
    environment_suffix="dev",
    source=GitHubSourceProps(
        owner="example-org",
        repo="orders-api",
        branch="main",
        connection_arn="arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789",
    ),
    deployment_config=codedeploy.LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_10_MINUTES,
    error_rate_threshold=5,
    evaluation_periods=2,
    alarm_period=cdk.Duration.minutes(1),
    pre_traffic_hook=TrafficHook.smoke_test(
        test_event={"rawPath": "/health", "requestContext": {"http": {"method": "GET"}}},
    ),
    tags={"project": "orders", "owner": "platform-team"},
)

app.synth()
