// Package networkspec holds the network's rules that the configuration
// checks without the CDK.
package networkspec

import (
	"fmt"
	"net/netip"
)

// SubnetMaskBits is the size of every subnet: a /22 (1019 usable addresses)
// per subnet group and zone.
const SubnetMaskBits = 22

// SubnetGroups is how many subnet groups the VPC has (public, isolated).
const SubnetGroups = 2

// DefaultCidr is the VPC's default range.
const DefaultCidr = "10.42.0.0/16"

// DefaultSecondRegionCidr is the second region's VPC's default range: the
// two VPCs are peered, so their ranges must not overlap.
const DefaultSecondRegionCidr = "10.43.0.0/16"

// Overlap tells whether two valid CIDR ranges share an address (peered VPCs
// must not: a route could not tell them apart).
func Overlap(a, b string) bool {
	pa, errA := netip.ParsePrefix(a)
	pb, errB := netip.ParsePrefix(b)
	return errA == nil && errB == nil && pa.Overlaps(pb)
}

// ValidateCidr checks that cidr is an IPv4 network large enough for every
// subnet of zones zones.
func ValidateCidr(cidr string, zones int) error {
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil || !prefix.Addr().Is4() || prefix.Masked() != prefix {
		return fmt.Errorf("%q is not an IPv4 network in CIDR notation; allowed: e.g. %s", cidr, DefaultCidr)
	}
	needed := SubnetGroups * zones
	maxBits := SubnetMaskBits
	for room := 1; room < needed; room *= 2 {
		maxBits--
	}
	if prefix.Bits() < 16 || prefix.Bits() > maxBits {
		return fmt.Errorf("%q is a /%d; allowed: /16 to /%d (%d subnets of /%d)", cidr, prefix.Bits(), maxBits, needed, SubnetMaskBits)
	}
	return nil
}
