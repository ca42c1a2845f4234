// Package config is the one typed configuration of the app. It is read from
// the CDK context (cdk.json, overridable with `cdk -c key=value`) exactly once,
// in app.go, and validated here before any construct is created.
package config

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/backup/backupspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/monitoring/monitoringspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/network/networkspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
)

// Context keys, as written in cdk.json and on the command line.
const (
	KeyStackName              = "stackName"
	KeyAccount                = "account"
	KeyRegion                 = "region"
	KeyAvailabilityZones      = "availabilityZones"
	KeyNodeCount              = "nodeCount"
	KeyTaskCPU                = "taskCpu"
	KeyTaskMemoryMiB          = "taskMemoryMiB"
	KeyReplicationFactorMin   = "replicationFactorMin"
	KeyReplicationFactorMax   = "replicationFactorMax"
	KeyKuboStorageMax         = "kuboStorageMax"
	KeyEfsThroughputMode      = "efsThroughputMode"
	KeyEfsProvisionedMiBps    = "efsProvisionedThroughputMiBps"
	KeyDataRemovalPolicy      = "dataRemovalPolicy"
	KeyPublicSwarm            = "publicSwarm"
	KeyLogRetentionDays       = "logRetentionDays"
	KeyCloudMapNamespace      = "cloudMapNamespace"
	KeyVpcCidr                = "vpcCidr"
	KeyPrivateGateway         = "privateGateway"
	KeyGatewayDomainName      = "gatewayDomainName"
	KeyGatewayCertificateArn  = "gatewayCertificateArn"
	KeyAPIDomainName          = "apiDomainName"
	KeyAPICertificateArn      = "apiCertificateArn"
	KeyCloudFrontPriceClass   = "cloudFrontPriceClass"
	KeyRestAPIUsername        = "restApiUsername"
	KeyGatewayNoFetch         = "gatewayNoFetch"
	KeySyncPinsetWrites       = "syncPinsetWrites"
	KeyRestAPICredentialsName = "restApiCredentialsSecretName"
	KeyWebACLArn              = "webAclArn"
	KeyAlarmEmail             = "alarmEmail"
	KeyRunbookBaseURL         = "runbookBaseUrl"
	KeyBackupRetentionDays    = "backupRetentionDays"
	KeyBackupCopyRegion       = "backupCopyRegion"
	KeyGatewaySubdomains      = "gatewaySubdomains"
	KeyWebsiteDomains         = "websiteDomains"
	KeyWebsiteCertificateArn  = "websiteCertificateArn"

	KeySecondRegion                  = "secondRegion"
	KeySecondRegionAvailabilityZones = "secondRegionAvailabilityZones"
	KeySecondRegionVpcCidr           = "secondRegionVpcCidr"
	KeySecondRegionNodeCount         = "secondRegionNodeCount"
)

// Keys lists every context key the app reads; Parse refuses any other but
// CDK's own (keys.go).
var Keys = []string{
	KeyStackName, KeyAccount, KeyRegion, KeyAvailabilityZones, KeyNodeCount,
	KeyTaskCPU, KeyTaskMemoryMiB, KeyReplicationFactorMin, KeyReplicationFactorMax,
	KeyKuboStorageMax, KeyEfsThroughputMode, KeyEfsProvisionedMiBps, KeyDataRemovalPolicy,
	KeyPublicSwarm, KeyLogRetentionDays, KeyCloudMapNamespace, KeyVpcCidr,
	KeyPrivateGateway, KeyGatewayDomainName, KeyGatewayCertificateArn,
	KeyAPIDomainName, KeyAPICertificateArn, KeyCloudFrontPriceClass,
	KeyRestAPIUsername, KeyGatewayNoFetch, KeySyncPinsetWrites, KeyRestAPICredentialsName, KeyWebACLArn,
	KeyAlarmEmail, KeyRunbookBaseURL, KeyBackupRetentionDays, KeyBackupCopyRegion,
	KeyGatewaySubdomains, KeyWebsiteDomains, KeyWebsiteCertificateArn,
	KeySecondRegion, KeySecondRegionAvailabilityZones, KeySecondRegionVpcCidr, KeySecondRegionNodeCount,
	// pipeline.go
	KeyPipelineAccount, KeyPipelineRegion, KeySourceRepository, KeySourceConnectionArn,
	KeyTestAccount, KeyTestRegion, KeyProdAccount, KeyProdRegion, KeyTestOverrides, KeyProdOverrides,
}

