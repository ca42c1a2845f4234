package edge

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/jsii-runtime-go"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
)

// The CDK names its enum members, not the header values.
var (
	frameOptions = map[string]awscloudfront.HeadersFrameOption{
		"DENY":       awscloudfront.HeadersFrameOption_DENY,
		"SAMEORIGIN": awscloudfront.HeadersFrameOption_SAMEORIGIN,
	}
	referrerPolicies = map[string]awscloudfront.HeadersReferrerPolicy{
		"no-referrer":                     awscloudfront.HeadersReferrerPolicy_NO_REFERRER,
		"no-referrer-when-downgrade":      awscloudfront.HeadersReferrerPolicy_NO_REFERRER_WHEN_DOWNGRADE,
		"origin":                          awscloudfront.HeadersReferrerPolicy_ORIGIN,
		"origin-when-cross-origin":        awscloudfront.HeadersReferrerPolicy_ORIGIN_WHEN_CROSS_ORIGIN,
		"same-origin":                     awscloudfront.HeadersReferrerPolicy_SAME_ORIGIN,
		"strict-origin":                   awscloudfront.HeadersReferrerPolicy_STRICT_ORIGIN,
		"strict-origin-when-cross-origin": awscloudfront.HeadersReferrerPolicy_STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
		"unsafe-url":                      awscloudfront.HeadersReferrerPolicy_UNSAFE_URL,
	}
)

// securityHeaders is the CloudFront form of h's security headers.
func securityHeaders(h edgespec.ResponseHeaders) *awscloudfront.ResponseSecurityHeadersBehavior {
	frame, ok := frameOptions[h.FrameOption]
	if !ok {
		panic(fmt.Sprintf("edgespec: X-Frame-Options %q has no CloudFront equivalent", h.FrameOption))
	}
	referrer, ok := referrerPolicies[h.ReferrerPolicy]
	if !ok {
		panic(fmt.Sprintf("edgespec: Referrer-Policy %q has no CloudFront equivalent", h.ReferrerPolicy))
	}
	b := &awscloudfront.ResponseSecurityHeadersBehavior{
		StrictTransportSecurity: &awscloudfront.ResponseHeadersStrictTransportSecurity{
			AccessControlMaxAge: awscdk.Duration_Seconds(jsii.Number(float64(h.HSTSMaxAgeSeconds))),
			IncludeSubdomains:   jsii.Bool(false),
			Preload:             jsii.Bool(false),
			Override:            jsii.Bool(true),
		},
		ContentTypeOptions: &awscloudfront.ResponseHeadersContentTypeOptions{Override: jsii.Bool(true)},
		FrameOptions:       &awscloudfront.ResponseHeadersFrameOptions{FrameOption: frame, Override: jsii.Bool(true)},
		ReferrerPolicy:     &awscloudfront.ResponseHeadersReferrerPolicy{ReferrerPolicy: referrer, Override: jsii.Bool(true)},
	}
	if h.ContentSecurityPolicy != "" {
		b.ContentSecurityPolicy = &awscloudfront.ResponseHeadersContentSecurityPolicy{
			ContentSecurityPolicy: jsii.String(h.ContentSecurityPolicy), Override: jsii.Bool(true),
		}
	}
	return b
}

// customHeaders is the CloudFront form of h's other headers (nil if none).
func customHeaders(h edgespec.ResponseHeaders) *awscloudfront.ResponseCustomHeadersBehavior {
	if h.CacheControl == "" {
		return nil
	}
	return &awscloudfront.ResponseCustomHeadersBehavior{
		CustomHeaders: &[]*awscloudfront.ResponseCustomHeader{{
			Header: jsii.String("Cache-Control"), Value: jsii.String(h.CacheControl), Override: jsii.Bool(false),
		}},
	}
}
