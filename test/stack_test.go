package test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks"
)

// withPrefix returns the single resource of a type whose logical ID starts
// with prefix (construct IDs become logical ID prefixes).
func (s *synthesized) withPrefix(t *testing.T, resourceType, prefix string) (string, resource) {
	t.Helper()
	var ids []string
	for id := range s.ofType(resourceType) {
		if strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
	}
	require.Len(t, ids, 1, "%s with prefix %s", resourceType, prefix)
	return ids[0], s.resources[ids[0]]
}

func subnetZone(t *testing.T, s *synthesized, subnetRef any) string {
	t.Helper()
	subnet, ok := s.resources[ref(subnetRef)]
	require.True(t, ok, "subnet %v not in template", subnetRef)
	require.Equal(t, "AWS::EC2::Subnet", subnet.Type)
	zone, _ := subnet.Properties["AvailabilityZone"].(string)
	return zone
}

func TestOneZoneFileSystemPerNodeWithOneMountTargetInItsZone(t *testing.T) {
	for _, s := range []*synthesized{defaults, privateSwarm} {
		fileSystems := s.ofType("AWS::EFS::FileSystem")
		require.Len(t, fileSystems, s.config.NodeCount)
		for i := 0; i < s.config.NodeCount; i++ {
			fsID, fs := s.withPrefix(t, "AWS::EFS::FileSystem", fmt.Sprintf("Node%dFileSystem", i))
			zone := s.config.ZoneOf(i)
			assert.Equal(t, zone, fs.Properties["AvailabilityZoneName"], "node %d file system zone", i)
			assert.Equal(t, true, fs.Properties["Encrypted"])
			// The stack's AWS Backup plan replaces EFS's automatic backups
			// (test/backup_test.go).
			assert.Equal(t, "DISABLED", path(fs.Properties, "BackupPolicy", "Status"))
			assert.Equal(t, "Retain", fs.DeletionPolicy, "data is retained by default")
			var mountTargets []resource
			for _, mt := range s.ofType("AWS::EFS::MountTarget") {
				if ref(mt.Properties["FileSystemId"]) == fsID {
					mountTargets = append(mountTargets, mt)
				}
			}
			require.Len(t, mountTargets, 1, "node %d: exactly one mount target", i)
			assert.Equal(t, zone, subnetZone(t, s, mountTargets[0].Properties["SubnetId"]), "node %d mount target zone", i)
		}
	}
}

func TestAccessPointsOwnedByTheImagesUser(t *testing.T) {
	accessPoints := defaults.ofType("AWS::EFS::AccessPoint")
	require.Len(t, accessPoints, 2*defaults.config.NodeCount)
	paths := map[string]int{}
	for _, ap := range accessPoints {
		assert.Equal(t, "1000", path(ap.Properties, "PosixUser", "Uid"))
		assert.Equal(t, "100", path(ap.Properties, "PosixUser", "Gid"))
		assert.Equal(t, "1000", path(ap.Properties, "RootDirectory", "CreationInfo", "OwnerUid"))
		assert.Equal(t, "100", path(ap.Properties, "RootDirectory", "CreationInfo", "OwnerGid"))
		paths[path(ap.Properties, "RootDirectory", "Path").(string)]++
	}
	assert.Equal(t, map[string]int{"/ipfs": 3, "/ipfs-cluster": 3}, paths)
}

