// Package edge puts CloudFront in front of the internal ALB: one distribution
// for the public IPFS gateway, one for the IPFS Cluster REST API, both
// reaching the ALB through CloudFront VPC origins (the ALB never faces the
// Internet), and a Lambda@Edge viewer-request function that checks HTTP Basic
// credentials against the REST API credentials secret. The API distribution
// also serves the Pinning Service API under /psa, where the same function
// checks Bearer tokens signed with the PSA token key secret.
//
// Request path: viewer --HTTPS--> CloudFront edge --(viewer-request
// Lambda@Edge on the API, and on the gateway when private)--> VPC origin
// (ENIs in the ALB's VPC) --HTTP--> internal ALB :8080 / :9094 / :9098
// (/psa) --> tasks.
package edge

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront/experimental"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
)

// Lambda@Edge limits for viewer-request functions.
const (
	authMemoryMB       = 128
	authTimeoutSeconds = 5
	// originReadTimeout: CloudFront's default quota maximum without a
	// support request. Gateway retrievals and REST API calls such as
	// pin?wait can be slow.
	originReadTimeoutSeconds = 60
)

// Gateway query parameters that change the response (boxo gateway: response
// format, download name, trustless-gateway CAR options, protocol-handler
// redirect). Everything else is left out of the cache key. CloudFront allows
// 10 query strings per cache policy.
var gatewayQueryStrings = []string{
	"format", "filename", "download",
	"dag-scope", "entity-bytes", "car-version", "car-order", "car-dups",
	"uri",
}

// Edge is the CloudFront edge of the cluster.
type Edge struct {
	gateway    awscloudfront.Distribution
	api        awscloudfront.Distribution
	websites   awscloudfront.Distribution
	auth       experimental.EdgeFunction
	gatewayURL *string
	apiURL     *string
	// With a FailoverLoadBalancer: the REST API through it.
	standbyAPI    awscloudfront.Distribution
	standbyAPIURL *string
}

// GatewayDomainName is the gateway distribution's *.cloudfront.net name
// (the target for a custom domain's CNAME/alias).
func (e *Edge) GatewayDomainName() *string { return e.gateway.DistributionDomainName() }

// APIDomainName is the REST API distribution's *.cloudfront.net name.
func (e *Edge) APIDomainName() *string { return e.api.DistributionDomainName() }

// GatewayURL is https://<first custom name, or the cloudfront.net name>.
func (e *Edge) GatewayURL() *string { return e.gatewayURL }

// APIURL is https://<first custom name, or the cloudfront.net name>.
func (e *Edge) APIURL() *string { return e.apiURL }

// GatewayDistribution and APIDistribution are the two distributions (their
// metrics are in us-east-1 only).
func (e *Edge) GatewayDistribution() awscloudfront.IDistribution { return e.gateway }

// APIDistribution is the REST API's distribution.
func (e *Edge) APIDistribution() awscloudfront.IDistribution { return e.api }

// WebsitesDistribution is the DNSLink websites' distribution, nil without
// website domains.
func (e *Edge) WebsitesDistribution() awscloudfront.IDistribution {
	if e.websites == nil {
		return nil
	}
	return e.websites
}

// StandbyAPIDistribution is the REST API distribution whose origin is
// Props.FailoverLoadBalancer, nil without one: the way to write while the
// first load balancer's region is down.
func (e *Edge) StandbyAPIDistribution() awscloudfront.IDistribution {
	if e.standbyAPI == nil {
		return nil
	}
	return e.standbyAPI
}

// StandbyAPIURL is StandbyAPIDistribution's https URL, nil without one.
func (e *Edge) StandbyAPIURL() *string { return e.standbyAPIURL }

// AuthFunction is the Lambda@Edge Basic-auth function (its Lambda lives in
// the us-east-1 stack the EdgeFunction construct creates).
func (e *Edge) AuthFunction() experimental.EdgeFunction { return e.auth }

