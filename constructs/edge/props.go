package edge

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
)

// Default listener ports of the internal ALB (DESIGN.md §3).
const (
	DefaultGatewayPort = 8080
	DefaultAPIPort     = 9094
	// DefaultLogExpirationDays is how long the access-log bucket the
	// construct creates keeps CloudFront logs.
	DefaultLogExpirationDays = 90
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

	// GatewayPort is the ALB's HTTP listener port for the kubo gateway
	// (default 8080).
	GatewayPort int
	// APIPort is the ALB's HTTP listener port for the cluster REST API
	// (default 9094).
	APIPort int

	// CredentialsSecretName is the fixed NAME of the REST API credentials
	// secret (JSON {"username": ..., "password": ...}) (required). The caller
	// replicates it to us-east-1; the Lambda@Edge bundle contains only this
	// name and reads the value there. A literal known at synth, not a token.
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
}

// Domain is a custom domain for one distribution.
type Domain struct {
	// Names are the alternate domain names (CNAMEs), e.g.
	// "gateway.example.org" (at least one).
	Names []string
	// CertificateArn is an ACM certificate in us-east-1 that covers Names.
	CertificateArn string
}

var (
	secretNameRe  = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
	secretSuffix  = regexp.MustCompile(`-[A-Za-z0-9]{6}$`)
	hostnameRe    = regexp.MustCompile(`^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$`)
	certArnRe     = regexp.MustCompile(`^arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/[A-Za-z0-9-]+$`)
	webACLArnRe   = regexp.MustCompile(`^arn:aws[a-z-]*:wafv2:us-east-1:[0-9]{12}:global/webacl/[A-Za-z0-9_-]+/[A-Za-z0-9-]+$`)
	validPriceCls = map[awscloudfront.PriceClass]bool{
		awscloudfront.PriceClass_PRICE_CLASS_100: true,
		awscloudfront.PriceClass_PRICE_CLASS_200: true,
		awscloudfront.PriceClass_PRICE_CLASS_ALL: true,
	}
)

func isToken(s string) bool {
	// How the CDK encodes a string token; checked without the jsii kernel.
	return strings.Contains(s, "${Token[")
}

// withDefaults returns a copy with the defaults filled in.
func (p Props) withDefaults() Props {
	if p.GatewayPort == 0 {
		p.GatewayPort = DefaultGatewayPort
	}
	if p.APIPort == 0 {
		p.APIPort = DefaultAPIPort
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
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("edge.Props.%s: %s", field, fmt.Sprintf(format, args...)))
	}

	if p.LoadBalancer == nil {
		add("LoadBalancer", "required: the internal ALB the distributions reach through VPC origins")
	} else if scheme := albScheme(p.LoadBalancer); scheme == "internet-facing" {
		add("LoadBalancer", "must be internal (scheme %q found): the ALB is reached only through CloudFront VPC origins", scheme)
	}

	for _, port := range []struct {
		field string
		value int
	}{{"GatewayPort", p.GatewayPort}, {"APIPort", p.APIPort}} {
		if port.value < 0 || port.value > 65535 {
			add(port.field, "must be a TCP port 1-65535 (0 for the default), got %d", port.value)
		}
	}
	gw, api := p.GatewayPort, p.APIPort
	if gw == 0 {
		gw = DefaultGatewayPort
	}
	if api == 0 {
		api = DefaultAPIPort
	}
	if gw == api {
		add("APIPort", "must differ from GatewayPort (both %d): the ALB has one listener per service", gw)
	}

	switch name := p.CredentialsSecretName; {
	case name == "":
		add("CredentialsSecretName", "required: the name of the REST API credentials secret replicated to us-east-1")
	case isToken(name):
		add("CredentialsSecretName", "must be a literal name known at synth (it is baked into the Lambda@Edge bundle), not a token")
	case !secretNameRe.MatchString(name):
		add("CredentialsSecretName", "%q is not a Secrets Manager name (1-512 of A-Z a-z 0-9 / _ + = . @ -)", name)
	case secretSuffix.MatchString(name):
		add("CredentialsSecretName", "%q ends with a hyphen and six characters, which Secrets Manager confuses with an ARN suffix", name)
	}

	p.validateDomain("GatewayDomain", p.GatewayDomain, add)
	p.validateDomain("APIDomain", p.APIDomain, add)

	if p.PriceClass != "" && !validPriceCls[p.PriceClass] {
		add("PriceClass", "%q is not one of PRICE_CLASS_100, PRICE_CLASS_200, PRICE_CLASS_ALL", p.PriceClass)
	}
	if p.WebACLArn != "" && !isToken(p.WebACLArn) && !webACLArnRe.MatchString(p.WebACLArn) {
		add("WebACLArn", "%q is not a WAFv2 web ACL ARN of scope CLOUDFRONT (arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id>)", p.WebACLArn)
	}
	if p.DisableLogging && p.LogBucket != nil {
		add("LogBucket", "set while DisableLogging is true: choose one")
	}
	if p.LogExpirationDays < 0 {
		add("LogExpirationDays", "must be positive (0 for the default %d), got %d", DefaultLogExpirationDays, p.LogExpirationDays)
	}
	if p.LogExpirationDays != 0 && (p.LogBucket != nil || p.DisableLogging) {
		add("LogExpirationDays", "applies only to the log bucket the construct creates (LogBucket nil, logging enabled)")
	}
	return errors.Join(errs...)
}

func (p *Props) validateDomain(field string, d *Domain, add func(field, format string, args ...any)) {
	if d == nil {
		return
	}
	if len(d.Names) == 0 {
		add(field+".Names", "at least one domain name is required when a custom domain is set")
	}
	seen := map[string]bool{}
	for _, n := range d.Names {
		switch {
		case isToken(n):
			// Resolved at deploy time: CloudFront checks it.
		case !hostnameRe.MatchString(n) || len(n) > 253:
			add(field+".Names", "%q is not a lower-case DNS name", n)
		case seen[n]:
			add(field+".Names", "%q is listed twice", n)
		}
		seen[n] = true
	}
	switch arn := d.CertificateArn; {
	case arn == "":
		add(field+".CertificateArn", "required with a custom domain: an ACM certificate in us-east-1 covering the names")
	case isToken(arn):
	case !certArnRe.MatchString(arn):
		add(field+".CertificateArn", "%q is not an ACM certificate ARN in us-east-1 (CloudFront uses certificates from us-east-1 only)", arn)
	}
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
