package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

var (
	stackNamePattern  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,63}$`)
	accountPattern    = regexp.MustCompile(`^[0-9]{12}$`)
	regionPattern     = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	storageMaxPattern = regexp.MustCompile(`^[1-9][0-9]*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$`)
	dnsNamePattern    = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	usernamePattern   = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	secretNamePattern = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
	webACLPattern     = regexp.MustCompile(`^arn:aws[a-z-]*:wafv2:us-east-1:[0-9]{12}:global/webacl/[A-Za-z0-9_-]+/[0-9a-f-]{36}$`)
	acmUsEast1Pattern = regexp.MustCompile(`^arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/[0-9a-f-]{36}$`)
)

// MinNodes is the smallest cluster that survives the loss of any one node
// while keeping two copies of every pin.
const MinNodes = 3

func (c Config) validate() []string {
	var problems []string
	fail := func(key, format string, args ...any) {
		problems = append(problems, key+": "+fmt.Sprintf(format, args...))
	}

	if !stackNamePattern.MatchString(c.StackName) {
		fail(KeyStackName, "%q is not a valid stack name; allowed: a letter followed by up to 63 letters, digits or hyphens", c.StackName)
	}
	if c.Account != "" && !accountPattern.MatchString(c.Account) {
		fail(KeyAccount, "%q is not an AWS account ID; allowed: empty (environment-agnostic) or 12 digits", c.Account)
	}
	if !regionPattern.MatchString(c.Region) {
		fail(KeyRegion, "%q is not an AWS region name; allowed: a region such as eu-west-1 (required: the Lambda@Edge stack needs an explicit region)", c.Region)
	}

	if len(c.AvailabilityZones) != 3 {
		fail(KeyAvailabilityZones, "needs exactly 3 availability zones, got %d (%v); allowed: three distinct zones of %s", len(c.AvailabilityZones), c.AvailabilityZones, c.Region)
	} else {
		seen := map[string]bool{}
		for _, az := range c.AvailabilityZones {
			if !strings.HasPrefix(az, c.Region) || len(az) <= len(c.Region) {
				fail(KeyAvailabilityZones, "%q is not a zone of region %q; allowed: zones named %s<letter>", az, c.Region, c.Region)
			}
			if seen[az] {
				fail(KeyAvailabilityZones, "%q is listed twice; allowed: three distinct zones", az)
			}
			seen[az] = true
		}
	}

	if c.NodeCount < MinNodes || c.NodeCount > 30 {
		fail(KeyNodeCount, "%d is out of range; allowed: %d to 30 (one Fargate service per node, spread over the three zones)", c.NodeCount, MinNodes)
	}

	if memories, ok := FargateMemoryMiB[c.TaskCPU]; !ok {
		fail(KeyTaskCPU, "%d is not a Fargate CPU value; allowed: %v", c.TaskCPU, sortedKeys(FargateMemoryMiB))
	} else if !contains(memories, c.TaskMemoryMiB) {
		fail(KeyTaskMemoryMiB, "%d MiB is not valid with %s=%d; allowed: %s", c.TaskMemoryMiB, KeyTaskCPU, c.TaskCPU, describeMemories(memories))
	}
	if c.TaskMemoryMiB < 2048 {
		fail(KeyTaskMemoryMiB, "%d MiB is too small to run kubo and the cluster sidecar together; allowed: 2048 or more", c.TaskMemoryMiB)
	}

	if c.ReplicationFactorMin < 1 || c.ReplicationFactorMin > c.ReplicationFactorMax || c.ReplicationFactorMax > c.NodeCount {
		fail(KeyReplicationFactorMin+"/"+KeyReplicationFactorMax, "min=%d max=%d; allowed: 1 <= min <= max <= %s (%d)", c.ReplicationFactorMin, c.ReplicationFactorMax, KeyNodeCount, c.NodeCount)
	}

	if c.GatewayNoFetch && c.ReplicationFactorMax != c.NodeCount {
		fail(KeyGatewayNoFetch, "true needs %s = %s (%d), got %d: the load balancer sends a request to any node, and with NoFetch a node serves only what it holds; allowed: false, or true with every node holding every pin", KeyReplicationFactorMax, KeyNodeCount, c.NodeCount, c.ReplicationFactorMax)
	}

	if !storageMaxPattern.MatchString(c.KuboStorageMax) {
		fail(KeyKuboStorageMax, "%q is not a size; allowed: a whole number with a unit KB, MB, GB, TB, KiB, MiB, GiB or TiB, e.g. 100GB", c.KuboStorageMax)
	}

	switch c.EfsThroughputMode {
	case ThroughputElastic, ThroughputBursting:
		if c.EfsProvisionedMiBps != 0 {
			fail(KeyEfsProvisionedMiBps, "is only used with %s=provisioned; allowed: 0 or unset", KeyEfsThroughputMode)
		}
	case ThroughputProvisioned:
		if c.EfsProvisionedMiBps < 1 || c.EfsProvisionedMiBps > 3414 {
			fail(KeyEfsProvisionedMiBps, "%d is out of range for provisioned throughput; allowed: 1 to 3414", c.EfsProvisionedMiBps)
		}
	default:
		fail(KeyEfsThroughputMode, "%q is unknown; allowed: elastic, bursting, provisioned", c.EfsThroughputMode)
	}

	switch c.DataRemovalPolicy {
	case RemovalRetain, RemovalDestroy:
	default:
		fail(KeyDataRemovalPolicy, "%q is unknown; allowed: retain, destroy", c.DataRemovalPolicy)
	}

	if !contains(LogRetentionDaysAllowed, c.LogRetentionDays) {
		fail(KeyLogRetentionDays, "%d is not a CloudWatch Logs retention; allowed: %v", c.LogRetentionDays, LogRetentionDaysAllowed)
	}

	if !dnsNamePattern.MatchString(c.CloudMapNamespace) {
		fail(KeyCloudMapNamespace, "%q is not a DNS name; allowed: lower-case labels separated by dots, e.g. ipfs-cluster.internal", c.CloudMapNamespace)
	}

	if prefix, err := netip.ParsePrefix(c.VpcCidr); err != nil || !prefix.Addr().Is4() || prefix.Bits() < 16 || prefix.Bits() > 22 || prefix.Masked() != prefix {
		fail(KeyVpcCidr, "%q is not usable; allowed: an IPv4 network from /16 to /22, e.g. 10.42.0.0/16", c.VpcCidr)
	}

	c.validateDomain(KeyGatewayDomainName, c.GatewayDomainName, KeyGatewayCertificateArn, c.GatewayCertificateArn, fail)
	c.validateDomain(KeyAPIDomainName, c.APIDomainName, KeyAPICertificateArn, c.APICertificateArn, fail)

	if !contains(CloudFrontPriceClasses, c.CloudFrontPriceClass) {
		fail(KeyCloudFrontPriceClass, "%q is unknown; allowed: %s", c.CloudFrontPriceClass, strings.Join(CloudFrontPriceClasses, ", "))
	}
	if !usernamePattern.MatchString(c.RestAPIUsername) {
		fail(KeyRestAPIUsername, "%q is not allowed; allowed: 1-64 letters, digits, '.', '_' or '-' (no ':' or ',': the cluster parses user:pass,user:pass)", c.RestAPIUsername)
	}
	if !secretNamePattern.MatchString(c.RestAPICredentialsSecretName) {
		fail(KeyRestAPICredentialsName, "%q is not a Secrets Manager name; allowed: 1-512 of letters, digits and /_+=.@-", c.RestAPICredentialsSecretName)
	}
	if c.WebACLArn != "" && !webACLPattern.MatchString(c.WebACLArn) {
		fail(KeyWebACLArn, "%q is not a global WAFv2 web ACL ARN; allowed: empty or arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id> (CloudFront takes CLOUDFRONT-scope ACLs)", c.WebACLArn)
	}
	return problems
}

func (c Config) validateDomain(domainKey, domain, certKey, cert string, fail func(string, string, ...any)) {
	switch {
	case domain == "" && cert == "":
	case domain == "" || cert == "":
		fail(domainKey+"/"+certKey, "must be set together; allowed: both empty (CloudFront's own domain) or a domain name with an ACM certificate ARN in us-east-1")
	default:
		if !dnsNamePattern.MatchString(domain) {
			fail(domainKey, "%q is not a DNS name; allowed: a lower-case fully qualified name, e.g. ipfs.example.com", domain)
		}
		if !acmUsEast1Pattern.MatchString(cert) {
			fail(certKey, "%q is not an ACM certificate ARN in us-east-1; allowed: arn:aws:acm:us-east-1:<account>:certificate/<id> (CloudFront only uses us-east-1 certificates)", cert)
		}
	}
}

func describeMemories(memories []int) string {
	if len(memories) <= 3 {
		return fmt.Sprint(memories)
	}
	return fmt.Sprintf("%d to %d in steps of %d", memories[0], memories[len(memories)-1], memories[1]-memories[0])
}

// ZoneOf returns the availability zone of node index i: nodes go round-robin
// over the zones so that any replication factor >= 2 spans two zones.
func (c Config) ZoneOf(i int) string {
	return c.AvailabilityZones[i%len(c.AvailabilityZones)]
}
