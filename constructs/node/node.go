// Package node provides one IPFS cluster peer: an EFS One Zone file system in
// the peer's zone, a Fargate task running kubo with the ipfs-cluster sidecar,
// and a Fargate service pinned to that zone with a stable Cloud Map name.
package node

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

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

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/monitoring/monitoringspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/propcheck"
)

// The peer contract (ports, paths, user, lock waits, environment) lives in
// nodespec, which the configuration and the local cluster share without the
// CDK; these aliases keep the construct's API in one place for forks.
const (
	SwarmPort          = nodespec.SwarmPort
	GatewayPort        = nodespec.GatewayPort
	RestAPIPort        = nodespec.RestAPIPort
	ClusterSwarmPort   = nodespec.ClusterSwarmPort
	EmptyDirectoryPath = nodespec.EmptyDirectoryPath
)

// Container names in the task definition.
const (
	KuboContainerName           = "kubo"
	ClusterContainerName        = "ipfs-cluster"
	CollectorContainerName      = "metrics-collector"
	PinningServiceContainerName = "pinning-service"
)

// pinningServiceStartPeriod: the layer starts in milliseconds, and only
// once the cluster container is healthy.
const pinningServiceStartPeriod = 30 * time.Second

// MetricsCollector is a third container in the task that scrapes the
// cluster's metrics on the task's loopback (Settings.ClusterMetrics) and
// writes them to CloudWatch as embedded metric format logs.
type MetricsCollector struct {
	// Image of the collector, pinned, in a registry the task reaches
	// without the Internet (constructs/images: the account's private ECR);
	// it runs as monitoringspec.CollectorUser. Required.
	Image awsecs.ContainerImage
	// Config is the collector's configuration (ADOT's
	// AOT_CONFIG_CONTENT). Required.
	Config string
	// LogGroup receives the metric records, and the collector's own log
	// lines; the task role may write to it and to nothing else. Required.
	LogGroup awslogs.ILogGroup
}

// collectorMemoryMiB bounds the collector (a hard limit: the collector is
// not essential, so exceeding it stops the collector, never the peer; ECS
// restarts it in place). Its Go runtime collects below the limit.
const (
	collectorMemoryMiB  = 256
	collectorGoLimitMiB = 200
)

// collectorStartPeriod: the collector reads its configuration from the
// environment and starts its pipeline in seconds; it waits for no lock.
const collectorStartPeriod = 30 * time.Second

// Props configure one node: its Settings (plain values, shared with the
// local cluster) and the resources it plugs into.
type Props struct {
	nodespec.Settings
	// AvailabilityZone the task and its file system live in; Settings.Zone
	// (the peer's zone tag) must name the same zone. Required.
	AvailabilityZone string
	// Vpc the node runs in. Required.
	Vpc awsec2.IVpc
	// TaskSubnets must select subnets of AvailabilityZone only. Required.
	TaskSubnets *awsec2.SubnetSelection
	// AssignPublicIP gives the task a public address, for the public swarm.
	AssignPublicIP bool
	// Cluster is the ECS cluster. Required.
	Cluster awsecs.ICluster
	// CloudMapNamespace is the private DNS namespace the peer registers its
	// name in; its name must be Settings.PeerNamespace(Index). Required.
	CloudMapNamespace awsservicediscovery.INamespace
	// KuboImage and ClusterImage are the node's images. Required.
	KuboImage    awsecs.ContainerImage
	ClusterImage awsecs.ContainerImage
	// IdentitySeed is the secret all peer identities derive from (a string);
	// RestAPICredentials is JSON with the keys nodespec.Credentials*JSONKey.
	// clustersecrets creates both. Required.
	IdentitySeed       awssecretsmanager.ISecret
	RestAPICredentials awssecretsmanager.ISecret
	// PeerSecurityGroup is shared by all peers of the cluster
	// (NewPeerSecurityGroup). Required.
	PeerSecurityGroup awsec2.ISecurityGroup
	// ThroughputMode of the file system. Default elastic.
	ThroughputMode awsefs.ThroughputMode
	// ProvisionedMiBps is used with the provisioned throughput mode (1 to
	// 3414), and only then.
	ProvisionedMiBps int
	// RemovalPolicy of the file system. Default RETAIN_ON_UPDATE_OR_DELETE
	// (kept, except by the rollback of a failed first create).
	RemovalPolicy awscdk.RemovalPolicy
	// LogRetention of the container log groups. Default three months.
	LogRetention awslogs.RetentionDays
	// MetricsCollector runs beside kubo and the cluster when set; it needs
	// Settings.ClusterMetrics.
	MetricsCollector *MetricsCollector
	// BackedUpByPlan turns EFS's own automatic backups off because an AWS
	// Backup plan of the stack selects this file system (one chain of
	// recovery points, in a vault the stack controls). Default false:
	// automatic backups on.
	BackedUpByPlan bool
}

