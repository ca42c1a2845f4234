// Package edgespec holds the edge's rules and facts that the configuration
// checks without the CDK: where CloudFront takes certificates and runs
// Lambda@Edge, and what a credentials secret name, an alternate domain name,
// a certificate ARN, a web ACL ARN and a price class may be.
package edgespec

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/partition"
)

// Region is where CloudFront takes ACM certificates and web ACLs from and
// where Lambda@Edge functions live; the REST API credentials are replicated
// there for the function to read.
const Region = "us-east-1"

// PriceClasses are CloudFront's price classes, by their API names.
var PriceClasses = []string{"PriceClass_100", "PriceClass_200", "PriceClass_All"}

var (
	secretNamePattern = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
	// Secrets Manager appends "-" and six characters to a secret's ARN; a
	// name that already ends like that is ambiguous in partial ARNs.
	secretSuffixPattern = regexp.MustCompile(`-[A-Za-z0-9]{6}$`)
	labelPattern        = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	uuidPattern         = `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`
	// CloudFront is a global service of the aws partition.
	certificateArnPattern = regexp.MustCompile(`^arn:aws:acm:` + Region + `:[0-9]{12}:certificate/` + uuidPattern + `$`)
	webACLArnPattern      = regexp.MustCompile(`^arn:aws:wafv2:` + Region + `:[0-9]{12}:global/webacl/[A-Za-z0-9_-]{1,128}/` + uuidPattern + `$`)
)

// PSATokenKeySecretSuffix makes the name of the Pinning Service API's token
// key secret from the credentials secret's: both are fixed names the
// Lambda@Edge bundle carries, and two stacks with different credentials
// secrets never share a token key.
const PSATokenKeySecretSuffix = "-psa-token-key"

// PSATokenKeySecretName is the name of the token key secret that goes with
// the credentials secret credentialsName.
func PSATokenKeySecretName(credentialsName string) string {
	return credentialsName + PSATokenKeySecretSuffix
}

// Keys of the token key secret's JSON (lambda-edge/basic-auth/psa.mjs reads
// them): the HMAC key of every token, and the revoked token IDs, each with
// the expiry of its token (after which it can be dropped from the list).
const (
	PSATokenKeyJSONKey     = "key"
	PSATokenRevokedJSONKey = "revoked"
)

// maxSecretName is Secrets Manager's limit.
const maxSecretName = 512

// ValidateCredentialsSecretName checks the fixed name the Lambda@Edge
// bundle reads the REST API credentials by (and, with
// PSATokenKeySecretSuffix, the token key).
func ValidateCredentialsSecretName(name string) error {
	switch {
	case strings.Contains(name, "${Token["):
		return fmt.Errorf("must be a literal known at synth (it is baked into the Lambda@Edge bundle), not a token")
	case !secretNamePattern.MatchString(name) || len(name)+len(PSATokenKeySecretSuffix) > maxSecretName:
		return fmt.Errorf("%q is not a Secrets Manager name that leaves room for %q; allowed: 1-%d of A-Z a-z 0-9 / _ + = . @ -", name, PSATokenKeySecretSuffix, maxSecretName-len(PSATokenKeySecretSuffix))
	case secretSuffixPattern.MatchString(name):
		return fmt.Errorf("%q ends with a hyphen and six characters, which Secrets Manager confuses with the random suffix of its ARNs; allowed: any other ending", name)
	}
	return nil
}

