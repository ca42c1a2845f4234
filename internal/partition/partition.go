// Package partition tells which AWS partition a region or an ARN belongs to.
// The app deploys only into the standard aws partition: its edge is
// CloudFront with Lambda@Edge, deployed from us-east-1, and neither exists in
// the other partitions (China, GovCloud, the ISO and European sovereign
// clouds); a stack cannot reference, replicate to or copy into another
// partition either. Every region and ARN the configuration takes is checked
// here, so the reason is given once.
package partition

import (
	"fmt"
	"regexp"
	"strings"
)

// AWS is the only partition the app deploys into.
const AWS = "aws"

// Reason is why any other partition is refused.
const Reason = "the app's edge (CloudFront with Lambda@Edge in us-east-1) exists only in the aws partition, and its stacks cannot span partitions"

// partitions are the region name patterns of every partition, as the AWS
// SDK's endpoint rules define them (aws-sdk-go-v2 v1.48.0,
// internal/endpoints/awsrulesfn/partitions.json, "regionRegex"; \w
// narrowed to lower-case letters, as every region name is). Order matters
// only in that none of them overlaps another.
var partitions = []struct {
	id      string
	pattern *regexp.Regexp
}{
	{AWS, regexp.MustCompile(`^(us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-[0-9]+$`)},
	{"aws-cn", regexp.MustCompile(`^cn-[a-z]+-[0-9]+$`)},
	{"aws-eusc", regexp.MustCompile(`^eusc-(de)-[a-z]+-[0-9]+$`)},
	{"aws-iso", regexp.MustCompile(`^us-iso-[a-z]+-[0-9]+$`)},
	{"aws-iso-b", regexp.MustCompile(`^us-isob-[a-z]+-[0-9]+$`)},
	{"aws-iso-e", regexp.MustCompile(`^eu-isoe-[a-z]+-[0-9]+$`)},
	{"aws-iso-f", regexp.MustCompile(`^us-isof-[a-z]+-[0-9]+$`)},
	{"aws-us-gov", regexp.MustCompile(`^us-gov-[a-z]+-[0-9]+$`)},
}

// Of returns the partition of a region name, or "" for a name that is no
// partition's region name.
func Of(region string) string {
	for _, p := range partitions {
		if p.pattern.MatchString(region) {
			return p.id
		}
	}
	return ""
}

// ValidateRegion accepts a region of the aws partition. It says why a
// region of another partition is refused, and what a region name looks like
// when the value is none.
func ValidateRegion(region string) error {
	switch p := Of(region); p {
	case AWS:
		return nil
	case "":
		return fmt.Errorf("%q is not an AWS region name; allowed: a region of the aws partition such as eu-west-1", region)
	default:
		return fmt.Errorf("%q is a region of the %s partition; allowed: a region of the aws partition such as eu-west-1 (%s)", region, p, Reason)
	}
}

// ValidateArn refuses an ARN of another partition than aws, with the
// reason. Anything else (including what is not an ARN at all) is left to
// the caller's own rules for that ARN.
func ValidateArn(arn string) error {
	fields := strings.SplitN(arn, ":", 3)
	if len(fields) < 3 || fields[0] != "arn" || fields[1] == AWS {
		return nil
	}
	return fmt.Errorf("%q is in the %s partition; allowed: an ARN of the aws partition (arn:aws:...) (%s)", arn, fields[1], Reason)
}