// NewEdge validates props (every problem at once, before any construct is
// created) and builds the edge. The stack holding scope must have an explicit
// Region (EdgeFunction needs it).
func NewEdge(scope constructs.Construct, id string, props *Props) (*Edge, error) {
	if err := props.Validate(); err != nil {
		return nil, err
	}
	p := props.withDefaults()
	if region := awscdk.Stack_Of(scope).Region(); region == nil || strings.Contains(*region, "${Token[") {
		return nil, fmt.Errorf("edge: the stack holding %q needs an explicit region (Lambda@Edge is replicated from a us-east-1 sibling stack)", id)
	}
	bundle, err := stageAuthBundle(p.CredentialsSecretName)
	if err != nil {
		return nil, err
	}

	c := constructs.NewConstruct(scope, jsii.String(id))
	e := &Edge{}
	e.auth = newAuthFunction(c, id, bundle, p.CredentialsSecretName)

	logBucket := p.LogBucket
	if logBucket == nil && !p.DisableLogging {
		logBucket = newLogBucket(c, p.LogExpirationDays, p.DestroyLogs)
	}

	var gatewayOrigin awscloudfront.IOrigin
	var gatewayHeaders awscloudfront.ResponseHeadersPolicy
	e.gateway, gatewayOrigin, gatewayHeaders = newGateway(c, &p, e.auth, logBucket)
	e.api = newAPI(c, &p, apiDistribution{id: "Api", comment: "IPFS Cluster REST API", logPrefix: "api/", loadBalancer: p.LoadBalancer, domain: p.APIDomain}, e.auth, logBucket)
	if p.FailoverLoadBalancer != nil {
		// CloudFront fails over no write, so the API cannot have an origin
		// group: a distribution of its own reaches the second region's
		// peers, for clients to write through when the first region is
		// down. No custom domain: two distributions cannot share one.
		e.standbyAPI = newAPI(c, &p, apiDistribution{id: "StandbyApi", comment: "IPFS Cluster REST API through the second region", logPrefix: "standby-api/", loadBalancer: p.FailoverLoadBalancer}, e.auth, logBucket)
		e.standbyAPIURL = distributionURL(e.standbyAPI, nil)
	}
	if p.Websites != nil {
		e.websites = newWebsites(c, &p, gatewayOrigin, gatewayHeaders, logBucket)
	}
	if p.DestroyLogs && logBucket != nil {
		// Deleted before the bucket is emptied, so that no distribution
		// logs into it after.
		for _, d := range []awscloudfront.Distribution{e.gateway, e.api, e.websites, e.standbyAPI} {
			if d != nil {
				d.Node().AddDependency(logBucket)
			}
		}
	}
	e.gatewayURL = distributionURL(e.gateway, p.GatewayDomain)
	e.apiURL = distributionURL(e.api, p.APIDomain)

	return e, nil
}

func distributionURL(d awscloudfront.Distribution, domain *Domain) *string {
	if domain != nil && len(domain.Names) > 0 && !strings.HasPrefix(domain.Names[0], "*.") {
		return jsii.String("https://" + domain.Names[0])
	}
	return awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("https://"), d.DistributionDomainName()})
}

