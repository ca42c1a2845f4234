package stacks

import (
	"fmt"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsservicediscovery"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/backup"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/backup/backupspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/images"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/loadbalancer"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/monitoring"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/monitoring/monitoringspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/network"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks/stackspec"
)

// region is what the nodes of one region plug into.
type region struct {
	// stack holds the region's nodes (beyond stackspec.ClusterStackNodes
	// of them, in nested stacks of its own).
	stack awscdk.Stack
	// name is the region's.
	name         string
	network      *network.Network
	cluster      awsecs.ICluster
	namespace    awsservicediscovery.INamespace
	images       *images.Images
	seed         awssecretsmanager.ISecret
	credentials  awssecretsmanager.ISecret
	peers        awsec2.ISecurityGroup
	loadBalancer *loadbalancer.LoadBalancer
	metricsLog   awslogs.ILogGroup
	// secretArns, when set, are the ARNs of seed and credentials as they
	// reach this stack from another region's (a cross-region reference,
	// which a nested stack cannot resolve itself): nested stacks get them
	// as parameters.
	secretArns *[2]*string
}

// throughput maps the configuration's EFS throughput modes to CDK's.
var throughput = map[config.ThroughputMode]awsefs.ThroughputMode{
	config.ThroughputElastic:     awsefs.ThroughputMode_ELASTIC,
	config.ThroughputBursting:    awsefs.ThroughputMode_BURSTING,
	config.ThroughputProvisioned: awsefs.ThroughputMode_PROVISIONED,
}

// addNodes builds the nodes of the given indices (consecutive, a region's)
// in the region, each rolling after the one before it. A node's place
// depends on its index within the region only (stackspec.InClusterStack),
// so nodes never move. It returns the nodes and, by node, its nested stack
// or nil.
func (r *region) addNodes(cfg config.Config, indices []int, dataRemoval awscdk.RemovalPolicy, retention awslogs.RetentionDays) ([]*node.Node, []awscdk.NestedStack, error) {
	var nodes []*node.Node
	var nestedStacks []awscdk.NestedStack
	for position, i := range indices {
		zone := cfg.ZoneOf(i)
		var scope constructs.Construct = r.stack
		var nested awscdk.NestedStack
		seed, credentials := r.seed, r.credentials
		if !stackspec.InClusterStack(position) {
			nested = awscdk.NewNestedStack(r.stack, jsii.String(fmt.Sprintf("Node%dStack", i)), &awscdk.NestedStackProps{
				Description: jsii.String(fmt.Sprintf("IPFS Cluster: %s, its file system, service and alarms", nodespec.PeerName(i))),
			})
			scope = nested
			if r.secretArns != nil {
				seed = secretParameter(nested, "IdentitySeedArn", r.secretArns[0])
				credentials = secretParameter(nested, "RestApiCredentialsArn", r.secretArns[1])
			}
		}
		n, err := node.New(scope, "Node"+strconv.Itoa(i), &node.Props{
			Settings:           cfg.NodeSettings(i),
			AvailabilityZone:   zone,
			Vpc:                r.network.Vpc,
			TaskSubnets:        r.network.NodeSubnets(zone, cfg.PublicSwarm),
			AssignPublicIP:     cfg.PublicSwarm,
			Cluster:            r.cluster,
			CloudMapNamespace:  r.namespace,
			KuboImage:          r.images.Kubo,
			ClusterImage:       r.images.Cluster,
			IdentitySeed:       seed,
			RestAPICredentials: credentials,
			PeerSecurityGroup:  r.peers,
			ThroughputMode:     throughput[cfg.EfsThroughputMode],
			ProvisionedMiBps:   cfg.EfsProvisionedMiBps,
			RemovalPolicy:      dataRemoval,
			LogRetention:       retention,
			MetricsCollector: &node.MetricsCollector{
				Image:    r.images.Collector,
				Config:   monitoringspec.CollectorConfig(cfg.StackName, nodespec.PeerName(i), r.name, *r.metricsLog.LogGroupName()),
				LogGroup: r.metricsLog,
			},
			BackedUpByPlan: true,
		})
		if err != nil {
			return nil, nil, err
		}
		if len(nodes) > 0 {
			n.RollsAfter(nodes[len(nodes)-1])
		}
		r.loadBalancer.GatewayTargetGroup.AddTarget(n.GatewayTarget())
		r.loadBalancer.RestAPITargetGroup.AddTarget(n.RestAPITarget())
		r.loadBalancer.PinningServiceTargetGroup.AddTarget(n.PinningServiceTarget())
		nodes = append(nodes, n)
		nestedStacks = append(nestedStacks, nested)
	}
	return nodes, nestedStacks, nil
}

// secretParameter is the secret whose ARN the nested stack receives as its
// parameter name, set to arn by its parent.
func secretParameter(nested awscdk.NestedStack, name string, arn *string) awssecretsmanager.ISecret {
	parameter := awscdk.NewCfnParameter(nested, jsii.String(name), &awscdk.CfnParameterProps{
		Type:        jsii.String("String"),
		Description: jsii.String("ARN of the replica this region's peers read"),
	})
	parameter.OverrideLogicalId(jsii.String(name))
	nested.SetParameter(jsii.String(name), arn)
	return awssecretsmanager.Secret_FromSecretCompleteArn(nested, jsii.String(name+"Secret"), parameter.ValueAsString())
}

// taskSubnets selects the subnets of every zone where the nodes' tasks run
// (network.NodeSubnets).
func taskSubnets(n *network.Network, zones []string, publicSwarm bool) []*awsec2.SubnetSelection {
	var out []*awsec2.SubnetSelection
	for _, zone := range zones {
		out = append(out, n.NodeSubnets(zone, publicSwarm))
	}
	return out
}

// monitoringNodes is what the monitoring needs of the nodes: the nodes in
// nested stacks keep their alarms beside them.
func monitoringNodes(nodes []*node.Node, nestedStacks []awscdk.NestedStack) []monitoring.Node {
	var out []monitoring.Node
	for i, n := range nodes {
		m := monitoring.Node{Name: n.Name, Service: n.Service, FileSystem: n.FileSystem, ClusterLogGroup: n.ClusterLogGroup}
		if nested := nestedStacks[i]; nested != nil {
			m.Scope = nested
		}
		out = append(out, m)
	}
	return out
}

// newBackup is the backup plan of the nodes' file systems in stack.
func newBackup(stack awscdk.Stack, cfg config.Config, nodes []*node.Node, copyVaultArn *string, dataRemoval awscdk.RemovalPolicy) (*backup.Backup, error) {
	var fileSystems []awsefs.IFileSystem
	for _, n := range nodes {
		fileSystems = append(fileSystems, n.FileSystem)
	}
	return backup.New(stack, "Backup", &backup.Props{
		FileSystems:   fileSystems,
		RetentionDays: cfg.BackupRetentionDays,
		CopyVaultArn:  copyVaultArn,
		RemovalPolicy: dataRemoval,
	})
}

// copyVaultArnIn is the ARN of the copy vault in backupCopyRegion, as stack
// names it (by convention, without a cross-region reference).
func copyVaultArnIn(stack awscdk.Stack, cfg config.Config) *string {
	return stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("backup"),
		Region:       jsii.String(cfg.BackupCopyRegion),
		Resource:     jsii.String("backup-vault"),
		ResourceName: jsii.String(backupspec.CopyVaultName(cfg.StackName)),
		ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
}
