package partition

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRegionsAndTheirPartitions(t *testing.T) {
	for region, want := range map[string]string{
		// Every region of the SDK's partitions.json (v1.48.0) outside aws,
		// and a sample of aws's.
		"eu-west-1": AWS, "us-east-1": AWS, "ap-southeast-7": AWS, "mx-central-1": AWS, "il-central-1": AWS, "ca-west-1": AWS,
		"cn-north-1": "aws-cn", "cn-northwest-1": "aws-cn",
		"us-gov-west-1": "aws-us-gov", "us-gov-east-1": "aws-us-gov",
		"us-iso-east-1": "aws-iso", "us-iso-west-1": "aws-iso",
		"us-isob-east-1": "aws-iso-b", "us-isob-west-1": "aws-iso-b",
		"eu-isoe-west-1": "aws-iso-e",
		"us-isof-east-1": "aws-iso-f", "us-isof-south-1": "aws-iso-f",
		"eusc-de-east-1": "aws-eusc",
		"":               "", "EU-WEST-1": "", "eu-west": "", "eu_west_1": "", "eu-west-1a": "", "xx-west-1": "", "aws-global": "",
	} {
		assert.Equal(t, want, Of(region), region)
		err := ValidateRegion(region)
		switch want {
		case AWS:
			assert.NoError(t, err, region)
		case "":
			assert.ErrorContains(t, err, "is not an AWS region name; allowed: a region of the aws partition", region)
		default:
			assert.ErrorContains(t, err, "is a region of the "+want+" partition; allowed: a region of the aws partition", region)
			assert.ErrorContains(t, err, "Lambda@Edge", region)
		}
	}
}

func TestArnsOfOtherPartitions(t *testing.T) {
	assert.NoError(t, ValidateArn("arn:aws:acm:us-east-1:123456789012:certificate/x"))
	assert.NoError(t, ValidateArn("not an arn"))
	assert.NoError(t, ValidateArn(""))
	for _, p := range []string{"aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-eusc"} {
		err := ValidateArn("arn:" + p + ":acm:us-east-1:123456789012:certificate/x")
		assert.ErrorContains(t, err, "is in the "+p+" partition; allowed: an ARN of the aws partition", p)
	}
}
