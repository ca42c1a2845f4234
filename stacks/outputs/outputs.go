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
