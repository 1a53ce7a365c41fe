package com.example.storefront;

import java.util.List;
import java.util.Map;

import io.github.bluegreenlambdapipeline.BlueGreenLambdaPipeline;
import io.github.bluegreenlambdapipeline.BuildOptions;
import io.github.bluegreenlambdapipeline.EnvironmentApprovalOptions;
import io.github.bluegreenlambdapipeline.EnvironmentServiceOverrides;
import io.github.bluegreenlambdapipeline.GitHubSourceProps;
import io.github.bluegreenlambdapipeline.PipelineEnvironment;
import io.github.bluegreenlambdapipeline.ServiceDeploymentOptions;
import io.github.bluegreenlambdapipeline.ServiceFunctionOptions;
import io.github.bluegreenlambdapipeline.SmokeTestOptions;
import io.github.bluegreenlambdapipeline.TrafficHook;
import software.amazon.awscdk.App;
import software.amazon.awscdk.AppProps;
import software.amazon.awscdk.Duration;
import software.amazon.awscdk.Environment;
import software.amazon.awscdk.Stack;
import software.amazon.awscdk.StackProps;
import software.amazon.awscdk.services.codedeploy.LambdaDeploymentConfig;
import software.amazon.awscdk.services.iam.AnyPrincipal;
import software.amazon.awscdk.services.iam.Effect;
import software.amazon.awscdk.services.iam.PolicyStatement;
import software.amazon.awscdk.services.kms.Key;
import software.amazon.awscdk.services.sns.Topic;

/**
 * The environments pipeline from examples/typescript/environments-app.ts, written by a Java user.
 *
 * <p>One build of one repository promoted through dev, staging and prod. dev takes every release at
 * once; staging shifts linearly and bakes for an hour; prod waits for a release manager's approval,
 * shifts by canary and bakes for two hours. A build that failed, rolled back or failed its bake in a
 * lower environment never reaches a higher one.
 */
public final class StorefrontPipelineApp {
    public static void main(final String[] args) {
        String outdir = System.getenv().getOrDefault("CDK_OUTDIR", "cdk.out/java-environments");
        App app = new App(AppProps.builder().outdir(outdir).build());
        Stack stack = new Stack(app, "StorefrontPipeline", StackProps.builder()
                .env(Environment.builder().account("111111111111").region("us-east-1").build())
                .build());

        // Production approvals go to the release managers, not to everyone who follows deployments.
        Key approvalsKey = Key.Builder.create(stack, "ReleaseApprovalsKey")
                .enableKeyRotation(true)
                .description("Encrypts the storefront release approval requests")
                .build();
        // Grants of the key only for AWS services (Control Tower CT.KMS.PR.3); SNS needs none to publish.
        // One condition key per call: Map.of keeps no order.
        PolicyStatement grantsForAwsServicesOnly = PolicyStatement.Builder.create()
                .effect(Effect.DENY)
                .principals(List.of(new AnyPrincipal()))
                .actions(List.of("kms:CreateGrant"))
                .resources(List.of("*"))
                .build();
        grantsForAwsServicesOnly.addCondition("BoolIfExists", Map.of("kms:GrantIsForAWSResource", "false"));
        grantsForAwsServicesOnly.addCondition("BoolIfExists", Map.of("aws:PrincipalIsAWSService", "false"));
        approvalsKey.addToResourcePolicy(grantsForAwsServicesOnly);
        Topic releaseApprovals = Topic.Builder.create(stack, "ReleaseApprovals")
                .topicName("storefront-release-approvals")
                .enforceSsl(true)
                .masterKey(approvalsKey)
                .build();

        ServiceDeploymentOptions catalog = ServiceDeploymentOptions.builder()
                .serviceName("catalog")
                .bundleDirectory("services/catalog/dist")
                .wave(1)
                .preTrafficHook(TrafficHook.smokeTest(SmokeTestOptions.builder()
                        .testEvent(Map.of(
                                "rawPath", "/products",
                                "requestContext", Map.of("http", Map.of("method", "GET")),
                                "queryStringParameters", Map.of("limit", "1")))
                        .build()))
                .build();

        ServiceDeploymentOptions checkout = ServiceDeploymentOptions.builder()
                .serviceName("checkout")
                .bundleDirectory("services/checkout/dist")
                // Shifts only after catalog's shift succeeded.
                .wave(2)
                .errorRateThreshold(1)
                .service(ServiceFunctionOptions.builder()
                        .memorySize(512)
                        .timeout(Duration.seconds(30))
                        .environment(Map.of("PAYMENT_PROVIDER", "stripe-test", "LOG_LEVEL", "debug"))
                        .build())
                .build();

        PipelineEnvironment dev = PipelineEnvironment.builder()
                .name("dev")
                .deploymentConfig(LambdaDeploymentConfig.ALL_AT_ONCE)
                .build();

        PipelineEnvironment staging = PipelineEnvironment.builder()
                .name("staging")
                .deploymentConfig(LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_1_MINUTE)
                // An alarm within the hour rolls staging back and the build goes no further.
                .bakeTime(Duration.hours(1))
                .build();

        PipelineEnvironment prod = PipelineEnvironment.builder()
                .name("prod")
                .approval(EnvironmentApprovalOptions.builder()
                        .notificationTopic(releaseApprovals)
                        .notifyEmails(List.of("release-managers@example.com"))
                        .timeout(Duration.hours(8))
                        .additionalInformation("This build baked in staging for an hour without an alarm. Approve to release it to production.")
                        .build())
                .deploymentConfig(LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES)
                .bakeTime(Duration.hours(2))
                // A quiet night must not pass the bake by silence.
                .bakeMinInvocations(100)
                .serviceOverrides(List.of(EnvironmentServiceOverrides.builder()
                        .serviceName("checkout")
                        // Merged with the service's variables, these winning.
                        .service(ServiceFunctionOptions.builder()
                                .memorySize(1024)
                                .environment(Map.of("PAYMENT_PROVIDER", "stripe", "LOG_LEVEL", "info"))
                                .build())
                        .keepVersions(20)
                        .build()))
                .build();

        BlueGreenLambdaPipeline.Builder.create(stack, "Storefront")
                .serviceName("storefront")
                // With environments, it suffixes only what the pipeline shares (pipeline, stage
                // handlers, history table, topic); each environment's functions, aliases, alarms and
                // deployment groups carry the environment's name.
                .environmentSuffix("release")
                .dashboard(true)
                .source(GitHubSourceProps.builder()
                        .owner("example-org")
                        .repo("storefront")
                        .branch("main")
                        .connectionArn("arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789")
                        .build())
                .buildStage(BuildOptions.builder()
                        .buildCommands(List.of("npm run build --workspaces"))
                        .testCommands(List.of("npm test --workspaces"))
                        .build())
                // Defaults for every environment and service that does not set its own.
                .errorRateThreshold(5)
                .evaluationPeriods(2)
                .alarmPeriod(Duration.minutes(1))
                .keepVersions(5)
                .services(List.of(catalog, checkout))
                // In promotion order: every execution builds once and deploys that one bundle to each.
                .environments(List.of(dev, staging, prod))
                .tags(Map.of("project", "storefront", "owner", "platform-team", "cost-center", "retail"))
                .build();

        app.synth();
    }
}