func TestServicesArePinnedToTheirZone(t *testing.T) {
	for _, s := range []*synthesized{defaults, privateSwarm} {
		require.Len(t, s.ofType("AWS::ECS::Service"), s.config.NodeCount)
		for i := 0; i < s.config.NodeCount; i++ {
			_, service := s.withPrefix(t, "AWS::ECS::Service", fmt.Sprintf("Node%dService", i))
			p := service.Properties
			subnets := list(path(p, "NetworkConfiguration", "AwsvpcConfiguration", "Subnets"))
			require.NotEmpty(t, subnets)
			for _, subnet := range subnets {
				assert.Equal(t, s.config.ZoneOf(i), subnetZone(t, s, subnet), "node %d subnet", i)
			}
			publicIP := "DISABLED"
			if s.config.PublicSwarm {
				publicIP = "ENABLED"
			}
			assert.Equal(t, publicIP, path(p, "NetworkConfiguration", "AwsvpcConfiguration", "AssignPublicIp"))
			assert.EqualValues(t, 1, p["DesiredCount"])
			assert.EqualValues(t, 0, path(p, "DeploymentConfiguration", "MinimumHealthyPercent"))
			assert.EqualValues(t, 100, path(p, "DeploymentConfiguration", "MaximumPercent"))
			assert.Equal(t, true, path(p, "DeploymentConfiguration", "DeploymentCircuitBreaker", "Enable"))
			assert.Equal(t, true, path(p, "DeploymentConfiguration", "DeploymentCircuitBreaker", "Rollback"))
			assert.Equal(t, "DISABLED", p["AvailabilityZoneRebalancing"])
			registry := s.resources[ref(path(p, "ServiceRegistries", 0, "RegistryArn"))]
			assert.Equal(t, fmt.Sprintf("node%d", i), registry.Properties["Name"])
		}
	}
}

// containers returns node i's container definitions by name.
func containers(t *testing.T, s *synthesized, i int) map[string]map[string]any {
	t.Helper()
	_, task := s.withPrefix(t, "AWS::ECS::TaskDefinition", fmt.Sprintf("Node%dTask", i))
	out := map[string]map[string]any{}
	for _, c := range list(task.Properties["ContainerDefinitions"]) {
		def := c.(map[string]any)
		out[def["Name"].(string)] = def
	}
	return out
}

func TestContainersHealthChecksDependencyAndShutdown(t *testing.T) {
	for i := 0; i < defaults.config.NodeCount; i++ {
		defs := containers(t, defaults, i)
		require.Len(t, defs, 3)
		// The metrics collector has its own test (monitoring_test.go).
		delete(defs, node.CollectorContainerName)
		kubo, cluster := defs["kubo"], defs["ipfs-cluster"]
		require.NotNil(t, kubo)
		require.NotNil(t, cluster)
		for name, c := range defs {
			check := fmt.Sprint(path(c, "HealthCheck", "Command"))
			assert.NotEmpty(t, path(c, "HealthCheck", "Command"), "%s health check", name)
			assert.NotContains(t, check, "RESTAPI", "%s health check must use no credentials", name)
			assert.NotContains(t, check, "-u ", "%s health check must use no credentials", name)
			assert.NotContains(t, check, "@", "%s health check must use no credentials", name)
			assert.EqualValues(t, 120, c["StopTimeout"], "%s stop timeout", name)
			assert.Equal(t, "awslogs", path(c, "LogConfiguration", "LogDriver"))
		}
		assert.Contains(t, fmt.Sprint(path(kubo, "HealthCheck", "Command")), node.EmptyDirectoryPath)
		assert.Contains(t, fmt.Sprint(path(cluster, "HealthCheck", "Command")), "/health")
		assert.Equal(t, []any{map[string]any{"Condition": "HEALTHY", "ContainerName": "kubo"}}, cluster["DependsOn"])
		assert.NotEqual(t, path(kubo, "LogConfiguration", "Options", "awslogs-group"), path(cluster, "LogConfiguration", "Options", "awslogs-group"), "one log group per container")
		// kubo's RPC port is never mapped.
		for _, c := range defs {
			for _, pm := range list(c["PortMappings"]) {
				assert.NotEqualValues(t, 5001, path(pm, "ContainerPort"))
			}
		}
	}
	for _, lg := range defaults.ofType("AWS::Logs::LogGroup") {
		assert.EqualValues(t, defaults.config.LogRetentionDays, lg.Properties["RetentionInDays"])
	}
}

