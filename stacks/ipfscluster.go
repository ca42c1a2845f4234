// Package stacks composes the constructs into the deployable stack. The
// stack takes only a scope, so it fits an App today and a CDK Pipelines
// Stage (develop -> test, main -> production) tomorrow.
package stacks

import (
	"errors"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsservicediscovery"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/backup"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/backup/backupspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/clustersecrets"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/images"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/loadbalancer"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/monitoring"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/network"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/names"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks/outputs"
)

// Props configure the stack.
type Props struct {
	// Config is the validated configuration (config.Parse).
	Config config.Config
	// SourceDir is the repository root (holds docker/ and lambda-edge/).
	SourceDir string
}

// IpfsCluster is the stack and what a pipeline or smoke test needs from it.
type IpfsCluster struct {
	awscdk.Stack
	Network *network.Network
	Secrets *clustersecrets.Secrets
	Nodes   []*node.Node
	// NodeStacks holds, by node index, the nested stack of each node beyond
	// stackspec.ClusterStackNodes, and nil for the nodes of this stack.
	NodeStacks   []awscdk.NestedStack
	LoadBalancer *loadbalancer.LoadBalancer
	Edge         *edge.Edge
	Monitoring   *monitoring.Monitoring
	Backup       *backup.Backup
	// EdgeMonitoring is the us-east-1 stack with the edge's alarms (a
	// sibling in the same scope).
	EdgeMonitoring      awscdk.Stack
	EdgeMonitoringParts *monitoring.Edge
	// BackupCopy is the stack holding the copy vault in backupCopyRegion,
	// nil without a copy region.
	BackupCopy awscdk.Stack
	// RegionCheck is the stack, in this region, of the check that the
	// second region holds this region's pinset; nil without a second
	// region.
	RegionCheck awscdk.Stack
	// Outputs are the stack's CloudFormation outputs by key (package
	// outputs), e.g. for a pipeline step's EnvFromCfnOutputs.
	Outputs map[string]awscdk.CfnOutput
	// SecondRegion holds the second region's stacks, nil without one.
	SecondRegion *SecondRegion

	// peering connects this stack's VPC with the second region's.
	peering   *network.Peering
	sourceDir string
}

