// Package lambdaedge carries the Lambda@Edge function sources so that the
// CDK constructs can stage them at synth time whatever the working directory
// (cdk synth runs from the repository root, go test from the package dir).
package lambdaedge

import _ "embed"

// BasicAuthIndex is lambda-edge/basic-auth/index.mjs: the viewer-request
// HTTP Basic authentication handler. Its bundle also needs a config.json,
// written by the edge construct.
//
//go:embed basic-auth/index.mjs
var BasicAuthIndex []byte

// BasicAuthPSA is lambda-edge/basic-auth/psa.mjs, the Pinning Service API's
// part of the same handler (index.mjs imports it).
//
//go:embed basic-auth/psa.mjs
var BasicAuthPSA []byte

// HTTPSRedirectsIndex is lambda-edge/https-redirects/index.js: the subdomain
// gateway's CloudFront Function (viewer response). The edge construct puts
// the gateway domain in place of GatewayDomainPlaceholder.
//
//go:embed https-redirects/index.js
var HTTPSRedirectsIndex []byte

// GatewayDomainPlaceholder is the quoted domain in HTTPSRedirectsIndex.
const GatewayDomainPlaceholder = `"gateway.example"`
