// Package sdkcall holds what every AwsCustomResource of this app shares: the
// cdk-nag findings on the one function CDK runs them all with in a stack.
package sdkcall

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// providerID is the ID of the singleton function CDK adds to a stack for
// its AwsCustomResources (aws-cdk-lib custom-resources).
const providerID = "AWS679f53fac002430cb0da5b7982bd2287"

// SuppressProviderFindings answers cdk-nag's findings on the function of
// the AwsCustomResources of scope's stack; call it after creating one.
func SuppressProviderFindings(scope constructs.Construct) {
	provider := awscdk.Stack_Of(scope).Node().TryFindChild(jsii.String(providerID))
	if provider == nil {
		return
	}
	cdknag.NagSuppressions_AddResourceSuppressions(provider, &[]*cdknag.NagPackSuppression{
		{
			Id:     jsii.String("AwsSolutions-L1"),
			Reason: jsii.String("CDK chooses and updates the runtime of its AwsCustomResource function; the props offer no runtime."),
		},
		{
			Id:        jsii.String("AwsSolutions-IAM4"),
			Reason:    jsii.String("AWSLambdaBasicExecutionRole lets CDK's AwsCustomResource function write its own logs, nothing else."),
			AppliesTo: &[]any{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
		},
	}, jsii.Bool(true))
}
