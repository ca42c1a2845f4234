package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/backup/backupspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/monitoring/monitoringspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/network/networkspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/propcheck"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/partition"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks/stackspec"
)

// Each construct owns the rules of its own settings (the spec packages, no
// CDK); this file applies them under the configuration's key names and adds
// only the rules that span several settings or belong to the app itself.

var (
	stackNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)
	accountPattern   = regexp.MustCompile(`^[0-9]{12}$`)
)

// MinNodes is the smallest cluster that survives the loss of any one node
// while keeping two copies of every pin.
const MinNodes = 3

// ZoneCount is how many availability zones the cluster spans.
const ZoneCount = 3

// nodeSettingKeys maps nodespec.Settings fields to configuration keys.
var nodeSettingKeys = map[string]string{
	"PeerCount":            KeyNodeCount,
	"Namespace":            KeyCloudMapNamespace,
	"CPU":                  KeyTaskCPU,
	"MemoryMiB":            KeyTaskMemoryMiB,
	"ReplicationFactorMin": KeyReplicationFactorMin + "/" + KeyReplicationFactorMax,
	"KuboStorageMax":       KeyKuboStorageMax,
}

// Validate reports every problem of c, each naming its key and what is
// allowed. Parse calls it; so does the stack, before its first construct.
func (c Config) Validate() error {
	if problems := c.validate(false); len(problems) > 0 {
		return &ValidationError{Problems: problems}
	}
	return nil
}

// validate lists every problem; local relaxes what only a deployment needs
// (see ParseLocal).
func (c Config) validate(local bool) []string {
	var problems []string
	fail := func(key, format string, args ...any) {
		problems = append(problems, key+": "+fmt.Sprintf(format, args...))
	}
	check := func(key string, err error) {
		if err != nil {
			fail(key, "%v", err)
		}
	}

	if n := len(c.CloudMapNamespace); n > stackspec.MaxCloudMapNamespaceLength {
		fail(KeyCloudMapNamespace, "%d characters; allowed: at most %d: every node's task definition in the cluster stack lists every peer's address in it, and CloudFormation takes at most %d bytes of template", n, stackspec.MaxCloudMapNamespaceLength, stackspec.MaxTemplateBytes)
	}
	if !stackNamePattern.MatchString(c.StackName) {
		fail(KeyStackName, "%q is not a valid stack name; allowed: a letter followed by up to 127 letters, digits or hyphens", c.StackName)
	}
	if c.Account != "" && !accountPattern.MatchString(c.Account) {
		fail(KeyAccount, "%q is not an AWS account ID; allowed: empty (environment-agnostic) or 12 digits", c.Account)
	}
	// Required: the Lambda@Edge stack needs an explicit region.
	check(KeyRegion, partition.ValidateRegion(c.Region))

	c.validateZones(KeyAvailabilityZones, c.AvailabilityZones, c.Region, fail)
	c.validateSecondRegion(fail)

	if c.NodeCount < MinNodes || c.NodeCount > stackspec.MaxNodes() {
		fail(KeyNodeCount, "%d is out of range; allowed: %d to %d (one Fargate service per node, spread over the zones)", c.NodeCount, MinNodes, stackspec.MaxNodes())
	}
	// Every node gets the same settings but its index: the first one speaks
	// for all. The node count has its own, stricter rule above.
	for _, p := range propcheck.Problems(c.NodeSettings(0).Validate()) {
		switch p.Field {
		case "PeerCount", "Index":
			continue
		case "SubdomainGatewayHosts", "DNSLinkHosts":
			// The edge's rules for these names (validateWebsites) are
			// stricter and name the right key; one report is enough.
			continue
		case "Zone", "Region", "SecondRegion", "SecondRegionFrom":
			// So are the rules for the regions and their zones above.
			continue
		}
		key, ok := nodeSettingKeys[p.Field]
		if !ok {
			key = "node settings (" + p.Field + ")"
		}
		fail(key, "%s", p.Message)
	}

	if c.GatewayNoFetch && c.ReplicationFactorMax != c.TotalNodes() {
		nodes := KeyNodeCount
		if c.SecondRegion != "" {
			nodes += " + " + KeySecondRegionNodeCount
		}
		fail(KeyGatewayNoFetch, "true needs %s = %s (%d), got %d: the load balancer sends a request to any node, and with NoFetch a node serves only what it holds; allowed: false, or true with every node holding every pin", KeyReplicationFactorMax, nodes, c.TotalNodes(), c.ReplicationFactorMax)
	}

	switch c.EfsThroughputMode {
	case ThroughputElastic, ThroughputBursting:
		if c.EfsProvisionedMiBps != 0 {
			fail(KeyEfsProvisionedMiBps, "is only used with %s=provisioned; allowed: 0 or unset", KeyEfsThroughputMode)
		}
	case ThroughputProvisioned:
		if c.EfsProvisionedMiBps < 1 || c.EfsProvisionedMiBps > nodespec.MaxProvisionedMiBps {
			fail(KeyEfsProvisionedMiBps, "%d is out of range for provisioned throughput; allowed: 1 to %d", c.EfsProvisionedMiBps, nodespec.MaxProvisionedMiBps)
		}
	default:
		fail(KeyEfsThroughputMode, "%q is unknown; allowed: elastic, bursting, provisioned", c.EfsThroughputMode)
	}

	switch c.DataRemovalPolicy {
	case RemovalRetain, RemovalDestroy:
	default:
		fail(KeyDataRemovalPolicy, "%q is unknown; allowed: retain, destroy", c.DataRemovalPolicy)
	}

	if !slices.Contains(LogRetentionDaysAllowed, c.LogRetentionDays) {
		fail(KeyLogRetentionDays, "%d is not a CloudWatch Logs retention; allowed: %v", c.LogRetentionDays, LogRetentionDaysAllowed)
	}

	check(KeyVpcCidr, networkspec.ValidateCidr(c.VpcCidr, ZoneCount))

	c.validateDomain(KeyGatewayDomainName, c.GatewayDomainName, KeyGatewayCertificateArn, c.GatewayCertificateArn, fail)
	c.validateDomain(KeyAPIDomainName, c.APIDomainName, KeyAPICertificateArn, c.APICertificateArn, fail)

	c.validateWebsites(fail, local)

	check(KeyCloudFrontPriceClass, edgespec.ValidatePriceClass(c.CloudFrontPriceClass))
	check(KeyRestAPIUsername, nodespec.ValidateRestAPIUsername(c.RestAPIUsername))
	check(KeyRestAPICredentialsName, edgespec.ValidateCredentialsSecretName(c.RestAPICredentialsSecretName))
	if c.WebACLArn != "" {
		check(KeyWebACLArn, edgespec.ValidateWebACLArn(c.WebACLArn))
	}
	check(KeyAlarmEmail, monitoringspec.ValidateEmail(c.AlarmEmail))
	check(KeyRunbookBaseURL, monitoringspec.ValidateRunbookURL(c.RunbookBaseURL))
	check(KeyBackupRetentionDays, backupspec.ValidateRetentionDays(c.BackupRetentionDays))
	check(KeyBackupCopyRegion, backupspec.ValidateCopyRegion(c.BackupCopyRegion, c.Region))
	return problems
}