func newAuthFunction(c constructs.Construct, id, bundleDir, secretName string) experimental.EdgeFunction {
	// The EdgeFunction's id is also the Lambda's id inside the shared
	// us-east-1 stack: derive it from this construct's id so two edges in
	// one stack do not collide.
	fn := experimental.NewEdgeFunction(c, jsii.String(id+"BasicAuth"), &experimental.EdgeFunctionProps{
		Description: jsii.String("IPFS Cluster edge: HTTP Basic auth and PSA tokens (viewer-request) against the REST API credentials and token key secrets"),
		Runtime:     awslambda.Runtime_NODEJS_22_X(),
		Handler:     jsii.String("index.handler"),
		Code:        awslambda.Code_FromAsset(jsii.String(bundleDir), nil),
		MemorySize:  jsii.Number(authMemoryMB),
		Timeout:     awscdk.Duration_Seconds(jsii.Number(authTimeoutSeconds)),
		// No Environment: Lambda@Edge forbids it (the secret name is in
		// the bundle's config.json).
	})

	// Read access to exactly the credentials secret and the PSA token key
	// secret in us-east-1, in the edge stack's account. Secrets Manager
	// appends "-" and six random characters to a secret's name in its ARN.
	edgeStack := awscdk.Stack_Of(fn.Lambda())
	var secretArns []*string
	for _, name := range []string{secretName, edgespec.PSATokenKeySecretName(secretName)} {
		secretArns = append(secretArns, edgeStack.FormatArn(&awscdk.ArnComponents{
			Service:      jsii.String("secretsmanager"),
			Region:       jsii.String(edgespec.Region),
			Resource:     jsii.String("secret"),
			ResourceName: jsii.String(name + "-??????"),
			ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
		}))
	}
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
		Resources: &secretArns,
	}))

	cdknag.NagSuppressions_AddResourceSuppressions(fn.Lambda().Node().DefaultChild(), &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-L1"),
		Reason: jsii.String("Node.js 22 is the newest runtime Lambda@Edge supports here; " +
			"cdk-nag asks for the newest Lambda runtime overall (Node.js 24), which Lambda@Edge may reject."),
	}}, jsii.Bool(false))
	cdknag.NagSuppressions_AddResourceSuppressions(fn.Lambda().Role(), &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM4"),
		Reason: jsii.String("AWSLambdaBasicExecutionRole only lets the function write its own logs; Lambda@Edge " +
			"writes them to /aws/lambda/us-east-1.<name> in every Region that serves a request, so no single " +
			"log-group ARN can be listed."),
		AppliesTo: &[]interface{}{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
	}}, jsii.Bool(true))
	return fn
}

func newLogBucket(c constructs.Construct, expirationDays int, destroy bool) awss3.IBucket {
	removal := awscdk.RemovalPolicy_RETAIN
	if destroy {
		removal = awscdk.RemovalPolicy_DESTROY
	}
	b := awss3.NewBucket(c, jsii.String("AccessLogs"), &awss3.BucketProps{
		// CloudFront standard logging writes with an ACL: ACLs must be on.
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_PREFERRED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		// Versioned like the load balancer's log bucket: an overwritten or
		// deleted log stays recoverable for a while (audit records).
		Versioned:         jsii.Bool(true),
		RemovalPolicy:     removal,
		AutoDeleteObjects: jsii.Bool(destroy),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("expire-access-logs"),
			Expiration:                          awscdk.Duration_Days(jsii.Number(float64(expirationDays))),
			NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(NoncurrentLogVersionDays)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
		}},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(b, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-S1"),
		Reason: jsii.String("This bucket only receives CloudFront access logs; logging its own accesses " +
			"into another bucket would only move the question one bucket further."),
	}}, jsii.Bool(true))
	return b
}

// commonDistributionProps fills what both distributions share.
func commonDistributionProps(c constructs.Construct, id string, p *Props, domain *Domain, logBucket awss3.IBucket, logPrefix string, d *awscloudfront.DistributionProps) {
	d.HttpVersion = awscloudfront.HttpVersion_HTTP2_AND_3
	d.EnableIpv6 = jsii.Bool(true)
	if p.PriceClass != "" {
		d.PriceClass = p.PriceClass
	}
	if p.WebACLArn != "" {
		d.WebAclId = jsii.String(p.WebACLArn)
	}
	if domain != nil {
		d.DomainNames = jsii.Strings(domain.Names...)
		d.Certificate = awscertificatemanager.Certificate_FromCertificateArn(c, jsii.String(id+"Certificate"), jsii.String(domain.CertificateArn))
		d.MinimumProtocolVersion = awscloudfront.SecurityPolicyProtocol_TLS_V1_2_2021
		d.SslSupportMethod = awscloudfront.SSLMethod_SNI
	}
	if logBucket != nil {
		d.EnableLogging = jsii.Bool(true)
		d.LogBucket = logBucket
		d.LogFilePrefix = jsii.String(logPrefix)
		d.LogIncludesCookies = jsii.Bool(false)
	}
}

