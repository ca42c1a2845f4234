// Package network provides the VPC of an IPFS cluster: public subnets for
// nodes that take part in the public IPFS swarm, isolated subnets for the
// internal load balancer, the EFS mount targets and (optionally) nodes that
// have no Internet at all. No NAT gateway is created.
package network

import (
	"errors"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/network/networkspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/propcheck"
)

// Props configure the network.
type Props struct {
	// AvailabilityZones the VPC spans, explicitly: an environment-agnostic
	// stack would otherwise get only two. Required, at least two.
	AvailabilityZones []string
	// Cidr of the VPC. Default 10.42.0.0/16.
	Cidr string
	// FlowLogRetention of the VPC flow log group. Default three months.
	FlowLogRetention awslogs.RetentionDays
	// FlowLogRemovalPolicy of the flow log group. Default RETAIN: flow logs
	// are audit records.
	FlowLogRemovalPolicy awscdk.RemovalPolicy
	// PrivateServiceEndpoints adds the VPC endpoints (ECR, CloudWatch Logs,
	// Secrets Manager, S3) that tasks in isolated subnets need to start
	// without any route to the Internet. Default false.
	PrivateServiceEndpoints bool
}

// Network is the VPC and the subnet selections other constructs use.
type Network struct {
	constructs.Construct
	Vpc awsec2.Vpc
}

const (
	publicSubnetGroup   = "public"
	isolatedSubnetGroup = "isolated"
)

// Validate reports every problem at once.
func (p *Props) Validate() error {
	if p == nil {
		return errors.New("network.Props: required (nil)")
	}
	l := propcheck.New("network.Props")
	if len(p.AvailabilityZones) < 2 {
		l.Add("AvailabilityZones", "needs at least 2 zones, got %v", p.AvailabilityZones)
	}
	seen := map[string]bool{}
	for _, z := range p.AvailabilityZones {
		if z == "" || seen[z] {
			l.Add("AvailabilityZones", "%q is empty or listed twice; allowed: distinct zone names", z)
		}
		seen[z] = true
	}
	if p.Cidr != "" {
		if err := networkspec.ValidateCidr(p.Cidr, max(len(p.AvailabilityZones), 1)); err != nil {
			l.Add("Cidr", "%v", err)
		}
	}
	return l.Err()
}

func (p *Props) withDefaults() Props {
	out := *p
	if out.Cidr == "" {
		out.Cidr = networkspec.DefaultCidr
	}
	if out.FlowLogRetention == "" {
		out.FlowLogRetention = awslogs.RetentionDays_THREE_MONTHS
	}
	if out.FlowLogRemovalPolicy == "" {
		out.FlowLogRemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	return out
}

// New creates the VPC. It creates nothing when the props are invalid.
func New(scope constructs.Construct, id string, props *Props) (*Network, error) {
	if err := props.Validate(); err != nil {
		return nil, err
	}
	p := props.withDefaults()
	this := constructs.NewConstruct(scope, jsii.String(id))

	flowLogGroup := awslogs.NewLogGroup(this, jsii.String("FlowLogs"), &awslogs.LogGroupProps{
		Retention:     p.FlowLogRetention,
		RemovalPolicy: p.FlowLogRemovalPolicy,
	})
	flowLogRole := awsiam.NewRole(this, jsii.String("FlowLogsRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("vpc-flow-logs.amazonaws.com"), nil),
	})

	// Exactly one subnet group per type: EFS One Zone picks the VPC's default
	// subnet type in its zone, and two groups of it would mean two mount
	// targets in one zone (a deploy error).
	vpc := awsec2.NewVpc(this, jsii.String("Vpc"), &awsec2.VpcProps{
		IpAddresses:                  awsec2.IpAddresses_Cidr(jsii.String(p.Cidr)),
		AvailabilityZones:            jsii.Strings(p.AvailabilityZones...),
		NatGateways:                  jsii.Number(0),
		RestrictDefaultSecurityGroup: jsii.Bool(true),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String(publicSubnetGroup), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(networkspec.SubnetMaskBits),
				// Fargate tasks get their public address from the service
				// (AssignPublicIp), never from the subnet.
				MapPublicIpOnLaunch: jsii.Bool(false)},
			{Name: jsii.String(isolatedSubnetGroup), SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED, CidrMask: jsii.Number(networkspec.SubnetMaskBits)},
		},
		FlowLogs: &map[string]*awsec2.FlowLogOptions{
			"All": {
				Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(flowLogGroup, flowLogRole),
				TrafficType: awsec2.FlowLogTrafficType_ALL,
			},
		},
	})

	if p.PrivateServiceEndpoints {
		isolated := &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED}
		vpc.AddGatewayEndpoint(jsii.String("S3"), &awsec2.GatewayVpcEndpointOptions{
			Service: awsec2.GatewayVpcEndpointAwsService_S3(),
			Subnets: &[]*awsec2.SubnetSelection{isolated},
		})
		endpoints := map[string]awsec2.InterfaceVpcEndpointAwsService{
			"EcrApi":         awsec2.InterfaceVpcEndpointAwsService_ECR(),
			"EcrDocker":      awsec2.InterfaceVpcEndpointAwsService_ECR_DOCKER(),
			"Logs":           awsec2.InterfaceVpcEndpointAwsService_CLOUDWATCH_LOGS(),
			"SecretsManager": awsec2.InterfaceVpcEndpointAwsService_SECRETS_MANAGER(),
		}
		// One group for all endpoints, with the VPC CIDR as a literal so the
		// rule can be checked at synth.
		endpointSecurityGroup := awsec2.NewSecurityGroup(this, jsii.String("EndpointSecurityGroup"), &awsec2.SecurityGroupProps{
			Vpc:              vpc,
			Description:      jsii.String("VPC interface endpoints: HTTPS from inside the VPC"),
			AllowAllOutbound: jsii.Bool(false),
		})
		endpointSecurityGroup.AddIngressRule(awsec2.Peer_Ipv4(jsii.String(p.Cidr)), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS from the VPC"), nil)
		for _, name := range []string{"EcrApi", "EcrDocker", "Logs", "SecretsManager"} {
			vpc.AddInterfaceEndpoint(jsii.String(name), &awsec2.InterfaceVpcEndpointOptions{
				Service:           endpoints[name],
				Subnets:           isolated,
				PrivateDnsEnabled: jsii.Bool(true),
				Open:              jsii.Bool(false),
				SecurityGroups:    &[]awsec2.ISecurityGroup{endpointSecurityGroup},
			})
		}
	}

	return &Network{Construct: this, Vpc: vpc}, nil
}

// NodeSubnets selects the subnet of one zone where a node's task runs:
// public when the node joins the public swarm, isolated otherwise.
func (n *Network) NodeSubnets(zone string, public bool) *awsec2.SubnetSelection {
	subnetType := awsec2.SubnetType_PRIVATE_ISOLATED
	if public {
		subnetType = awsec2.SubnetType_PUBLIC
	}
	return &awsec2.SubnetSelection{SubnetType: subnetType, AvailabilityZones: jsii.Strings(zone)}
}

// PrivateSubnets selects the isolated subnets of every zone (load balancer).
func (n *Network) PrivateSubnets() *awsec2.SubnetSelection {
	return &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED}
}
