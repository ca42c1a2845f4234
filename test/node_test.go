package test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks/outputs"
)

// allApps are the app fixtures, for checks every configuration must pass.
func allApps() []*synthesized { return []*synthesized{defaults, privateSwarm, destroyData} }

func TestOneZoneFileSystemPerNodeWithOneMountTargetInItsZone(t *testing.T) {
	for _, s := range allApps() {
		s.exactly(t, s.config.NodeCount, "AWS::EFS::FileSystem")
		mountTargets := s.exactly(t, s.config.NodeCount, "AWS::EFS::MountTarget")
		wantPolicy, _ := dataPolicies(s)
		for i := 0; i < s.config.NodeCount; i++ {
			fsID, fs := s.withPrefix(t, "AWS::EFS::FileSystem", fmt.Sprintf("Node%dFileSystem", i))
			zone := s.config.ZoneOf(i)
			assert.Equal(t, zone, fs.Properties["AvailabilityZoneName"], "node %d file system zone", i)
			assert.Equal(t, true, fs.Properties["Encrypted"])
			// The stack's AWS Backup plan replaces EFS's automatic backups
			// (backup_test.go).
			assert.Equal(t, "DISABLED", path(fs.Properties, "BackupPolicy", "Status"))
			assert.Equal(t, wantPolicy, fs.DeletionPolicy, "node %d file system with dataRemovalPolicy=%s", i, s.config.DataRemovalPolicy)
			var own []resource
			for _, mt := range mountTargets {
				if ref(mt.Properties["FileSystemId"]) == fsID {
					own = append(own, mt)
				}
			}
			require.Len(t, own, 1, "node %d: exactly one mount target", i)
			assert.Equal(t, zone, subnetZone(t, s.stackTemplate, own[0].Properties["SubnetId"]), "node %d mount target zone", i)
		}
	}
}

func TestAccessPointsOwnedByTheImagesUser(t *testing.T) {
	s := defaults
	uid, gid := fmt.Sprint(nodespec.UID), fmt.Sprint(nodespec.GID)
	paths := map[string]int{}
	for _, ap := range s.exactly(t, 2*s.config.NodeCount, "AWS::EFS::AccessPoint") {
		assert.Equal(t, uid, path(ap.Properties, "PosixUser", "Uid"))
		assert.Equal(t, gid, path(ap.Properties, "PosixUser", "Gid"))
		assert.Equal(t, uid, path(ap.Properties, "RootDirectory", "CreationInfo", "OwnerUid"))
		assert.Equal(t, gid, path(ap.Properties, "RootDirectory", "CreationInfo", "OwnerGid"))
		paths[fmt.Sprint(path(ap.Properties, "RootDirectory", "Path"))]++
	}
	assert.Equal(t, map[string]int{"/ipfs": s.config.NodeCount, "/ipfs-cluster": s.config.NodeCount}, paths)
}

func TestServicesArePinnedToTheirZone(t *testing.T) {
	for _, s := range allApps() {
		s.exactly(t, s.config.NodeCount, "AWS::ECS::Service")
		for i := 0; i < s.config.NodeCount; i++ {
			_, service := s.withPrefix(t, "AWS::ECS::Service", fmt.Sprintf("Node%dService", i))
			p := service.Properties
			subnets := list(path(p, "NetworkConfiguration", "AwsvpcConfiguration", "Subnets"))
			require.Len(t, subnets, 1, "node %d: one subnet, in its zone", i)
			assert.Equal(t, s.config.ZoneOf(i), subnetZone(t, s.stackTemplate, subnets[0]), "node %d subnet", i)
			publicIP := map[bool]string{true: "ENABLED", false: "DISABLED"}[s.config.PublicSwarm]
			assert.Equal(t, publicIP, path(p, "NetworkConfiguration", "AwsvpcConfiguration", "AssignPublicIp"))
			assert.EqualValues(t, 1, p["DesiredCount"])
			assert.EqualValues(t, 0, path(p, "DeploymentConfiguration", "MinimumHealthyPercent"))
			assert.EqualValues(t, 100, path(p, "DeploymentConfiguration", "MaximumPercent"))
			assert.Equal(t, "DISABLED", p["AvailabilityZoneRebalancing"])
			registry := s.resources[ref(path(p, "ServiceRegistries", 0, "RegistryArn"))]
			assert.Equal(t, nodespec.PeerName(i), registry.Properties["Name"])
		}
	}
}