func suppressDistribution(d awscloudfront.Distribution, p *Props, domain *Domain, what string) {
	s := []*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-CFR1"),
		Reason: jsii.String("The " + what + " serves a worldwide audience (IPFS is global); " +
			"there is no country to block by policy."),
	}}
	if p.WebACLArn == "" {
		s = append(s, &cdknag.NagPackSuppression{
			Id: jsii.String("AwsSolutions-CFR2"),
			Reason: jsii.String("AWS WAF is optional (cost) and off in this configuration: Shield Standard covers " +
				"network-layer DDoS, the REST API is authenticated at the edge and again at the origin, and the " +
				"gateway serves public content-addressed data. Set Props.WebACLArn to attach a web ACL."),
		})
	}
	if domain == nil {
		s = append(s, &cdknag.NagPackSuppression{
			Id: jsii.String("AwsSolutions-CFR4"),
			Reason: jsii.String("No custom domain is configured: on the default *.cloudfront.net certificate " +
				"CloudFront fixes the security policy and it cannot be raised; with a custom domain the construct " +
				"sets TLSv1.2_2021. The origin leg is HTTP inside the VPC through a VPC origin, never the Internet."),
		})
	}
	if p.DisableLogging {
		s = append(s, &cdknag.NagPackSuppression{
			Id:     jsii.String("AwsSolutions-CFR3"),
			Reason: jsii.String("Access logging was switched off explicitly (Props.DisableLogging)."),
		})
	}
	cdknag.NagSuppressions_AddResourceSuppressions(d, &s, jsii.Bool(true))
}

func edgeLambdas(auth experimental.EdgeFunction, on bool) *[]*awscloudfront.EdgeLambda {
	if !on {
		return nil
	}
	return &[]*awscloudfront.EdgeLambda{{
		EventType:       awscloudfront.LambdaEdgeEventType_VIEWER_REQUEST,
		FunctionVersion: auth,
		IncludeBody:     jsii.Bool(false),
	}}
}

// FailoverStatusCodes are the primary load balancer's answers on which the
// gateway distribution asks the failover one instead.
var FailoverStatusCodes = []float64{500, 502, 503, 504}