func TestEveryEfsVolumeUsesIamAndTls(t *testing.T) {
	tasks := defaults.ofType("AWS::ECS::TaskDefinition")
	require.Len(t, tasks, defaults.config.NodeCount)
	for id, task := range tasks {
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
		// Nothing else in the role grants EFS access by wildcard.
		role := s.resources[roleID]
		assert.NotContains(t, fmt.Sprint(role.Properties["ManagedPolicyArns"]), "ElasticFileSystem")
	}
}

func TestInternalLoadBalancerAndTargetGroups(t *testing.T) {
	s := defaults
	albs := s.ofType("AWS::ElasticLoadBalancingV2::LoadBalancer")
	require.Len(t, albs, 1)
	for _, alb := range albs {
		assert.Equal(t, "internal", alb.Properties["Scheme"])
		for _, subnet := range list(alb.Properties["Subnets"]) {
			assert.False(t, s.resources[ref(subnet)].Properties["MapPublicIpOnLaunch"] == true, "ALB in a public subnet")
		}
	}
	s.template.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::TargetGroup"), map[string]any{
		"Port": node.GatewayPort, "TargetType": "ip", "HealthCheckPath": node.EmptyDirectoryPath, "Matcher": map[string]any{"HttpCode": "200"},
	})
	s.template.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::TargetGroup"), map[string]any{
		"Port": node.RestAPIPort, "TargetType": "ip", "HealthCheckPath": "/health", "Matcher": map[string]any{"HttpCode": "204"},
	})
	var ports []int
	for _, l := range s.ofType("AWS::ElasticLoadBalancingV2::Listener") {
		ports = append(ports, int(l.Properties["Port"].(float64)))
	}
	sort.Ints(ports)
	assert.Equal(t, []int{node.GatewayPort, node.RestAPIPort}, ports)
	// Every service registers both containers with the load balancer.
	for id, service := range s.ofType("AWS::ECS::Service") {
		var registered []string
		for _, lb := range list(service.Properties["LoadBalancers"]) {
			registered = append(registered, fmt.Sprintf("%v:%v", path(lb, "ContainerName"), path(lb, "ContainerPort")))
		}
		sort.Strings(registered)
		assert.Equal(t, []string{"ipfs-cluster:9094", "kubo:8080"}, registered, id)
	}
}

func TestOutputsForOperators(t *testing.T) {
	for _, name := range []string{"LoadBalancerDnsName", "RestApiCredentialsSecretName", "IdentitySeedSecretArn", "PeerDnsNames", "EcsClusterName"} {
		assert.Contains(t, defaults.outputs, name)
	}
	assert.Equal(t, "node0.ipfs-cluster.internal,node1.ipfs-cluster.internal,node2.ipfs-cluster.internal", path(defaults.outputs, "PeerDnsNames", "Value"))
}

func TestPrivateSwarmNodesHaveNoInternetPath(t *testing.T) {
	s := privateSwarm
	for _, service := range s.ofType("AWS::ECS::Service") {
		for _, subnet := range list(path(service.Properties, "NetworkConfiguration", "AwsvpcConfiguration", "Subnets")) {
			assert.NotEqual(t, true, s.resources[ref(subnet)].Properties["MapPublicIpOnLaunch"])
		}
	}
	// Without a NAT gateway, tasks reach ECR, logs and Secrets Manager
	// through endpoints.
	assert.Empty(t, s.ofType("AWS::EC2::NatGateway"))
	var services []string
	for _, e := range s.ofType("AWS::EC2::VPCEndpoint") {
		services = append(services, fmt.Sprint(e.Properties["ServiceName"]))
	}
	joined := strings.Join(services, " ")
	for _, want := range []string{"ecr.api", "ecr.dkr", "logs", "secretsmanager", "s3"} {
		assert.Contains(t, joined, want)
	}
	assert.Empty(t, defaults.ofType("AWS::EC2::VPCEndpoint"), "public nodes need no endpoints")
}

