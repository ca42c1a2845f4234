// Package node provides one IPFS cluster peer: an EFS One Zone file system in
// the peer's zone, a Fargate task running kubo with the ipfs-cluster sidecar,
// and a Fargate service pinned to that zone with a stable Cloud Map name.
package node

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsservicediscovery"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Ports a node listens on (see DESIGN.md §3). kubo's RPC (5001) is bound to
// the task's loopback and never mapped.
const (
	SwarmPort        = 4001
	GatewayPort      = 8080
	RestAPIPort      = 9094
	ClusterSwarmPort = 9096
)

// Container paths of the two EFS access points; the images' defaults.
const (
	KuboRepoPath     = "/data/ipfs"
	ClusterStatePath = "/data/ipfs-cluster"
)

// The images run as the upstream user ipfs (uid 1000) in group users (gid 100).
const (
	posixUID = "1000"
	posixGID = "100"
)

// EmptyDirectoryPath is pinned by every kubo repo at init, so it is served
// even with Gateway.NoFetch: a health path that proves the gateway reads its
// own datastore.
const EmptyDirectoryPath = "/ipfs/QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn/"

// Props configure one node.
type Props struct {
	// Index of this peer, 0-based; its Cloud Map name is node<Index>.
	Index int
	// AvailabilityZone the task and its file system live in. Required.
	AvailabilityZone string
	// Vpc the node runs in. Required.
	Vpc awsec2.IVpc
	// TaskSubnets must select subnets of AvailabilityZone only. Required.
	TaskSubnets *awsec2.SubnetSelection
	// AssignPublicIP gives the task a public address, for the public swarm.
	AssignPublicIP bool
	// Cluster is the ECS cluster. Required.
	Cluster awsecs.ICluster
	// Namespace is the private DNS namespace of the peers. Required.
	Namespace awsservicediscovery.INamespace
	// KuboImage and ClusterImage are the node's images. Required.
	KuboImage    awsecs.ContainerImage
	ClusterImage awsecs.ContainerImage
	// IdentitySeed and RestAPICredentials come from clustersecrets. Required.
	IdentitySeed       awssecretsmanager.ISecret
	RestAPICredentials awssecretsmanager.ISecret
	// PeerMultiaddrs are every peer's cluster swarm address without /p2p,
	// in index order (this node's included). Required.
	PeerMultiaddrs []string
	// PeerSecurityGroup is shared by all peers of the cluster. Required.
	PeerSecurityGroup awsec2.ISecurityGroup
	// CPU and MemoryMiB of the task. Default 1024 and 4096.
	CPU       int
	MemoryMiB int
	// ReplicationFactorMin/Max of the cluster. Default 2 and 3.
	ReplicationFactorMin int
	ReplicationFactorMax int
	// KuboStorageMax is kubo's Datastore.StorageMax. Default "100GB".
	KuboStorageMax string
	// GatewayNoFetch makes the gateway serve only content this node holds.
	// Default false in Go's zero value: callers pass the configuration.
	GatewayNoFetch bool
	// PublicGatewayHosts are host names kubo should treat as path gateways
	// (Gateway.PublicGateways), for stacks whose origin forwards the Host
	// header. This project's CloudFront edge does not forward it, so its
	// stack leaves this empty. Default none.
	PublicGatewayHosts []string
	// ThroughputMode of the file system. Default elastic.
	ThroughputMode awsefs.ThroughputMode
	// ProvisionedMiBps is used with the provisioned throughput mode.
	ProvisionedMiBps int
	// RemovalPolicy of the file system. Default RETAIN.
	RemovalPolicy awscdk.RemovalPolicy
	// LogRetention of both container log groups. Default three months.
	LogRetention awslogs.RetentionDays
}

// Node is one peer.
type Node struct {
	constructs.Construct
	Service    awsecs.FargateService
	FileSystem awsefs.FileSystem
	TaskRole   awsiam.IRole
	// DNSName is the peer's Cloud Map name, node<Index>.<namespace>.
	DNSName string
}

