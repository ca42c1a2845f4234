package pipelines

import (
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	cdkpipelines "github.com/aws/aws-cdk-go/awscdk/v2/pipelines"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// partition matches how an ARN's partition appears in a finding: a token,
// or a literal with @aws-cdk/core:enablePartitionLiterals (cdk.json).
const partition = `(<AWS::Partition>|aws[a-z-]*)`

// regexes turns patterns into cdk-nag appliesTo entries, so that a
// suppression covers exactly the findings it explains and a new wildcard
// grant still fails the checks.
func regexes(patterns ...string) *[]any {
	out := make([]any, len(patterns))
	for i, p := range patterns {
		out[i] = &cdknag.RegexAppliesTo{Regex: jsii.String(p)}
	}
	return &out
}

func suppression(id, reason string, appliesTo *[]any) *cdknag.NagPackSuppression {
	return &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason), AppliesTo: appliesTo}
}

// Suppression reasons, one per kind of finding CDK Pipelines produces by
// design. Tests read them to prove every suppression carries its reason.
const (
	reasonArtifactObjects = "CDK Pipelines' grants on its own artifact buckets (grantRead/grantReadWrite): object keys are generated per execution, so the object-level actions (s3:GetObject*, s3:List*, ...) apply to <bucket>/*; no other bucket is named."
	reasonArtifactKey     = "CDK Pipelines' grants on its own artifact encryption key (grantEncryptDecrypt): kms:ReEncrypt* and kms:GenerateDataKey* are the action groups KMS defines for envelope encryption of the artifacts."
	reasonCodeBuildLogs   = "CodeBuild writes each build's log stream and test reports under its project's own log group (/aws/codebuild/<project>:*) and report groups (<project>-*); the asset-publishing roles are shared by all asset projects of the pipeline (one project per asset), hence /aws/codebuild/* and report-group/* in this account and region only."
	reasonReplicationKey  = "The pipeline role uses the cross-region support stack's replication key in us-east-1 (for the Lambda@Edge stack), which the pipeline stack can only address by alias from another region: CodePipeline's cross-region support grants the key actions on '*'; the key's own policy admits only this account and the target account's CDK deploy role."
	reasonSelfMutation    = "Self-mutation runs `cdk deploy` of the pipeline stack: it may assume only the CDK bootstrap roles of this account (arn:*:iam::<account>:role/* restricted by the aws-cdk:bootstrap-role tag condition to deploy, file-publishing and image-publishing), and reads stack status (cloudformation:DescribeStacks) and bucket listings (s3:ListBucket) that the CLI needs before it assumes those roles."
	reasonAssetStartBuild = "The asset-publishing role is one role for every asset project of its kind (CDK Pipelines' AssetSingletonRole): it also serves as the CodePipeline action role that starts those builds, granted codebuild:StartBuild/BatchGetBuilds/StopBuild on '*' so the policy does not grow with each asset; it can only publish through the target accounts' CDK publishing roles."
	reasonArtifactLogs    = "Pipeline artifact store (source snapshot, cloud assembly), encrypted with the pipeline's KMS key; only the pipeline's roles and the target accounts' CDK deploy roles may read it (bucket and key policies), and every execution's reads and writes are recorded by CodePipeline's execution history. Server access logs would need another bucket per pipeline and region for no additional audit value."
)

// suppressPipelineFindings records, on the built pipeline and its
// cross-region support stacks, the cdk-nag findings that are CDK Pipelines'
// design. It must run after BuildPipeline(), when those resources exist.
func suppressPipelineFindings(pipeline cdkpipelines.CodePipeline) {
	artifactObjects := []string{
		`/^Action::s3:(GetObject|GetBucket|List|DeleteObject|Abort)\*$/`,
		`/^Resource::<PipelineArtifactsBucket[A-Z0-9]+\.Arn>\/\*$/`,
	}
	// The cross-region replication buckets have generated literal names.
	stack := awscdk.Stack_Of(pipeline)
	for _, support := range *pipeline.Pipeline().CrossRegionSupport() {
		if name, ok := stack.Resolve(support.ReplicationBucket.BucketName()).(string); ok {
			artifactObjects = append(artifactObjects, `/^Resource::arn:`+partition+`:s3:::`+regexp.QuoteMeta(name)+`\/\*$/`)
		}
	}
	cdknag.NagSuppressions_AddResourceSuppressions(pipeline, &[]*cdknag.NagPackSuppression{
		suppression("AwsSolutions-IAM5", reasonArtifactObjects, regexes(artifactObjects...)),
		suppression("AwsSolutions-IAM5", reasonArtifactKey, regexes(`/^Action::kms:(ReEncrypt|GenerateDataKey)\*$/`)),
		suppression("AwsSolutions-IAM5", reasonCodeBuildLogs, regexes(
			`/^Resource::arn:`+partition+`:logs:[a-z0-9-]+:[0-9]{12}:log-group:\/aws\/codebuild\/(<[A-Za-z0-9]+>:)?\*$/`,
			`/^Resource::arn:`+partition+`:codebuild:[a-z0-9-]+:[0-9]{12}:report-group\/(<[A-Za-z0-9]+>-)?\*$/`,
		)),
	}, jsii.Bool(true))

	cdknag.NagSuppressions_AddResourceSuppressions(pipeline.Pipeline().Role(), &[]*cdknag.NagPackSuppression{
		suppression("AwsSolutions-IAM5", reasonReplicationKey, regexes(`/^Resource::\*$/`)),
	}, jsii.Bool(true))
	cdknag.NagSuppressions_AddResourceSuppressions(pipeline.SelfMutationProject().Role(), &[]*cdknag.NagPackSuppression{
		suppression("AwsSolutions-IAM5", reasonSelfMutation, regexes(`/^Resource::\*$/`, `/^Resource::arn:\*:iam::[0-9]{12}:role\/\*$/`)),
	}, jsii.Bool(true))
	for _, role := range []string{"DockerRole", "FileRole"} {
		if r := pipeline.Node().TryFindChild(jsii.String("Assets")); r != nil {
			if assetRole := r.Node().TryFindChild(jsii.String(role)); assetRole != nil {
				cdknag.NagSuppressions_AddResourceSuppressions(assetRole, &[]*cdknag.NagPackSuppression{
					suppression("AwsSolutions-IAM5", reasonAssetStartBuild, regexes(`/^Resource::\*$/`)),
				}, jsii.Bool(true))
			}
		}
	}

	cdknag.NagSuppressions_AddResourceSuppressions(pipeline.Pipeline().ArtifactBucket(), &[]*cdknag.NagPackSuppression{
		suppression("AwsSolutions-S1", reasonArtifactLogs, nil),
	}, jsii.Bool(true))
	for _, support := range *pipeline.Pipeline().CrossRegionSupport() {
		cdknag.NagSuppressions_AddResourceSuppressions(support.ReplicationBucket, &[]*cdknag.NagPackSuppression{
			suppression("AwsSolutions-S1", reasonArtifactLogs, nil),
		}, jsii.Bool(true))
	}
}
