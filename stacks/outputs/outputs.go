// Package outputs names the CloudFormation outputs of the cluster stack. It
// has no CDK dependency, so that tools reading a deployed stack (the smoke
// test, the pipeline's post steps) share the names without loading the CDK.
package outputs

import (
	"strings"
	"unicode"
)

// Output keys of the cluster stack. A second region's stacks
// (stacks.SecondRegion.Outputs) have those of its peers with that region's
// values: all but the URLs and the distributions' names.
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
	// BackupRoleArn is the role AWS Backup backs up and restores the file
	// systems with (a restore job needs it).
	BackupRoleArn = "BackupRoleArn"
	// FileSystemIds are the nodes' EFS file system IDs, in index order,
	// comma-separated.
	FileSystemIds = "FileSystemIds"
	// MaintenanceTaskDefinitions are the ARNs of the nodes' maintenance
	// task definitions, in index order, comma-separated.
	MaintenanceTaskDefinitions = "MaintenanceTaskDefinitions"
)

// Outputs only present with a subdomain gateway or websites.
const (
	// GatewayDistributionDomainName is the gateway distribution's
	// *.cloudfront.net name: the target of the gateway domain's and its
	// *.ipfs/*.ipns wildcards' DNS records.
	GatewayDistributionDomainName = "GatewayDistributionDomainName"
	// WebsitesDistributionDomainName is the websites distribution's
	// *.cloudfront.net name: the target of every website's DNS record.
	WebsitesDistributionDomainName = "WebsitesDistributionDomainName"
)

// Outputs of the cluster stack only with a second region: where the second
// region's stack is, whose outputs (EcsClusterName, NodeServiceNames, ...)
// describe that region's peers.
const (
	SecondRegion          = "SecondRegion"
	SecondRegionStackName = "SecondRegionStackName"
	// SecondRegionRestAPIURL is the REST API through the second region's
	// load balancer: where clients write while the first region is down.
	SecondRegionRestAPIURL = "SecondRegionRestApiUrl"
)

// SecondRegionVariable is the environment variable that carries output key
// of the second region's stack, where the first region's stack has the same
// key: SECOND_REGION_ECS_CLUSTER_NAME.
func SecondRegionVariable(key string) string { return EnvironmentVariable(SecondRegion + key) }

// EnvironmentVariable is the environment variable that carries output key
// to a process (a pipeline step's EnvFromCfnOutputs, the smoke test): the
// key in SCREAMING_SNAKE form, GatewayUrl -> GATEWAY_URL.
func EnvironmentVariable(key string) string {
	var b strings.Builder
	runes := []rune(key)
	for i, r := range runes {
		if i > 0 && unicode.IsUpper(r) && (unicode.IsLower(runes[i-1]) || (i+1 < len(runes) && unicode.IsLower(runes[i+1]))) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}