// Node is one peer.
type Node struct {
	constructs.Construct
	Service awsecs.FargateService
	// MaintenanceTaskDefinition is run by hand, with the node stopped, to
	// put a restored backup in place (newMaintenanceTask).
	MaintenanceTaskDefinition awsecs.FargateTaskDefinition
	FileSystem                awsefs.FileSystem
	TaskRole                  awsiam.IRole
	// DNSName is the peer's Cloud Map name, node<Index>.<namespace>.
	DNSName string
	// Name is the peer's name, node<Index>.
	Name string
	// KuboLogGroup and ClusterLogGroup hold the containers' logs (the
	// monitoring's metric filters read the cluster's); the kubo group also
	// holds the Pinning Service API layer's, in streams of its own.
	KuboLogGroup    awslogs.ILogGroup
	ClusterLogGroup awslogs.ILogGroup
}

// Validate reports every problem at once: the Settings' and the missing
// references.
func (p *Props) Validate() error {
	if p == nil {
		return errors.New("node.Props: required (nil)")
	}
	l := propcheck.New("node.Props")
	l.Include("Settings", p.Settings.Validate())
	required := map[string]bool{
		"AvailabilityZone":   p.AvailabilityZone != "",
		"Vpc":                p.Vpc != nil,
		"TaskSubnets":        p.TaskSubnets != nil,
		"Cluster":            p.Cluster != nil,
		"CloudMapNamespace":  p.CloudMapNamespace != nil,
		"KuboImage":          p.KuboImage != nil,
		"ClusterImage":       p.ClusterImage != nil,
		"IdentitySeed":       p.IdentitySeed != nil,
		"RestAPICredentials": p.RestAPICredentials != nil,
		"PeerSecurityGroup":  p.PeerSecurityGroup != nil,
	}
	for _, field := range []string{"AvailabilityZone", "Vpc", "TaskSubnets", "Cluster", "CloudMapNamespace", "KuboImage", "ClusterImage", "IdentitySeed", "RestAPICredentials", "PeerSecurityGroup"} {
		if !required[field] {
			l.Add(field, "required")
		}
	}
	if p.AvailabilityZone != "" && p.Zone != "" && p.Zone != p.AvailabilityZone {
		l.Add("Settings.Zone", "is %q but AvailabilityZone is %q; allowed: the same zone (the allocator spreads replicas by the peer's zone tag, which must name the zone it runs in)", p.Zone, p.AvailabilityZone)
	}
	if p.CloudMapNamespace != nil {
		if name := p.CloudMapNamespace.NamespaceName(); name != nil && !strings.Contains(*name, "${Token[") && *name != p.PeerNamespace(p.Index) {
			l.Add("CloudMapNamespace", "is named %q but this peer's name lives in %q (Settings.PeerNamespace); allowed: that name (the peers' addresses are built from it)", *name, p.PeerNamespace(p.Index))
		}
	}
	if c := p.MetricsCollector; c != nil {
		if !p.ClusterMetrics {
			l.Add("MetricsCollector", "needs Settings.ClusterMetrics: the collector scrapes the cluster's metrics endpoint")
		}
		for field, set := range map[string]bool{"Image": c.Image != nil, "Config": c.Config != "", "LogGroup": c.LogGroup != nil} {
			if !set {
				l.Add("MetricsCollector."+field, "required")
			}
		}
	}
	switch p.ThroughputMode {
	case "", awsefs.ThroughputMode_ELASTIC, awsefs.ThroughputMode_BURSTING:
		if p.ProvisionedMiBps != 0 {
			l.Add("ProvisionedMiBps", "is only used with the provisioned throughput mode; allowed: 0")
		}
	case awsefs.ThroughputMode_PROVISIONED:
		if p.ProvisionedMiBps < 1 || p.ProvisionedMiBps > nodespec.MaxProvisionedMiBps {
			l.Add("ProvisionedMiBps", "%d is out of range; allowed: 1 to %d", p.ProvisionedMiBps, nodespec.MaxProvisionedMiBps)
		}
	default:
		l.Add("ThroughputMode", "%q is unknown; allowed: ELASTIC, BURSTING, PROVISIONED", p.ThroughputMode)
	}
	return l.Err()
}