// newGateway returns the gateway distribution, its (primary) origin and its
// response headers policy (the websites distribution shares both).
func newGateway(c constructs.Construct, p *Props, auth experimental.EdgeFunction, logBucket awss3.IBucket) (awscloudfront.Distribution, awscloudfront.IOrigin, awscloudfront.ResponseHeadersPolicy) {
	vpcOrigin := func(alb awselasticloadbalancingv2.IApplicationLoadBalancer) awscloudfront.IOrigin {
		return awscloudfrontorigins.VpcOrigin_WithApplicationLoadBalancer(alb, &awscloudfrontorigins.VpcOriginWithEndpointProps{
			HttpPort:       jsii.Number(float64(p.GatewayPort)),
			ProtocolPolicy: awscloudfront.OriginProtocolPolicy_HTTP_ONLY,
			ReadTimeout:    awscdk.Duration_Seconds(jsii.Number(originReadTimeoutSeconds)),
		})
	}
	origin := vpcOrigin(p.LoadBalancer)
	// What the gateway's behaviors reach: the load balancer, or an origin
	// group that fails over to the other one. A VPC origin is a global
	// CloudFront resource naming an ALB by ARN in any region VPC origins
	// support (same account), and a distribution may have up to 25 origins
	// of any kind, so one distribution may hold VPC origins of ALBs in two
	// regions (CloudFront Developer Guide: "Restrict access with VPC
	// origins", "Use CloudFront origin groups"). Connection failures and
	// timeouts fail over too; only GET, HEAD and OPTIONS requests do, the
	// gateway's whole allowed set.
	target := origin
	if p.FailoverLoadBalancer != nil {
		target = awscloudfrontorigins.NewOriginGroup(&awscloudfrontorigins.OriginGroupProps{
			PrimaryOrigin:       origin,
			FallbackOrigin:      vpcOrigin(p.FailoverLoadBalancer),
			FallbackStatusCodes: jsii.Numbers(FailoverStatusCodes...),
		})
	}

	// Cache key: the path, the query parameters that change the gateway's
	// answer, and Accept. kubo negotiates the response format on Accept
	// (application/vnd.ipld.raw, .car, dag-json, ...) and answers
	// "Vary: Accept", which CloudFront does not honour: without Accept in
	// the key, one trustless client could make CloudFront serve raw blocks
	// or CARs to every browser. Correctness wins over a few extra cache
	// entries per browser family. Without GatewaySubdomains, Host is neither
	// in the key nor forwarded: kubo sees the ALB's name and acts as a plain
	// path gateway. X-Forwarded-Host, which kubo would prefer to Host, is
	// never forwarded.
	keyHeaders := []string{"Accept"}
	if p.GatewaySubdomains {
		// On a subdomain gateway the content root is in the host name:
		// <cid>.ipfs.<domain>/index.html and <other>.ipfs.<domain>/index.html
		// are different objects. A header in the cache key is also
		// forwarded, so kubo sees the viewer's Host.
		keyHeaders = append(keyHeaders, "Host")
	}
	key := func(id, comment string, def, max awscdk.Duration) awscloudfront.CachePolicy {
		return newGatewayCachePolicy(c, id, comment, def, max, keyHeaders)
	}
	year := awscdk.Duration_Days(jsii.Number(365))
	// /ipfs/*: content-addressed, immutable. Honour kubo's Cache-Control
	// (max-age=29030400, immutable) up to CloudFront's one-year maximum; a
	// response without Cache-Control is just as immutable.
	immutableDefault := year
	if p.GatewaySubdomains {
		// /ipfs/* also matches inside <name>.ipns.<domain> sites (mutable)
		// and the domain's redirects to the subdomains. kubo labels every
		// immutable response itself (max-age=29030400, immutable), so only
		// responses without Cache-Control fall back to this default.
		immutableDefault = awscdk.Duration_Seconds(jsii.Number(60))
	}
	immutable := key("ImmutableCachePolicy", "IPFS gateway /ipfs/*: immutable content, origin Cache-Control up to 1 year",
		immutableDefault, year)
	// /ipns/*: mutable names (IPNS records, DNSLink): short, capped TTL so
	// updates show within minutes whatever max-age the origin sends.
	mutable := key("MutableCachePolicy", "IPFS gateway /ipns/*: mutable names, 60 s default, 5 min cap",
		awscdk.Duration_Seconds(jsii.Number(60)), awscdk.Duration_Minutes(jsii.Number(5)))
	// Everything else (/, errors, unknown paths) is not content-addressed:
	// honour the origin's Cache-Control, but default to a short TTL.
	other := key("DefaultCachePolicy", "IPFS gateway other paths: origin Cache-Control, 60 s default",
		awscdk.Duration_Seconds(jsii.Number(60)), year)

	headers := &awscloudfront.ResponseHeadersPolicyProps{
		Comment:                 jsii.String("IPFS gateway: security headers"),
		SecurityHeadersBehavior: securityHeaders(edgespec.GatewayHeaders),
		CustomHeadersBehavior:   customHeaders(edgespec.GatewayHeaders),
	}
	if !p.PrivateGateway {
		// A public gateway is meant to be fetched from any web page
		// (verified fetch, trustless retrieval), as kubo's own CORS
		// defaults say; kubo's headers win when it sends them. A private
		// gateway gets none: credentialed cross-origin use is not offered.
		headers.CorsBehavior = &awscloudfront.ResponseHeadersCorsBehavior{
			AccessControlAllowCredentials: jsii.Bool(false),
			AccessControlAllowOrigins:     jsii.Strings("*"),
			AccessControlAllowMethods:     jsii.Strings("GET", "HEAD", "OPTIONS"),
			AccessControlAllowHeaders:     jsii.Strings("Content-Type", "Range", "User-Agent", "X-Requested-With"),
			AccessControlExposeHeaders: jsii.Strings("Content-Length", "Content-Range", "X-Chunked-Output",
				"X-Stream-Output", "X-Ipfs-Path", "X-Ipfs-Roots"),
			AccessControlMaxAge: awscdk.Duration_Days(jsii.Number(1)),
			OriginOverride:      jsii.Bool(false),
		}
	}
	policy := awscloudfront.NewResponseHeadersPolicy(c, jsii.String("GatewayResponseHeaders"), headers)

	var redirect *[]*awscloudfront.FunctionAssociation
	if p.GatewaySubdomains {
		redirect = httpsRedirects(c, p.GatewayDomain.Names[0])
	}
	behavior := func(cache awscloudfront.CachePolicy) *awscloudfront.BehaviorOptions {
		return &awscloudfront.BehaviorOptions{
			Origin:                target,
			ViewerProtocolPolicy:  awscloudfront.ViewerProtocolPolicy_REDIRECT_TO_HTTPS,
			AllowedMethods:        awscloudfront.AllowedMethods_ALLOW_GET_HEAD_OPTIONS(),
			CachedMethods:         awscloudfront.CachedMethods_CACHE_GET_HEAD(),
			CachePolicy:           cache,
			ResponseHeadersPolicy: policy,
			Compress:              jsii.Bool(true),
			EdgeLambdas:           edgeLambdas(auth, p.PrivateGateway),
			FunctionAssociations:  redirect,
		}
	}

	dp := &awscloudfront.DistributionProps{
		Comment:         jsii.String("IPFS gateway"),
		DefaultBehavior: behavior(other),
		AdditionalBehaviors: &map[string]*awscloudfront.BehaviorOptions{
			"/ipfs/*": behavior(immutable),
			"/ipns/*": behavior(mutable),
		},
	}
	commonDistributionProps(c, "Gateway", p, p.gatewayDomain(), logBucket, "gateway/", dp)
	d := awscloudfront.NewDistribution(c, jsii.String("Gateway"), dp)
	suppressDistribution(d, p, p.gatewayDomain(), "public IPFS gateway")
	return d, origin, policy
}

