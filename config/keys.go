package config

import (
	"maps"
	"slices"
	"strings"
)

// The CDK context holds more than this app's settings: the CLI and the CDK
// add keys of their own, which must pass. Measured with the aws-cdk CLI
// 2.1148.1 (its CDK_CONTEXT_JSON with every synth option): aws:cdk:*
// (enable-path-metadata, enable-asset-metadata, version-reporting or
// disable-version-reporting, disable-asset-staging, bundling-stacks),
// @aws-cdk/core:failSynthOnValidationErrors, and acknowledged-issue-numbers
// from `cdk acknowledge` (saved in cdk.context.json).
var (
	// cdkKeyPrefixes: aws:cdk:* (CLI and framework), @aws-cdk/* and
	// @aws-cdk-containers/* (feature flags, @aws-cdk/core:bootstrapQualifier),
	// aws-cdk:* (CDK v1 flags such as aws-cdk:enableDiffNoFail).
	cdkKeyPrefixes = []string{"aws:cdk:", "@aws-cdk", "aws-cdk:"}
	cdkKeys        = []string{"acknowledged-issue-numbers"}
	// contextProviders name the context lookups whose answers the CLI
	// caches in cdk.context.json under "<provider>:<key>=<value>:...", e.g.
	// availability-zones:account=123456789012:region=eu-west-1 (the
	// providers of @aws-cdk/cloud-assembly-schema's ContextProvider).
	contextProviders = []string{
		"ami", "availability-zones", "hosted-zone", "ssm", "vpc-provider",
		"endpoint-service-availability-zones", "load-balancer", "load-balancer-listener",
		"security-group", "key-provider", "cc-api-provider", "plugin",
	}
)

// cdkOwnKeys says where the keys that are not settings may come from, for
// the message that refuses any other.
const cdkOwnKeys = "CDK's own keys (aws:cdk:*, @aws-cdk/* feature flags, acknowledged-issue-numbers, cdk.context.json lookups such as availability-zones:account=...:region=...)"

// isCDKKey tells whether a context key belongs to the CDK rather than to
// this app.
func isCDKKey(key string) bool {
	if slices.Contains(cdkKeys, key) || slices.ContainsFunc(cdkKeyPrefixes, func(p string) bool { return strings.HasPrefix(key, p) }) {
		return true
	}
	provider, rest, ok := strings.Cut(key, ":")
	return ok && strings.Contains(rest, "=") && slices.Contains(contextProviders, provider)
}

// unknownKeys reports every key of m that is neither in allowed nor, when
// cdkKeysPass, CDK's own: naming it, the nearest allowed key if one is
// close (a misspelling or another case), and what is allowed. Top-level
// context and the stages' overrides are checked with it.
func unknownKeys(m map[string]any, allowed []string, cdkKeysPass bool) []string {
	var problems []string
	for _, key := range slices.Sorted(maps.Keys(m)) {
		if slices.Contains(allowed, key) || cdkKeysPass && isCDKKey(key) {
			continue
		}
		msg := "unknown setting " + key + ";"
		if s := nearest(key, allowed); s != "" {
			msg += " did you mean " + s + "?"
		}
		msg += " allowed: " + strings.Join(allowed, ", ")
		if cdkKeysPass {
			msg += ", and " + cdkOwnKeys
		}
		problems = append(problems, msg)
	}
	return problems
}

// nearest returns the candidate closest to key, ignoring case, or "" when
// none is close enough to be the one meant: at most two edits, or a third of
// the candidate's length.
func nearest(key string, candidates []string) string {
	best, bestDistance := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(key), strings.ToLower(c))
		if (d <= 2 || 3*d <= len(c)) && (bestDistance < 0 || d < bestDistance) {
			best, bestDistance = c, d
		}
	}
	return best
}

// editDistance counts the insertions, deletions, substitutions and
// transpositions of adjacent characters that turn a into b (optimal string
// alignment).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
