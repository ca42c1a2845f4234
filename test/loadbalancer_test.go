package test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/loadbalancer"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
)

// loadBalancer returns the app's one ALB.
func loadBalancer(t *testing.T, s *synthesized) resource {
	t.Helper()
	for _, alb := range s.exactly(t, 1, "AWS::ElasticLoadBalancingV2::LoadBalancer") {
		return alb
	}
	return resource{}
}

// albAttributes returns the load balancer attributes by key.
func albAttributes(alb resource) map[string]any {
	out := map[string]any{}
	for _, a := range list(alb.Properties["LoadBalancerAttributes"]) {
		out[fmt.Sprint(path(a, "Key"))] = path(a, "Value")
	}
	return out
}

func TestInternalLoadBalancerAndTargetGroups(t *testing.T) {
	s := defaults
	alb := loadBalancer(t, s)
	assert.Equal(t, "internal", alb.Properties["Scheme"])
	subnets := list(alb.Properties["Subnets"])
	require.Len(t, subnets, len(s.config.AvailabilityZones), "one subnet per zone")
	for _, subnet := range subnets {
		assert.False(t, hasRouteOut(t, s.stackTemplate, subnet), "the ALB's subnet %v has a route out", subnet)
	}
	attributes := albAttributes(alb)
	assert.Equal(t, "true", attributes["routing.http.drop_invalid_header_fields.enabled"])
	assert.Equal(t, "true", attributes["access_logs.s3.enabled"])

	groups := map[float64]map[string]any{}
	for _, tg := range s.exactly(t, 3, "AWS::ElasticLoadBalancingV2::TargetGroup") {
		groups[tg.Properties["Port"].(float64)] = tg.Properties
		assert.Equal(t, "ip", tg.Properties["TargetType"])
	}
	assert.Equal(t, nodespec.EmptyDirectoryPath, groups[node.GatewayPort]["HealthCheckPath"])
	assert.Equal(t, map[string]any{"HttpCode": "200"}, groups[node.GatewayPort]["Matcher"])
	assert.Equal(t, nodespec.RestAPIHealthPath, groups[node.RestAPIPort]["HealthCheckPath"])
	assert.Equal(t, map[string]any{"HttpCode": "204"}, groups[node.RestAPIPort]["Matcher"])
	// The Pinning Service API's health path needs no credentials (psa
	// answers 204 there while its peer's REST API is live).
	assert.Equal(t, nodespec.PinningServiceHealthPath, groups[nodespec.PinningServicePort]["HealthCheckPath"])
	assert.Equal(t, map[string]any{"HttpCode": "204"}, groups[nodespec.PinningServicePort]["Matcher"])

	var ports []float64
	for _, l := range s.exactly(t, 3, "AWS::ElasticLoadBalancingV2::Listener") {
		ports = append(ports, l.Properties["Port"].(float64))
		assert.Equal(t, "HTTP", l.Properties["Protocol"])
	}
	assert.ElementsMatch(t, []float64{node.GatewayPort, node.RestAPIPort, nodespec.PinningServicePort}, ports)
	// Every service registers both containers with the load balancer.
	for id, service := range s.exactly(t, s.config.NodeCount, "AWS::ECS::Service") {
		var registered []string
		for _, lb := range list(service.Properties["LoadBalancers"]) {
			registered = append(registered, fmt.Sprintf("%v:%v", path(lb, "ContainerName"), path(lb, "ContainerPort")))
		}
		assert.ElementsMatch(t, []string{
			fmt.Sprintf("%s:%d", node.ClusterContainerName, node.RestAPIPort),
			fmt.Sprintf("%s:%d", node.KuboContainerName, node.GatewayPort),
			fmt.Sprintf("%s:%d", node.PinningServiceContainerName, nodespec.PinningServicePort),
		}, registered, id)
	}
}

// TestLoadBalancerPropsAreValidated: every problem at once, each naming its
// field, and nothing created.
func TestLoadBalancerPropsAreValidated(t *testing.T) {
	stack := awscdk.NewStack(testApp(t, nil), jsii.String("LoadBalancerProps"), nil)
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(0)})
	sg := awsec2.NewSecurityGroup(stack, jsii.String("Sg"), &awsec2.SecurityGroupProps{Vpc: vpc})
	before := childIDs(stack)
	for _, tc := range []struct {
		name  string
		props *loadbalancer.Props
		want  []string
	}{
		{"nil", nil, []string{"loadbalancer.Props: required (nil)"}},
		{"nothing", &loadbalancer.Props{}, []string{
			"loadbalancer.Props.Vpc: required", "loadbalancer.Props.Subnets: required", "loadbalancer.Props.Targets: required",
		}},
		{"same ports", &loadbalancer.Props{Vpc: vpc, Subnets: &awsec2.SubnetSelection{}, Targets: sg, GatewayPort: 80, RestAPIPort: 80}, []string{
			"loadbalancer.Props.RestAPIPort: must differ from GatewayPort",
		}},
		{"a snapshot policy for the logs and a relative health path", &loadbalancer.Props{Vpc: vpc, Subnets: &awsec2.SubnetSelection{}, Targets: sg, AccessLogRemovalPolicy: awscdk.RemovalPolicy_SNAPSHOT, GatewayHealthPath: "health"}, []string{
			`loadbalancer.Props.AccessLogRemovalPolicy: "SNAPSHOT" is not supported`, `loadbalancer.Props.GatewayHealthPath: "health" is not a path`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadbalancer.New(stack, "Lb", tc.props)
			require.Error(t, err)
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
	assert.Equal(t, before, childIDs(stack), "a rejected load balancer must not leave constructs behind")
}