// ThroughputMode is the EFS throughput mode of every node's file system.
type ThroughputMode string

// EFS throughput modes.
const (
	ThroughputElastic     ThroughputMode = "elastic"
	ThroughputBursting    ThroughputMode = "bursting"
	ThroughputProvisioned ThroughputMode = "provisioned"
)

// RemovalPolicy decides what happens to node data and identity when the stack
// (or a node) is deleted.
type RemovalPolicy string

// Removal policies for data.
const (
	RemovalRetain  RemovalPolicy = "retain"
	RemovalDestroy RemovalPolicy = "destroy"
)

// Config is the validated configuration of one deployment.
type Config struct {
	StackName string
	// Account is optional: empty synthesizes an environment-agnostic account.
	Account           string
	Region            string
	AvailabilityZones []string
	// NodeCount peers are spread round-robin over AvailabilityZones.
	NodeCount            int
	TaskCPU              int
	TaskMemoryMiB        int
	ReplicationFactorMin int
	ReplicationFactorMax int
	// KuboStorageMax is kubo's Datastore.StorageMax, e.g. "100GB".
	KuboStorageMax        string
	EfsThroughputMode     ThroughputMode
	EfsProvisionedMiBps   int
	DataRemovalPolicy     RemovalPolicy
	PublicSwarm           bool
	LogRetentionDays      int
	CloudMapNamespace     string
	VpcCidr               string
	PrivateGateway        bool
	GatewayNoFetch        bool
	SyncPinsetWrites      bool
	GatewayDomainName     string
	GatewayCertificateArn string
	APIDomainName         string
	APICertificateArn     string
	CloudFrontPriceClass  string
	RestAPIUsername       string
	// RestAPICredentialsSecretName is a fixed name: the Lambda@Edge bundle
	// carries it, because Lambda@Edge has no environment variables.
	RestAPICredentialsSecretName string
	// WebACLArn is an optional AWS WAF web ACL (CLOUDFRONT scope) for both
	// distributions.
	WebACLArn string
	// AlarmEmail, when set, subscribes to both alarm topics (the cluster
	// region's and us-east-1's).
	AlarmEmail string
	// RunbookBaseURL is the runbooks page the alarms link (empty: this
	// project's); a fork points it at its own copy.
	RunbookBaseURL string
	// BackupRetentionDays keeps each daily AWS Backup recovery point.
	BackupRetentionDays int
	// BackupCopyRegion, when set, receives a copy of every recovery point
	// (in a vault a small stack there holds).
	BackupCopyRegion string
	// GatewaySubdomains makes the gateway a subdomain gateway on
	// GatewayDomainName: <cid>.ipfs.<domain> and <name>.ipns.<domain>, one
	// web origin per content root. GatewayCertificateArn must then cover
	// <domain>, *.ipfs.<domain> and *.ipns.<domain>.
	GatewaySubdomains bool
	// WebsiteDomains are host names served as DNSLink websites (their
	// _dnslink TXT record names the content) by a distribution of their own
	// with WebsiteCertificateArn, one certificate covering all of them.
	WebsiteDomains        []string
	WebsiteCertificateArn string
	// SecondRegion, when set, runs more peers of the same cluster in a
	// second region: SecondRegionNodeCount of them (after parsing, 0 only
	// without a second region; unset means NodeCount), over
	// SecondRegionAvailabilityZones, in a VPC of SecondRegionVpcCidr peered
	// with the first one's. Their indices follow the first region's.
	SecondRegion                  string
	SecondRegionAvailabilityZones []string
	SecondRegionVpcCidr           string
	SecondRegionNodeCount         int
	// Pipeline is nil unless pipeline settings are given (pipeline.go).
	Pipeline *Pipeline
}

