// The monorepo pipeline from examples/typescript/monorepo-app.ts, written by a Go user.
//
// One repository, three services, one pipeline that ships them in two waves: orders and billing
// shift traffic together (wave 1); users follows only if both succeeded (wave 2).
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
		outdir = "cdk.out/go-monorepo"
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})
	stack := awscdk.NewStack(app, jsii.String("ShopPipeline"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("111111111111"), Region: jsii.String("us-east-1")},
	})

	services := []*bglp.ServiceDeploymentOptions{
		{
			ServiceName:     jsii.String("orders"),
			BundleDirectory: jsii.String("services/orders/dist"),
			Wave:            jsii.Number(1),
			// Invoked against the new version before it takes any traffic.
			PreTrafficHook: bglp.TrafficHook_SmokeTest(&bglp.SmokeTestOptions{
				TestEvent: &map[string]interface{}{
					"rawPath":               "/orders",
					"requestContext":        map[string]interface{}{"http": map[string]interface{}{"method": "GET"}},
					"queryStringParameters": map[string]interface{}{"limit": "1"},
				},
			}),
		},
		{
			ServiceName:     jsii.String("billing"),
			BundleDirectory: jsii.String("services/billing/dist"),
			Wave:            jsii.Number(1),
			// Payments: roll back at a 1% error rate, and give the function more room.
			ErrorRateThreshold: jsii.Number(1),
			Service: &bglp.ServiceFunctionOptions{
				MemorySize: jsii.Number(1024),
				Timeout:    awscdk.Duration_Seconds(jsii.Number(30)),
				Environment: &map[string]*string{
					"PAYMENT_PROVIDER": jsii.String("stripe"),
					"CURRENCY":         jsii.String("USD"),
					"LEDGER_TABLE":     jsii.String("shop-ledger-dev"),
					"LOG_LEVEL":        jsii.String("info"),
				},
			},
			KeepVersions: jsii.Number(20),
		},
		{
			ServiceName:     jsii.String("users"),
			BundleDirectory: jsii.String("services/users/dist"),
			Wave:            jsii.Number(2),
			// A canary instead of the pipeline's linear shift.
			DeploymentConfig: awscodedeploy.LambdaDeploymentConfig_CANARY_10PERCENT_5MINUTES(),
			PreTrafficHook: bglp.TrafficHook_SmokeTest(&bglp.SmokeTestOptions{
				TestEvent: &map[string]interface{}{
					"rawPath": "/users/me",
					"headers": map[string]interface{}{"authorization": "Bearer smoke-test"},
				},
			}),
		},
	}

	bglp.NewBlueGreenLambdaPipeline(stack, jsii.String("Shop"), &bglp.BlueGreenLambdaPipelineProps{
		// Names the pipeline and what its services share: the stage handlers, the deployment
		// history table, the notification topic and the CodeDeploy application.
		ServiceName: jsii.String("shop"),
		// The deployment dashboard (opt-in: dashboards beyond the free ones cost money).
		Dashboard:         jsii.Bool(true),
		EnvironmentSuffix: jsii.String("dev"),
		Source: &bglp.GitHubSourceProps{
			Owner:         jsii.String("example-org"),
			Repo:          jsii.String("shop"),
			Branch:        jsii.String("main"),
			ConnectionArn: jsii.String("arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789"),
		},
		// One build for the whole repository (npm workspaces); each service's bundle lands in its
		// own services/<name>/dist directory of the build output.
		BuildStage: &bglp.BuildOptions{
			BuildCommands: jsii.Strings("npm run build --workspaces"),
			TestCommands:  jsii.Strings("npm test --workspaces"),
		},
		// Defaults for every service that does not set its own.
		DeploymentConfig:   awscodedeploy.LambdaDeploymentConfig_LINEAR_10PERCENT_EVERY_1MINUTE(),
		ErrorRateThreshold: jsii.Number(5),
		EvaluationPeriods:  jsii.Number(2),
		AlarmPeriod:        awscdk.Duration_Minutes(jsii.Number(1)),
		KeepVersions:       jsii.Number(5),
		Services:           &services,
		Tags:               &map[string]*string{"project": jsii.String("shop"), "owner": jsii.String("platform-team"), "cost-center": jsii.String("retail")},
	})

	app.Synth(nil)
}
