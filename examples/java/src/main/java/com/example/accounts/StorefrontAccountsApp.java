package com.example.accounts;

import java.util.List;
import java.util.Map;

import io.github.bluegreenlambdapipeline.BlueGreenLambdaPipeline;
import io.github.bluegreenlambdapipeline.BlueGreenLambdaTarget;
import io.github.bluegreenlambdapipeline.BuildOptions;
import io.github.bluegreenlambdapipeline.EnvironmentApprovalOptions;
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

/**
 * The accounts pipeline from examples/typescript/accounts-app.ts, written by a Java user.
 *
 * <p>The pipeline lives in a tooling account and deploys into one account per environment, prod in
 * two regions. dev (222222222222) takes every release at once; staging (333333333333) shifts
 * linearly and bakes for an hour; prod (444444444444, us-east-1) waits for a release manager's
 * approval, shifts by canary and bakes for two hours; prod-eu (the same account, eu-west-1) follows
 * once prod has baked. One CDK app holds every stack: the tooling stack and one stack per target
 * environment.
 *
 * <p>Deploy order: bootstrap each target account and region with {@code cdk bootstrap --trust
 * 111111111111}, deploy the four target stacks, then the tooling stack (its first execution needs the
 * deployer roles).
 */
public final class StorefrontAccountsApp {
    public static void main(final String[] args) {
        String outdir = System.getenv().getOrDefault("CDK_OUTDIR", "cdk.out/java-accounts");
        App app = new App(AppProps.builder().outdir(outdir).build());
        // A concrete account and region: the pipeline compares them with each environment's to tell
        // which environments are targets, and writes literal ARNs in both directions.
        Stack tooling = new Stack(app, "StorefrontTooling", StackProps.builder()
                .env(Environment.builder().account("111111111111").region("us-east-1").build())
                .build());

        PipelineEnvironment dev = PipelineEnvironment.builder()
                .name("dev")
                .account("222222222222")
                .region("us-east-1")
                .deploymentConfig(LambdaDeploymentConfig.ALL_AT_ONCE)
                .build();

        PipelineEnvironment staging = PipelineEnvironment.builder()
                .name("staging")
                .account("333333333333")
                .region("us-east-1")
                .deploymentConfig(LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_1_MINUTE)
                // An alarm within the hour rolls staging back and the build goes no further.
                .bakeTime(Duration.hours(1))
                .build();

        PipelineEnvironment prod = PipelineEnvironment.builder()
                .name("prod")
                .account("444444444444")
                .region("us-east-1")
                // The approval goes out from the tooling account: approvers never need access to prod.
                .approval(EnvironmentApprovalOptions.builder()
                        .notifyEmails(List.of("release-managers@example.com"))
                        .timeout(Duration.hours(8))
                        .additionalInformation("This build baked in staging for an hour without an alarm. Approve to release it to production in us-east-1, then eu-west-1.")
                        .build())
                .deploymentConfig(LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES)
                .bakeTime(Duration.hours(2))
                // A quiet night must not pass the bake by silence.
                .bakeMinInvocations(100)
                .build();

        // The same account in a second region is an environment of its own: CodeDeploy, Lambda and
        // CloudWatch are regional. The one approval above releases both regions; prod-eu gets the
        // build only after it baked in us-east-1.
        PipelineEnvironment prodEu = PipelineEnvironment.builder()
                .name("prod-eu")
                .account("444444444444")
                .region("eu-west-1")
                .deploymentConfig(LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES)
                .bakeTime(Duration.hours(2))
                .bakeMinInvocations(100)
                .build();

        // In promotion order: every execution builds once and deploys that one bundle to each.
        List<PipelineEnvironment> environments = List.of(dev, staging, prod, prodEu);

        ServiceDeploymentOptions catalog = ServiceDeploymentOptions.builder()
                .serviceName("catalog")
                .bundleDirectory("services/catalog/dist")
                .wave(1)
                // CodeDeploy invokes a hook in its own account: each target gets its own smoke-test function.
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
                        .environment(Map.of("PAYMENT_PROVIDER", "stripe", "LOG_LEVEL", "info"))
                        .build())
                .build();

        BlueGreenLambdaPipeline pipeline = BlueGreenLambdaPipeline.Builder.create(tooling, "Storefront")
                .serviceName("storefront")
                .environmentSuffix("release")
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
                .errorRateThreshold(5)
                .evaluationPeriods(2)
                .alarmPeriod(Duration.minutes(1))
                .keepVersions(5)
                // The services are declared once, here; each target creates its copies of them.
                .services(List.of(catalog, checkout))
                .environments(environments)
                .tags(Map.of("project", "storefront", "owner", "platform-team", "cost-center", "retail"))
                .build();

        // Every environment the pipeline cannot reach from its own account and region needs a target
        // stack there: the pipeline says which, so a forgotten one is visible here rather than at deploy.
        for (String name : pipeline.getTargetEnvironments()) {
            PipelineEnvironment environment = environments.stream()
                    .filter(e -> e.getName().equals(name))
                    .findFirst()
                    .orElseThrow();
            Stack target = new Stack(app, "Storefront-" + name, StackProps.builder()
                    .env(Environment.builder().account(environment.getAccount()).region(environment.getRegion()).build())
                    .build());
            BlueGreenLambdaTarget.Builder.create(target, "Target")
                    .pipeline(pipeline)
                    .environment(name)
                    .build();
        }

        app.synth();
    }
}