// newGatewayCachePolicy keys the cache on the path, the query parameters
// that change the gateway's answer and headers.
func newGatewayCachePolicy(c constructs.Construct, id, comment string, def, max awscdk.Duration, headers []string) awscloudfront.CachePolicy {
	return awscloudfront.NewCachePolicy(c, jsii.String(id), &awscloudfront.CachePolicyProps{
		Comment:                    jsii.String(comment),
		MinTtl:                     awscdk.Duration_Seconds(jsii.Number(0)),
		DefaultTtl:                 def,
		MaxTtl:                     max,
		HeaderBehavior:             awscloudfront.CacheHeaderBehavior_AllowList(*jsii.Strings(headers...)...),
		QueryStringBehavior:        awscloudfront.CacheQueryStringBehavior_AllowList(*jsii.Strings(gatewayQueryStrings...)...),
		CookieBehavior:             awscloudfront.CacheCookieBehavior_None(),
		EnableAcceptEncodingGzip:   jsii.Bool(true),
		EnableAcceptEncodingBrotli: jsii.Bool(true),
	})
}

// apiDistribution says which REST API distribution newAPI builds.
type apiDistribution struct {
	id, comment, logPrefix string
	loadBalancer           awselasticloadbalancingv2.IApplicationLoadBalancer
	domain                 *Domain
}