func (p Props) withDefaults() Props {
	p.Settings = p.Settings.WithDefaults() //nolint:staticcheck // QF1008: spelled out so it does not read as a call of Props.withDefaults
	if p.ThroughputMode == "" {
		p.ThroughputMode = awsefs.ThroughputMode_ELASTIC
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_THREE_MONTHS
	}
	return p
}

func seconds(d time.Duration) awscdk.Duration {
	return awscdk.Duration_Seconds(jsii.Number(d.Seconds()))
}

func environment(vars map[string]string) *map[string]*string {
	out := make(map[string]*string, len(vars))
	for k, v := range vars {
		out[k] = jsii.String(v)
	}
	return &out
}

// New creates the node.
func New(scope constructs.Construct, id string, props *Props) (*Node, error) {
	if err := props.Validate(); err != nil {
		return nil, err
	}
	p := props.withDefaults()
	this := constructs.NewConstruct(scope, jsii.String(id))
	name := nodespec.PeerName(p.Index)
	uid, gid := strconv.Itoa(nodespec.UID), strconv.Itoa(nodespec.GID)

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
		EnableAutomaticBackups: jsii.Bool(!p.BackedUpByPlan),
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
	if p.BackedUpByPlan {
		// Explicitly: CDK omits the policy when false, and a One Zone file
		// system created through the API then gets automatic backups.
		fileSystem.Node().DefaultChild().(awsefs.CfnFileSystem).SetBackupPolicy(&awsefs.CfnFileSystem_BackupPolicyProperty{Status: jsii.String("DISABLED")})
	}
	fileSystem.Connections().AllowDefaultPortFrom(nodeSecurityGroup, jsii.String("NFS from this node's task"))

	accessPoint := func(id, path string) awsefs.AccessPoint {
		return fileSystem.AddAccessPoint(jsii.String(id), &awsefs.AccessPointOptions{
			Path:      jsii.String(path),
			CreateAcl: &awsefs.Acl{OwnerUid: jsii.String(uid), OwnerGid: jsii.String(gid), Permissions: jsii.String("750")},
			PosixUser: &awsefs.PosixUser{Uid: jsii.String(uid), Gid: jsii.String(gid)},
		})
	}
	kuboAccessPoint := accessPoint("KuboRepo", nodespec.KuboRepoDirectory)
	clusterAccessPoint := accessPoint("ClusterState", nodespec.ClusterStateDirectory)

	taskRole := awsiam.NewRole(this, jsii.String("TaskRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
		Description: jsii.String(fmt.Sprintf("IPFS %s task: may mount only its own file system", name)),
	})
	fileSystem.GrantReadWrite(taskRole)

	// Every value below is built once and every volume is passed with the
	// props: each jsii call is a round trip to the kernel, per node.
	fileSystemID := fileSystem.FileSystemId()
	efsVolume := func(name string, ap awsefs.AccessPoint) *awsecs.Volume {
		return &awsecs.Volume{
			Name: jsii.String(name),
			EfsVolumeConfiguration: &awsecs.EfsVolumeConfiguration{
				FileSystemId:      fileSystemID,
				TransitEncryption: jsii.String("ENABLED"),
				AuthorizationConfig: &awsecs.AuthorizationConfig{
					AccessPointId: ap.AccessPointId(),
					Iam:           jsii.String("ENABLED"),
				},
			},
		}
	}
	// Read-only root file systems: each peer container writes only to its
	// EFS mount and to its own task-local scratch at /tmp (Fargate ephemeral
	// storage, gone with the task; its image declares /tmp a VOLUME, or
	// Fargate would create it root-owned 0755). The collector writes nothing.
	volumes := []*awsecs.Volume{
		efsVolume("kubo-repo", kuboAccessPoint),
		efsVolume("cluster-state", clusterAccessPoint),
		{Name: jsii.String("kubo-scratch")},
		{Name: jsii.String("cluster-scratch")},
	}
	taskDefinition := awsecs.NewFargateTaskDefinition(this, jsii.String("Task"), &awsecs.FargateTaskDefinitionProps{
		Cpu:            jsii.Number(float64(p.CPU)),
		MemoryLimitMiB: jsii.Number(float64(p.MemoryMiB)),
		TaskRole:       taskRole,
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       awsecs.CpuArchitecture_X86_64(),
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
		Volumes: &volumes,
	})
	mounts := func(container awsecs.ContainerDefinition, dataPath, dataVolume, scratchVolume string) {
		container.AddMountPoints(
			&awsecs.MountPoint{ContainerPath: jsii.String(dataPath), SourceVolume: jsii.String(dataVolume), ReadOnly: jsii.Bool(false)},
			&awsecs.MountPoint{ContainerPath: jsii.String(nodespec.ScratchPath), SourceVolume: jsii.String(scratchVolume), ReadOnly: jsii.Bool(false)},
		)
	}

	logGroups := map[string]awslogs.LogGroup{}
	logGroup := func(id string) awslogs.LogGroup {
		logGroups[id] = awslogs.NewLogGroup(this, jsii.String(id), &awslogs.LogGroupProps{
			Retention:     p.LogRetention,
			RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		})
		return logGroups[id]
	}
	healthInterval, healthTimeout := awscdk.Duration_Seconds(jsii.Number(30)), awscdk.Duration_Seconds(jsii.Number(5))
	stopTimeout := seconds(nodespec.StopTimeout)
	healthCheck := func(url string, startPeriod time.Duration) *awsecs.HealthCheck {
		return &awsecs.HealthCheck{
			// busybox wget, in both images; no credentials needed.
			Command:     jsii.Strings("CMD-SHELL", "wget -q -O /dev/null "+url+" || exit 1"),
			Interval:    healthInterval,
			Timeout:     healthTimeout,
			Retries:     jsii.Number(3),
			StartPeriod: seconds(startPeriod),
		}
	}
	kuboEnvironment, clusterEnvironment := p.Environment()

	kubo := taskDefinition.AddContainer(jsii.String(KuboContainerName), &awsecs.ContainerDefinitionOptions{
		Image:     p.KuboImage,
		Essential: jsii.Bool(true),
		// The image user from the first instruction: upstream's start_ipfs
		// only drops from root to it, and needs root for nothing else.
		User:                   jsii.String(nodespec.User),
		ReadonlyRootFilesystem: jsii.Bool(true),
		Environment:            environment(kuboEnvironment),
		PortMappings: &[]*awsecs.PortMapping{
			{ContainerPort: jsii.Number(SwarmPort), Protocol: awsecs.Protocol_TCP, Name: jsii.String("swarm-tcp")},
			{ContainerPort: jsii.Number(SwarmPort), Protocol: awsecs.Protocol_UDP, Name: jsii.String("swarm-udp")},
			{ContainerPort: jsii.Number(GatewayPort), Protocol: awsecs.Protocol_TCP, Name: jsii.String("gateway")},
		},
		HealthCheck: healthCheck(fmt.Sprintf("http://127.0.0.1:%d%s", GatewayPort, EmptyDirectoryPath), nodespec.KuboStartPeriod),
		Ulimits: &[]*awsecs.Ulimit{
			{Name: awsecs.UlimitName_NOFILE, SoftLimit: jsii.Number(65536), HardLimit: jsii.Number(65536)},
		},
		StopTimeout: stopTimeout,
		Logging: awsecs.LogDrivers_AwsLogs(&awsecs.AwsLogDriverProps{
			StreamPrefix: jsii.String(name),
			LogGroup:     logGroup("KuboLogs"),
		}),
	})
	mounts(kubo, nodespec.KuboRepoPath, "kubo-repo", "kubo-scratch")

	cluster := taskDefinition.AddContainer(jsii.String(ClusterContainerName), &awsecs.ContainerDefinitionOptions{
		Image:                  p.ClusterImage,
		Essential:              jsii.Bool(true),
		User:                   jsii.String(nodespec.User),
		ReadonlyRootFilesystem: jsii.Bool(true),
		Environment:            environment(clusterEnvironment),
		// ARN references only: ECS fetches the values when the task starts.
		Secrets: &map[string]awsecs.Secret{
			nodespec.IdentitySeedVariable:    awsecs.Secret_FromSecretsManager(p.IdentitySeed, nil),
			nodespec.RestAPIUsernameVariable: awsecs.Secret_FromSecretsManager(p.RestAPICredentials, jsii.String(nodespec.CredentialsUsernameJSONKey)),
			nodespec.RestAPIPasswordVariable: awsecs.Secret_FromSecretsManager(p.RestAPICredentials, jsii.String(nodespec.CredentialsPasswordJSONKey)),
		},
		PortMappings: &[]*awsecs.PortMapping{
			{ContainerPort: jsii.Number(RestAPIPort), Protocol: awsecs.Protocol_TCP, Name: jsii.String("rest-api")},
			{ContainerPort: jsii.Number(ClusterSwarmPort), Protocol: awsecs.Protocol_TCP, Name: jsii.String("cluster-swarm")},
		},
		HealthCheck: healthCheck(fmt.Sprintf("http://127.0.0.1:%d%s", RestAPIPort, nodespec.RestAPIHealthPath), nodespec.ClusterStartPeriod),
		StopTimeout: stopTimeout,
		Logging: awsecs.LogDrivers_AwsLogs(&awsecs.AwsLogDriverProps{
			StreamPrefix: jsii.String(name),
			LogGroup:     logGroup("ClusterLogs"),
		}),
	})
	mounts(cluster, nodespec.ClusterStatePath, "cluster-state", "cluster-scratch")
	// The sidecar pins through kubo's RPC: start it only once kubo is healthy.
	cluster.AddContainerDependencies(&awsecs.ContainerDependency{Container: kubo, Condition: awsecs.ContainerDependencyCondition_HEALTHY})

	// The Pinning Service API layer: the cluster image's pinning-service,
	// on the REST API over the task's loopback with the same credentials.
	// Not essential: it holds no state, and a crash must not stop the peer;
	// ECS restarts it in place. It starts with the task, not after the
	// cluster: its health path answers 503 until the REST API does, which
	// keeps the load balancer away, and a dependency would cost every task
	// definition bytes the cluster stack's template cannot spare
	// (stackspec.MaxTemplateBytes). Its hard memory limit is its share of the
	// task (nodespec's budget); it writes nothing, so no volume. Its lines go
	// to the kubo log group (streams <node>/pinning-service/<task>): a group
	// of its own would cost every node a resource the cluster stack's budget
	// does not have (stacks/stackspec), and the cluster group's metric
	// filters would count the upstream errors it repeats twice.
	taskDefinition.AddContainer(jsii.String(PinningServiceContainerName), &awsecs.ContainerDefinitionOptions{
		Image:                  p.ClusterImage,
		EntryPoint:             jsii.Strings(nodespec.PinningServiceCommand...),
		Essential:              jsii.Bool(false),
		EnableRestartPolicy:    jsii.Bool(true),
		User:                   jsii.String(nodespec.User),
		ReadonlyRootFilesystem: jsii.Bool(true),
		MemoryLimitMiB:         jsii.Number(nodespec.PinningServiceMemoryMiB),
		Environment:            environment(nodespec.PinningServiceEnvironment()),
		Secrets: &map[string]awsecs.Secret{
			nodespec.RestAPIUsernameVariable: awsecs.Secret_FromSecretsManager(p.RestAPICredentials, jsii.String(nodespec.CredentialsUsernameJSONKey)),
			nodespec.RestAPIPasswordVariable: awsecs.Secret_FromSecretsManager(p.RestAPICredentials, jsii.String(nodespec.CredentialsPasswordJSONKey)),
		},
		PortMappings: &[]*awsecs.PortMapping{
			{ContainerPort: jsii.Number(nodespec.PinningServicePort), Protocol: awsecs.Protocol_TCP, Name: jsii.String("pinning-service")},
		},
		HealthCheck: healthCheck(fmt.Sprintf("http://127.0.0.1:%d%s", nodespec.PinningServicePort, nodespec.PinningServiceHealthPath), pinningServiceStartPeriod),
		StopTimeout: stopTimeout,
		Logging: awsecs.LogDrivers_AwsLogs(&awsecs.AwsLogDriverProps{
			StreamPrefix: jsii.String(name),
			LogGroup:     logGroups["KuboLogs"],
		}),
	})

	if c := p.MetricsCollector; c != nil {
		// No port mapping and no security group rule: it only dials the
		// cluster's loopback endpoint and CloudWatch Logs. Not essential:
		// a failing collector must not take the peer down. Its own user,
		// a read-only root and no volume: it writes nothing but its logs.
		taskDefinition.AddContainer(jsii.String(CollectorContainerName), &awsecs.ContainerDefinitionOptions{
			Image:                  c.Image,
			Essential:              jsii.Bool(false),
			User:                   jsii.String(monitoringspec.CollectorUser),
			ReadonlyRootFilesystem: jsii.Bool(true),
			MemoryLimitMiB:         jsii.Number(collectorMemoryMiB),
			EnableRestartPolicy:    jsii.Bool(true),
			Environment: environment(map[string]string{
				monitoringspec.CollectorConfigVariable: c.Config,
				"GOMEMLIMIT":                           fmt.Sprintf("%dMiB", collectorGoLimitMiB),
			}),
			// A non-essential container's health does not count for the
			// task's: this shows a collector that runs but does not work
			// (ECS restarts it only when it exits).
			HealthCheck: &awsecs.HealthCheck{
				Command:     jsii.Strings(append([]string{"CMD"}, monitoringspec.CollectorHealthCheck...)...),
				Interval:    healthInterval,
				Timeout:     healthTimeout,
				Retries:     jsii.Number(3),
				StartPeriod: seconds(collectorStartPeriod),
			},
			// Its own few lines (warnings and errors only) go beside its
			// metric records, in streams <node>/metrics-collector/<task>:
			// CloudWatch extracts metrics from the records only, and a log
			// group per node for them would cost every node a resource.
			Logging: awsecs.LogDrivers_AwsLogs(&awsecs.AwsLogDriverProps{
				StreamPrefix: jsii.String(name),
				LogGroup:     c.LogGroup,
			}),
		})
		// EMF records only: CloudWatch extracts the metrics from them, so
		// the role needs no cloudwatch:PutMetricData at all.
		c.LogGroup.GrantWrite(taskRole)
	}

	maintenance := newMaintenanceTask(this, maintenanceProps{
		name: name, image: p.KuboImage, fileSystem: fileSystem, fileSystemID: fileSystemID,
		taskRole: taskRole, executionRole: taskDefinition.ExecutionRole(), logGroup: logGroups["KuboLogs"],
	})

	// Only the shared group is in the service's connections: a target
	// group opens its ports to every group there, and the shared group's
	// rules already admit the load balancer. The node's own group joins the
	// task below.
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
		SecurityGroups:              &[]awsec2.ISecurityGroup{p.PeerSecurityGroup},
		PlatformVersion:             awsecs.FargatePlatformVersion_LATEST,
		EnableECSManagedTags:        jsii.Bool(true),
		PropagateTags:               awsecs.PropagatedTagSource_SERVICE,
		HealthCheckGracePeriod:      seconds(nodespec.LoadBalancerGracePeriod),
		CloudMapOptions: &awsecs.CloudMapOptions{
			CloudMapNamespace: p.CloudMapNamespace,
			Name:              jsii.String(name),
			DnsRecordType:     awsservicediscovery.DnsRecordType_A,
			DnsTtl:            awscdk.Duration_Seconds(jsii.Number(10)),
		},
	})

	// The task still carries its own group, the one its mount target
	// trusts; kept out of the service's connections so that each target
	// group registration adds no rules of its own (two per port and node,
	// duplicates of the shared group's, which the stack's resource budget
	// cannot afford; stacks/stackspec).
	service.Node().DefaultChild().(awsecs.CfnService).AddPropertyOverride(
		jsii.String("NetworkConfiguration.AwsvpcConfiguration.SecurityGroups"),
		[]*string{p.PeerSecurityGroup.SecurityGroupId(), nodeSecurityGroup.SecurityGroupId()})

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
		Construct:                 this,
		Service:                   service,
		MaintenanceTaskDefinition: maintenance,
		FileSystem:                fileSystem,
		TaskRole:                  taskRole,
		DNSName:                   nodespec.PeerDNSName(p.Index, p.PeerNamespace(p.Index)),
		Name:                      name,
		// The container log groups.
		KuboLogGroup:    logGroups["KuboLogs"],
		ClusterLogGroup: logGroups["ClusterLogs"],
	}, nil
}

