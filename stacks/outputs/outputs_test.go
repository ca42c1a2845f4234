package outputs

import "testing"

func TestEnvironmentVariable(t *testing.T) {
	for key, want := range map[string]string{
		GatewayURL:                   "GATEWAY_URL",
		RestAPIURL:                   "REST_API_URL",
		RestAPICredentialsSecretName: "REST_API_CREDENTIALS_SECRET_NAME",
		EcsClusterName:               "ECS_CLUSTER_NAME",
		NodeServiceNames:             "NODE_SERVICE_NAMES",
		ReplicationFactorMin:         "REPLICATION_FACTOR_MIN",
		LoadBalancerDNSName:          "LOAD_BALANCER_DNS_NAME",
		IdentitySeedSecretArn:        "IDENTITY_SEED_SECRET_ARN",
	} {
		if got := EnvironmentVariable(key); got != want {
			t.Errorf("EnvironmentVariable(%q) = %q, want %q", key, got, want)
		}
	}
}