// TestPeersAreTaggedWithTheZoneTheyRunIn (issue 14, item 4): each peer's
// zone tag names the zone its task's subnet is in, its region tag the
// stack's region, and the allocator spreads a pin over those tags before
// it looks at free space; the peers span every configured zone.
func TestPeersAreTaggedWithTheZoneTheyRunIn(t *testing.T) {
	for _, s := range allApps() {
		zones := map[string]bool{}
		for i := 0; i < s.config.NodeCount; i++ {
			_, service := s.withPrefix(t, "AWS::ECS::Service", fmt.Sprintf("Node%dService", i))
			subnets := list(path(service.Properties, "NetworkConfiguration", "AwsvpcConfiguration", "Subnets"))
			require.Len(t, subnets, 1, "node %d", i)
			zone := subnetZone(t, s.stackTemplate, subnets[0])
			_, defs := taskDefinition(t, s.stackTemplate, fmt.Sprintf("Node%d", i))
			env := envOf(t, defs[node.ClusterContainerName])
			assert.Equal(t, "region:"+s.config.Region+",zone:"+zone, env["CLUSTER_TAGS_TAGS"], "node %d", i)
			assert.Equal(t, "tag:region,tag:zone,pinqueue,freespace", env["CLUSTER_BALANCED_ALLOCATEBY"], "node %d", i)
			zones[zone] = true
		}
		assert.Len(t, zones, len(s.config.AvailabilityZones), "%d nodes span every zone", s.config.NodeCount)
	}
}

// TestServicesRollOneAfterAnother (issue 8, item 1): node N+1's service
// depends on node N's and on no other service, so CloudFormation updates one
// peer at a time; the circuit breaker with rollback stops the chain where a
// deployment fails.
func TestServicesRollOneAfterAnother(t *testing.T) {
	for _, s := range allApps() {
		services := s.exactly(t, s.config.NodeCount, "AWS::ECS::Service")
		ids := make([]string, s.config.NodeCount)
		for i := range ids {
			ids[i], _ = s.withPrefix(t, "AWS::ECS::Service", fmt.Sprintf("Node%dService", i))
		}
		for i, id := range ids {
			var after []string
			for _, dep := range services[id].DependsOn {
				if s.resources[dep].Type == "AWS::ECS::Service" {
					after = append(after, dep)
				}
			}
			want := []string(nil)
			if i > 0 {
				want = []string{ids[i-1]}
			}
			assert.Equal(t, want, after, "%d nodes: node %d's service waits for exactly the previous one", s.config.NodeCount, i)
			breaker := path(services[id].Properties, "DeploymentConfiguration", "DeploymentCircuitBreaker")
			assert.Equal(t, map[string]any{"Enable": true, "Rollback": true}, breaker, "node %d", i)
		}
	}
}

// taskDefinition returns the task definition of the node construct with id
// and its peer containers by name (exactly kubo and the cluster; the
// collector and the Pinning Service API layer have tests of their own).
func taskDefinition(t *testing.T, s *stackTemplate, id string) (resource, map[string]map[string]any) {
	t.Helper()
	task, defs := allContainers(t, s, id)
	delete(defs, node.CollectorContainerName)
	delete(defs, node.PinningServiceContainerName)
	return task, defs
}

// allContainers returns the task definition and every container of it.
func allContainers(t *testing.T, s *stackTemplate, id string) (resource, map[string]map[string]any) {
	t.Helper()
	_, task := s.withPrefix(t, "AWS::ECS::TaskDefinition", id+"Task")
	defs := map[string]map[string]any{}
	for _, c := range list(task.Properties["ContainerDefinitions"]) {
		def := c.(map[string]any)
		defs[def["Name"].(string)] = def
	}
	want := []string{node.ClusterContainerName, node.KuboContainerName}
	if _, ok := defs[node.CollectorContainerName]; ok {
		// The stack's nodes run the metrics collector too (checked in
		// monitoring_test.go); a node without Props.MetricsCollector not.
		want = append(want, node.CollectorContainerName)
	}
	want = append(want, node.PinningServiceContainerName)
	slices.Sort(want)
	require.Equal(t, want, sortedKeys(defs), "%s containers", id)
	return task, defs
}

