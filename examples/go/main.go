// The reference pipeline from examples/typescript/reference-app.ts, written by a Go user.
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
		outdir = "cdk.out/go"
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})
	stack := awscdk.NewStack(app, jsii.String("OrdersApiPipeline"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("111111111111"), Region: jsii.String("us-east-1")},
	})

	bglp.NewBlueGreenLambdaPipeline(stack, jsii.String("OrdersApi"), &bglp.BlueGreenLambdaPipelineProps{
		ServiceName:       jsii.String("orders-api"),
		EnvironmentSuffix: jsii.String("dev"),
		Source: &bglp.GitHubSourceProps{
			Owner:         jsii.String("example-org"),
			Repo:          jsii.String("orders-api"),
			Branch:        jsii.String("main"),
			ConnectionArn: jsii.String("arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789"),
		},
		DeploymentConfig:   awscodedeploy.LambdaDeploymentConfig_LINEAR_10PERCENT_EVERY_10MINUTES(),
		ErrorRateThreshold: jsii.Number(5),
		EvaluationPeriods:  jsii.Number(2),
		AlarmPeriod:        awscdk.Duration_Minutes(jsii.Number(1)),
		PreTrafficHook: bglp.TrafficHook_SmokeTest(&bglp.SmokeTestOptions{
			TestEvent: &map[string]interface{}{
				"rawPath":        "/health",
				"requestContext": map[string]interface{}{"http": map[string]interface{}{"method": "GET"}},
			},
		}),
		Tags: &map[string]*string{"project": jsii.String("orders"), "owner": jsii.String("platform-team")},
	})

	app.Synth(nil)
}
