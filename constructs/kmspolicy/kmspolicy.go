// Package kmspolicy holds key policy rules every KMS key of the app follows,
// whoever creates the key (this repository's constructs, or CDK itself, such
// as CDK Pipelines' artifact keys).
package kmspolicy

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// GrantsSid names the statement LimitGrantsToAWSServices adds.
const GrantsSid = "GrantsForAWSServicesOnly"

// LimitGrantsToAWSServices denies kms:CreateGrant on key to every principal
// unless an AWS service integrated with KMS asks on a principal's behalf or
// a service principal asks itself: the statement Control Tower's
// CT.KMS.PR.3 checks for, word for word (Deny, Principal "*", Resource "*",
// BoolIfExists on exactly these two keys). The keys here serve SNS, CloudWatch
// and S3 through kms:GenerateDataKey and kms:Decrypt, never through grants,
// so nothing they do is refused. Adding it twice is a no-op.
func LimitGrantsToAWSServices(key awskms.Key) {
	if hasStatement(key) {
		return
	}
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String(GrantsSid),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("kms:CreateGrant"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"BoolIfExists": map[string]any{
			"kms:GrantIsForAWSResource": "false",
			"aws:PrincipalIsAWSService": "false",
		}},
	}), jsii.Bool(false))
}

func hasStatement(k awskms.Key) bool {
	policy := k.Policy()
	if policy == nil {
		return false
	}
	return strings.Contains(*awscdk.Stack_Of(k).ToJsonString(policy.ToJSON(), nil), `"`+GrantsSid+`"`)
}

// GrantsAspect applies LimitGrantsToAWSServices to every KMS key in its
// scope, the keys CDK creates on the app's behalf included. Add it with
// AddTo (before cdk-nag: it changes templates).
type GrantsAspect struct {
	// keys counts the keys visited (a Go aspect needs a field to be visited
	// through a pointer receiver).
	keys int
}

// Visit implements awscdk.IAspect.
func (a *GrantsAspect) Visit(node constructs.IConstruct) {
	if key, ok := node.(awskms.Key); ok {
		a.keys++
		LimitGrantsToAWSServices(key)
	}
}

// AddTo adds the aspect to scope as a mutating aspect.
func AddTo(scope constructs.IConstruct) {
	awscdk.Aspects_Of(scope).Add(&GrantsAspect{}, &awscdk.AspectOptions{Priority: awscdk.AspectPriority_MUTATING()})
}
