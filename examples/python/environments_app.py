"""The environments pipeline from examples/typescript/environments-app.ts, written by a Python user.

One build of one repository promoted through dev, staging and prod. dev takes every release at
once; staging shifts linearly and bakes for an hour; prod waits for a release manager's approval,
shifts by canary and bakes for two hours. A build that failed, rolled back or failed its bake in a
lower environment never reaches a higher one.
"""
import os

import aws_cdk as cdk
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from blue_green_lambda_pipeline import (
    BlueGreenLambdaPipeline,
    BuildOptions,
    EnvironmentApprovalOptions,
    EnvironmentServiceOverrides,
    GitHubSourceProps,
    PipelineEnvironment,
    ServiceDeploymentOptions,
    ServiceFunctionOptions,
    TrafficHook,
)

app = cdk.App(outdir=os.environ.get("CDK_OUTDIR", "cdk.out/python-environments"))
stack = cdk.Stack(
    app,
    "StorefrontPipeline",
    env=cdk.Environment(account="111111111111", region="us-east-1"),
)

# Production approvals go to the release managers, not to everyone who follows deployments.
approvals_key = kms.Key(
    stack,
    "ReleaseApprovalsKey",
    enable_key_rotation=True,
    description="Encrypts the storefront release approval requests",
)
# Grants of the key only for AWS services (Control Tower CT.KMS.PR.3); SNS needs none to publish.
# One condition key per call: a Java or Go map would not keep their order.
grants_for_aws_services_only = iam.PolicyStatement(
    effect=iam.Effect.DENY,
    principals=[iam.AnyPrincipal()],
    actions=["kms:CreateGrant"],
    resources=["*"],
)
grants_for_aws_services_only.add_condition("BoolIfExists", {"kms:GrantIsForAWSResource": "false"})
grants_for_aws_services_only.add_condition("BoolIfExists", {"aws:PrincipalIsAWSService": "false"})
approvals_key.add_to_resource_policy(grants_for_aws_services_only)
release_approvals = sns.Topic(
    stack,
    "ReleaseApprovals",
    topic_name="storefront-release-approvals",
    enforce_ssl=True,
    master_key=approvals_key,
)

BlueGreenLambdaPipeline(
    stack,
    "Storefront",
    service_name="storefront",
    # With environments, it suffixes only what the pipeline shares (pipeline, stage handlers,
    # history table, topic); each environment's functions, aliases, alarms and deployment groups
    # carry the environment's name.
    environment_suffix="release",
    dashboard=True,
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
    # Defaults for every environment and service that does not set its own.
    error_rate_threshold=5,
    evaluation_periods=2,
    alarm_period=cdk.Duration.minutes(1),
    keep_versions=5,
    services=[
        ServiceDeploymentOptions(
            service_name="catalog",
            bundle_directory="services/catalog/dist",
            wave=1,
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
                environment={"PAYMENT_PROVIDER": "stripe-test", "LOG_LEVEL": "debug"},
            ),
        ),
    ],
    # In promotion order: every execution builds once and deploys that one bundle to each.
    environments=[
        PipelineEnvironment(
            name="dev",
            deployment_config=codedeploy.LambdaDeploymentConfig.ALL_AT_ONCE,
        ),
        PipelineEnvironment(
            name="staging",
            deployment_config=codedeploy.LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_1_MINUTE,
            # An alarm within the hour rolls staging back and the build goes no further.
            bake_time=cdk.Duration.hours(1),
        ),
        PipelineEnvironment(
            name="prod",
            approval=EnvironmentApprovalOptions(
                notification_topic=release_approvals,
                notify_emails=["release-managers@example.com"],
                timeout=cdk.Duration.hours(8),
                additional_information="This build baked in staging for an hour without an alarm. Approve to release it to production.",
            ),
            deployment_config=codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES,
            bake_time=cdk.Duration.hours(2),
            # A quiet night must not pass the bake by silence.
            bake_min_invocations=100,
            service_overrides=[
                EnvironmentServiceOverrides(
                    service_name="checkout",
                    # Merged with the service's variables, these winning.
                    service=ServiceFunctionOptions(
                        memory_size=1024,
                        environment={"PAYMENT_PROVIDER": "stripe", "LOG_LEVEL": "info"},
                    ),
                    keep_versions=20,
                ),
            ],
        ),
    ],
    tags={"project": "storefront", "owner": "platform-team", "cost-center": "retail"},
)

app.synth()
