// Package fork builds a small IPFS cluster the way a platform team would in
// a stack of its own: its own VPC, ECS cluster and Cloud Map namespace, and
// only the exported API of the node, loadbalancer, edge and clustersecrets
// constructs — not this repository's config, stacks or app packages. The
// tests in package test synthesize it and check that it comes out whole
// (issue 7, item 7), and that this package depends on none of those.
package fork

import (
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsservicediscovery"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/clustersecrets"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/loadbalancer"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
)

// The fork's own choices.
const (
	Region          = "eu-central-1"
	Namespace       = "peers.platform.internal"
	VpcCidr         = "10.80.0.0/16"
	CredentialsName = "platform/ipfs-api"
	Peers           = 3
	// Public upstream images: a fork need not build this repository's.
	KuboImage    = "ipfs/kubo:v0.43.0"
	ClusterImage = "ipfs/ipfs-cluster:v1.1.6"
)

// Zones are the fork's three zones, node i in Zones[i].
var Zones = []string{Region + "a", Region + "b", Region + "c"}

// PeerSettings are peer i's plain settings.
func PeerSettings(i int) nodespec.Settings {
	return nodespec.Settings{Index: i, PeerCount: Peers, Namespace: Namespace, Zone: Zones[i], Region: Region}
}

// Cluster is what the fork built.
type Cluster struct {
	Stack        awscdk.Stack
	Secrets      *clustersecrets.Secrets
	Peers        awsec2.SecurityGroup
	Nodes        []*node.Node
	LoadBalancer *loadbalancer.LoadBalancer
	Edge         *edge.Edge
}

// Build adds the fork's stack to scope.
func Build(scope constructs.Construct, id string) (*Cluster, error) {
	stack := awscdk.NewStack(scope, jsii.String(id), &awscdk.StackProps{
		Env: &awscdk.Environment{Region: jsii.String(Region)},
	})
	c := &Cluster{Stack: stack}
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		IpAddresses:       awsec2.IpAddresses_Cidr(jsii.String(VpcCidr)),
		AvailabilityZones: jsii.Strings(Zones...),
		NatGateways:       jsii.Number(0),
		// Public subnets for the tasks (they pull public images), isolated
		// ones for the load balancer and the file systems: one group of
		// each, so each One Zone file system gets one mount target.
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24), MapPublicIpOnLaunch: jsii.Bool(false)},
			{Name: jsii.String("isolated"), SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED, CidrMask: jsii.Number(24)},
		},
	})
	ecsCluster := awsecs.NewCluster(stack, jsii.String("Ecs"), &awsecs.ClusterProps{Vpc: vpc})
	namespace := awsservicediscovery.NewPrivateDnsNamespace(stack, jsii.String("Namespace"), &awsservicediscovery.PrivateDnsNamespaceProps{
		Name: jsii.String(Namespace),
		Vpc:  vpc,
	})

	var err error
	// Lambda@Edge reads the credentials in the edge's region.
	var replicas []string
	if Region != edgespec.Region {
		replicas = []string{edgespec.Region}
	}
	if c.Secrets, err = clustersecrets.New(stack, "Secrets", &clustersecrets.Props{
		RestAPICredentialsName: CredentialsName,
		ReplicaRegions:         replicas,
		RemovalPolicy:          awscdk.RemovalPolicy_DESTROY,
	}); err != nil {
		return nil, err
	}
	if c.Peers, err = node.NewPeerSecurityGroup(stack, "Peers", &node.PeerSecurityGroupProps{Vpc: vpc}); err != nil {
		return nil, err
	}
	if c.LoadBalancer, err = loadbalancer.New(stack, "Alb", &loadbalancer.Props{
		Vpc:     vpc,
		Subnets: &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED},
		Targets: c.Peers,
	}); err != nil {
		return nil, err
	}
	for i := 0; i < Peers; i++ {
		n, err := node.New(stack, "Peer"+strconv.Itoa(i), &node.Props{
			Settings:           PeerSettings(i),
			AvailabilityZone:   Zones[i],
			Vpc:                vpc,
			TaskSubnets:        &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC, AvailabilityZones: jsii.Strings(Zones[i])},
			AssignPublicIP:     true,
			Cluster:            ecsCluster,
			CloudMapNamespace:  namespace,
			KuboImage:          awsecs.ContainerImage_FromRegistry(jsii.String(KuboImage), nil),
			ClusterImage:       awsecs.ContainerImage_FromRegistry(jsii.String(ClusterImage), nil),
			IdentitySeed:       c.Secrets.IdentitySeed,
			RestAPICredentials: c.Secrets.RestAPICredentials,
			PeerSecurityGroup:  c.Peers,
			RemovalPolicy:      awscdk.RemovalPolicy_DESTROY,
		})
		if err != nil {
			return nil, err
		}
		if i > 0 {
			n.RollsAfter(c.Nodes[i-1])
		}
		c.LoadBalancer.GatewayTargetGroup.AddTarget(n.GatewayTarget())
		c.LoadBalancer.RestAPITargetGroup.AddTarget(n.RestAPITarget())
		c.LoadBalancer.PinningServiceTargetGroup.AddTarget(n.PinningServiceTarget())
		c.Nodes = append(c.Nodes, n)
	}
	if c.Edge, err = edge.NewEdge(stack, "Edge", &edge.Props{
		LoadBalancer:          c.LoadBalancer.LoadBalancer,
		GatewayPort:           c.LoadBalancer.GatewayPort,
		APIPort:               c.LoadBalancer.RestAPIPort,
		CredentialsSecretName: CredentialsName,
	}); err != nil {
		return nil, err
	}
	c.LoadBalancer.AdmitCloudFrontVpcOrigins(c.Edge.GatewayDistribution(), c.Edge.APIDistribution())
	return c, nil
}
