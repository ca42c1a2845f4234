package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsservicediscovery"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/backup"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/clustersecrets"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/images"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/loadbalancer"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/monitoring"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/network"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/names"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks/outputs"
)

// Stack name suffixes of the second region's stacks.
const (
	SecondRegionNetworkSuffix = "-second-region-network"
	SecondRegionSuffix        = "-second-region"
)

// secondRegionStackName is the name of the second region's cluster stack.
func secondRegionStackName(cfg config.Config) string {
	return names.Fit(cfg.StackName, SecondRegionSuffix, maxStackName)
}

// SecondRegion is the part of the cluster in config.SecondRegion, in two
// stacks there, deployed around the cluster stack: Network first (it needs
// nothing), then the cluster stack (it peers with Network's VPC and fails
// its gateway over to Network's load balancer), then Stack (it routes
// through the peering, reads the secrets' replicas and admits the cluster
// stack's VPC origin).
type SecondRegion struct {
	// Network is the stack with the VPC, the peers' security group, the
	// internal load balancer and the Cloud Map namespace.
	Network awscdk.Stack
	// Stack holds the peers from nodespec.SecondRegionFirstIndex on, their ECS cluster,
	// backup plan and monitoring, the routes back through the peering and
	// the DNS associations between the regions.
	Stack awscdk.Stack
	Nodes []*node.Node
	// NodeStacks holds, by position in Nodes, the nested stack of each node
	// beyond the region's stackspec.ClusterStackNodes, nil for the others.
	NodeStacks   []awscdk.NestedStack
	LoadBalancer *loadbalancer.LoadBalancer
	Monitoring   *monitoring.Monitoring
	Backup       *backup.Backup
	// Outputs are the cluster stack's output keys (package outputs) with
	// this region's values: Stack's, and LoadBalancerDnsName, Network's.
	Outputs map[string]awscdk.CfnOutput

	network   *network.Network
	peers     awsec2.SecurityGroup
	namespace awsservicediscovery.PrivateDnsNamespace
}

// newSecondRegionNetwork creates the second region's network stack.
func newSecondRegionNetwork(scope constructs.Construct, id string, cfg config.Config, env *awscdk.Environment, dataRemoval awscdk.RemovalPolicy, retention awslogs.RetentionDays) (*SecondRegion, error) {
	stack := awscdk.NewStack(scope, jsii.String(id+"SecondRegionNetwork"), &awscdk.StackProps{
		Env:         &awscdk.Environment{Account: env.Account, Region: jsii.String(cfg.SecondRegion)},
		StackName:   jsii.String(names.Fit(cfg.StackName, SecondRegionNetworkSuffix, maxStackName)),
		Description: jsii.String("IPFS Cluster, second region: the VPC, the peers' security group, the internal load balancer and the peers' Cloud Map namespace"),
	})
	this := &SecondRegion{Network: stack, Outputs: map[string]awscdk.CfnOutput{}}
	var err error
	this.network, err = network.New(stack, "Network", &network.Props{
		AvailabilityZones:       cfg.SecondRegionAvailabilityZones,
		Cidr:                    cfg.SecondRegionVpcCidr,
		FlowLogRetention:        retention,
		PrivateServiceEndpoints: !cfg.PublicSwarm,
	})
	if err != nil {
		return nil, err
	}
	vpc := this.network.Vpc
	this.peers, err = node.NewPeerSecurityGroup(stack, "PeerSecurityGroup", &node.PeerSecurityGroupProps{Vpc: vpc, PublicSwarm: cfg.PublicSwarm})
	if err != nil {
		return nil, err
	}
	// Beside the group: the first VPC's range is a literal.
	node.AdmitPeersFrom(this.peers, cfg.VpcCidr, cfg.PublicSwarm)
	this.LoadBalancer, err = loadbalancer.New(stack, "LoadBalancer", &loadbalancer.Props{
		Vpc:                    vpc,
		Subnets:                this.network.PrivateSubnets(),
		Targets:                this.peers,
		AccessLogRemovalPolicy: dataRemoval,
	})
	if err != nil {
		return nil, err
	}
	// Here, beside the load balancer: an output may not pass on an import.
	outputAdder(stack, this.Outputs)(outputs.LoadBalancerDNSName, *this.LoadBalancer.LoadBalancer.LoadBalancerDnsName(), loadBalancerDNSNameDescription)
	this.namespace = awsservicediscovery.NewPrivateDnsNamespace(stack, jsii.String("Peers"), &awsservicediscovery.PrivateDnsNamespaceProps{
		Name:        jsii.String(nodespec.RegionNamespace(cfg.CloudMapNamespace, cfg.SecondRegion)),
		Vpc:         vpc,
		Description: jsii.String("Stable names of the IPFS cluster peers of the second region"),
	})
	return this, nil
}