func (c Config) validateDomain(domainKey, domain, certKey, cert string, fail func(string, string, ...any)) {
	switch {
	case domain == "" && cert == "":
	case domain == "" || cert == "":
		fail(domainKey+"/"+certKey, "must be set together; allowed: both empty (CloudFront's own domain) or a domain name with an ACM certificate ARN in %s", edgespec.Region)
	default:
		if err := edgespec.ValidateAliases([]string{domain}); err != nil {
			fail(domainKey, "%v", err)
		}
		if err := edgespec.ValidateCertificateArn(cert); err != nil {
			fail(certKey, "%v", err)
		}
	}
}

// validateWebsites checks the subdomain gateway and the DNSLink websites
// against the domains they need and the names the other distributions take.
func (c Config) validateWebsites(fail func(string, string, ...any), local bool) {
	if c.GatewaySubdomains && (c.GatewayDomainName == "" || c.GatewayCertificateArn == "") {
		fail(KeyGatewaySubdomains, "true needs %s and %s (a certificate in %s covering <domain>, *.ipfs.<domain> and *.ipns.<domain>); allowed: false, or true with both set", KeyGatewayDomainName, KeyGatewayCertificateArn, edgespec.Region)
	}
	var taken []string
	if c.GatewayDomainName != "" {
		taken = append(taken, c.GatewayDomainName)
		if c.GatewaySubdomains {
			taken = edgespec.SubdomainGatewayAliases(c.GatewayDomainName)
		}
	}
	if c.APIDomainName != "" {
		taken = append(taken, c.APIDomainName)
	}
	if err := edgespec.ValidateWebsiteDomains(c.WebsiteDomains, taken); err != nil {
		fail(KeyWebsiteDomains, "%v", err)
	} else if n := len(strings.Join(c.WebsiteDomains, ",")); n > stackspec.MaxWebsiteNamesLength {
		fail(KeyWebsiteDomains, "the names take %d characters together (with a comma between two); allowed: at most %d: every node's task definition in the cluster stack lists them, and CloudFormation takes at most %d bytes of template", n, stackspec.MaxWebsiteNamesLength, stackspec.MaxTemplateBytes)
	}
	switch {
	case len(c.WebsiteDomains) > 0 && c.WebsiteCertificateArn == "" && !local:
		fail(KeyWebsiteCertificateArn, "required with %s: one ACM certificate in %s covering every website name (a distribution has one certificate)", KeyWebsiteDomains, edgespec.Region)
	case len(c.WebsiteDomains) == 0 && c.WebsiteCertificateArn != "":
		fail(KeyWebsiteCertificateArn, "set without %s; allowed: empty, or a certificate with website domains", KeyWebsiteDomains)
	case c.WebsiteCertificateArn != "":
		if err := edgespec.ValidateCertificateArn(c.WebsiteCertificateArn); err != nil {
			fail(KeyWebsiteCertificateArn, "%v", err)
		}
	}
	if err := edgespec.ValidatePrivateGateway(c.PrivateGateway, c.GatewaySubdomains, len(c.WebsiteDomains) > 0); err != nil {
		fail(KeyPrivateGateway+"/"+KeyGatewaySubdomains+"/"+KeyWebsiteDomains, "%v", err)
	}
}

