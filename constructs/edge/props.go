package edge

import (
	"errors"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/propcheck"
)

// Default listener ports of the internal ALB: the nodes' own ports.
const (
	DefaultGatewayPort = nodespec.GatewayPort
	DefaultAPIPort     = nodespec.RestAPIPort
	DefaultPSAPort     = nodespec.PinningServicePort
	// DefaultLogExpirationDays is how long the access-log bucket the
	// construct creates keeps CloudFront logs.
	DefaultLogExpirationDays = 90
	// NoncurrentLogVersionDays is how long a replaced or deleted log object
	// stays recoverable in the bucket the construct creates.
	NoncurrentLogVersionDays = 30
)

// Props configures the edge: two CloudFront distributions (public IPFS
// gateway, cluster REST API) in front of the internal ALB, and the
// Lambda@Edge Basic-auth function.
type Props struct {
	// LoadBalancer is the internal Application Load Balancer (required). It
	// is reached only through CloudFront VPC origins, so it must not be
	// Internet-facing, and its security group must admit the VPC origin's
	// traffic (for example the VPC CIDR) on GatewayPort and APIPort.
	LoadBalancer awselasticloadbalancingv2.IApplicationLoadBalancer
	// FailoverLoadBalancer, when set, is another internal ALB with the same
	// listeners (a second region's): the gateway distribution fails over to
	// it, through a VPC origin of its own, when LoadBalancer answers 500,
	// 502, 503 or 504 or cannot be reached. CloudFront fails over GET, HEAD
	// and OPTIONS only, which is all the gateway allows; the REST API and
	// the websites stay on LoadBalancer, and a standby REST API
	// distribution (Edge.StandbyAPIDistribution) reaches this one's peers
	// for writes while LoadBalancer's region is down. Its security group
	// must admit the VPC origins of its own VPC too. Default none.
	FailoverLoadBalancer awselasticloadbalancingv2.IApplicationLoadBalancer

	// GatewayPort is the ALB's HTTP listener port for the kubo gateway
	// (default 8080).
	GatewayPort int
	// APIPort is the ALB's HTTP listener port for the cluster REST API
	// (default 9094).
	APIPort int
	// PSAPort is the ALB's HTTP listener port for the Pinning Service API
	// layer, which the API distribution serves under /psa (default 9098).
	PSAPort int

	// CredentialsSecretName is the fixed NAME of the REST API credentials
	// secret (JSON {"username": ..., "password": ...}) (required). The caller
	// replicates it to us-east-1; the Lambda@Edge bundle contains only this
	// name and reads the value there. The same holds for the Pinning
	// Service API's token key secret, named
	// edgespec.PSATokenKeySecretName(CredentialsSecretName). A literal known at synth, not a token.
	// The replica must be encrypted with the AWS-managed key
	// (aws/secretsmanager): the function is granted no kms:Decrypt.
	CredentialsSecretName string

	// PrivateGateway puts the same Basic authentication on every gateway
	// behavior (the REST API always has it).
	PrivateGateway bool

	// GatewayDomain and APIDomain are optional custom domains. Without one,
	// the distribution is served on its *.cloudfront.net name.
	GatewayDomain *Domain
	APIDomain     *Domain

	// GatewaySubdomains makes the gateway a subdomain gateway: GatewayDomain
	// then holds one name, the domain, and the distribution also serves
	// *.ipfs.<domain> and *.ipns.<domain> (edgespec.SubdomainGatewayAliases;
	// its certificate must cover all three), forwards Host and keys its
	// cache on it. The kubo nodes must list the domain as a subdomain
	// gateway (nodespec.Settings.SubdomainGatewayHosts).
	GatewaySubdomains bool

	// Websites are DNSLink websites, served by a distribution of their own
	// on the gateway's origin (one certificate covering every name), with
	// Host forwarded and in the cache key and short TTLs on every path. The
	// kubo nodes must list the names (nodespec.Settings.DNSLinkHosts).
	Websites *Domain

	// PriceClass of both distributions (default: CloudFront's default,
	// PRICE_CLASS_ALL).
	PriceClass awscloudfront.PriceClass

	// WebACLArn optionally attaches an AWS WAF web ACL (scope CLOUDFRONT,
	// so created in us-east-1) to both distributions.
	WebACLArn string

	// LogBucket receives the CloudFront standard access logs (prefixes
	// "gateway/" and "api/"). It must have ACLs enabled (object ownership
	// BucketOwnerPreferred or ObjectWriter) and be in a Region CloudFront
	// standard logging supports. When nil (and logging is not disabled), the
	// construct creates an encrypted, SSL-only, non-public bucket that
	// expires logs after LogExpirationDays.
	LogBucket awss3.IBucket
	// LogExpirationDays applies to the bucket the construct creates
	// (default 90). Not allowed together with LogBucket.
	LogExpirationDays int
	// DisableLogging turns CloudFront access logging off.
	DisableLogging bool
	// DestroyLogs deletes the bucket the construct creates with the stack,
	// emptied first (the distributions are deleted before it is emptied).
	// Default false: the bucket is kept (RETAIN; its name is generated, so
	// a bucket left by a failed create never blocks a retry).
	DestroyLogs bool
}

