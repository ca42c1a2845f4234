package network

import (
	"errors"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/propcheck"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/partition"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/sdkcall"
)

// ZoneAssociationProps associate a private hosted zone with a VPC of
// another stack or region, so that the VPC resolves the zone's names.
type ZoneAssociationProps struct {
	// HostedZoneID of the private hosted zone, e.g. a Cloud Map private DNS
	// namespace's (CfnPrivateDnsNamespace.AttrHostedZoneId). Required.
	HostedZoneID *string
	// VpcID and VpcRegion name the VPC. Required.
	VpcID     *string
	VpcRegion string
}

// Validate reports every problem at once.
func (p *ZoneAssociationProps) Validate() error {
	if p == nil {
		return errors.New("network.ZoneAssociationProps: required (nil)")
	}
	l := propcheck.New("network.ZoneAssociationProps")
	if p.HostedZoneID == nil {
		l.Add("HostedZoneID", "required")
	}
	if p.VpcID == nil {
		l.Add("VpcID", "required")
	}
	if err := partition.ValidateRegion(p.VpcRegion); err != nil {
		l.Add("VpcRegion", "%v", err)
	}
	return l.Err()
}

// ZoneAssociationResourceType is the custom resource of an association.
const ZoneAssociationResourceType = "Custom::HostedZoneVpcAssociation"

// NewZoneAssociation associates the zone with the VPC on create and
// disassociates it on delete (a Cloud Map namespace cannot be deleted
// while its zone has a VPC it did not associate itself). CloudFormation has
// no resource for an association with a zone it did not create, hence
// Route 53's API through an AwsCustomResource. Its role may change the
// associations of this one zone only (ec2:DescribeVpcs, which Route 53
// requires of the caller, has no resource-level permissions).
func NewZoneAssociation(scope constructs.Construct, id string, props *ZoneAssociationProps) (customresources.AwsCustomResource, error) {
	if err := props.Validate(); err != nil {
		return nil, err
	}
	vpc := map[string]any{"VPCId": props.VpcID, "VPCRegion": props.VpcRegion}
	physicalID := customresources.PhysicalResourceId_Of(awscdk.Fn_Join(jsii.String(":"), &[]*string{props.HostedZoneID, props.VpcID}))
	associate := &customresources.AwsSdkCall{
		Service:            jsii.String("Route53"),
		Action:             jsii.String("AssociateVPCWithHostedZone"),
		Parameters:         map[string]any{"HostedZoneId": props.HostedZoneID, "VPC": vpc},
		PhysicalResourceId: physicalID,
	}
	stack := awscdk.Stack_Of(scope)
	zoneArn := stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("route53"), Region: jsii.String(""), Account: jsii.String(""),
		Resource: jsii.String("hostedzone"), ResourceName: props.HostedZoneID,
	})
	association := customresources.NewAwsCustomResource(scope, jsii.String(id), &customresources.AwsCustomResourceProps{
		ResourceType: jsii.String(ZoneAssociationResourceType),
		OnCreate:     associate,
		// A replaced zone or VPC (a renamed namespace) is a new physical
		// ID: CloudFormation then deletes the old one, disassociating the
		// old pair.
		OnUpdate: associate,
		OnDelete: &customresources.AwsSdkCall{
			Service:    jsii.String("Route53"),
			Action:     jsii.String("DisassociateVPCFromHostedZone"),
			Parameters: map[string]any{"HostedZoneId": props.HostedZoneID, "VPC": vpc},
			// Already gone (by hand, or with its zone): nothing to undo.
			IgnoreErrorCodesMatching: jsii.String("VPCAssociationNotFound|NoSuchHostedZone"),
		},
		Policy: customresources.AwsCustomResourcePolicy_FromStatements(&[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("route53:AssociateVPCWithHostedZone", "route53:DisassociateVPCFromHostedZone"),
				Resources: &[]*string{zoneArn},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("ec2:DescribeVpcs"),
				Resources: jsii.Strings("*"),
			}),
		}),
		InstallLatestAwsSdk: jsii.Bool(false),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(association, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("ec2:DescribeVpcs, which Route 53 checks the caller for when associating a VPC, supports no resource-level permissions; it is read-only. The Route 53 actions name the one zone."),
		AppliesTo: &[]any{"Resource::*"},
	}}, jsii.Bool(true))
	sdkcall.SuppressProviderFindings(scope)
	return association, nil
}
