package edge

import (
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	lambdaedge "github.com/ipfs-cluster-aws/ipfs-cluster-aws/lambda-edge"
)

// WebsitesDomainName is the websites distribution's *.cloudfront.net name
// (the target of every website's CNAME/alias), nil without websites.
func (e *Edge) WebsitesDomainName() *string {
	if e.websites == nil {
		return nil
	}
	return e.websites.DistributionDomainName()
}

// Website TTLs: a DNSLink site changes when its TXT record does, so every
// path is mutable, like /ipns/* on the gateway.
const (
	websiteDefaultTTLSeconds = 60
	websiteMaxTTLSeconds     = 300
)

// newWebsites serves the DNSLink websites from the gateway's origin. A
// distribution of their own: CloudFront picks behaviours by path only, and
// on a website every path (including /ipfs/... folders of the site) is
// mutable content; and a distribution has one certificate, which the
// websites' names need not share with the gateway's.
func newWebsites(c constructs.Construct, p *Props, origin awscloudfront.IOrigin, headers awscloudfront.IResponseHeadersPolicy, logBucket awss3.IBucket) awscloudfront.Distribution {
	cache := newGatewayCachePolicy(c, "WebsiteCachePolicy",
		"DNSLink websites: Host in the key, "+strconv.Itoa(websiteDefaultTTLSeconds)+" s default, "+strconv.Itoa(websiteMaxTTLSeconds/60)+" min cap",
		awscdk.Duration_Seconds(jsii.Number(websiteDefaultTTLSeconds)), awscdk.Duration_Seconds(jsii.Number(websiteMaxTTLSeconds)),
		// Host selects the site (kubo resolves _dnslink.<Host>); forwarded
		// because it is in the key.
		[]string{"Accept", "Host"})
	dp := &awscloudfront.DistributionProps{
		Comment: jsii.String("IPFS DNSLink websites"),
		DefaultBehavior: &awscloudfront.BehaviorOptions{
			Origin:                origin,
			ViewerProtocolPolicy:  awscloudfront.ViewerProtocolPolicy_REDIRECT_TO_HTTPS,
			AllowedMethods:        awscloudfront.AllowedMethods_ALLOW_GET_HEAD_OPTIONS(),
			CachedMethods:         awscloudfront.CachedMethods_CACHE_GET_HEAD(),
			CachePolicy:           cache,
			ResponseHeadersPolicy: headers,
			Compress:              jsii.Bool(true),
		},
	}
	commonDistributionProps(c, "Websites", p, p.Websites, logBucket, "websites/", dp)
	d := awscloudfront.NewDistribution(c, jsii.String("Websites"), dp)
	suppressDistribution(d, p, p.Websites, "DNSLink websites")
	return d
}

// httpsRedirects rewrites kubo's redirects to the subdomains back to HTTPS.
// kubo builds them from the scheme it sees, and behind CloudFront and the
// ALB that is http (the ALB sets X-Forwarded-Proto to its listener's
// protocol): https://<domain>/ipfs/<cid>/ would send the browser to
// http://<cid>.ipfs.<domain>/, a downgrade and an extra redirect. A
// CloudFront Function on viewer response, so the cached redirect stays as
// kubo sent it.
func httpsRedirects(c constructs.Construct, domain string) *[]*awscloudfront.FunctionAssociation {
	code := strings.Replace(string(lambdaedge.HTTPSRedirectsIndex), lambdaedge.GatewayDomainPlaceholder, strconv.Quote(domain), 1)
	fn := awscloudfront.NewFunction(c, jsii.String("HttpsRedirects"), &awscloudfront.FunctionProps{
		Comment: jsii.String("Subdomain gateway: kubo's http:// redirects to <cid>.ipfs." + domain + " become https://"),
		Code:    awscloudfront.FunctionCode_FromInline(jsii.String(code)),
		Runtime: awscloudfront.FunctionRuntime_JS_2_0(),
	})
	return &[]*awscloudfront.FunctionAssociation{{
		EventType: awscloudfront.FunctionEventType_VIEWER_RESPONSE,
		Function:  fn,
	}}
}
