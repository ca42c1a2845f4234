package edgespec

import "fmt"

// ResponseHeaders is what a distribution's response headers policy adds to
// every answer. The edge construct builds its CloudFront policies from
// these values, and the local edge (localcluster/localedge) adds the same
// headers in front of the local cluster: they are written only here.
type ResponseHeaders struct {
	// HSTSMaxAgeSeconds of Strict-Transport-Security (no includeSubDomains,
	// no preload: the operator's other names are not ours to pin).
	HSTSMaxAgeSeconds int
	// FrameOption is X-Frame-Options: "DENY" or "SAMEORIGIN".
	FrameOption string
	// ReferrerPolicy is the Referrer-Policy value, e.g. "no-referrer".
	ReferrerPolicy string
	// ContentSecurityPolicy, when not empty.
	ContentSecurityPolicy string
	// CacheControl, when not empty, is added only when the origin sent no
	// Cache-Control of its own.
	CacheControl string
}

// Two years: the HSTS preload list's minimum is one year.
const hstsMaxAgeSeconds = 730 * 24 * 3600

// GatewayHeaders: content may be framed by pages of the same gateway
// origin, never by other origins; the Referrer leaves only as the origin.
var GatewayHeaders = ResponseHeaders{
	HSTSMaxAgeSeconds: hstsMaxAgeSeconds,
	FrameOption:       "SAMEORIGIN",
	ReferrerPolicy:    "strict-origin-when-cross-origin",
}

// APIHeaders: a JSON API is never framed, never rendered as a page and
// never cached (unless the cluster says otherwise).
var APIHeaders = ResponseHeaders{
	HSTSMaxAgeSeconds:     hstsMaxAgeSeconds,
	FrameOption:           "DENY",
	ReferrerPolicy:        "no-referrer",
	ContentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'",
	CacheControl:          "no-store",
}

// Header is one response header as CloudFront sends it.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// Override replaces the origin's value; otherwise the header is added
	// only when the origin sent none.
	Override bool `json:"override"`
}

// Headers lists the headers CloudFront adds with this policy (security
// headers override the origin's, as the policies say; Cache-Control does
// not).
func (h ResponseHeaders) Headers() []Header {
	out := []Header{
		{Name: "Strict-Transport-Security", Value: fmt.Sprintf("max-age=%d", h.HSTSMaxAgeSeconds), Override: true},
		{Name: "X-Content-Type-Options", Value: "nosniff", Override: true},
		{Name: "X-Frame-Options", Value: h.FrameOption, Override: true},
		{Name: "Referrer-Policy", Value: h.ReferrerPolicy, Override: true},
	}
	if h.ContentSecurityPolicy != "" {
		out = append(out, Header{Name: "Content-Security-Policy", Value: h.ContentSecurityPolicy, Override: true})
	}
	if h.CacheControl != "" {
		out = append(out, Header{Name: "Cache-Control", Value: h.CacheControl, Override: false})
	}
	return out
}
