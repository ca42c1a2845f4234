package loadbalancer

import (
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/sdkcall"
)

// VpcOriginSecurityGroupName is the security group CloudFront creates in a
// VPC with its first VPC origin there and puts on the network interfaces it
// sends origin requests from. CloudFront does not return its ID with the VPC
// origin, so it is looked up by this name.
const VpcOriginSecurityGroupName = "CloudFront-VPCOrigins-Service-SG"

// AdmitCloudFrontVpcOrigins lets CloudFront's VPC origins, and nothing else,
// reach the listeners: one ingress rule over their ports whose source is the
// security group CloudFront manages for VPC origins in this VPC. That group
// exists only once a VPC origin does, so it is looked up at deploy time
// (ec2:DescribeSecurityGroups, by VPC and name) after the constructs in
// origins (the distributions whose VPC origins name this load balancer).
//
// The narrowest rule that works: VPC origin requests arrive from CloudFront's
// addresses, not from the VPC's range, and the origin-facing managed prefix
// list (the other documented source) admits every CloudFront distribution,
// needs a context lookup for its region's ID and weighs 55 rules per
// reference, over a security group's default quota of 60 with two ports.
func (lb *LoadBalancer) AdmitCloudFrontVpcOrigins(origins ...constructs.IDependable) {
	lb.AdmitCloudFrontVpcOriginsIn(lb.Construct, origins...)
}

// AdmitCloudFrontVpcOriginsIn is AdmitCloudFrontVpcOrigins with the lookup
// and the rules in scope, which may be in a later stack than the load
// balancer's: the stack of a second region's load balancer is deployed
// before the distributions whose VPC origins name it, so the group exists
// only for a stack deployed after theirs.
func (lb *LoadBalancer) AdmitCloudFrontVpcOriginsIn(scope constructs.Construct, origins ...constructs.IDependable) {
	vpcID := lb.LoadBalancer.Vpc().VpcId()
	call := &customresources.AwsSdkCall{
		Service: jsii.String("EC2"),
		Action:  jsii.String("DescribeSecurityGroups"),
		Parameters: map[string]any{
			"Filters": []map[string]any{
				{"Name": "vpc-id", "Values": []*string{vpcID}},
				{"Name": "group-name", "Values": []string{VpcOriginSecurityGroupName}},
			},
		},
		// A missing group fails the deploy here, naming the path, instead
		// of leaving the listeners closed.
		PhysicalResourceId: customresources.PhysicalResourceId_FromResponse(jsii.String("SecurityGroups.0.GroupId")),
		OutputPaths:        jsii.Strings("SecurityGroups.0.GroupId"),
	}
	lookup := customresources.NewAwsCustomResource(scope, jsii.String("VpcOriginSecurityGroup"), &customresources.AwsCustomResourceProps{
		OnCreate: call,
		OnUpdate: call,
		Policy: customresources.AwsCustomResourcePolicy_FromStatements(&[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("ec2:DescribeSecurityGroups"),
			Resources: jsii.Strings("*"),
		})}),
		InstallLatestAwsSdk: jsii.Bool(false),
	})
	for _, o := range origins {
		lookup.Node().AddDependency(o)
	}
	source := lookup.GetResponseField(jsii.String("SecurityGroups.0.GroupId"))
	// One rule from the lowest listener port to the highest: it admits the
	// same single source to every listener, and the load balancer answers
	// on its listeners' ports only, so the ports between them admit
	// nothing more. One rule, not one per listener: each is a resource of
	// the cluster stack, whose budget (stacks/stackspec) has none to spare.
	ports := []int{lb.GatewayPort, lb.RestAPIPort, lb.PinningServicePort}
	// A separate resource, not an inline rule: the group must exist before
	// the load balancer, and the source only after the distributions.
	awsec2.NewCfnSecurityGroupIngress(scope, jsii.String("ListenersFromVpcOrigins"), &awsec2.CfnSecurityGroupIngressProps{
		GroupId:               lb.SecurityGroup.SecurityGroupId(),
		IpProtocol:            jsii.String("tcp"),
		FromPort:              jsii.Number(float64(slices.Min(ports))),
		ToPort:                jsii.Number(float64(slices.Max(ports))),
		SourceSecurityGroupId: source,
		Description:           jsii.String("The listeners (gateway, REST API, Pinning Service API) from CloudFront's VPC origins only"),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(lookup, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("ec2:DescribeSecurityGroups supports no resource-level permissions; the call is read-only and filtered to this VPC."),
		AppliesTo: &[]any{"Resource::*"},
	}}, jsii.Bool(true))
	sdkcall.SuppressProviderFindings(scope)
}
