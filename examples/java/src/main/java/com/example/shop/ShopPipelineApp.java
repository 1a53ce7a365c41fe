package com.example.shop;

import java.util.List;
import java.util.Map;

import io.github.bluegreenlambdapipeline.BlueGreenLambdaPipeline;
import io.github.bluegreenlambdapipeline.BuildOptions;
import io.github.bluegreenlambdapipeline.GitHubSourceProps;
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

/**
 * The monorepo pipeline from examples/typescript/monorepo-app.ts, written by a Java user.
 *
 * <p>One repository, three services, one pipeline that ships them in two waves: orders and billing
 * shift traffic together (wave 1); users follows only if both succeeded (wave 2).
 */
public final class ShopPipelineApp {
    public static void main(final String[] args) {
        String outdir = System.getenv().getOrDefault("CDK_OUTDIR", "cdk.out/java-monorepo");
        App app = new App(AppProps.builder().outdir(outdir).build());
        Stack stack = new Stack(app, "ShopPipeline", StackProps.builder()
                .env(Environment.builder().account("111111111111").region("us-east-1").build())
                .build());

        ServiceDeploymentOptions orders = ServiceDeploymentOptions.builder()
                .serviceName("orders")
                .bundleDirectory("services/orders/dist")
                .wave(1)
                // Invoked against the new version before it takes any traffic.
                .preTrafficHook(TrafficHook.smokeTest(SmokeTestOptions.builder()
                        .testEvent(Map.of(
                                "rawPath", "/orders",
                                "requestContext", Map.of("http", Map.of("method", "GET")),
                                "queryStringParameters", Map.of("limit", "1")))
                        .build()))
                .build();

        ServiceDeploymentOptions billing = ServiceDeploymentOptions.builder()
                .serviceName("billing")
                .bundleDirectory("services/billing/dist")
                .wave(1)
                // Payments: roll back at a 1% error rate, and give the function more room.
                .errorRateThreshold(1)
                .service(ServiceFunctionOptions.builder()
                        .memorySize(1024)
                        .timeout(Duration.seconds(30))
                        .environment(Map.of(
                                "PAYMENT_PROVIDER", "stripe",
                                "CURRENCY", "USD",
                                "LEDGER_TABLE", "shop-ledger-dev",
                                "LOG_LEVEL", "info"))
                        .build())
                .keepVersions(20)
                .build();

        ServiceDeploymentOptions users = ServiceDeploymentOptions.builder()
                .serviceName("users")
                .bundleDirectory("services/users/dist")
                .wave(2)
                // A canary instead of the pipeline's linear shift.
                .deploymentConfig(LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES)
                .preTrafficHook(TrafficHook.smokeTest(SmokeTestOptions.builder()
                        .testEvent(Map.of(
                                "rawPath", "/users/me",
                                "headers", Map.of("authorization", "Bearer smoke-test")))
                        .build()))
                .build();

        BlueGreenLambdaPipeline.Builder.create(stack, "Shop")
                // Names the pipeline and what its services share: the stage handlers, the deployment
                // history table, the notification topic and the CodeDeploy application.
                .serviceName("shop")
                // The deployment dashboard (opt-in: dashboards beyond the free ones cost money).
                .dashboard(true)
                .environmentSuffix("dev")
                .source(GitHubSourceProps.builder()
                        .owner("example-org")
                        .repo("shop")
                        .branch("main")
                        .connectionArn("arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789")
                        .build())
                // One build for the whole repository (npm workspaces); each service's bundle lands in
                // its own services/<name>/dist directory of the build output.
                .buildStage(BuildOptions.builder()
                        .buildCommands(List.of("npm run build --workspaces"))
                        .testCommands(List.of("npm test --workspaces"))
                        .build())
                // Defaults for every service that does not set its own.
                .deploymentConfig(LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_1_MINUTE)
                .errorRateThreshold(5)
                .evaluationPeriods(2)
                .alarmPeriod(Duration.minutes(1))
                .keepVersions(5)
                .services(List.of(orders, billing, users))
                .tags(Map.of("project", "shop", "owner", "platform-team", "cost-center", "retail"))
                .build();

        app.synth();
    }
}