// Domain is a custom domain for one distribution.
type Domain struct {
	// Names are the alternate domain names (CNAMEs), e.g.
	// "gateway.example.org" (at least one).
	Names []string
	// CertificateArn is an ACM certificate in us-east-1 that covers Names.
	CertificateArn string
}

var validPriceClasses = map[awscloudfront.PriceClass]bool{
	awscloudfront.PriceClass_PRICE_CLASS_100: true,
	awscloudfront.PriceClass_PRICE_CLASS_200: true,
	awscloudfront.PriceClass_PRICE_CLASS_ALL: true,
}

// PriceClass maps edgespec.PriceClasses names to CloudFront's.
var PriceClass = map[string]awscloudfront.PriceClass{
	"PriceClass_100": awscloudfront.PriceClass_PRICE_CLASS_100,
	"PriceClass_200": awscloudfront.PriceClass_PRICE_CLASS_200,
	"PriceClass_All": awscloudfront.PriceClass_PRICE_CLASS_ALL,
}

// withDefaults returns a copy with the defaults filled in.
func (p Props) withDefaults() Props {
	if p.GatewayPort == 0 {
		p.GatewayPort = DefaultGatewayPort
	}
	if p.APIPort == 0 {
		p.APIPort = DefaultAPIPort
	}
	if p.PSAPort == 0 {
		p.PSAPort = DefaultPSAPort
	}
	if p.LogExpirationDays == 0 && p.LogBucket == nil && !p.DisableLogging {
		p.LogExpirationDays = DefaultLogExpirationDays
	}
	return p
}

// Validate reports every problem with the props at once; each message names
// the field and what is allowed. Zero values that have defaults are fine.
func (p *Props) Validate() error {
	if p == nil {
		return errors.New("edge.Props: required (nil)")
	}
	l := propcheck.New("edge.Props")

	if p.LoadBalancer == nil {
		l.Add("LoadBalancer", "required: the internal ALB the distributions reach through VPC origins")
	} else if scheme := albScheme(p.LoadBalancer); scheme == "internet-facing" {
		l.Add("LoadBalancer", "must be internal (scheme %q found): the ALB is reached only through CloudFront VPC origins", scheme)
	}

	if p.FailoverLoadBalancer != nil {
		if scheme := albScheme(p.FailoverLoadBalancer); scheme == "internet-facing" {
			l.Add("FailoverLoadBalancer", "must be internal (scheme %q found): it is reached only through a CloudFront VPC origin", scheme)
		}
	}

	for _, port := range []struct {
		field string
		value int
	}{{"GatewayPort", p.GatewayPort}, {"APIPort", p.APIPort}, {"PSAPort", p.PSAPort}} {
		if port.value < 0 || port.value > 65535 {
			l.Add(port.field, "must be a TCP port 1-65535 (0 for the default), got %d", port.value)
		}
	}
	if d := p.withDefaults(); d.GatewayPort == d.APIPort {
		l.Add("APIPort", "must differ from GatewayPort (both %d): the ALB has one listener per service", d.GatewayPort)
	} else if d.PSAPort == d.GatewayPort || d.PSAPort == d.APIPort {
		l.Add("PSAPort", "must differ from GatewayPort and APIPort (%d): the ALB has one listener per service", d.PSAPort)
	}

	if p.CredentialsSecretName == "" {
		l.Add("CredentialsSecretName", "required: the name of the REST API credentials secret replicated to %s", edgespec.Region)
	} else if err := edgespec.ValidateCredentialsSecretName(p.CredentialsSecretName); err != nil {
		l.Add("CredentialsSecretName", "%v", err)
	}

	p.validateDomain("GatewayDomain", p.GatewayDomain, l)
	p.validateDomain("APIDomain", p.APIDomain, l)
	p.validateWebsites(l)

	if p.PriceClass != "" && !validPriceClasses[p.PriceClass] {
		l.Add("PriceClass", "%q is not one of PRICE_CLASS_100, PRICE_CLASS_200, PRICE_CLASS_ALL", p.PriceClass)
	}
	if p.WebACLArn != "" {
		if err := edgespec.ValidateWebACLArn(p.WebACLArn); err != nil {
			l.Add("WebACLArn", "%v", err)
		}
	}
	if p.DisableLogging && p.LogBucket != nil {
		l.Add("LogBucket", "set while DisableLogging is true: choose one")
	}
	if p.DestroyLogs && p.LogBucket != nil {
		l.Add("DestroyLogs", "set with LogBucket: it applies to the bucket the construct creates only")
	}
	if p.LogExpirationDays < 0 {
		l.Add("LogExpirationDays", "must be positive (0 for the default %d), got %d", DefaultLogExpirationDays, p.LogExpirationDays)
	}
	if p.LogExpirationDays != 0 && (p.LogBucket != nil || p.DisableLogging) {
		l.Add("LogExpirationDays", "applies only to the log bucket the construct creates (LogBucket nil, logging enabled)")
	}
	return l.Err()
}