// New builds the stack. It validates the whole configuration (every
// construct's rules, through their spec packages) before it creates its
// first construct, so an invalid Config leaves scope untouched.
func New(scope constructs.Construct, id string, props *Props) (*IpfsCluster, error) {
	if props == nil {
		return nil, errors.New("stacks.Props: required (nil)")
	}
	cfg := props.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	env := &awscdk.Environment{Region: jsii.String(cfg.Region)}
	if cfg.Account != "" {
		env.Account = jsii.String(cfg.Account)
	}
	// Kept on update and on delete, but a failed first create cleans up
	// after itself (RetainExceptOnCreate): nothing it leaves behind, such as
	// the fixed-name credentials secret, blocks the retry.
	dataRemoval := awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE
	if cfg.DataRemovalPolicy == config.RemovalDestroy {
		dataRemoval = awscdk.RemovalPolicy_DESTROY
	}
	retention := RetentionDays[cfg.LogRetentionDays]
	var err error

	// The second region's network comes first: this stack peers with its
	// VPC and fails the gateway over to its load balancer.
	var second *SecondRegion
	stackProps := &awscdk.StackProps{
		Env:         env,
		StackName:   jsii.String(cfg.StackName),
		Description: jsii.String("IPFS Cluster on ECS Fargate and EFS One Zone across three availability zones"),
	}
	if cfg.SecondRegion != "" {
		if second, err = newSecondRegionNetwork(scope, id, cfg, env, dataRemoval, retention); err != nil {
			return nil, err
		}
		stackProps.CrossRegionReferences = jsii.Bool(true)
	}
	stack := awscdk.NewStack(scope, jsii.String(id), stackProps)
	this := &IpfsCluster{Stack: stack, SecondRegion: second, sourceDir: props.SourceDir}
	if second != nil {
		stack.AddDependency(second.Network, jsii.String("peers with its VPC, fails the gateway over to its load balancer"))
	}

	this.Network, err = network.New(stack, "Network", &network.Props{
		AvailabilityZones:       cfg.AvailabilityZones,
		Cidr:                    cfg.VpcCidr,
		FlowLogRetention:        retention,
		PrivateServiceEndpoints: !cfg.PublicSwarm,
	})
	if err != nil {
		return nil, err
	}
	vpc := this.Network.Vpc
	if second != nil {
		this.peering, err = this.Network.PeerWith(stack, "SecondRegionPeering", &network.PeeringProps{
			PeerVpcID:  second.network.Vpc.VpcId(),
			PeerRegion: cfg.SecondRegion,
			PeerCidr:   cfg.SecondRegionVpcCidr,
			Subnets:    taskSubnets(this.Network, cfg.AvailabilityZones, cfg.PublicSwarm),
		})
		if err != nil {
			return nil, err
		}
	}

	var replicaRegions, nodeRegions []string
	if cfg.Region != edgespec.Region {
		replicaRegions = []string{edgespec.Region}
	}
	if second != nil {
		nodeRegions = []string{cfg.SecondRegion}
	}
	this.Secrets, err = clustersecrets.New(stack, "Secrets", &clustersecrets.Props{
		RestAPICredentialsName: cfg.RestAPICredentialsSecretName,
		RestAPIUsername:        cfg.RestAPIUsername,
		ReplicaRegions:         replicaRegions,
		NodeRegions:            nodeRegions,
		RemovalPolicy:          dataRemoval,
	})
	if err != nil {
		return nil, err
	}

	nodeImages, err := images.New(stack, "Images", &images.Props{SourceDir: props.SourceDir})
	if err != nil {
		return nil, err
	}

	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{
		Vpc:                 vpc,
		ContainerInsightsV2: awsecs.ContainerInsights_ENABLED,
	})
	namespace := awsservicediscovery.NewPrivateDnsNamespace(stack, jsii.String("Peers"), &awsservicediscovery.PrivateDnsNamespaceProps{
		Name:        jsii.String(cfg.CloudMapNamespace),
		Vpc:         vpc,
		Description: jsii.String("Stable names of the IPFS cluster peers"),
	})

	peers, err := node.NewPeerSecurityGroup(stack, "PeerSecurityGroup", &node.PeerSecurityGroupProps{Vpc: vpc, PublicSwarm: cfg.PublicSwarm})
	if err != nil {
		return nil, err
	}
	if second != nil {
		node.AdmitPeersFrom(peers, cfg.SecondRegionVpcCidr, cfg.PublicSwarm)
	}

	this.LoadBalancer, err = loadbalancer.New(stack, "LoadBalancer", &loadbalancer.Props{
		Vpc:                    vpc,
		Subnets:                this.Network.PrivateSubnets(),
		Targets:                peers,
		AccessLogRemovalPolicy: dataRemoval,
	})
	if err != nil {
		return nil, err
	}

	// The collectors' embedded-metric-format records; CloudWatch extracts
	// the metrics, which outlive the records.
	metricsLog := awslogs.NewLogGroup(stack, jsii.String("ClusterMetrics"), &awslogs.LogGroupProps{
		Retention:     retention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})

	this.Nodes, this.NodeStacks, err = (&region{
		stack:        stack,
		name:         cfg.Region,
		network:      this.Network,
		cluster:      cluster,
		namespace:    namespace,
		images:       nodeImages,
		seed:         this.Secrets.IdentitySeed,
		credentials:  this.Secrets.RestAPICredentials,
		peers:        peers,
		loadBalancer: this.LoadBalancer,
		metricsLog:   metricsLog,
	}).addNodes(cfg, cfg.PeerIndices()[:cfg.NodeCount], dataRemoval, retention)
	if err != nil {
		return nil, err
	}

	domain := func(name, certificateArn string) *edge.Domain {
		if name == "" {
			return nil
		}
		return &edge.Domain{Names: []string{name}, CertificateArn: certificateArn}
	}
	this.Edge, err = edge.NewEdge(stack, "Edge", &edge.Props{
		LoadBalancer:          this.LoadBalancer.LoadBalancer,
		GatewayPort:           this.LoadBalancer.GatewayPort,
		APIPort:               this.LoadBalancer.RestAPIPort,
		CredentialsSecretName: cfg.RestAPICredentialsSecretName,
		PrivateGateway:        cfg.PrivateGateway,
		GatewayDomain:         domain(cfg.GatewayDomainName, cfg.GatewayCertificateArn),
		APIDomain:             domain(cfg.APIDomainName, cfg.APICertificateArn),
		PriceClass:            edge.PriceClass[cfg.CloudFrontPriceClass],
		WebACLArn:             cfg.WebACLArn,
		GatewaySubdomains:     cfg.GatewaySubdomains,
		Websites:              websites(cfg),
		DestroyLogs:           cfg.DataRemovalPolicy == config.RemovalDestroy,
		FailoverLoadBalancer:  second.failoverLoadBalancer(),
	})
	if err != nil {
		return nil, err
	}

	origins := []constructs.IDependable{this.Edge.GatewayDistribution(), this.Edge.APIDistribution()}
	if websites := this.Edge.WebsitesDistribution(); websites != nil {
		origins = append(origins, websites)
	}
	this.LoadBalancer.AdmitCloudFrontVpcOrigins(origins...)

	if err := this.operations(scope, id, cfg, env, dataRemoval, retention, cluster); err != nil {
		return nil, err
	}
	if second != nil {
		if err := second.build(scope, id, this, cfg, env, dataRemoval, retention, namespace); err != nil {
			return nil, err
		}
	}

	if cfg.DataRemovalPolicy == config.RemovalDestroy {
		// The constructs keep their log groups (RETAIN, a record of what
		// happened); a destroyed stack leaves nothing behind.
		for _, s := range []awscdk.Stack{stack, this.EdgeMonitoring, this.BackupCopy, this.RegionCheck, second.networkStack(), second.stack()} {
			if s != nil {
				awscdk.RemovalPolicies_Of(s).Destroy(&awscdk.RemovalPolicyProps{ApplyToResourceTypes: jsii.Strings("AWS::Logs::LogGroup")})
			}
		}
	}

	this.Outputs = map[string]awscdk.CfnOutput{}
	output := outputAdder(stack, this.Outputs)
	output(outputs.GatewayURL, *this.Edge.GatewayURL(), "Public IPFS gateway (CloudFront): <url>/ipfs/<cid>")
	output(outputs.RestAPIURL, *this.Edge.APIURL(), "Cluster REST API (CloudFront, basic auth): ipfs-cluster-ctl --host /dns4/<host>/tcp/443/https")
	regionOutputs{
		loadBalancer: this.LoadBalancer,
		seedArn:      this.Secrets.IdentitySeed.SecretArn(),
		nodes:        this.Nodes,
		cluster:      cluster,
		monitoring:   this.Monitoring,
		backup:       this.Backup,
	}.add(output, cfg)
	// Only with the features that need DNS records, so that the default
	// template keeps its outputs.
	if cfg.GatewaySubdomains {
		output(outputs.GatewayDistributionDomainName, *this.Edge.GatewayDomainName(), "CNAME/alias target of "+strings.Join(edgespec.SubdomainGatewayAliases(cfg.GatewayDomainName), ", "))
	}
	if len(cfg.WebsiteDomains) > 0 {
		output(outputs.WebsitesDistributionDomainName, *this.Edge.WebsitesDomainName(), "CNAME/alias target of every website of websiteDomains")
	}
	// Only with a second region: where the rest of the cluster is (the
	// smoke test reads it).
	if cfg.SecondRegion != "" {
		output(outputs.SecondRegion, cfg.SecondRegion, "Region of the cluster's other peers")
		output(outputs.SecondRegionStackName, secondRegionStackName(cfg), "Stack of the second region's peers (in that region), with the same outputs for its peers")
		output(outputs.SecondRegionRestAPIURL, *this.Edge.StandbyAPIURL(), "Cluster REST API through the second region (CloudFront, basic auth): where to write while the first region is down")
	}
	return this, nil
}