func TestNoCdkNagFindings(t *testing.T) {
	for _, s := range []*synthesized{defaults, privateSwarm} {
		// Every stack of the app: the main one and the us-east-1 stack that
		// holds the Lambda@Edge function.
		var checked []string
		for _, child := range *s.cdkApp.Node().Children() {
			if !*awscdk.Stack_IsStack(child) {
				continue
			}
			stack := child.(awscdk.Stack)
			checked = append(checked, *stack.Region())
			annotations := assertions.Annotations_FromStack(stack)
			match := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
			for level, found := range map[string]*[]*cxapi.SynthesisMessage{
				"error":   annotations.FindError(jsii.String("*"), match),
				"warning": annotations.FindWarning(jsii.String("*"), match),
			} {
				for _, m := range *found {
					t.Errorf("cdk-nag %s at %s: %v", level, *m.Id, m.Entry.Data)
				}
			}
		}
		sort.Strings(checked)
		// The cluster, its Lambda@Edge stack, its edge monitoring stack.
		assert.Equal(t, []string{s.config.Region, "us-east-1", "us-east-1"}, checked, "stacks checked by cdk-nag")
	}
}

// TestOnlyCloudFrontReachesTheLoadBalancer: the ALB has no public address
// and both distributions reach it through VPC origins.
func TestOnlyCloudFrontReachesTheLoadBalancer(t *testing.T) {
	s := defaults
	albID := ""
	for id := range s.ofType("AWS::ElasticLoadBalancingV2::LoadBalancer") {
		albID = id
	}
	origins := s.ofType("AWS::CloudFront::VpcOrigin")
	require.Len(t, origins, 2)
	var ports []int
	for _, o := range origins {
		assert.Equal(t, albID, ref(path(o.Properties, "VpcOriginEndpointConfig", "Arn")))
		ports = append(ports, int(path(o.Properties, "VpcOriginEndpointConfig", "HTTPPort").(float64)))
	}
	sort.Ints(ports)
	assert.Equal(t, []int{node.GatewayPort, node.RestAPIPort}, ports)
	require.Len(t, s.ofType("AWS::CloudFront::Distribution"), 2)
	for id, d := range s.ofType("AWS::CloudFront::Distribution") {
		for _, o := range list(path(d.Properties, "DistributionConfig", "Origins")) {
			assert.NotNil(t, path(o, "VpcOriginConfig"), "%s: every origin is a VPC origin", id)
			assert.Nil(t, path(o, "CustomOriginConfig"), "%s: no public custom origin", id)
		}
	}
	assert.Contains(t, s.outputs, "GatewayUrl")
	assert.Contains(t, s.outputs, "RestApiUrl")
}

// TestStackFitsInAPipelineStage: the future CDK Pipelines path puts the same
// stack in a Stage per environment (develop -> test, main -> production).
func TestStackFitsInAPipelineStage(t *testing.T) {
	cdkApp := awscdk.NewApp(nil)
	stage := awscdk.NewStage(cdkApp, jsii.String("Test"), nil)
	cfg := defaults.config
	cfg.StackName = "IpfsClusterTest"
	cfg.RestAPICredentialsSecretName = "IpfsClusterTest/rest-api-credentials"
	stack, err := stacks.New(stage, "IpfsCluster", &stacks.Props{Config: cfg, SourceDir: repoRoot})
	require.NoError(t, err)
	template := assertions.Template_FromStack(stack.Stack, nil)
	template.ResourceCountIs(jsii.String("AWS::ECS::Service"), jsii.Number(float64(cfg.NodeCount)))
	template.HasResourceProperties(jsii.String("AWS::SecretsManager::Secret"), map[string]any{"Name": "IpfsClusterTest/rest-api-credentials"})
	assert.Equal(t, "IpfsClusterTest", *stack.StackName())
}