func newAPI(c constructs.Construct, p *Props, a apiDistribution, auth experimental.EdgeFunction, logBucket awss3.IBucket) awscloudfront.Distribution {
	origin := awscloudfrontorigins.VpcOrigin_WithApplicationLoadBalancer(a.loadBalancer, &awscloudfrontorigins.VpcOriginWithEndpointProps{
		HttpPort:       jsii.Number(float64(p.APIPort)),
		ProtocolPolicy: awscloudfront.OriginProtocolPolicy_HTTP_ONLY,
		ReadTimeout:    awscdk.Duration_Seconds(jsii.Number(originReadTimeoutSeconds)),
	})
	policy := awscloudfront.NewResponseHeadersPolicy(c, jsii.String(a.id+"ResponseHeaders"), &awscloudfront.ResponseHeadersPolicyProps{
		Comment:                 jsii.String(a.comment + ": security headers"),
		SecurityHeadersBehavior: securityHeaders(edgespec.APIHeaders),
		CustomHeadersBehavior:   customHeaders(edgespec.APIHeaders),
	})
	dp := &awscloudfront.DistributionProps{
		Comment: jsii.String(a.comment),
		DefaultBehavior: &awscloudfront.BehaviorOptions{
			Origin:               origin,
			ViewerProtocolPolicy: awscloudfront.ViewerProtocolPolicy_HTTPS_ONLY,
			AllowedMethods:       awscloudfront.AllowedMethods_ALLOW_ALL(),
			CachedMethods:        awscloudfront.CachedMethods_CACHE_GET_HEAD(),
			// Never cached. CloudFront refuses Authorization in an origin
			// request policy's header list, but with caching disabled the
			// managed AllViewerExceptHostHeader policy forwards every viewer
			// header, Authorization included, so the cluster checks the
			// credentials again. The Host is the ALB's (the API ignores it).
			CachePolicy:           awscloudfront.CachePolicy_CACHING_DISABLED(),
			OriginRequestPolicy:   awscloudfront.OriginRequestPolicy_ALL_VIEWER_EXCEPT_HOST_HEADER(),
			ResponseHeadersPolicy: policy,
			// Streamed NDJSON answers (add, pins) pass through as they come.
			Compress:    jsii.Bool(false),
			EdgeLambdas: edgeLambdas(auth, true),
		},
		AdditionalBehaviors: &map[string]*awscloudfront.BehaviorOptions{
			nodespec.PinningServicePath + "/*": psaBehavior(p, a.loadBalancer, auth, policy),
		},
	}
	commonDistributionProps(c, a.id, p, a.domain, logBucket, a.logPrefix, dp)
	d := awscloudfront.NewDistribution(c, jsii.String(a.id), dp)
	suppressDistribution(d, p, a.domain, a.comment)
	return d
}

// psaBehavior serves the Pinning Service API (https://<api>/psa) from the
// ALB's PSA listener: never cached, every method, the same viewer-request
// function with the request body included (it checks the JSON of POST
// /psa/pins and answers POST /psa/token itself). The function replaces the
// client's Bearer token with the REST API's Basic credentials, so the
// origin sees the path unchanged and the cluster's own credentials.
func psaBehavior(p *Props, alb awselasticloadbalancingv2.IApplicationLoadBalancer, auth experimental.EdgeFunction, headers awscloudfront.IResponseHeadersPolicy) *awscloudfront.BehaviorOptions {
	origin := awscloudfrontorigins.VpcOrigin_WithApplicationLoadBalancer(alb, &awscloudfrontorigins.VpcOriginWithEndpointProps{
		HttpPort:       jsii.Number(float64(p.PSAPort)),
		ProtocolPolicy: awscloudfront.OriginProtocolPolicy_HTTP_ONLY,
		ReadTimeout:    awscdk.Duration_Seconds(jsii.Number(originReadTimeoutSeconds)),
	})
	return &awscloudfront.BehaviorOptions{
		Origin:               origin,
		ViewerProtocolPolicy: awscloudfront.ViewerProtocolPolicy_HTTPS_ONLY,
		AllowedMethods:       awscloudfront.AllowedMethods_ALLOW_ALL(),
		CachedMethods:        awscloudfront.CachedMethods_CACHE_GET_HEAD(),
		// As the REST API: nothing cached, every viewer header (with the
		// Authorization the function put there) forwarded.
		CachePolicy:           awscloudfront.CachePolicy_CACHING_DISABLED(),
		OriginRequestPolicy:   awscloudfront.OriginRequestPolicy_ALL_VIEWER_EXCEPT_HOST_HEADER(),
		ResponseHeadersPolicy: headers,
		Compress:              jsii.Bool(true),
		EdgeLambdas: &[]*awscloudfront.EdgeLambda{{
			EventType:       awscloudfront.LambdaEdgeEventType_VIEWER_REQUEST,
			FunctionVersion: auth,
			// CloudFront shows a viewer-request function at most 40 KB of
			// a body and flags the rest as truncated; the function refuses
			// a truncated PSA body (a pin is far smaller).
			IncludeBody: jsii.Bool(true),
		}},
	}
}