// outputAdder returns a function that adds one output to stack and to into.
func outputAdder(stack awscdk.Stack, into map[string]awscdk.CfnOutput) func(id, value, description string) {
	return func(id, value, description string) {
		into[id] = awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: jsii.String(value), Description: jsii.String(description)})
	}
}

const loadBalancerDNSNameDescription = "Internal ALB (VPC only): gateway on :8080, cluster REST API on :9094"

// regionOutputs are the outputs each region's cluster stack has, its own
// values under the same keys.
type regionOutputs struct {
	// loadBalancer is nil where the load balancer is another stack's (an
	// output may not pass on an import).
	loadBalancer *loadbalancer.LoadBalancer
	seedArn      *string
	nodes        []*node.Node
	cluster      awsecs.ICluster
	monitoring   *monitoring.Monitoring
	backup       *backup.Backup
}

func (o regionOutputs) add(output func(id, value, description string), cfg config.Config) {
	var dnsNames, serviceNames, fileSystemIDs, maintenanceTasks []string
	for _, n := range o.nodes {
		dnsNames = append(dnsNames, n.DNSName)
		serviceNames = append(serviceNames, *n.Service.ServiceName())
		fileSystemIDs = append(fileSystemIDs, *n.FileSystem.FileSystemId())
		maintenanceTasks = append(maintenanceTasks, *n.MaintenanceTaskDefinition.TaskDefinitionArn())
	}
	if o.loadBalancer != nil {
		output(outputs.LoadBalancerDNSName, *o.loadBalancer.LoadBalancer.LoadBalancerDnsName(), loadBalancerDNSNameDescription)
	}
	output(outputs.RestAPICredentialsSecretName, cfg.RestAPICredentialsSecretName, "Secrets Manager secret with the REST API username and password")
	output(outputs.IdentitySeedSecretArn, *o.seedArn, "Secrets Manager secret all peer identities derive from (never rotate by hand)")
	output(outputs.PeerDNSNames, strings.Join(dnsNames, ","), "Cloud Map names of the peers, in index order")
	output(outputs.EcsClusterName, *o.cluster.ClusterName(), "ECS cluster running one service per peer")
	output(outputs.NodeServiceNames, strings.Join(serviceNames, ","), "ECS service names of the peers, in index order")
	output(outputs.ReplicationFactorMin, strconv.Itoa(cfg.ReplicationFactorMin), "Peers that must hold every new pin (replication_factor_min)")
	output(outputs.AlarmTopicArn, *o.monitoring.Topic.TopicArn(), "SNS topic every alarm of this region notifies (the edge's alarms: the us-east-1 monitoring stack's topic)")
	output(outputs.DashboardName, *o.monitoring.Dashboard.DashboardName(), "CloudWatch dashboard of the cluster")
	output(outputs.BackupVaultName, *o.backup.Vault.BackupVaultName(), "AWS Backup vault with every node's daily recovery points")
	output(outputs.BackupRoleArn, *o.backup.Role.RoleArn(), "Role AWS Backup backs up and restores the file systems with (restore jobs need it)")
	output(outputs.FileSystemIds, strings.Join(fileSystemIDs, ","), "EFS file system IDs of the peers, in index order")
	output(outputs.MaintenanceTaskDefinitions, strings.Join(maintenanceTasks, ","), "Maintenance task definitions of the peers, in index order (docs/runbooks.md: restore a node from a backup)")
}

