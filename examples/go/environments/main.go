// The environments pipeline from examples/typescript/environments-app.ts, written by a Go user.
//
// One build of one repository promoted through dev, staging and prod. dev takes every release at
// once; staging shifts linearly and bakes for an hour; prod waits for a release manager's approval,
// shifts by canary and bakes for two hours. A build that failed, rolled back or failed its bake in a
// lower environment never reaches a higher one.
package main

import (
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"
	bglp "github.com/blue-green-lambda-pipeline/blue-green-lambda-pipeline-go/bluegreenlambdapipeline"
)

func main() {
	defer jsii.Close()

	outdir := os.Getenv("CDK_OUTDIR")
	if outdir == "" {
		outdir = "cdk.out/go-environments"
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})
	stack := awscdk.NewStack(app, jsii.String("StorefrontPipeline"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("111111111111"), Region: jsii.String("us-east-1")},
	})

	// Production approvals go to the release managers, not to everyone who follows deployments.
	approvalsKey := awskms.NewKey(stack, jsii.String("ReleaseApprovalsKey"), &awskms.KeyProps{
		EnableKeyRotation: jsii.Bool(true),
		Description:       jsii.String("Encrypts the storefront release approval requests"),
	})
	// Grants of the key only for AWS services (Control Tower CT.KMS.PR.3); SNS needs none to publish.
	// One condition key per call: a Go map keeps no order.
	grantsForAwsServicesOnly := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("kms:CreateGrant"),
		Resources:  jsii.Strings("*"),
	})
	grantsForAwsServicesOnly.AddCondition(jsii.String("BoolIfExists"), map[string]interface{}{"kms:GrantIsForAWSResource": "false"})
	grantsForAwsServicesOnly.AddCondition(jsii.String("BoolIfExists"), map[string]interface{}{"aws:PrincipalIsAWSService": "false"})
	approvalsKey.AddToResourcePolicy(grantsForAwsServicesOnly, nil)
	releaseApprovals := awssns.NewTopic(stack, jsii.String("ReleaseApprovals"), &awssns.TopicProps{
		TopicName:  jsii.String("storefront-release-approvals"),
		EnforceSSL: jsii.Bool(true),
		MasterKey:  approvalsKey,
	})

	services := []*bglp.ServiceDeploymentOptions{
		{
			ServiceName:     jsii.String("catalog"),
			BundleDirectory: jsii.String("services/catalog/dist"),
			Wave:            jsii.Number(1),
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
					"PAYMENT_PROVIDER": jsii.String("stripe-test"),
					"LOG_LEVEL":        jsii.String("debug"),
				},
			},
		},
	}

	// In promotion order: every execution builds once and deploys that one bundle to each.
	environments := []*bglp.PipelineEnvironment{
		{
			Name:             jsii.String("dev"),
			DeploymentConfig: awscodedeploy.LambdaDeploymentConfig_ALL_AT_ONCE(),
		},
		{
			Name:             jsii.String("staging"),
			DeploymentConfig: awscodedeploy.LambdaDeploymentConfig_LINEAR_10PERCENT_EVERY_1MINUTE(),
			// An alarm within the hour rolls staging back and the build goes no further.
			BakeTime: awscdk.Duration_Hours(jsii.Number(1)),
		},
		{
			Name: jsii.String("prod"),
			Approval: &bglp.EnvironmentApprovalOptions{
				NotificationTopic:     releaseApprovals,
				NotifyEmails:          jsii.Strings("release-managers@example.com"),
				Timeout:               awscdk.Duration_Hours(jsii.Number(8)),
				AdditionalInformation: jsii.String("This build baked in staging for an hour without an alarm. Approve to release it to production."),
			},
			DeploymentConfig: awscodedeploy.LambdaDeploymentConfig_CANARY_10PERCENT_5MINUTES(),
			BakeTime:         awscdk.Duration_Hours(jsii.Number(2)),
			// A quiet night must not pass the bake by silence.
			BakeMinInvocations: jsii.Number(100),
			ServiceOverrides: &[]*bglp.EnvironmentServiceOverrides{
				{
					ServiceName: jsii.String("checkout"),
					// Merged with the service's variables, these winning.
					Service: &bglp.ServiceFunctionOptions{
						MemorySize: jsii.Number(1024),
						Environment: &map[string]*string{
							"PAYMENT_PROVIDER": jsii.String("stripe"),
							"LOG_LEVEL":        jsii.String("info"),
						},
					},
					KeepVersions: jsii.Number(20),
				},
			},
		},
	}

	bglp.NewBlueGreenLambdaPipeline(stack, jsii.String("Storefront"), &bglp.BlueGreenLambdaPipelineProps{
		ServiceName: jsii.String("storefront"),
		// With environments, it suffixes only what the pipeline shares (pipeline, stage handlers,
		// history table, topic); each environment's functions, aliases, alarms and deployment
		// groups carry the environment's name.
		EnvironmentSuffix: jsii.String("release"),
		Dashboard:         jsii.Bool(true),
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
		// Defaults for every environment and service that does not set its own.
		ErrorRateThreshold: jsii.Number(5),
		EvaluationPeriods:  jsii.Number(2),
		AlarmPeriod:        awscdk.Duration_Minutes(jsii.Number(1)),
		KeepVersions:       jsii.Number(5),
		Services:           &services,
		Environments:       &environments,
		Tags:               &map[string]*string{"project": jsii.String("storefront"), "owner": jsii.String("platform-team"), "cost-center": jsii.String("retail")},
	})

	app.Synth(nil)
}