// GatewayTarget registers the kubo gateway of this node with a target group.
func (n *Node) GatewayTarget() awsecs.IEcsLoadBalancerTarget {
	return n.Service.LoadBalancerTarget(&awsecs.LoadBalancerTargetOptions{
		ContainerName: jsii.String(KuboContainerName),
		ContainerPort: jsii.Number(GatewayPort),
	})
}

// RestAPITarget registers the cluster REST API of this node.
func (n *Node) RestAPITarget() awsecs.IEcsLoadBalancerTarget {
	return n.Service.LoadBalancerTarget(&awsecs.LoadBalancerTargetOptions{
		ContainerName: jsii.String(ClusterContainerName),
		ContainerPort: jsii.Number(RestAPIPort),
	})
}

// PinningServiceTarget registers the Pinning Service API layer of this
// node.
func (n *Node) PinningServiceTarget() awsecs.IEcsLoadBalancerTarget {
	return n.Service.LoadBalancerTarget(&awsecs.LoadBalancerTargetOptions{
		ContainerName: jsii.String(PinningServiceContainerName),
		ContainerPort: jsii.Number(nodespec.PinningServicePort),
	})
}

// RollsAfter makes CloudFormation create and update this node's service only
// once prev's service is stable (its deployment done, circuit breaker
// included): a change that touches every node then replaces one peer at a
// time, and a failed deployment stops the chain where it failed.
func (n *Node) RollsAfter(prev *Node) {
	n.Service.Node().AddDependency(prev.Service)
}