// TestPinningServiceContainer (issue 17): every task runs the Pinning
// Service API layer from the cluster image, as the image user on a
// read-only root, with nodespec's environment, the REST API credentials
// and nothing else secret, a health check without credentials, its lines
// beside kubo's, and never taking the peer down.
func TestPinningServiceContainer(t *testing.T) {
	s := defaults
	credentials, _ := s.withPrefix(t, "AWS::SecretsManager::Secret", "SecretsRestApiCredentials")
	for i := 0; i < s.config.NodeCount; i++ {
		_, defs := allContainers(t, s.stackTemplate, fmt.Sprintf("Node%d", i))
		psa, cluster := defs[node.PinningServiceContainerName], defs[node.ClusterContainerName]
		assert.Equal(t, cluster["Image"], psa["Image"], "node %d: the cluster image", i)
		assert.Equal(t, toAny(nodespec.PinningServiceCommand), psa["EntryPoint"], "node %d", i)
		assert.Equal(t, nodespec.User, psa["User"])
		assert.Equal(t, true, psa["ReadonlyRootFilesystem"])
		assert.Equal(t, false, psa["Essential"], "node %d: a crashed layer must not stop the peer", i)
		assert.Equal(t, true, path(psa, "RestartPolicy", "Enabled"), "node %d: ECS restarts it in place", i)
		assert.EqualValues(t, nodespec.PinningServiceMemoryMiB, psa["Memory"], "node %d: its share of the task", i)
		assert.Equal(t, nodespec.PinningServiceEnvironment(), envOf(t, psa), "node %d environment", i)
		secrets := map[string]any{}
		for _, secret := range list(psa["Secrets"]) {
			secrets[fmt.Sprint(path(secret, "Name"))] = path(secret, "ValueFrom")
		}
		jsonKey := func(key string) any {
			return map[string]any{"Fn::Join": []any{"", []any{map[string]any{"Ref": credentials}, ":" + key + "::"}}}
		}
		assert.Equal(t, map[string]any{
			nodespec.RestAPIUsernameVariable: jsonKey(nodespec.CredentialsUsernameJSONKey),
			nodespec.RestAPIPasswordVariable: jsonKey(nodespec.CredentialsPasswordJSONKey),
		}, secrets, "node %d: the REST API credentials only", i)
		check := fmt.Sprint(path(psa, "HealthCheck", "Command"))
		assert.Contains(t, check, fmt.Sprintf("127.0.0.1:%d%s", nodespec.PinningServicePort, nodespec.PinningServiceHealthPath))
		assert.NotContains(t, check, "RESTAPI")
		var ports []any
		for _, pm := range list(psa["PortMappings"]) {
			ports = append(ports, path(pm, "ContainerPort"))
		}
		assert.Equal(t, []any{float64(nodespec.PinningServicePort)}, ports)
		assert.Nil(t, psa["MountPoints"], "node %d: it writes nothing", i)
		// Beside kubo's lines, in streams of its own: never in the cluster's
		// group, whose metric filters would count the errors it repeats.
		assert.Equal(t, path(defs[node.KuboContainerName], "LogConfiguration", "Options", "awslogs-group"), path(psa, "LogConfiguration", "Options", "awslogs-group"))
		assert.Equal(t, "awslogs", path(psa, "LogConfiguration", "LogDriver"))
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// envOf returns a container definition's environment as a map.
func envOf(t *testing.T, c map[string]any) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range list(c["Environment"]) {
		name := fmt.Sprint(path(e, "Name"))
		_, dup := env[name]
		require.False(t, dup, "%s set twice", name)
		value, ok := path(e, "Value").(string)
		require.True(t, ok, "%s: a literal value, got %v", name, path(e, "Value"))
		env[name] = value
	}
	return env
}

func TestContainersHealthChecksDependencyAndShutdown(t *testing.T) {
	s := defaults
	for i := 0; i < s.config.NodeCount; i++ {
		_, defs := taskDefinition(t, s.stackTemplate, fmt.Sprintf("Node%d", i))
		kubo, cluster := defs[node.KuboContainerName], defs[node.ClusterContainerName]
		for name, c := range defs {
			check := fmt.Sprint(path(c, "HealthCheck", "Command"))
			assert.NotEmpty(t, path(c, "HealthCheck", "Command"), "%s health check", name)
			assert.NotContains(t, check, "RESTAPI", "%s health check must use no credentials", name)
			assert.NotContains(t, check, "-u ", "%s health check must use no credentials", name)
			assert.NotContains(t, check, "@", "%s health check must use no credentials", name)
			assert.EqualValues(t, nodespec.StopTimeout.Seconds(), c["StopTimeout"], "%s stop timeout", name)
			assert.Equal(t, "awslogs", path(c, "LogConfiguration", "LogDriver"))
			for _, pm := range list(c["PortMappings"]) {
				assert.NotEqualValues(t, nodespec.KuboRPCPort, path(pm, "ContainerPort"), "%s: kubo's RPC port is never mapped", name)
			}
		}
		assert.Contains(t, fmt.Sprint(path(kubo, "HealthCheck", "Command")), fmt.Sprintf("127.0.0.1:%d%s", nodespec.GatewayPort, nodespec.EmptyDirectoryPath))
		assert.Contains(t, fmt.Sprint(path(cluster, "HealthCheck", "Command")), fmt.Sprintf("127.0.0.1:%d%s", nodespec.RestAPIPort, nodespec.RestAPIHealthPath))
		assert.Equal(t, []any{map[string]any{"Condition": "HEALTHY", "ContainerName": node.KuboContainerName}}, cluster["DependsOn"])
		assert.NotEqual(t, path(kubo, "LogConfiguration", "Options", "awslogs-group"), path(cluster, "LogConfiguration", "Options", "awslogs-group"), "one log group per container")
	}
	// A log group each for kubo (and the Pinning Service API layer) and the
	// cluster, the VPC flow logs, the collectors' metric records (and their
	// own log lines) and the stopped-task log, all kept as configured.
	for id, lg := range s.exactly(t, 2*s.config.NodeCount+3, "AWS::Logs::LogGroup") {
		assert.EqualValues(t, s.config.LogRetentionDays, lg.Properties["RetentionInDays"], id)
	}
}

// TestStartPeriodsOutlastTheLockWaits (issue 8, item 3): ECS must not kill a
// container that correctly waits for a dead task's lock. The waits are read
// from the environment the task gives the images.
func TestStartPeriodsOutlastTheLockWaits(t *testing.T) {
	// Start-up after the lock is free: opening a large repo on EFS, loading
	// the cluster state. Independent of nodespec, so a shrunken allowance
	// fails here.
	const minStartup = 30 * time.Second
	// ECS's largest start period.
	const maxStartPeriod = 300 * time.Second
	for _, s := range allApps() {
		for i := 0; i < s.config.NodeCount; i++ {
			_, defs := taskDefinition(t, s.stackTemplate, fmt.Sprintf("Node%d", i))
			var total time.Duration
			for container, c := range map[string]struct {
				waitVariable string
				want         time.Duration
			}{
				node.KuboContainerName:    {"IPFS_WAIT_REPO_LOCK", nodespec.KuboStartPeriod},
				node.ClusterContainerName: {"IPFS_CLUSTER_WAIT_LOCK", nodespec.ClusterStartPeriod},
			} {
				def := defs[container]
				raw, ok := envOf(t, def)[c.waitVariable]
				require.True(t, ok, "node %d %s: %s is set", i, container, c.waitVariable)
				wait, err := time.ParseDuration(raw)
				require.NoError(t, err)
				require.Positive(t, wait)
				start := time.Duration(path(def, "HealthCheck", "StartPeriod").(float64)) * time.Second
				assert.Equal(t, c.want, start, "node %d %s: the start period is nodespec's", i, container)
				assert.GreaterOrEqual(t, start, wait+minStartup, "node %d %s: start period %v vs lock wait %v", i, container, start, wait)
				assert.LessOrEqual(t, start, maxStartPeriod, "node %d %s", i, container)
				total += start
			}
			// The cluster starts once kubo is healthy: the load balancer
			// waits for both start periods.
			_, service := s.withPrefix(t, "AWS::ECS::Service", fmt.Sprintf("Node%dService", i))
			assert.EqualValues(t, total.Seconds(), service.Properties["HealthCheckGracePeriodSeconds"], "node %d", i)
		}
	}
}

// TestContainersRunUnprivileged (issue 8, item 4): both containers run as
// the image user on read-only root file systems; each writes only to its
// EFS mount and to one task-local scratch volume of its own at /tmp.
func TestContainersRunUnprivileged(t *testing.T) {
	efsMount := map[string]string{node.KuboContainerName: nodespec.KuboRepoPath, node.ClusterContainerName: nodespec.ClusterStatePath}
	for _, s := range allApps() {
		for i := 0; i < s.config.NodeCount; i++ {
			task, defs := taskDefinition(t, s.stackTemplate, fmt.Sprintf("Node%d", i))
			efsVolumes := map[string]bool{}
			for _, v := range list(task.Properties["Volumes"]) {
				efsVolumes[fmt.Sprint(path(v, "Name"))] = path(v, "EFSVolumeConfiguration") != nil
			}
			scratchVolumes := map[string]string{}
			for name, c := range defs {
				assert.Equal(t, "1000:100", c["User"], "node %d %s: the image user from the first instruction", i, name)
				assert.Equal(t, nodespec.User, c["User"])
				assert.Equal(t, true, c["ReadonlyRootFilesystem"], "node %d %s", i, name)
				var scratchMounts, efsMounts []string
				for _, m := range list(c["MountPoints"]) {
					volume := fmt.Sprint(path(m, "SourceVolume"))
					isEFS, known := efsVolumes[volume]
					require.True(t, known, "node %d %s mounts unknown volume %s", i, name, volume)
					if isEFS {
						efsMounts = append(efsMounts, fmt.Sprint(path(m, "ContainerPath")))
						continue
					}
					if path(m, "ReadOnly") != true {
						scratchMounts = append(scratchMounts, fmt.Sprint(path(m, "ContainerPath")))
						assert.NotContains(t, scratchVolumes, volume, "node %d: scratch volume %s shared by two containers", i, volume)
						scratchVolumes[volume] = name
					}
				}
				assert.Equal(t, []string{"/tmp"}, scratchMounts, "node %d %s: exactly one writable non-EFS mount", i, name)
				assert.Equal(t, []string{efsMount[name]}, efsMounts, "node %d %s: its EFS mount", i, name)
				assert.Nil(t, c["VolumesFrom"], "node %d %s", i, name)
				assert.NotEqual(t, true, c["Privileged"], "node %d %s", i, name)
			}
		}
	}
}

// TestTaskEnvironmentIsNodespecs (issue 7, item 3): each task definition's
// environment is exactly what nodespec gives the configuration's node
// settings, the same function the local cluster calls; the secrets are the
// three nodespec variables, by ARN reference to the cluster's secrets.
func TestTaskEnvironmentIsNodespecs(t *testing.T) {
	for _, s := range allApps() {
		seed, _ := s.withPrefix(t, "AWS::SecretsManager::Secret", "SecretsIdentitySeed")
		credentials, _ := s.withPrefix(t, "AWS::SecretsManager::Secret", "SecretsRestApiCredentials")
		for i := 0; i < s.config.NodeCount; i++ {
			_, defs := taskDefinition(t, s.stackTemplate, fmt.Sprintf("Node%d", i))
			kubo, cluster := s.config.NodeSettings(i).Environment()
			assert.Equal(t, kubo, envOf(t, defs[node.KuboContainerName]), "node %d kubo environment", i)
			assert.Equal(t, cluster, envOf(t, defs[node.ClusterContainerName]), "node %d cluster environment", i)

			assert.Nil(t, defs[node.KuboContainerName]["Secrets"], "node %d: kubo gets no secret", i)
			secrets := map[string]any{}
			for _, secret := range list(defs[node.ClusterContainerName]["Secrets"]) {
				secrets[fmt.Sprint(path(secret, "Name"))] = path(secret, "ValueFrom")
			}
			jsonKey := func(key string) any {
				return map[string]any{"Fn::Join": []any{"", []any{map[string]any{"Ref": credentials}, ":" + key + "::"}}}
			}
			assert.Equal(t, map[string]any{
				nodespec.IdentitySeedVariable:    map[string]any{"Ref": seed},
				nodespec.RestAPIUsernameVariable: jsonKey(nodespec.CredentialsUsernameJSONKey),
				nodespec.RestAPIPasswordVariable: jsonKey(nodespec.CredentialsPasswordJSONKey),
			}, secrets, "node %d cluster secrets", i)
		}
	}
}

func TestEveryEfsVolumeUsesIamAndTls(t *testing.T) {
	s := defaults
	for id, task := range s.nodeTasks(t, s.config.NodeCount) {
		efsVolumes := 0
		for _, v := range list(task.Properties["Volumes"]) {
			efs := path(v, "EFSVolumeConfiguration")
			if efs == nil {
				// Task-local scratch (Fargate ephemeral storage): nothing
				// but a name.
				assert.Len(t, v, 1, "%s: a non-EFS volume must be task-local scratch: %v", id, v)
				continue
			}
			efsVolumes++
			assert.Equal(t, "ENABLED", path(efs, "TransitEncryption"), id)
			assert.Equal(t, "ENABLED", path(efs, "AuthorizationConfig", "IAM"), id)
			assert.NotEmpty(t, ref(path(efs, "AuthorizationConfig", "AccessPointId")), id)
		}
		assert.Equal(t, 2, efsVolumes, "%s: the kubo repo and the cluster state", id)
	}
}

// TestMaintenanceTaskRestoresIntoItsOwnFileSystemOnly: node N's maintenance
// task mounts node N's file system root (IAM, TLS) as root, runs only the
// image's restore script, and is the only reason its role may act as root
// there; the runbook finds it through the stack's output.
func TestMaintenanceTaskRestoresIntoItsOwnFileSystemOnly(t *testing.T) {
	s := defaults
	var arns []string
	for i := 0; i < s.config.NodeCount; i++ {
		id, task := s.withPrefix(t, "AWS::ECS::TaskDefinition", fmt.Sprintf("Node%dMaintenanceTask", i))
		arns = append(arns, id)
		_, nodeTask := s.withPrefix(t, "AWS::ECS::TaskDefinition", fmt.Sprintf("Node%dTask", i))
		assert.Equal(t, ref(nodeTask.Properties["TaskRoleArn"]), ref(task.Properties["TaskRoleArn"]), "%s borrows node%d's task role", id, i)
		ownFS, _ := s.withPrefix(t, "AWS::EFS::FileSystem", fmt.Sprintf("Node%dFileSystem", i))
		volumes := list(task.Properties["Volumes"])
		require.Len(t, volumes, 1, id)
		efs := path(volumes[0], "EFSVolumeConfiguration")
		assert.Equal(t, ownFS, ref(path(efs, "FilesystemId")), id)
		assert.Equal(t, "/", path(efs, "RootDirectory"), id)
		assert.Equal(t, "ENABLED", path(efs, "TransitEncryption"), id)
		assert.Equal(t, "ENABLED", path(efs, "AuthorizationConfig", "IAM"), id)
		containers := list(task.Properties["ContainerDefinitions"])
		require.Len(t, containers, 1, id)
		c := containers[0]
		assert.Equal(t, node.MaintenanceContainerName, path(c, "Name"))
		assert.Equal(t, "0:0", path(c, "User"), "%s: root, to hand the restored data to the node's user", id)
		assert.Equal(t, true, path(c, "ReadonlyRootFilesystem"), id)
		assert.Equal(t, []any{nodespec.RestoreCommand}, path(c, "EntryPoint"), id)
		assert.Equal(t, []any{nodespec.MaintenanceMountPath}, path(c, "Command"), id)
		assert.Equal(t, []any{map[string]any{"Name": nodespec.RestoreOwnerVariable, "Value": nodespec.User}}, path(c, "Environment"), id)
		assert.Equal(t, nodespec.MaintenanceMountPath, path(list(path(c, "MountPoints"))[0], "ContainerPath"), id)
	}
	// ClientRootAccess only on the role's own file system.
	for _, policy := range s.ofType("AWS::IAM::Policy") {
		for _, st := range list(path(policy.Properties, "PolicyDocument", "Statement")) {
			if !strings.Contains(fmt.Sprint(path(st, "Action")), "elasticfilesystem:ClientRootAccess") {
				continue
			}
			roles := list(policy.Properties["Roles"])
			require.Len(t, roles, 1)
			i := strings.TrimPrefix(strings.SplitN(fmt.Sprint(ref(roles[0])), "TaskRole", 2)[0], "Node")
			ownFS, _ := s.withPrefix(t, "AWS::EFS::FileSystem", "Node"+i+"FileSystem")
			assert.Contains(t, fmt.Sprint(path(st, "Resource")), ownFS, "root access of node%s's role", i)
		}
	}
	// The output lists them in index order.
	joined := fmt.Sprint(s.outputs[outputs.MaintenanceTaskDefinitions].(map[string]any)["Value"])
	last := -1
	for i, id := range arns {
		at := strings.Index(joined, "Ref:"+id+"]")
		require.GreaterOrEqual(t, at, 0, "output %s lacks node%d's %s", outputs.MaintenanceTaskDefinitions, i, id)
		assert.Greater(t, at, last, "output %s out of index order", outputs.MaintenanceTaskDefinitions)
		last = at
	}
}

// TestTaskRoleMountsOnlyItsOwnFileSystem: node N's task role may mount
// node N's file system and no other.
func TestTaskRoleMountsOnlyItsOwnFileSystem(t *testing.T) {
	s := defaults
	for i := 0; i < s.config.NodeCount; i++ {
		_, task := s.withPrefix(t, "AWS::ECS::TaskDefinition", fmt.Sprintf("Node%dTask", i))
		roleID := ref(task.Properties["TaskRoleArn"])
		ownFS, _ := s.withPrefix(t, "AWS::EFS::FileSystem", fmt.Sprintf("Node%dFileSystem", i))
		var mountable []string
		for _, policy := range s.ofType("AWS::IAM::Policy") {
			attached := false
			for _, r := range list(policy.Properties["Roles"]) {
				attached = attached || ref(r) == roleID
			}
			if !attached {
				continue
			}
			for _, st := range list(path(policy.Properties, "PolicyDocument", "Statement")) {
				if strings.Contains(fmt.Sprint(path(st, "Action")), "elasticfilesystem:ClientMount") {
					resources := path(st, "Resource")
					if l, ok := resources.([]any); ok {
						for _, r := range l {
							mountable = append(mountable, ref(r))
						}
					} else {
						mountable = append(mountable, ref(resources))
					}
				}
			}
		}
		assert.Equal(t, []string{ownFS}, mountable, "node %d task role", i)
		assert.Nil(t, s.resources[roleID].Properties["ManagedPolicyArns"], "node %d: no managed policy on the task role", i)
	}
}

// TestNodePropsAreValidated: the node refuses bad props with messages
// naming the fields, and creates nothing when it does.
func TestNodePropsAreValidated(t *testing.T) {
	stack := awscdk.NewStack(testApp(t, nil), jsii.String("NodeProps"), &awscdk.StackProps{Env: &awscdk.Environment{Region: jsii.String("eu-west-1")}})
	for _, tc := range []struct {
		name  string
		props *node.Props
		want  []string
	}{
		{"nil", nil, []string{"node.Props: required (nil)"}},
		{"nothing", &node.Props{Settings: nodespec.Settings{Index: 1}}, []string{
			"node.Props.AvailabilityZone: required", "node.Props.Vpc: required", "node.Props.Cluster: required",
			"node.Props.CloudMapNamespace: required", "node.Props.IdentitySeed: required", "node.Props.PeerSecurityGroup: required",
			"node.Props.Settings.Namespace:", "node.Props.Settings.Zone:", "node.Props.Settings.Region:",
		}},
		{"zone tag of another zone", &node.Props{Settings: nodespec.Settings{PeerCount: 3, Namespace: "a.internal", Zone: "eu-west-1b", Region: "eu-west-1"}, AvailabilityZone: "eu-west-1a"}, []string{
			`node.Props.Settings.Zone: is "eu-west-1b" but AvailabilityZone is "eu-west-1a"`,
		}},
		{"index outside the cluster", &node.Props{Settings: nodespec.Settings{Index: 3, PeerCount: 3, Namespace: "a.internal"}}, []string{
			"node.Props.Settings.Index: 3 is not a peer of this cluster; allowed: 0 to 2",
		}},
		{"replication above peers", &node.Props{Settings: nodespec.Settings{PeerCount: 1, Namespace: "a.internal", ReplicationFactorMin: 1, ReplicationFactorMax: 2}}, []string{
			"node.Props.Settings.ReplicationFactorMin: min=1 max=2; allowed: 1 <= min <= max <= the number of peers (1)",
		}},
		{"provisioned without throughput", &node.Props{Settings: nodespec.Settings{PeerCount: 3, Namespace: "a.internal"}, ThroughputMode: "PROVISIONED"}, []string{
			"node.Props.ProvisionedMiBps: 0 is out of range",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := node.New(stack, "Node", tc.props)
			require.Error(t, err)
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
	_, err := node.NewPeerSecurityGroup(stack, "Peers", &node.PeerSecurityGroupProps{})
	assert.EqualError(t, err, "node.PeerSecurityGroupProps.Vpc: required")
	assert.Empty(t, childIDs(stack), "a rejected node must not leave constructs behind")
}
