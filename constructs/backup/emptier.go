package backup

import (
	_ "embed"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// emptierCode is emptier/index.js (tested with node --test beside it).
//
//go:embed emptier/index.js
var emptierCode string

// EmptierResourceType is the custom resource that empties a vault on delete.
const EmptierResourceType = "Custom::BackupVaultEmptier"

// NewVaultEmptier lets CloudFormation delete vault with its stack: on delete
// a custom resource removes every recovery point of the vault (waiting for
// running jobs' points) before CloudFormation deletes the vault itself, which
// it cannot do while the vault holds any. Use it with a DESTROY removal
// policy only: it deletes backups. Anything that adds recovery points to the
// vault (a backup plan) should depend on the returned resource, so that it is
// deleted first.
func NewVaultEmptier(scope constructs.Construct, id string, vault awsbackup.IBackupVault) awscdk.CustomResource {
	this := constructs.NewConstruct(scope, jsii.String(id))
	stack := awscdk.Stack_Of(this)
	fn := awslambda.NewFunction(this, jsii.String("Handler"), &awslambda.FunctionProps{
		Runtime:     awslambda.Runtime_NODEJS_24_X(),
		Handler:     jsii.String("index.handler"),
		Code:        awslambda.Code_FromInline(jsii.String(emptierCode)),
		Description: jsii.String("Deletes the recovery points of one backup vault when the stack deletes it"),
		// Lambda's limit: deleting and waiting for a vault's points takes
		// minutes; the handler fails with a reason a minute before.
		Timeout: awscdk.Duration_Minutes(jsii.Number(15)),
	})
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("backup:ListRecoveryPointsByBackupVault"),
		Resources: &[]*string{vault.BackupVaultArn()},
	}))
	// Recovery point ARNs do not name their vault: the deletion can be
	// scoped to this account and region only.
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("backup:DeleteRecoveryPoint"),
		Resources: &[]*string{stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("backup"), Resource: jsii.String("recovery-point"), ResourceName: jsii.String("*"),
			ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
		})},
	}))
	// AWS Backup deletes through its service-linked role, which it creates
	// with the caller's permission if missing (else points go EXPIRED).
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("iam:CreateServiceLinkedRole"),
		Resources: &[]*string{stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("iam"), Region: jsii.String(""), Resource: jsii.String("role"),
			ResourceName: jsii.String("aws-service-role/backup.amazonaws.com/*"),
		})},
		Conditions: &map[string]any{"StringEquals": map[string]any{"iam:AWSServiceName": "backup.amazonaws.com"}},
	}))
	provider := customresources.NewProvider(this, jsii.String("Provider"), &customresources.ProviderProps{
		OnEventHandler: fn,
	})
	resource := awscdk.NewCustomResource(this, jsii.String("Resource"), &awscdk.CustomResourceProps{
		ServiceToken: provider.ServiceToken(),
		ResourceType: jsii.String(EmptierResourceType),
		Properties:   &map[string]any{"BackupVaultName": vault.BackupVaultName()},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(this, &[]*cdknag.NagPackSuppression{
		{
			Id:        jsii.String("AwsSolutions-IAM4"),
			Reason:    jsii.String("AWSLambdaBasicExecutionRole only lets the emptier and the custom resource framework write their own logs."),
			AppliesTo: &[]any{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
		},
		{
			Id:     jsii.String("AwsSolutions-L1"),
			Reason: jsii.String("The Provider framework's own function runs on the runtime CDK chooses for it (the emptier itself runs on the newest Node.js)."),
		},
		{
			Id: jsii.String("AwsSolutions-IAM5"),
			Reason: jsii.String("Recovery point ARNs carry no vault name, so DeleteRecoveryPoint is scoped to the account and region (the handler only deletes points listed from this vault); " +
				"the framework may invoke every version of the emptier function."),
		},
	}, jsii.Bool(true))
	return resource
}