// PeerSecurityGroupProps configure the security group all peers share.
type PeerSecurityGroupProps struct {
	// Vpc of the peers. Required.
	Vpc awsec2.IVpc
	// PublicSwarm opens the kubo swarm port (tcp and udp) to the Internet.
	PublicSwarm bool
}

// NewPeerSecurityGroup creates the security group every peer of one cluster
// joins: the cluster swarm between this cluster's peers only (TCP: the
// cluster's libp2p host has no QUIC, which cannot carry the cluster secret)
// and, with PublicSwarm, the kubo swarm from anywhere.
func NewPeerSecurityGroup(scope constructs.Construct, id string, props *PeerSecurityGroupProps) (awsec2.SecurityGroup, error) {
	if props == nil || props.Vpc == nil {
		return nil, errors.New("node.PeerSecurityGroupProps.Vpc: required")
	}
	peers := awsec2.NewSecurityGroup(scope, jsii.String(id), &awsec2.SecurityGroupProps{
		Vpc:              props.Vpc,
		Description:      jsii.String("IPFS cluster peers: cluster swarm among themselves, kubo swarm from the Internet when public"),
		AllowAllOutbound: jsii.Bool(true),
	})
	peers.AddIngressRule(peers, awsec2.Port_Tcp(jsii.Number(ClusterSwarmPort)), jsii.String("cluster swarm (tcp) between this cluster's peers"), nil)
	if props.PublicSwarm {
		swarm := jsii.Number(SwarmPort)
		peers.AddIngressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(swarm), jsii.String("IPFS swarm (tcp) from the Internet"), nil)
		peers.AddIngressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Udp(swarm), jsii.String("IPFS swarm (quic) from the Internet"), nil)
		cdknag.NagSuppressions_AddResourceSuppressions(peers, &[]*cdknag.NagPackSuppression{{
			Id:     jsii.String("AwsSolutions-EC23"),
			Reason: jsii.String("Port 4001 (tcp and udp) is the IPFS swarm: peers anywhere on the Internet must dial it to fetch content. It is the only port open to 0.0.0.0/0; kubo's RPC is bound to loopback and never in a security group."),
		}}, jsii.Bool(false))
	}
	return peers, nil
}

// AdmitPeersFrom lets the peers of another VPC of the same cluster (a
// peered VPC of another region, cidr) reach the peers in peers: the
// cluster swarm always and, without a public swarm (where the Internet
// already may), kubo's swarm too. The source is that VPC's range, never
// the Internet.
func AdmitPeersFrom(peers awsec2.ISecurityGroup, cidr string, publicSwarm bool) {
	from := awsec2.Peer_Ipv4(jsii.String(cidr))
	peers.AddIngressRule(from, awsec2.Port_Tcp(jsii.Number(ClusterSwarmPort)), jsii.String("cluster swarm (tcp) from the peers of the other region"), nil)
	if !publicSwarm {
		swarm := jsii.Number(SwarmPort)
		peers.AddIngressRule(from, awsec2.Port_Tcp(swarm), jsii.String("IPFS swarm (tcp) from the peers of the other region"), nil)
		peers.AddIngressRule(from, awsec2.Port_Udp(swarm), jsii.String("IPFS swarm (quic) from the peers of the other region"), nil)
	}
}