func (p *Props) validateDomain(field string, d *Domain, l *propcheck.List) {
	if d == nil {
		return
	}
	if err := edgespec.ValidateAliases(d.Names); err != nil {
		l.Add(field+".Names", "%v", err)
	}
	if d.CertificateArn == "" {
		l.Add(field+".CertificateArn", "required with a custom domain: an ACM certificate in %s covering the names", edgespec.Region)
	} else if err := edgespec.ValidateCertificateArn(d.CertificateArn); err != nil {
		l.Add(field+".CertificateArn", "%v", err)
	}
}

func (p *Props) validateWebsites(l *propcheck.List) {
	if p.GatewaySubdomains && (p.GatewayDomain == nil || len(p.GatewayDomain.Names) != 1) {
		l.Add("GatewaySubdomains", "needs GatewayDomain with exactly one name, the domain (the wildcards follow from it)")
	}
	if err := edgespec.ValidatePrivateGateway(p.PrivateGateway, p.GatewaySubdomains, p.Websites != nil); err != nil {
		l.Add("PrivateGateway", "%v", err)
	}
	if p.Websites == nil {
		return
	}
	var taken []string
	for _, d := range []*Domain{p.gatewayDomain(), p.APIDomain} {
		if d != nil {
			taken = append(taken, d.Names...)
		}
	}
	if len(p.Websites.Names) == 0 {
		l.Add("Websites.Names", "at least one website name is required (nil Websites for none)")
	} else if err := edgespec.ValidateWebsiteDomains(p.Websites.Names, taken); err != nil {
		l.Add("Websites.Names", "%v", err)
	}
	if p.Websites.CertificateArn == "" {
		l.Add("Websites.CertificateArn", "required: an ACM certificate in %s covering every website name", edgespec.Region)
	} else if err := edgespec.ValidateCertificateArn(p.Websites.CertificateArn); err != nil {
		l.Add("Websites.CertificateArn", "%v", err)
	}
}

// gatewayDomain is the gateway distribution's domain with the subdomain
// gateway's wildcards added.
func (p *Props) gatewayDomain() *Domain {
	if p.GatewayDomain == nil || !p.GatewaySubdomains || len(p.GatewayDomain.Names) != 1 {
		return p.GatewayDomain
	}
	return &Domain{Names: edgespec.SubdomainGatewayAliases(p.GatewayDomain.Names[0]), CertificateArn: p.GatewayDomain.CertificateArn}
}

// albScheme returns the scheme of an ALB defined in this app, or "" when it
// cannot be known (an imported ALB).
func albScheme(alb awselasticloadbalancingv2.IApplicationLoadBalancer) (scheme string) {
	defer func() {
		if recover() != nil {
			scheme = ""
		}
	}()
	child := alb.Node().DefaultChild()
	if child == nil {
		return ""
	}
	cfn, ok := child.(awselasticloadbalancingv2.CfnLoadBalancer)
	if !ok || cfn.Scheme() == nil {
		return ""
	}
	return *cfn.Scheme()
}
