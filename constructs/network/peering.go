package network

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/network/networkspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/propcheck"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/partition"
)

// PeeringProps configure a VPC peering connection from this network to a
// VPC of another region of the same account.
type PeeringProps struct {
	// PeerVpcID is the other VPC. Required.
	PeerVpcID *string
	// PeerRegion is the other VPC's region. Required.
	PeerRegion string
	// PeerCidr is the other VPC's range: the routes' destination. Required,
	// apart from this VPC's.
	PeerCidr string
	// Subnets whose route tables get a route to PeerCidr through the
	// connection: where the tasks that talk to the other VPC run. Required.
	Subnets []*awsec2.SubnetSelection
}

// Validate reports every problem at once.
func (p *PeeringProps) Validate() error {
	if p == nil {
		return errors.New("network.PeeringProps: required (nil)")
	}
	l := propcheck.New("network.PeeringProps")
	if p.PeerVpcID == nil {
		l.Add("PeerVpcID", "required")
	}
	if err := partition.ValidateRegion(p.PeerRegion); err != nil {
		l.Add("PeerRegion", "%v", err)
	}
	validateRoutes(l, p.PeerCidr, "PeerCidr", p.Subnets)
	return l.Err()
}

func validateRoutes(l *propcheck.List, cidr, field string, subnets []*awsec2.SubnetSelection) {
	if err := networkspec.ValidateCidr(cidr, 1); err != nil {
		l.Add(field, "%v", err)
	}
	if len(subnets) == 0 {
		l.Add("Subnets", "required: at least one selection")
	}
	for i, s := range subnets {
		if s == nil {
			l.Add(fmt.Sprintf("Subnets[%d]", i), "required")
		}
	}
}

// Peering is the connection; its ID is what the other side's routes need.
type Peering struct {
	constructs.Construct
	Connection awsec2.CfnVPCPeeringConnection
}

// ID is the peering connection's ID.
func (p *Peering) ID() *string { return p.Connection.AttrId() }

// PeerWith requests a peering connection from this network's VPC to the
// peer VPC and routes the peer's range through it from the selected
// subnets. Within one account CloudFormation accepts the connection itself
// (no accepter role); the peer side adds its routes back with
// RouteThroughPeering once the connection exists. Nothing is created when
// the props are invalid.
func (n *Network) PeerWith(scope constructs.Construct, id string, props *PeeringProps) (*Peering, error) {
	if err := props.Validate(); err != nil {
		return nil, err
	}
	this := constructs.NewConstruct(scope, jsii.String(id))
	connection := awsec2.NewCfnVPCPeeringConnection(this, jsii.String("Connection"), &awsec2.CfnVPCPeeringConnectionProps{
		VpcId:      n.Vpc.VpcId(),
		PeerVpcId:  props.PeerVpcID,
		PeerRegion: jsii.String(props.PeerRegion),
	})
	n.routes(this, props.PeerCidr, connection.AttrId(), props.Subnets)
	return &Peering{Construct: this, Connection: connection}, nil
}

// PeerRoutesProps configure the routes of the accepting side of a peering.
type PeerRoutesProps struct {
	// PeeringConnectionID is the connection (Peering.ID of the requester).
	// Required.
	PeeringConnectionID *string
	// PeerCidr is the requester VPC's range. Required.
	PeerCidr string
	// Subnets of this network whose route tables get the route. Required.
	Subnets []*awsec2.SubnetSelection
}

// Validate reports every problem at once.
func (p *PeerRoutesProps) Validate() error {
	if p == nil {
		return errors.New("network.PeerRoutesProps: required (nil)")
	}
	l := propcheck.New("network.PeerRoutesProps")
	if p.PeeringConnectionID == nil {
		l.Add("PeeringConnectionID", "required")
	}
	validateRoutes(l, p.PeerCidr, "PeerCidr", p.Subnets)
	return l.Err()
}

// RouteThroughPeering adds, in scope (which may be another stack than the
// network's: the connection is created after this VPC), a route to
// PeerCidr through the connection to the route table of every selected
// subnet.
func (n *Network) RouteThroughPeering(scope constructs.Construct, id string, props *PeerRoutesProps) error {
	if err := props.Validate(); err != nil {
		return err
	}
	n.routes(constructs.NewConstruct(scope, jsii.String(id)), props.PeerCidr, props.PeeringConnectionID, props.Subnets)
	return nil
}

// routes adds one route per distinct route table of the selected subnets.
func (n *Network) routes(scope constructs.Construct, cidr string, connection *string, selections []*awsec2.SubnetSelection) {
	seen := map[string]bool{}
	for _, selection := range selections {
		for _, subnet := range *n.Vpc.SelectSubnets(selection).Subnets {
			table := subnet.RouteTable().RouteTableId()
			// The subnet's construct ID is stable (a table's ID is a token).
			name := *subnet.Node().Id()
			if seen[name] {
				continue
			}
			seen[name] = true
			awsec2.NewCfnRoute(scope, jsii.String(name+"Route"), &awsec2.CfnRouteProps{
				RouteTableId:           table,
				DestinationCidrBlock:   jsii.String(cidr),
				VpcPeeringConnectionId: connection,
			})
		}
	}
}
