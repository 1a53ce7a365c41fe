// The accounts pipeline from examples/typescript/accounts-app.ts, written by a Go user.
//
// The pipeline lives in a tooling account and deploys into one account per environment, prod in two
// regions. dev (222222222222) takes every release at once; staging (333333333333) shifts linearly
// and bakes for an hour; prod (444444444444, us-east-1) waits for a release manager's approval,
// shifts by canary and bakes for two hours; prod-eu (the same account, eu-west-1) follows once prod
// has baked. One CDK app holds every stack: the tooling stack and one stack per target environment.
//
// Deploy order: bootstrap each target account and region with `cdk bootstrap --trust 111111111111`,
// deploy the four target stacks, then the tooling stack (its first execution needs the deployer roles).
package main

import (
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/jsii-runtime-go"
	bglp "github.com/blue-green-lambda-pipeline/blue-green-lambda-pipeline-go/bluegreenlambdapipeline"
)

func main() {
	defer jsii.Close()

	outdir := os.Getenv("CDK_OUTDIR")
	if outdir == "" {
		outdir = "cdk.out/go-accounts"
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})
	// A concrete account and region: the pipeline compares them with each environment's to tell
	// which environments are targets, and writes literal ARNs in both directions.
	tooling := awscdk.NewStack(app, jsii.String("StorefrontTooling"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("111111111111"), Region: jsii.String("us-east-1")},
	})

	// In promotion order: every execution builds once and deploys that one bundle to each.
	environments := []*bglp.PipelineEnvironment{
		{
			Name:             jsii.String("dev"),
			Account:          jsii.String("222222222222"),
			Region:           jsii.String("us-east-1"),
			DeploymentConfig: awscodedeploy.LambdaDeploymentConfig_ALL_AT_ONCE(),
		},
		{
			Name:             jsii.String("staging"),
			Account:          jsii.String("333333333333"),
			Region:           jsii.String("us-east-1"),
			DeploymentConfig: awscodedeploy.LambdaDeploymentConfig_LINEAR_10PERCENT_EVERY_1MINUTE(),
			// An alarm within the hour rolls staging back and the build goes no further.
			BakeTime: awscdk.Duration_Hours(jsii.Number(1)),
		},
		{
			Name:    jsii.String("prod"),
			Account: jsii.String("444444444444"),
			Region:  jsii.String("us-east-1"),
			// The approval goes out from the tooling account: approvers never need access to prod.
			Approval: &bglp.EnvironmentApprovalOptions{
				NotifyEmails:          jsii.Strings("release-managers@example.com"),
				Timeout:               awscdk.Duration_Hours(jsii.Number(8)),
				AdditionalInformation: jsii.String("This build baked in staging for an hour without an alarm. Approve to release it to production in us-east-1, then eu-west-1."),
			},
			DeploymentConfig: awscodedeploy.LambdaDeploymentConfig_CANARY_10PERCENT_5MINUTES(),
			BakeTime:         awscdk.Duration_Hours(jsii.Number(2)),
			// A quiet night must not pass the bake by silence.
			BakeMinInvocations: jsii.Number(100),
		},
		{
			// The same account in a second region is an environment of its own: CodeDeploy, Lambda
			// and CloudWatch are regional. The one approval above releases both regions; prod-eu
			// gets the build only after it baked in us-east-1.
			Name:               jsii.String("prod-eu"),
			Account:            jsii.String("444444444444"),
			Region:             jsii.String("eu-west-1"),
			DeploymentConfig:   awscodedeploy.LambdaDeploymentConfig_CANARY_10PERCENT_5MINUTES(),
			BakeTime:           awscdk.Duration_Hours(jsii.Number(2)),
			BakeMinInvocations: jsii.Number(100),
		},
	}

	// The services are declared once, here; each target creates its copies of them.
	services := []*bglp.ServiceDeploymentOptions{
		{
			ServiceName:     jsii.String("catalog"),
			BundleDirectory: jsii.String("services/catalog/dist"),
			Wave:            jsii.Number(1),
			// CodeDeploy invokes a hook in its own account: each target gets its own smoke-test function.
			PreTrafficHook: bglp.TrafficHook_SmokeTest(&bglp.SmokeTestOptions{
				TestEvent: &map[string]interface{}{
					"rawPath":               "/products",
					"requestContext":        map[string]interface{}{"http": map[string]interface{}{"method": "GET"}},
					"queryStringParameters": map[string]interface{}{"limit": "1"},
				},
			}),
		},
		{
			ServiceName:     jsii.String("checkout"),
			BundleDirectory: jsii.String("services/checkout/dist"),
			// Shifts only after catalog's shift succeeded.
			Wave:               jsii.Number(2),
			ErrorRateThreshold: jsii.Number(1),
			Service: &bglp.ServiceFunctionOptions{
				MemorySize: jsii.Number(512),
				Timeout:    awscdk.Duration_Seconds(jsii.Number(30)),
				Environment: &map[string]*string{
					"PAYMENT_PROVIDER": jsii.String("stripe"),
					"LOG_LEVEL":        jsii.String("info"),
				},
			},
		},
	}

	pipeline := bglp.NewBlueGreenLambdaPipeline(tooling, jsii.String("Storefront"), &bglp.BlueGreenLambdaPipelineProps{
		ServiceName:       jsii.String("storefront"),
		EnvironmentSuffix: jsii.String("release"),
		Source: &bglp.GitHubSourceProps{
			Owner:         jsii.String("example-org"),
			Repo:          jsii.String("storefront"),
			Branch:        jsii.String("main"),
			ConnectionArn: jsii.String("arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789"),
		},
		BuildStage: &bglp.BuildOptions{
			BuildCommands: jsii.Strings("npm run build --workspaces"),
			TestCommands:  jsii.Strings("npm test --workspaces"),
		},
		ErrorRateThreshold: jsii.Number(5),
		EvaluationPeriods:  jsii.Number(2),
		AlarmPeriod:        awscdk.Duration_Minutes(jsii.Number(1)),
		KeepVersions:       jsii.Number(5),
		Services:           &services,
		Environments:       &environments,
		Tags:               &map[string]*string{"project": jsii.String("storefront"), "owner": jsii.String("platform-team"), "cost-center": jsii.String("retail")},
	})

	// Every environment the pipeline cannot reach from its own account and region needs a target
	// stack there: the pipeline says which, so a forgotten one is visible here rather than at deploy.
	for _, name := range *pipeline.TargetEnvironments() {
		for _, environment := range environments {
			if *environment.Name != *name {
				continue
			}
			target := awscdk.NewStack(app, jsii.String("Storefront-"+*name), &awscdk.StackProps{
				Env: &awscdk.Environment{Account: environment.Account, Region: environment.Region},
			})
			bglp.NewBlueGreenLambdaTarget(target, jsii.String("Target"), &bglp.BlueGreenLambdaTargetProps{
				Pipeline:    pipeline,
				Environment: name,
			})
		}
	}

	app.Synth(nil)
}