// Defaults are what an empty context gives; cdk.json repeats them so that
// operators see every setting in one place.
func Defaults() Config {
	return Config{
		StackName:            "IpfsCluster",
		Region:               "eu-west-1",
		AvailabilityZones:    []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"},
		NodeCount:            MinNodes,
		TaskCPU:              nodespec.DefaultCPU,
		TaskMemoryMiB:        nodespec.DefaultMemoryMiB,
		ReplicationFactorMin: nodespec.DefaultReplicationFactorMin,
		ReplicationFactorMax: nodespec.DefaultReplicationFactorMax,
		KuboStorageMax:       nodespec.DefaultKuboStorageMax,
		EfsThroughputMode:    ThroughputElastic,
		DataRemovalPolicy:    RemovalRetain,
		PublicSwarm:          true,
		LogRetentionDays:     90,
		CloudMapNamespace:    "ipfs-cluster.internal",
		VpcCidr:              networkspec.DefaultCidr,
		GatewayNoFetch:       false,
		SyncPinsetWrites:     false,
		CloudFrontPriceClass: edgespec.PriceClasses[0],
		RestAPIUsername:      "admin",
		BackupRetentionDays:  backupspec.DefaultRetentionDays,
		RunbookBaseURL:       monitoringspec.DefaultRunbookURL,
		SecondRegionVpcCidr:  networkspec.DefaultSecondRegionCidr,
	}
}

// LogRetentionDaysAllowed are the retention periods CloudWatch Logs accepts.
var LogRetentionDaysAllowed = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// ValidationError carries every problem found, one line per setting.
type ValidationError struct{ Problems []string }

func (e *ValidationError) Error() string {
	return "invalid configuration (cdk.json context or -c key=value):\n  - " + strings.Join(e.Problems, "\n  - ")
}

// LoadCdkJSONContext returns the "context" object of a cdk.json file, for
// callers that build the app without the CDK CLI (tests, benchmarks).
func LoadCdkJSONContext(path string) (map[string]any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return doc.Context, nil
}

// Parse turns raw context values (JSON types from cdk.json, strings from
// `-c key=value`) into a validated Config. Missing keys keep their defaults.
// All problems are reported together.
func Parse(raw map[string]any) (Config, error) { return parse(raw, false) }

// ParseLocal is Parse for the local cluster (package localcluster), which
// has no CloudFront distribution: websiteDomains need no
// websiteCertificateArn there (one given is still checked).
func ParseLocal(raw map[string]any) (Config, error) { return parse(raw, true) }

