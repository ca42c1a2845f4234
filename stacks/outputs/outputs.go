// Package outputs names the CloudFormation outputs of the cluster stack. It
// has no CDK dependency, so that tools reading a deployed stack (the smoke
// test, the pipeline's post steps) share the names without loading the CDK.
package outputs

// Output keys of the cluster stack.
const (
	GatewayURL                   = "GatewayUrl"
	RestAPIURL                   = "RestApiUrl"
	LoadBalancerDNSName          = "LoadBalancerDnsName"
	RestAPICredentialsSecretName = "RestApiCredentialsSecretName"
	IdentitySeedSecretArn        = "IdentitySeedSecretArn"
	PeerDNSNames                 = "PeerDnsNames"
	EcsClusterName               = "EcsClusterName"
	// NodeServiceNames are the ECS service names of the peers, in index
	// order, comma-separated.
	NodeServiceNames = "NodeServiceNames"
	// ReplicationFactorMin is the cluster's replication_factor_min: how
	// many peers must hold a new pin.
	ReplicationFactorMin = "ReplicationFactorMin"
	// AlarmTopicArn is the cluster region's alarm topic (the edge's is in
	// the us-east-1 monitoring stack).
	AlarmTopicArn = "AlarmTopicArn"
	// DashboardName is the cluster's CloudWatch dashboard.
	DashboardName = "DashboardName"
	// BackupVaultName holds the daily recovery points of every node.
	BackupVaultName = "BackupVaultName"
)