// failoverLoadBalancer is the gateway's failover, nil without a second
// region.
func (s *SecondRegion) failoverLoadBalancer() awselasticloadbalancingv2.IApplicationLoadBalancer {
	if s == nil {
		return nil
	}
	return s.LoadBalancer.LoadBalancer
}

// networkStack and stack are nil without a second region.
func (s *SecondRegion) networkStack() awscdk.Stack {
	if s == nil {
		return nil
	}
	return s.Network
}

func (s *SecondRegion) stack() awscdk.Stack {
	if s == nil {
		return nil
	}
	return s.Stack
}

// hostedZoneID is the private hosted zone Cloud Map made for a namespace.
func hostedZoneID(namespace awsservicediscovery.PrivateDnsNamespace) *string {
	return namespace.Node().DefaultChild().(awsservicediscovery.CfnPrivateDnsNamespace).AttrHostedZoneId()
}

// build creates the second region's cluster stack, after the first
// region's (first).
func (s *SecondRegion) build(scope constructs.Construct, id string, first *IpfsCluster, cfg config.Config, env *awscdk.Environment, dataRemoval awscdk.RemovalPolicy, retention awslogs.RetentionDays, firstNamespace awsservicediscovery.PrivateDnsNamespace) error {
	stack := awscdk.NewStack(scope, jsii.String(id+"SecondRegion"), &awscdk.StackProps{
		Env:                   &awscdk.Environment{Account: env.Account, Region: jsii.String(cfg.SecondRegion)},
		StackName:             jsii.String(secondRegionStackName(cfg)),
		Description:           jsii.String("IPFS Cluster, second region: its peers (ECS Fargate, EFS One Zone), their backup plan and alarms, and the routes and names shared with the first region"),
		CrossRegionReferences: jsii.Bool(true),
	})
	s.Stack = stack
	stack.AddDependency(s.Network, jsii.String("runs in its VPC"))
	stack.AddDependency(first.Stack, jsii.String("routes through its peering, reads its secrets' replicas"))
	vpc := s.network.Vpc

	// Back through the peering; the first region's routes are in its stack.
	err := s.network.RouteThroughPeering(stack, "PeeringRoutes", &network.PeerRoutesProps{
		PeeringConnectionID: first.peering.ID(),
		PeerCidr:            cfg.VpcCidr,
		Subnets:             taskSubnets(s.network, cfg.SecondRegionAvailabilityZones, cfg.PublicSwarm),
	})
	if err != nil {
		return err
	}
	// Each VPC resolves the other region's peer names: the first region's
	// namespace in this VPC, this region's in the first VPC.
	firstNames, err := network.NewZoneAssociation(stack, "FirstRegionNamesHere", &network.ZoneAssociationProps{
		HostedZoneID: hostedZoneID(firstNamespace),
		VpcID:        vpc.VpcId(),
		VpcRegion:    cfg.SecondRegion,
	})
	if err != nil {
		return err
	}
	theseNames, err := network.NewZoneAssociation(stack, "SecondRegionNamesInFirstVpc", &network.ZoneAssociationProps{
		HostedZoneID: hostedZoneID(s.namespace),
		VpcID:        first.Network.Vpc.VpcId(),
		VpcRegion:    cfg.Region,
	})
	if err != nil {
		return err
	}

	// CloudFront's VPC-origin group exists in this VPC once the gateway
	// distribution's VPC origin for this load balancer does.
	s.LoadBalancer.AdmitCloudFrontVpcOriginsIn(constructs.NewConstruct(stack, jsii.String("LoadBalancer")), first.Edge.GatewayDistribution(), first.Edge.StandbyAPIDistribution())

	nodeImages, err := images.New(stack, "Images", &images.Props{SourceDir: first.sourceDir})
	if err != nil {
		return err
	}
	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{
		Vpc:                 vpc,
		ContainerInsightsV2: awsecs.ContainerInsights_ENABLED,
	})
	metricsLog := awslogs.NewLogGroup(stack, jsii.String("ClusterMetrics"), &awslogs.LogGroupProps{
		Retention:     retention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	// The replicas of the first region's secrets: same name and suffix.
	seedArn := clustersecrets.ReplicaArn(stack, first.Secrets.IdentitySeed.SecretArn(), cfg.SecondRegion)
	credentialsArn := clustersecrets.ReplicaArn(stack, first.Secrets.RestAPICredentials.SecretArn(), cfg.SecondRegion)
	r := &region{
		stack:        stack,
		name:         cfg.SecondRegion,
		network:      s.network,
		cluster:      cluster,
		namespace:    s.namespace,
		images:       nodeImages,
		seed:         awssecretsmanager.Secret_FromSecretCompleteArn(stack, jsii.String("IdentitySeed"), seedArn),
		credentials:  awssecretsmanager.Secret_FromSecretCompleteArn(stack, jsii.String("RestApiCredentials"), credentialsArn),
		peers:        s.peers,
		loadBalancer: s.LoadBalancer,
		metricsLog:   metricsLog,
		secretArns:   &[2]*string{seedArn, credentialsArn},
	}
	s.Nodes, s.NodeStacks, err = r.addNodes(cfg, cfg.PeerIndices()[cfg.NodeCount:], dataRemoval, retention)
	if err != nil {
		return err
	}
	// The first peer starts once it can reach and name the first region's.
	s.Nodes[0].Service.Node().AddDependency(firstNames, theseNames)

	var copyVaultArn *string
	if cfg.BackupCopyRegion != "" {
		copyVaultArn = copyVaultArnIn(stack, cfg)
	}
	if s.Backup, err = newBackup(stack, cfg, s.Nodes, copyVaultArn, dataRemoval); err != nil {
		return err
	}
	storageMax, err := nodespec.StorageMaxBytes(cfg.NodeSettings(nodespec.SecondRegionFirstIndex).WithDefaults().KuboStorageMax)
	if err != nil {
		return err
	}
	// The edge's alarms stay with the first region (us-east-1 stack).
	s.Monitoring, err = monitoring.New(stack, "Monitoring", &monitoring.Props{
		StackName:     cfg.StackName,
		DashboardName: *stack.StackName(),
		AlarmEmail:    cfg.AlarmEmail,
		RunbookURL:    cfg.RunbookBaseURL,
		Cluster:       cluster,
		Nodes:         monitoringNodes(s.Nodes, s.NodeStacks),
		TargetGroups: []monitoring.TargetGroup{
			{Name: "gateway", Group: s.LoadBalancer.GatewayTargetGroup},
			{Name: "restapi", Group: s.LoadBalancer.RestAPITargetGroup},
			{Name: "psa", Group: s.LoadBalancer.PinningServiceTargetGroup},
		},
		Bursting:        cfg.EfsThroughputMode == config.ThroughputBursting,
		StorageMaxBytes: storageMax,
		LogRetention:    retention,
		OtherRegion:     cfg.Region,
	})
	if err != nil {
		return err
	}

	regionOutputs{
		seedArn:    seedArn,
		nodes:      s.Nodes,
		cluster:    cluster,
		monitoring: s.Monitoring,
		backup:     s.Backup,
	}.add(outputAdder(stack, s.Outputs), cfg)
	return nil
}
