package com.example.ordersapi;

import java.util.Map;

import io.github.bluegreenlambdapipeline.BlueGreenLambdaPipeline;
import io.github.bluegreenlambdapipeline.GitHubSourceProps;
import io.github.bluegreenlambdapipeline.SmokeTestOptions;
import io.github.bluegreenlambdapipeline.TrafficHook;
import software.amazon.awscdk.App;
import software.amazon.awscdk.AppProps;
import software.amazon.awscdk.Duration;
import software.amazon.awscdk.Environment;
import software.amazon.awscdk.Stack;
import software.amazon.awscdk.StackProps;
import software.amazon.awscdk.services.codedeploy.LambdaDeploymentConfig;

/** The reference pipeline from examples/typescript/reference-app.ts, written by a Java user. */
public final class OrdersApiPipelineApp {
    public static void main(final String[] args) {
        String outdir = System.getenv().getOrDefault("CDK_OUTDIR", "cdk.out/java");
        App app = new App(AppProps.builder().outdir(outdir).build());
        Stack stack = new Stack(app, "OrdersApiPipeline", StackProps.builder()
                .env(Environment.builder().account("111111111111").region("us-east-1").build())
                .build());

        BlueGreenLambdaPipeline.Builder.create(stack, "OrdersApi")
                .serviceName("orders-api")
                .environmentSuffix("dev")
                .source(GitHubSourceProps.builder()
                        .owner("example-org")
                        .repo("orders-api")
                        .branch("main")
                        .connectionArn("arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789")
                        .build())
                .deploymentConfig(LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_10_MINUTES)
                .errorRateThreshold(5)
                .evaluationPeriods(2)
                .alarmPeriod(Duration.minutes(1))
                .preTrafficHook(TrafficHook.smokeTest(SmokeTestOptions.builder()
                        .testEvent(Map.of(
                                "rawPath", "/health",
                                "requestContext", Map.of("http", Map.of("method", "GET"))))
                        .build()))
                .tags(Map.of("project", "orders", "owner", "platform-team"))
                .build();

        app.synth();
    }
}