// ZoneOf returns the availability zone of node index i: nodes go round-robin
// over their region's zones so that any replication factor >= 2 spans two
// zones.
func (c Config) ZoneOf(i int) string {
	if c.InSecondRegion(i) {
		return c.SecondRegionAvailabilityZones[(i-nodespec.SecondRegionFirstIndex)%len(c.SecondRegionAvailabilityZones)]
	}
	return c.AvailabilityZones[i%len(c.AvailabilityZones)]
}

// validateSecondRegion checks the second region's settings: all unset
// without a second region, else a region of the same partition with its
// own zones, a VPC range that does not overlap the first one's, and room
// for its peers in the cluster.
func (c Config) validateSecondRegion(fail func(string, string, ...any)) {
	if c.SecondRegion == "" {
		for key, set := range map[string]bool{
			KeySecondRegionAvailabilityZones: len(c.SecondRegionAvailabilityZones) > 0,
			KeySecondRegionNodeCount:         c.SecondRegionNodeCount != 0,
			KeySecondRegionVpcCidr:           c.SecondRegionVpcCidr != networkspec.DefaultSecondRegionCidr,
		} {
			if set {
				fail(key, "is set but %s is empty; allowed: unset (one region), or %s set too", KeySecondRegion, KeySecondRegion)
			}
		}
		return
	}
	if err := partition.ValidateRegion(c.SecondRegion); err != nil {
		fail(KeySecondRegion, "%v", err)
	} else if c.SecondRegion == c.Region {
		fail(KeySecondRegion, "%q is the first region; allowed: empty (one region) or another region of the same partition", c.SecondRegion)
	} else if a, b := partition.Of(c.Region), partition.Of(c.SecondRegion); a != b {
		fail(KeySecondRegion, "%q is in partition %s, %s in %s; allowed: a region of %s (VPC peering and the edge stay within one partition)", c.SecondRegion, b, c.Region, a, a)
	}
	c.validateZones(KeySecondRegionAvailabilityZones, c.SecondRegionAvailabilityZones, c.SecondRegion, fail)
	if err := networkspec.ValidateCidr(c.SecondRegionVpcCidr, ZoneCount); err != nil {
		fail(KeySecondRegionVpcCidr, "%v", err)
	} else if networkspec.Overlap(c.SecondRegionVpcCidr, c.VpcCidr) {
		fail(KeySecondRegionVpcCidr, "%s overlaps %s %s; allowed: a range apart from it (the VPCs are peered), e.g. %s", c.SecondRegionVpcCidr, KeyVpcCidr, c.VpcCidr, networkspec.DefaultSecondRegionCidr)
	}
	if most := stackspec.MaxNodesWithSecondRegion(); c.NodeCount > most {
		fail(KeyNodeCount, "%d beside a second region; allowed: %d to %d (the cluster stack then holds the peering, the failover origin and the cross-region check, and room for fewer nested node stacks)", c.NodeCount, MinNodes, most)
	}
	if c.SecondRegionNodeCount < MinNodes || c.SecondRegionNodeCount > stackspec.MaxNodes() {
		fail(KeySecondRegionNodeCount, "%d is out of range; allowed: %d to %d (unset: %s)", c.SecondRegionNodeCount, MinNodes, stackspec.MaxNodes(), KeyNodeCount)
	} else if c.NodeCount+c.SecondRegionNodeCount > nodespec.MaxPeers {
		fail(KeyNodeCount+"/"+KeySecondRegionNodeCount, "%d + %d peers; allowed: at most %d together (every peer keeps a connection to every other, and every task definition lists every peer's address)", c.NodeCount, c.SecondRegionNodeCount, nodespec.MaxPeers)
	}
}

// validateZones checks a region's availability zones.
func (c Config) validateZones(key string, zones []string, region string, fail func(string, string, ...any)) {
	if len(zones) != ZoneCount {
		fail(key, "needs exactly %d availability zones, got %d (%v); allowed: %d distinct zones of %s", ZoneCount, len(zones), zones, ZoneCount, region)
		return
	}
	zonePattern := regexp.MustCompile(`^` + regexp.QuoteMeta(region) + `[a-z]$`)
	seen := map[string]bool{}
	for _, az := range zones {
		if !zonePattern.MatchString(az) {
			fail(key, "%q is not a zone of region %q; allowed: zones named %s<letter>", az, region, region)
		}
		if seen[az] {
			fail(key, "%q is listed twice; allowed: %d distinct zones", az, ZoneCount)
		}
		seen[az] = true
	}
}