func parse(raw map[string]any, local bool) (Config, error) {
	c := Defaults()
	p := &parser{raw: raw}
	// A misspelt setting would otherwise leave its default in place
	// without a word.
	p.problems = unknownKeys(raw, Keys, true)
	p.str(KeyStackName, &c.StackName)
	p.str(KeyAccount, &c.Account)
	p.str(KeyRegion, &c.Region)
	p.list(KeyAvailabilityZones, &c.AvailabilityZones)
	p.integer(KeyNodeCount, &c.NodeCount)
	p.integer(KeyTaskCPU, &c.TaskCPU)
	p.integer(KeyTaskMemoryMiB, &c.TaskMemoryMiB)
	p.integer(KeyReplicationFactorMin, &c.ReplicationFactorMin)
	p.integer(KeyReplicationFactorMax, &c.ReplicationFactorMax)
	p.str(KeyKuboStorageMax, &c.KuboStorageMax)
	mode, removal := string(c.EfsThroughputMode), string(c.DataRemovalPolicy)
	p.str(KeyEfsThroughputMode, &mode)
	c.EfsThroughputMode = ThroughputMode(strings.ToLower(mode))
	p.integer(KeyEfsProvisionedMiBps, &c.EfsProvisionedMiBps)
	p.str(KeyDataRemovalPolicy, &removal)
	c.DataRemovalPolicy = RemovalPolicy(strings.ToLower(removal))
	p.boolean(KeyPublicSwarm, &c.PublicSwarm)
	p.integer(KeyLogRetentionDays, &c.LogRetentionDays)
	p.str(KeyCloudMapNamespace, &c.CloudMapNamespace)
	p.str(KeyVpcCidr, &c.VpcCidr)
	p.boolean(KeyPrivateGateway, &c.PrivateGateway)
	p.boolean(KeyGatewayNoFetch, &c.GatewayNoFetch)
	p.boolean(KeySyncPinsetWrites, &c.SyncPinsetWrites)
	p.str(KeyGatewayDomainName, &c.GatewayDomainName)
	p.str(KeyGatewayCertificateArn, &c.GatewayCertificateArn)
	p.str(KeyAPIDomainName, &c.APIDomainName)
	p.str(KeyAPICertificateArn, &c.APICertificateArn)
	p.str(KeyCloudFrontPriceClass, &c.CloudFrontPriceClass)
	p.str(KeyRestAPIUsername, &c.RestAPIUsername)
	p.str(KeyRestAPICredentialsName, &c.RestAPICredentialsSecretName)
	p.str(KeyWebACLArn, &c.WebACLArn)
	p.str(KeyAlarmEmail, &c.AlarmEmail)
	p.str(KeyRunbookBaseURL, &c.RunbookBaseURL)
	p.integer(KeyBackupRetentionDays, &c.BackupRetentionDays)
	p.str(KeyBackupCopyRegion, &c.BackupCopyRegion)
	p.boolean(KeyGatewaySubdomains, &c.GatewaySubdomains)
	p.list(KeyWebsiteDomains, &c.WebsiteDomains)
	p.str(KeyWebsiteCertificateArn, &c.WebsiteCertificateArn)
	p.str(KeySecondRegion, &c.SecondRegion)
	p.list(KeySecondRegionAvailabilityZones, &c.SecondRegionAvailabilityZones)
	p.str(KeySecondRegionVpcCidr, &c.SecondRegionVpcCidr)
	p.integer(KeySecondRegionNodeCount, &c.SecondRegionNodeCount)
	if c.SecondRegion != "" && c.SecondRegionNodeCount == 0 {
		c.SecondRegionNodeCount = c.NodeCount
	}
	if c.RestAPICredentialsSecretName == "" {
		c.RestAPICredentialsSecretName = c.StackName + "/rest-api-credentials"
	}
	problems := append(p.problems, c.validate(local)...)
	c.Pipeline, problems = parsePipeline(raw, c, problems)
	if len(problems) > 0 {
		return Config{}, &ValidationError{Problems: problems}
	}
	return c, nil
}

type parser struct {
	raw      map[string]any
	problems []string
}

func (p *parser) fail(key, format string, args ...any) {
	p.problems = append(p.problems, key+": "+fmt.Sprintf(format, args...))
}

func (p *parser) str(key string, dst *string) {
	v, ok := p.raw[key]
	if !ok || v == nil {
		return
	}
	s, ok := v.(string)
	if !ok {
		p.fail(key, "must be a string, got %v", v)
		return
	}
	*dst = strings.TrimSpace(s)
}

func (p *parser) integer(key string, dst *int) {
	v, ok := p.raw[key]
	if !ok || v == nil {
		return
	}
	switch n := v.(type) {
	case float64:
		if n != float64(int(n)) {
			p.fail(key, "must be a whole number, got %v", n)
			return
		}
		*dst = int(n)
	case int:
		*dst = n
	case string:
		i, err := strconv.Atoi(strings.TrimSpace(n))
		if err != nil {
			p.fail(key, "must be a whole number, got %q", n)
			return
		}
		*dst = i
	default:
		p.fail(key, "must be a whole number, got %v", v)
	}
}

func (p *parser) boolean(key string, dst *bool) {
	v, ok := p.raw[key]
	if !ok || v == nil {
		return
	}
	switch b := v.(type) {
	case bool:
		*dst = b
	case string:
		parsed, err := strconv.ParseBool(strings.TrimSpace(b))
		if err != nil {
			p.fail(key, "must be true or false, got %q", b)
			return
		}
		*dst = parsed
	default:
		p.fail(key, "must be true or false, got %v", v)
	}
}