// maxStackName is CloudFormation's limit.
const maxStackName = 128

// operations adds the backup plan, the alarms and the dashboard, and the
// sibling stacks they need: the edge's alarms in us-east-1 (CloudFront's
// metrics are there only and an alarm must sit in its metric's region) and,
// with a copy region, the copy vault there.
func (c *IpfsCluster) operations(scope constructs.Construct, id string, cfg config.Config, env *awscdk.Environment, dataRemoval awscdk.RemovalPolicy, retention awslogs.RetentionDays, cluster awsecs.ICluster) error {
	stack := c.Stack
	var copyVaultArn *string
	if cfg.BackupCopyRegion != "" {
		c.BackupCopy = awscdk.NewStack(scope, jsii.String(id+"BackupCopy"), &awscdk.StackProps{
			Env:         &awscdk.Environment{Account: env.Account, Region: jsii.String(cfg.BackupCopyRegion)},
			StackName:   jsii.String(names.Fit(cfg.StackName, "-backup-copy", maxStackName)),
			Description: jsii.String("IPFS Cluster: the vault that receives copies of the cluster's backups in a second region"),
		})
		backup.NewCopyVault(c.BackupCopy, "CopyVault", backupspec.CopyVaultName(cfg.StackName), dataRemoval)
		// The vault must exist before the plan's first copy.
		stack.AddDependency(c.BackupCopy, jsii.String("the backup plan copies into its vault"))
		copyVaultArn = copyVaultArnIn(stack, cfg)
	}
	var err error
	c.Backup, err = newBackup(stack, cfg, c.Nodes, copyVaultArn, dataRemoval)
	if err != nil {
		return err
	}
	nodes := monitoringNodes(c.Nodes, c.NodeStacks)
	storageMax, err := nodespec.StorageMaxBytes(cfg.NodeSettings(0).WithDefaults().KuboStorageMax)
	if err != nil {
		return err
	}
	distributions := []monitoring.Distribution{
		{Name: "gateway", Distribution: c.Edge.GatewayDistribution()},
		{Name: "api", Distribution: c.Edge.APIDistribution()},
	}
	if websites := c.Edge.WebsitesDistribution(); websites != nil {
		distributions = append(distributions, monitoring.Distribution{Name: "websites", Distribution: websites})
	}
	if standby := c.Edge.StandbyAPIDistribution(); standby != nil {
		distributions = append(distributions, monitoring.Distribution{Name: "standby-api", Distribution: standby})
	}
	// The API distribution serves the Pinning Service API under /psa.
	psa := &monitoring.PSA{Distribution: "api", TargetGroup: "psa"}
	var regionCheck constructs.Construct
	if cfg.SecondRegion != "" {
		c.RegionCheck = awscdk.NewStack(scope, jsii.String(id+"RegionCheck"), &awscdk.StackProps{
			Env:         env,
			StackName:   jsii.String(names.Fit(cfg.StackName, "-region-check", maxStackName)),
			Description: jsii.String("IPFS Cluster: whether the second region's peers hold c region's pinset, and its alarms (beside the cluster stack, which keeps its resources for its nodes)"),
		})
		regionCheck = c.RegionCheck
	}
	c.Monitoring, err = monitoring.New(stack, "Monitoring", &monitoring.Props{
		StackName:  cfg.StackName,
		AlarmEmail: cfg.AlarmEmail,
		RunbookURL: cfg.RunbookBaseURL,
		Cluster:    cluster,
		Nodes:      nodes,
		TargetGroups: []monitoring.TargetGroup{
			{Name: "gateway", Group: c.LoadBalancer.GatewayTargetGroup},
			{Name: "restapi", Group: c.LoadBalancer.RestAPITargetGroup},
			{Name: "psa", Group: c.LoadBalancer.PinningServiceTargetGroup},
		},
		Bursting:        cfg.EfsThroughputMode == config.ThroughputBursting,
		StorageMaxBytes: storageMax,
		LogRetention:    retention,
		Distributions:   distributions,
		// Empty with one region: no cross-region check.
		OtherRegion:    cfg.SecondRegion,
		RegionLagScope: regionCheck,
		PSA:            psa,
	})
	if err != nil {
		return err
	}

	// The distributions' IDs cross from c stack's region to us-east-1
	// through CDK's cross-region references (SSM parameters written by a
	// custom resource here, read there); they need explicit regions only.
	c.EdgeMonitoring = awscdk.NewStack(scope, jsii.String(id+"EdgeMonitoring"), &awscdk.StackProps{
		Env:                   &awscdk.Environment{Account: env.Account, Region: jsii.String(edgespec.Region)},
		StackName:             jsii.String(names.Fit(cfg.StackName, "-edge-monitoring", maxStackName)),
		Description:           jsii.String("IPFS Cluster: alarms of the CloudFront edge and Lambda@Edge, in us-east-1 where their metrics are"),
		CrossRegionReferences: jsii.Bool(true),
	})
	c.EdgeMonitoringParts, err = monitoring.NewEdge(c.EdgeMonitoring, "EdgeMonitoring", &monitoring.EdgeProps{
		StackName:     cfg.StackName,
		AlarmEmail:    cfg.AlarmEmail,
		RunbookURL:    cfg.RunbookBaseURL,
		Distributions: distributions,
		AuthFunction:  c.Edge.AuthFunction().Lambda(),
		PSA:           psa,
	})
	return err
}

func websites(cfg config.Config) *edge.Domain {
	if len(cfg.WebsiteDomains) == 0 {
		return nil
	}
	return &edge.Domain{Names: cfg.WebsiteDomains, CertificateArn: cfg.WebsiteCertificateArn}
}

// RetentionDays maps config.LogRetentionDaysAllowed to CDK's names (a test
// checks that both list the same days).
var RetentionDays = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}