func (p *Props) withDefaults() (Props, error) {
	out := *p
	var problems []string
	if out.Index < 0 {
		problems = append(problems, fmt.Sprintf("Index must be >= 0, got %d", out.Index))
	}
	if out.AvailabilityZone == "" {
		problems = append(problems, "AvailabilityZone is required")
	}
	if out.Vpc == nil || out.TaskSubnets == nil || out.Cluster == nil || out.Namespace == nil || out.PeerSecurityGroup == nil {
		problems = append(problems, "Vpc, TaskSubnets, Cluster, Namespace and PeerSecurityGroup are required")
	}
	if out.KuboImage == nil || out.ClusterImage == nil {
		problems = append(problems, "KuboImage and ClusterImage are required")
	}
	if out.IdentitySeed == nil || out.RestAPICredentials == nil {
		problems = append(problems, "IdentitySeed and RestAPICredentials are required")
	}
	if out.Index >= len(out.PeerMultiaddrs) {
		problems = append(problems, fmt.Sprintf("PeerMultiaddrs must list every peer including this one (index %d), got %d", out.Index, len(out.PeerMultiaddrs)))
	}
	for _, addr := range out.PeerMultiaddrs {
		if !strings.HasPrefix(addr, "/") || strings.Contains(addr, "/p2p/") || strings.Contains(addr, ",") {
			problems = append(problems, fmt.Sprintf("PeerMultiaddrs entry %q must be a multiaddr without /p2p (the image appends the derived peer ID)", addr))
		}
	}
	if out.CPU == 0 {
		out.CPU = 1024
	}
	if out.MemoryMiB == 0 {
		out.MemoryMiB = 4096
	}
	if out.MemoryMiB < 2048 {
		problems = append(problems, fmt.Sprintf("MemoryMiB must be >= 2048, got %d", out.MemoryMiB))
	}
	if out.ReplicationFactorMin == 0 && out.ReplicationFactorMax == 0 {
		out.ReplicationFactorMin, out.ReplicationFactorMax = 2, 3
	}
	if out.ReplicationFactorMin < 1 || out.ReplicationFactorMin > out.ReplicationFactorMax || out.ReplicationFactorMax > len(out.PeerMultiaddrs) {
		problems = append(problems, fmt.Sprintf("replication factor min=%d max=%d must satisfy 1 <= min <= max <= peers (%d)", out.ReplicationFactorMin, out.ReplicationFactorMax, len(out.PeerMultiaddrs)))
	}
	if out.KuboStorageMax == "" {
		out.KuboStorageMax = "100GB"
	}
	if out.ThroughputMode == "" {
		out.ThroughputMode = awsefs.ThroughputMode_ELASTIC
	}
	if out.ThroughputMode == awsefs.ThroughputMode_PROVISIONED && out.ProvisionedMiBps < 1 {
		problems = append(problems, "ProvisionedMiBps must be >= 1 with the provisioned throughput mode")
	}
	if out.RemovalPolicy == "" {
		out.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	if out.LogRetention == "" {
		out.LogRetention = awslogs.RetentionDays_THREE_MONTHS
	}
	if len(problems) > 0 {
		return out, fmt.Errorf("node %d: %s", p.Index, strings.Join(problems, "; "))
	}
	return out, nil
}

// memoryBudget splits the task memory: the cluster sidecar needs little, kubo
// gets the rest. GOMEMLIMIT sits below each share so the Go runtime collects
// before the kernel kills; kubo's resource manager gets half of kubo's share.
type memoryBudget struct {
	clusterGoLimitMiB, clusterResourceMgrMiB, kuboGoLimitMiB, kuboResourceMgrMiB int
}

func budget(taskMiB int) memoryBudget {
	clusterShare := taskMiB / 8
	if clusterShare < 384 {
		clusterShare = 384
	}
	if clusterShare > 2048 {
		clusterShare = 2048
	}
	kuboShare := taskMiB - clusterShare
	return memoryBudget{
		clusterGoLimitMiB:     clusterShare * 3 / 4,
		clusterResourceMgrMiB: clusterShare / 2,
		kuboGoLimitMiB:        kuboShare * 4 / 5,
		kuboResourceMgrMiB:    kuboShare / 2,
	}
}

// New creates the node.
func New(scope constructs.Construct, id string, props *Props) (*Node, error) {
	if props == nil {
		return nil, fmt.Errorf("node: props are required")
	}
	p, err := props.withDefaults()
	if err != nil {
		return nil, err
	}
	this := constructs.NewConstruct(scope, jsii.String(id))
	name := "node" + strconv.Itoa(p.Index)

	// The node's own security group is what its file system trusts: no
	// other peer can even reach this node's mount target.
	nodeSecurityGroup := awsec2.NewSecurityGroup(this, jsii.String("TaskSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              p.Vpc,
		Description:      jsii.String(fmt.Sprintf("IPFS %s task: identity for its EFS mount target", name)),
		AllowAllOutbound: jsii.Bool(true),
	})
	fileSystemSecurityGroup := awsec2.NewSecurityGroup(this, jsii.String("FileSystemSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              p.Vpc,
		Description:      jsii.String(fmt.Sprintf("IPFS %s EFS mount target: NFS from the %s task only", name, name)),
		AllowAllOutbound: jsii.Bool(false),
	})

	fsProps := &awsefs.FileSystemProps{
		Vpc:                    p.Vpc,
		OneZone:                jsii.Bool(true),
		VpcSubnets:             &awsec2.SubnetSelection{AvailabilityZones: jsii.Strings(p.AvailabilityZone)},
		Encrypted:              jsii.Bool(true),
		EnableAutomaticBackups: jsii.Bool(true),
		AllowAnonymousAccess:   jsii.Bool(false),
		PerformanceMode:        awsefs.PerformanceMode_GENERAL_PURPOSE,
		ThroughputMode:         p.ThroughputMode,
		RemovalPolicy:          p.RemovalPolicy,
		SecurityGroup:          fileSystemSecurityGroup,
	}
	if p.ThroughputMode == awsefs.ThroughputMode_PROVISIONED {
		fsProps.ProvisionedThroughputPerSecond = awscdk.Size_Mebibytes(jsii.Number(float64(p.ProvisionedMiBps)))
	}
	fileSystem := awsefs.NewFileSystem(this, jsii.String("FileSystem"), fsProps)
	fileSystem.Connections().AllowDefaultPortFrom(nodeSecurityGroup, jsii.String("NFS from this node's task"))

	accessPoint := func(id, path string) awsefs.AccessPoint {
		return fileSystem.AddAccessPoint(jsii.String(id), &awsefs.AccessPointOptions{
			Path:      jsii.String(path),
			CreateAcl: &awsefs.Acl{OwnerUid: jsii.String(posixUID), OwnerGid: jsii.String(posixGID), Permissions: jsii.String("750")},
			PosixUser: &awsefs.PosixUser{Uid: jsii.String(posixUID), Gid: jsii.String(posixGID)},
		})
	}
	kuboAccessPoint := accessPoint("KuboRepo", "/ipfs")
	clusterAccessPoint := accessPoint("ClusterState", "/ipfs-cluster")

	taskRole := awsiam.NewRole(this, jsii.String("TaskRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
		Description: jsii.String(fmt.Sprintf("IPFS %s task: may mount only its own file system", name)),
	})
	fileSystem.GrantReadWrite(taskRole)

	taskDefinition := awsecs.NewFargateTaskDefinition(this, jsii.String("Task"), &awsecs.FargateTaskDefinitionProps{
		Cpu:            jsii.Number(float64(p.CPU)),
		MemoryLimitMiB: jsii.Number(float64(p.MemoryMiB)),
		TaskRole:       taskRole,
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       awsecs.CpuArchitecture_X86_64(),
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
	})
	volume := func(name string, ap awsefs.AccessPoint) {
		taskDefinition.AddVolume(&awsecs.Volume{
			Name: jsii.String(name),
			EfsVolumeConfiguration: &awsecs.EfsVolumeConfiguration{
				FileSystemId:      fileSystem.FileSystemId(),
				TransitEncryption: jsii.String("ENABLED"),
				AuthorizationConfig: &awsecs.AuthorizationConfig{
					AccessPointId: ap.AccessPointId(),
					Iam:           jsii.String("ENABLED"),
				},
			},
		})
	}
	volume("kubo-repo", kuboAccessPoint)
	volume("cluster-state", clusterAccessPoint)

	logGroup := func(id string) awslogs.LogGroup {
		return awslogs.NewLogGroup(this, jsii.String(id), &awslogs.LogGroupProps{
			Retention:     p.LogRetention,
			RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		})
	}
	memory := budget(p.MemoryMiB)
	// Fargate allows at most 120 s between SIGTERM and SIGKILL; kubo and the
	// cluster flush their datastores and the cluster writes its peerstore.
	stopTimeout := awscdk.Duration_Seconds(jsii.Number(120))

	kuboEnvironment := map[string]*string{
		"KUBO_STORAGE_MAX":         jsii.String(p.KuboStorageMax),
		"KUBO_RESOURCE_MAX_MEMORY": jsii.String(fmt.Sprintf("%dMiB", memory.kuboResourceMgrMiB)),
		"KUBO_GATEWAY_NOFETCH":     jsii.String(strconv.FormatBool(p.GatewayNoFetch)),
		"GOMEMLIMIT":               jsii.String(fmt.Sprintf("%dMiB", memory.kuboGoLimitMiB)),
	}
	if len(p.PublicGatewayHosts) > 0 {
		kuboEnvironment["KUBO_PUBLIC_GATEWAY_HOSTS"] = jsii.String(strings.Join(p.PublicGatewayHosts, ","))
	}
	kubo := taskDefinition.AddContainer(jsii.String("kubo"), &awsecs.ContainerDefinitionOptions{
		Image:       p.KuboImage,
		Essential:   jsii.Bool(true),
		Environment: &kuboEnvironment,
		PortMappings: &[]*awsecs.PortMapping{
			{ContainerPort: jsii.Number(SwarmPort), Protocol: awsecs.Protocol_TCP, Name: jsii.String("swarm-tcp")},
			{ContainerPort: jsii.Number(SwarmPort), Protocol: awsecs.Protocol_UDP, Name: jsii.String("swarm-udp")},
			{ContainerPort: jsii.Number(GatewayPort), Protocol: awsecs.Protocol_TCP, Name: jsii.String("gateway")},
		},
		// No credentials: the gateway serves the empty directory pinned at init.
		HealthCheck: &awsecs.HealthCheck{
			Command:     jsii.Strings("CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080"+EmptyDirectoryPath+" || exit 1"),
			Interval:    awscdk.Duration_Seconds(jsii.Number(30)),
			Timeout:     awscdk.Duration_Seconds(jsii.Number(5)),
			Retries:     jsii.Number(3),
			StartPeriod: awscdk.Duration_Seconds(jsii.Number(180)),
		},
		Ulimits: &[]*awsecs.Ulimit{
			{Name: awsecs.UlimitName_NOFILE, SoftLimit: jsii.Number(65536), HardLimit: jsii.Number(65536)},
		},
		StopTimeout: stopTimeout,
		Logging: awsecs.LogDrivers_AwsLogs(&awsecs.AwsLogDriverProps{
			StreamPrefix: jsii.String(name),
			LogGroup:     logGroup("KuboLogs"),
		}),
	})
	kubo.AddMountPoints(&awsecs.MountPoint{ContainerPath: jsii.String(KuboRepoPath), SourceVolume: jsii.String("kubo-repo"), ReadOnly: jsii.Bool(false)})

	cluster := taskDefinition.AddContainer(jsii.String("ipfs-cluster"), &awsecs.ContainerDefinitionOptions{
		Image:     p.ClusterImage,
		Essential: jsii.Bool(true),
		Environment: &map[string]*string{
			"CLUSTER_PEER_INDEX":           jsii.String(strconv.Itoa(p.Index)),
			"CLUSTER_PEER_MULTIADDRS":      jsii.String(strings.Join(p.PeerMultiaddrs, ",")),
			"CLUSTER_PEERNAME":             jsii.String(name),
			"CLUSTER_REPLICATIONFACTORMIN": jsii.String(strconv.Itoa(p.ReplicationFactorMin)),
			"CLUSTER_REPLICATIONFACTORMAX": jsii.String(strconv.Itoa(p.ReplicationFactorMax)),
			"GOMEMLIMIT":                   jsii.String(fmt.Sprintf("%dMiB", memory.clusterGoLimitMiB)),
			// Without it libp2p sizes its limits from the host's memory,
			// not the task's.
			"CLUSTER_RESOURCEMANAGER_MEMORYLIMITBYTES": jsii.String(strconv.Itoa(memory.clusterResourceMgrMiB << 20)),
		},
		// ARN references only: ECS fetches the values when the task starts.
		Secrets: &map[string]awsecs.Secret{
			"CLUSTER_IDENTITY_SEED": awsecs.Secret_FromSecretsManager(p.IdentitySeed, nil),
			"RESTAPI_USERNAME":      awsecs.Secret_FromSecretsManager(p.RestAPICredentials, jsii.String("username")),
			"RESTAPI_PASSWORD":      awsecs.Secret_FromSecretsManager(p.RestAPICredentials, jsii.String("password")),
		},
		PortMappings: &[]*awsecs.PortMapping{
			{ContainerPort: jsii.Number(RestAPIPort), Protocol: awsecs.Protocol_TCP, Name: jsii.String("rest-api")},
			{ContainerPort: jsii.Number(ClusterSwarmPort), Protocol: awsecs.Protocol_TCP, Name: jsii.String("cluster-swarm")},
		},
		// /health answers 204 without authentication.
		HealthCheck: &awsecs.HealthCheck{
			Command:     jsii.Strings("CMD-SHELL", fmt.Sprintf("wget -q -O /dev/null http://127.0.0.1:%d/health || exit 1", RestAPIPort)),
			Interval:    awscdk.Duration_Seconds(jsii.Number(30)),
			Timeout:     awscdk.Duration_Seconds(jsii.Number(5)),
			Retries:     jsii.Number(3),
			StartPeriod: awscdk.Duration_Seconds(jsii.Number(120)),
		},
		StopTimeout: stopTimeout,
		Logging: awsecs.LogDrivers_AwsLogs(&awsecs.AwsLogDriverProps{
			StreamPrefix: jsii.String(name),
			LogGroup:     logGroup("ClusterLogs"),
		}),
	})
	cluster.AddMountPoints(&awsecs.MountPoint{ContainerPath: jsii.String(ClusterStatePath), SourceVolume: jsii.String("cluster-state"), ReadOnly: jsii.Bool(false)})
	// The sidecar pins through kubo's RPC: start it only once kubo is healthy.
	cluster.AddContainerDependencies(&awsecs.ContainerDependency{Container: kubo, Condition: awsecs.ContainerDependencyCondition_HEALTHY})

	service := awsecs.NewFargateService(this, jsii.String("Service"), &awsecs.FargateServiceProps{
		Cluster:        p.Cluster,
		TaskDefinition: taskDefinition,
		DesiredCount:   jsii.Number(1),
		// One task per file system: the old task must stop before the new
		// one opens the same repository.
		MinHealthyPercent:           jsii.Number(0),
		MaxHealthyPercent:           jsii.Number(100),
		CircuitBreaker:              &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
		AvailabilityZoneRebalancing: awsecs.AvailabilityZoneRebalancing_DISABLED,
		VpcSubnets:                  p.TaskSubnets,
		AssignPublicIp:              jsii.Bool(p.AssignPublicIP),
		SecurityGroups:              &[]awsec2.ISecurityGroup{p.PeerSecurityGroup, nodeSecurityGroup},
		PlatformVersion:             awsecs.FargatePlatformVersion_LATEST,
		EnableECSManagedTags:        jsii.Bool(true),
		PropagateTags:               awsecs.PropagatedTagSource_SERVICE,
		HealthCheckGracePeriod:      awscdk.Duration_Seconds(jsii.Number(300)),
		CloudMapOptions: &awsecs.CloudMapOptions{
			CloudMapNamespace: p.Namespace,
			Name:              jsii.String(name),
			DnsRecordType:     awsservicediscovery.DnsRecordType_A,
			DnsTtl:            awscdk.Duration_Seconds(jsii.Number(10)),
		},
	})

	cdknag.NagSuppressions_AddResourceSuppressions(taskDefinition, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-ECS2"),
		Reason: jsii.String("The environment carries only non-secret settings (peer index, peer addresses, replication factors, memory limits); the seed and the REST API credentials are ECS secrets referenced by ARN, and the tests scan the template for secret material."),
	}}, jsii.Bool(false))
	cdknag.NagSuppressions_AddResourceSuppressions(taskDefinition.ExecutionRole(), &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("ecr:GetAuthorizationToken supports no resource-level permissions; every other statement of the execution role names its repository, log groups and secrets."),
		AppliesTo: &[]interface{}{"Resource::*"},
	}}, jsii.Bool(true))

	return &Node{
		Construct:  this,
		Service:    service,
		FileSystem: fileSystem,
		TaskRole:   taskRole,
		DNSName:    name + "." + *p.Namespace.NamespaceName(),
	}, nil
}

// GatewayTarget registers the kubo gateway of this node with a target group.
func (n *Node) GatewayTarget() awsecs.IEcsLoadBalancerTarget {
	return n.Service.LoadBalancerTarget(&awsecs.LoadBalancerTargetOptions{
		ContainerName: jsii.String("kubo"),
		ContainerPort: jsii.Number(GatewayPort),
	})
}

// RestAPITarget registers the cluster REST API of this node.
func (n *Node) RestAPITarget() awsecs.IEcsLoadBalancerTarget {
	return n.Service.LoadBalancerTarget(&awsecs.LoadBalancerTargetOptions{
		ContainerName: jsii.String("ipfs-cluster"),
		ContainerPort: jsii.Number(RestAPIPort),
	})
}