// list accepts a JSON array of strings or, from the command line, a
// comma-separated string.
func (p *parser) list(key string, dst *[]string) {
	v, ok := p.raw[key]
	if !ok || v == nil {
		return
	}
	var out []string
	switch l := v.(type) {
	case string:
		// -c key= clears a list (cdk.json's []), it is not one empty item.
		if strings.TrimSpace(l) == "" {
			break
		}
		for _, s := range strings.Split(l, ",") {
			out = append(out, strings.TrimSpace(s))
		}
	case []any:
		for _, item := range l {
			s, ok := item.(string)
			if !ok {
				p.fail(key, "must be a list of strings, got %v", v)
				return
			}
			out = append(out, strings.TrimSpace(s))
		}
	case []string:
		out = append(out, l...)
	default:
		p.fail(key, "must be a list of strings or a comma-separated string, got %v", v)
		return
	}
	*dst = out
}

// TotalNodes is the number of peers of the cluster, both regions'.
func (c Config) TotalNodes() int {
	if c.SecondRegion == "" {
		return c.NodeCount
	}
	return c.NodeCount + c.SecondRegionNodeCount
}

// PeerIndices are the indices of every node, the first region's (0 to
// NodeCount-1) then the second region's (from
// nodespec.SecondRegionFirstIndex on, whatever NodeCount is).
func (c Config) PeerIndices() []int {
	var out []int
	for i := range c.NodeCount {
		out = append(out, i)
	}
	if c.SecondRegion != "" {
		for i := range c.SecondRegionNodeCount {
			out = append(out, nodespec.SecondRegionFirstIndex+i)
		}
	}
	return out
}

// InSecondRegion tells whether node i runs in the second region.
func (c Config) InSecondRegion(i int) bool {
	return c.SecondRegion != "" && i >= nodespec.SecondRegionFirstIndex
}

// RegionOf is node i's region.
func (c Config) RegionOf(i int) string {
	if c.InSecondRegion(i) {
		return c.SecondRegion
	}
	return c.Region
}

// NodeSettings are the plain values of node i (one of PeerIndices), as its
// task definition and a local peer get them.
func (c Config) NodeSettings(i int) nodespec.Settings {
	zone := ""
	zones := c.AvailabilityZones
	if c.InSecondRegion(i) {
		zones = c.SecondRegionAvailabilityZones
	}
	if len(zones) > 0 { // else Validate names the empty list
		zone = c.ZoneOf(i)
	}
	s := nodespec.Settings{
		Index:                 i,
		PeerCount:             c.TotalNodes(),
		Zone:                  zone,
		Region:                c.RegionOf(i),
		Namespace:             c.CloudMapNamespace,
		CPU:                   c.TaskCPU,
		MemoryMiB:             c.TaskMemoryMiB,
		ReplicationFactorMin:  c.ReplicationFactorMin,
		ReplicationFactorMax:  c.ReplicationFactorMax,
		KuboStorageMax:        c.KuboStorageMax,
		GatewayNoFetch:        c.GatewayNoFetch,
		SyncPinsetWrites:      c.SyncPinsetWrites,
		SubdomainGatewayHosts: c.subdomainGatewayHosts(),
		DNSLinkHosts:          c.WebsiteDomains,
		DNSResolvers:          c.dnsResolvers(),
		// Every deployment runs the metrics collector, and the local
		// cluster gets the same environment.
		ClusterMetrics: true,
	}
	if c.SecondRegion != "" {
		s.SecondRegion, s.SecondRegionFrom = c.SecondRegion, c.NodeCount
	}
	return s
}

func (c Config) subdomainGatewayHosts() []string {
	if !c.GatewaySubdomains {
		return nil
	}
	return []string{c.GatewayDomainName}
}

// dnsResolvers: with publicSwarm=false the tasks have no route to the
// Internet, so the DNS-over-HTTPS resolvers kubo's autoconf may name are out
// of reach; the system resolver (the VPC's Route 53 Resolver, which answers
// public names from isolated subnets too) resolves DNSLink instead. With a
// public swarm kubo keeps its defaults.
func (c Config) dnsResolvers() map[string]string {
	if c.PublicSwarm {
		return nil
	}
	return map[string]string{".": ""}
}
