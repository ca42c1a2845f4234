package test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/clustersecrets"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/images"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/loadbalancer"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/network"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
)

// TestConstructPropsAreValidated: each construct refuses bad props with a
// message naming the field, and creates nothing when it does.
func TestConstructPropsAreValidated(t *testing.T) {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("PropsValidation"), &awscdk.StackProps{
		Env: &awscdk.Environment{Region: jsii.String("eu-west-1")},
	})
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(0)})
	sg := awsec2.NewSecurityGroup(stack, jsii.String("Sg"), &awsec2.SecurityGroupProps{Vpc: vpc})
	before := len(*stack.Node().Children())

	cases := []struct {
		name string
		make func() error
		want string
	}{
		{"network needs two zones", func() error {
			_, err := network.New(stack, "N1", &network.Props{AvailabilityZones: []string{"eu-west-1a"}})
			return err
		}, "network.Props.AvailabilityZones: needs at least 2 zones"},
		{"network cidr", func() error {
			_, err := network.New(stack, "N2", &network.Props{AvailabilityZones: []string{"eu-west-1a", "eu-west-1b"}, Cidr: "nope"})
			return err
		}, `network.Props.Cidr: "nope" is not an IPv4 network`},
		{"node without anything", func() error {
			_, err := node.New(stack, "Node", &node.Props{Settings: nodespec.Settings{Index: 1}})
			return err
		}, "node.Props.AvailabilityZone: required"},
		{"node index outside the cluster", func() error {
			_, err := node.New(stack, "Node", &node.Props{Settings: nodespec.Settings{Index: 3, PeerCount: 3, Namespace: "a.internal"}})
			return err
		}, "node.Props.Settings.Index: 3 is not a peer of a 3-peer cluster"},
		{"node replication above peers", func() error {
			_, err := node.New(stack, "Node", &node.Props{Settings: nodespec.Settings{PeerCount: 1, Namespace: "a.internal", ReplicationFactorMin: 1, ReplicationFactorMax: 2}})
			return err
		}, "node.Props.Settings.ReplicationFactorMin: min=1 max=2; allowed: 1 <= min <= max <= the number of peers (1)"},
		{"load balancer same ports", func() error {
			_, err := loadbalancer.New(stack, "Lb", &loadbalancer.Props{Vpc: vpc, Subnets: &awsec2.SubnetSelection{}, Targets: sg, ClientCidr: "10.0.0.0/16", GatewayHealthPath: "/", GatewayPort: 80, RestAPIPort: 80})
			return err
		}, "loadbalancer.Props.RestAPIPort: must differ from GatewayPort"},
		{"load balancer client cidr", func() error {
			_, err := loadbalancer.New(stack, "Lb", &loadbalancer.Props{Vpc: vpc, Subnets: &awsec2.SubnetSelection{}, Targets: sg, GatewayHealthPath: "/"})
			return err
		}, "loadbalancer.Props.ClientCidr"},
		{"images source dir", func() error {
			_, err := images.New(stack, "Img", &images.Props{SourceDir: "/nonexistent"})
			return err
		}, `images.Props.SourceDir: "/nonexistent" has no file docker/kubo/Dockerfile`},
		{"secrets name", func() error {
			_, err := clustersecrets.New(stack, "Sec", &clustersecrets.Props{})
			return err
		}, "clustersecrets.Props.RestAPICredentialsName: required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.make()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	assert.Len(t, *stack.Node().Children(), before, "a rejected construct must not leave resources behind")
}
