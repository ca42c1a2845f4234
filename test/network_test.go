package test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/network"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/network/networkspec"
)

// TestSubnetsOnePublicAndOneIsolatedPerZone: one subnet of each group per
// zone, inside the configured CIDR, and none hands out public addresses
// (issue 8, item 5: Fargate takes a task's public address from its service).
func TestSubnetsOnePublicAndOneIsolatedPerZone(t *testing.T) {
	for _, s := range allApps() {
		vpcs := s.exactly(t, 1, "AWS::EC2::VPC")
		for _, vpc := range vpcs {
			assert.Equal(t, s.config.VpcCidr, vpc.Properties["CidrBlock"])
		}
		vpcCidr := netip.MustParsePrefix(s.config.VpcCidr)
		zones := len(s.config.AvailabilityZones)
		perZone := map[string]int{}
		for id, subnet := range s.exactly(t, networkspec.SubnetGroups*zones, "AWS::EC2::Subnet") {
			assert.Equal(t, false, subnet.Properties["MapPublicIpOnLaunch"], "%s assigns public IPs on launch", id)
			cidr, err := netip.ParsePrefix(fmt.Sprint(subnet.Properties["CidrBlock"]))
			require.NoError(t, err, id)
			assert.Equal(t, networkspec.SubnetMaskBits, cidr.Bits(), id)
			assert.True(t, vpcCidr.Contains(cidr.Addr()), "%s %v outside %v", id, cidr, vpcCidr)
			perZone[fmt.Sprint(subnet.Properties["AvailabilityZone"])]++
		}
		want := map[string]int{}
		for _, z := range s.config.AvailabilityZones {
			want[z] = networkspec.SubnetGroups
		}
		assert.Equal(t, want, perZone)
		assert.Empty(t, s.ofType("AWS::EC2::NatGateway"), "no NAT gateway")
		for id, log := range s.exactly(t, 1, "AWS::EC2::FlowLog") {
			assert.Equal(t, "ALL", log.Properties["TrafficType"], id)
		}
	}
}

func TestPrivateSwarmNodesHaveNoInternetPath(t *testing.T) {
	s := privateSwarm
	for id, service := range s.exactly(t, s.config.NodeCount, "AWS::ECS::Service") {
		subnets := list(path(service.Properties, "NetworkConfiguration", "AwsvpcConfiguration", "Subnets"))
		require.Len(t, subnets, 1, id)
		assert.False(t, hasRouteOut(t, s.stackTemplate, subnets[0]), "%s: an isolated subnet", id)
	}
	// Without a NAT gateway, tasks reach ECR, logs and Secrets Manager
	// through endpoints.
	var services []string
	for _, e := range s.exactly(t, 5, "AWS::EC2::VPCEndpoint") {
		services = append(services, fmt.Sprint(e.Properties["ServiceName"]))
	}
	joined := strings.Join(services, " ")
	for _, want := range []string{"ecr.api", "ecr.dkr", "logs", "secretsmanager", "s3"} {
		assert.Contains(t, joined, want)
	}
	assert.Empty(t, defaults.ofType("AWS::EC2::VPCEndpoint"), "public nodes need no endpoints")
}

// TestNetworkPropsAreValidated: every problem at once, each naming its
// field, and nothing created.
func TestNetworkPropsAreValidated(t *testing.T) {
	stack := awscdk.NewStack(testApp(t, nil), jsii.String("NetworkProps"), nil)
	for _, tc := range []struct {
		name  string
		props *network.Props
		want  []string
	}{
		{"nil", nil, []string{"network.Props: required (nil)"}},
		{"one zone", &network.Props{AvailabilityZones: []string{"eu-west-1a"}}, []string{"network.Props.AvailabilityZones: needs at least 2 zones"}},
		{"cidr and zones", &network.Props{AvailabilityZones: []string{"eu-west-1a", "eu-west-1a"}, Cidr: "nope"}, []string{
			`network.Props.AvailabilityZones: "eu-west-1a" is empty or listed twice`,
			`network.Props.Cidr: "nope" is not an IPv4 network`,
		}},
		{"cidr too small", &network.Props{AvailabilityZones: []string{"a", "b", "c"}, Cidr: "10.0.0.0/20"}, []string{`network.Props.Cidr: "10.0.0.0/20" is a /20; allowed: /16 to /19`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := network.New(stack, "Network", tc.props)
			require.Error(t, err)
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
	assert.Empty(t, childIDs(stack), "a rejected network must not leave constructs behind")
}