// ValidateAliases checks a distribution's alternate domain names: lower-case
// DNS names, no duplicates; a wildcard ("*.example.org") only after the
// first name, which is the distribution's URL.
func ValidateAliases(names []string) error {
	if len(names) == 0 {
		return fmt.Errorf("at least one domain name is required with a custom domain")
	}
	var problems []string
	seen := map[string]bool{}
	for i, name := range names {
		if strings.Contains(name, "${Token[") {
			continue // resolved at deploy time: CloudFront checks it
		}
		host := name
		if strings.HasPrefix(host, "*.") {
			if i == 0 {
				problems = append(problems, fmt.Sprintf("%q is a wildcard; allowed: a plain host name first (it is the distribution's URL), wildcards after it", name))
				continue
			}
			host = host[2:]
		}
		if err := validateHostname(host); err != nil {
			problems = append(problems, fmt.Sprintf("%q %v", name, err))
		} else if seen[name] {
			problems = append(problems, fmt.Sprintf("%q is listed twice", name))
		}
		seen[name] = true
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

func validateHostname(host string) error {
	labels := strings.Split(host, ".")
	if len(host) > 253 || len(labels) < 2 {
		return fmt.Errorf("is not a fully qualified domain name; allowed: lower-case labels of letters, digits and inner hyphens, at least two, up to 253 characters")
	}
	for _, label := range labels {
		if !labelPattern.MatchString(label) {
			return fmt.Errorf("has the label %q; allowed: lower-case letters, digits and inner hyphens, 1-63 characters", label)
		}
	}
	if top := labels[len(labels)-1]; top[0] >= '0' && top[0] <= '9' {
		return fmt.Errorf("ends in a numeric label; allowed: a host name, not an IP address")
	}
	return nil
}

// ValidateCertificateArn checks an ACM certificate for CloudFront.
func ValidateCertificateArn(arn string) error {
	if strings.Contains(arn, "${Token[") || certificateArnPattern.MatchString(arn) {
		return nil
	}
	if err := partition.ValidateArn(arn); err != nil {
		return err
	}
	return fmt.Errorf("%q is not an ACM certificate ARN in %s; allowed: arn:aws:acm:%s:<account>:certificate/<uuid> (CloudFront uses certificates from %s only)", arn, Region, Region, Region)
}

// ValidateWebACLArn checks a WAFv2 web ACL for CloudFront.
func ValidateWebACLArn(arn string) error {
	if strings.Contains(arn, "${Token[") || webACLArnPattern.MatchString(arn) {
		return nil
	}
	if err := partition.ValidateArn(arn); err != nil {
		return err
	}
	return fmt.Errorf("%q is not a WAFv2 web ACL of scope CLOUDFRONT; allowed: arn:aws:wafv2:%s:<account>:global/webacl/<name>/<uuid>", arn, Region)
}

// ValidatePriceClass checks a price class name.
func ValidatePriceClass(name string) error {
	for _, p := range PriceClasses {
		if p == name {
			return nil
		}
	}
	return fmt.Errorf("%q is unknown; allowed: %s", name, strings.Join(PriceClasses, ", "))
}

// MaxAliases is CloudFront's default quota of alternate domain names per
// distribution.
const MaxAliases = 100

// SubdomainNamespaces are the labels a subdomain gateway puts between a
// content root and its domain: <cid>.ipfs.<domain>, <name>.ipns.<domain>.
var SubdomainNamespaces = []string{"ipfs", "ipns"}

// SubdomainGatewayAliases are the names a subdomain gateway on domain
// serves: the domain first (its URL; path requests there redirect to the
// subdomains), then a wildcard per namespace. Its certificate must cover all
// of them.
func SubdomainGatewayAliases(domain string) []string {
	names := []string{domain}
	for _, ns := range SubdomainNamespaces {
		names = append(names, "*."+ns+"."+domain)
	}
	return names
}

// ValidateWebsiteDomains checks the host names served as DNSLink websites:
// plain host names (no wildcard: every site has its own _dnslink record), at
// most MaxAliases, none of them a name another distribution of the edge
// serves (taken; a wildcard there takes every name one label below it).
func ValidateWebsiteDomains(names, taken []string) error {
	if len(names) == 0 {
		return nil
	}
	var problems []string
	if len(names) > MaxAliases {
		problems = append(problems, fmt.Sprintf("%d names; allowed: at most %d (CloudFront's alternate domain names per distribution)", len(names), MaxAliases))
	}
	seen := map[string]bool{}
	for _, name := range names {
		if strings.Contains(name, "${Token[") {
			continue
		}
		if strings.HasPrefix(name, "*.") {
			problems = append(problems, fmt.Sprintf("%q is a wildcard; allowed: plain host names, each with its own _dnslink TXT record", name))
			continue
		}
		if err := validateHostname(name); err != nil {
			problems = append(problems, fmt.Sprintf("%q %v", name, err))
			continue
		}
		if seen[name] {
			problems = append(problems, fmt.Sprintf("%q is listed twice", name))
		}
		seen[name] = true
		for _, t := range taken {
			if t == name || (strings.HasPrefix(t, "*.") && strings.Count(name, ".") == strings.Count(t, ".") && strings.HasSuffix(name, t[1:])) {
				problems = append(problems, fmt.Sprintf("%q is already served by the gateway or the API as %q; allowed: a name of its own", name, t))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// ValidatePrivateGateway refuses Basic authentication in front of
// per-content origins. Browsers keep Basic credentials per origin: on a
// subdomain gateway every content root (<cid>.ipfs.<domain>) and every
// website is an origin of its own, so each would ask for the credentials
// again, and clients drop them on the path gateway's redirect to another
// host. A private gateway stays a path gateway.
func ValidatePrivateGateway(private, subdomains, websites bool) error {
	if !private || (!subdomains && !websites) {
		return nil
	}
	return fmt.Errorf("a private gateway (Basic auth) cannot serve subdomains or websites: every <cid>.ipfs.<domain> and every website is its own origin, so browsers would ask for the credentials on each and clients drop them on the redirect to the subdomain; allowed: a private path gateway, or a public gateway with subdomains and websites")
}
