// Package clustersecrets generates, at deploy time and inside Secrets
// Manager, everything secret an IPFS cluster needs, so that no operator ever
// runs `ipfs-cluster-service init` or pastes a key:
//
//   - the identity seed: every peer's Ed25519 identity and the cluster secret
//     are derived from it inside the cluster image (docker/ipfs-cluster/identity);
//   - the REST API credentials: {"username": ..., "password": ...}, the
//     password free of ',' and ':' (the cluster parses user:pass,user:pass);
//   - the Pinning Service API's token key: {"key": ..., "revoked": {}}, the
//     HMAC key the edge signs and verifies PSA tokens with and the revoked
//     token IDs (docs/runbooks.md: rotate the PSA token key, revoke a token).
//
// No value ever appears in a template, a task definition or the
// repository: tasks receive them as ECS secrets (ARN references).
package clustersecrets

import (
	"encoding/json"
	"errors"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/propcheck"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/partition"
)

// Props configure the secrets.
type Props struct {
	// RestAPICredentialsName is the fixed name of the REST API credentials
	// secret. Required: the Lambda@Edge bundle refers to it by name.
	RestAPICredentialsName string
	// RestAPIUsername is the user of the REST API. Default "admin".
	RestAPIUsername string
	// ReplicaRegions receive read-only replicas of the REST API credentials
	// and of the PSA token key, e.g. us-east-1 for Lambda@Edge. Default
	// none.
	ReplicaRegions []string
	// NodeRegions are further regions where peers of the cluster run: the
	// seed and the credentials get a read-only replica there, which those
	// peers read (ReplicaArn). Default none.
	NodeRegions []string
	// RemovalPolicy of every secret (the replicas follow their primary).
	// Default RETAIN_ON_UPDATE_OR_DELETE: a retained file system
	// without its seed would come back with different peer identities, and
	// a failed first create must not leave the fixed-name secret behind.
	RemovalPolicy awscdk.RemovalPolicy
}

// Secrets are the generated secrets.
type Secrets struct {
	constructs.Construct
	// IdentitySeed is a 64-character alphanumeric string.
	IdentitySeed awssecretsmanager.Secret
	// RestAPICredentials is JSON with the keys "username" and "password".
	RestAPICredentials awssecretsmanager.Secret
	// PSATokenKey is JSON with the keys edgespec.PSATokenKeyJSONKey (64
	// alphanumeric characters) and edgespec.PSATokenRevokedJSONKey (an
	// object, empty at first), named
	// edgespec.PSATokenKeySecretName(RestAPICredentialsName). Only the edge
	// reads it.
	PSATokenKey awssecretsmanager.Secret
}

// Keys of the REST API credentials secret: what the node's containers read.
const (
	UsernameKey = nodespec.CredentialsUsernameJSONKey
	PasswordKey = nodespec.CredentialsPasswordJSONKey
)

// DefaultRestAPIUsername is the REST API user when none is given.
const DefaultRestAPIUsername = "admin"

// Validate reports every problem at once.
func (p *Props) Validate() error {
	if p == nil {
		return errors.New("clustersecrets.Props: required (nil)")
	}
	l := propcheck.New("clustersecrets.Props")
	if p.RestAPICredentialsName == "" {
		l.Add("RestAPICredentialsName", "required: the Lambda@Edge bundle refers to the secret by this name")
	} else if err := edgespec.ValidateCredentialsSecretName(p.RestAPICredentialsName); err != nil {
		l.Add("RestAPICredentialsName", "%v", err)
	}
	if p.RestAPIUsername != "" {
		if err := nodespec.ValidateRestAPIUsername(p.RestAPIUsername); err != nil {
			l.Add("RestAPIUsername", "%v", err)
		}
	}
	for field, regions := range map[string][]string{"ReplicaRegions": p.ReplicaRegions, "NodeRegions": p.NodeRegions} {
		for _, r := range regions {
			if err := partition.ValidateRegion(r); err != nil {
				l.Add(field, "%v", err)
			}
		}
	}
	return l.Err()
}

// New creates the secrets.
func New(scope constructs.Construct, id string, props *Props) (*Secrets, error) {
	if err := props.Validate(); err != nil {
		return nil, err
	}
	username := props.RestAPIUsername
	if username == "" {
		username = DefaultRestAPIUsername
	}
	removal := props.RemovalPolicy
	if removal == "" {
		removal = awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE
	}
	template, err := json.Marshal(map[string]string{UsernameKey: username})
	if err != nil {
		return nil, err
	}
	this := constructs.NewConstruct(scope, jsii.String(id))

	seed := awssecretsmanager.NewSecret(this, jsii.String("IdentitySeed"), &awssecretsmanager.SecretProps{
		ReplicaRegions: replicas(props.NodeRegions),
		Description:    jsii.String("IPFS Cluster identity seed: every peer's key and the cluster secret derive from it"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(64),
			ExcludePunctuation: jsii.Bool(true),
			IncludeSpace:       jsii.Bool(false),
		},
		RemovalPolicy: removal,
	})

	credentials := awssecretsmanager.NewSecret(this, jsii.String("RestApiCredentials"), &awssecretsmanager.SecretProps{
		SecretName:  jsii.String(props.RestAPICredentialsName),
		Description: jsii.String("IPFS Cluster REST API basic-auth credentials"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			SecretStringTemplate: jsii.String(string(template)),
			GenerateStringKey:    jsii.String(PasswordKey),
			PasswordLength:       jsii.Number(40),
			// Punctuation includes ',' and ':', which the cluster's
			// user:pass,user:pass credential list cannot carry.
			ExcludePunctuation: jsii.Bool(true),
			IncludeSpace:       jsii.Bool(false),
		},
		ReplicaRegions: replicas(append(slices.Clone(props.ReplicaRegions), props.NodeRegions...)),
		RemovalPolicy:  removal,
	})
	tokenTemplate, err := json.Marshal(map[string]any{edgespec.PSATokenRevokedJSONKey: map[string]int64{}})
	if err != nil {
		return nil, err
	}
	tokenKey := awssecretsmanager.NewSecret(this, jsii.String("PsaTokenKey"), &awssecretsmanager.SecretProps{
		SecretName:  jsii.String(edgespec.PSATokenKeySecretName(props.RestAPICredentialsName)),
		Description: jsii.String("IPFS Cluster Pinning Service API: the key the edge signs tokens with, and the revoked token IDs"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			SecretStringTemplate: jsii.String(string(tokenTemplate)),
			GenerateStringKey:    jsii.String(edgespec.PSATokenKeyJSONKey),
			// 64 of 62 characters: about 380 bits, above HMAC-SHA256's 256.
			PasswordLength:     jsii.Number(64),
			ExcludePunctuation: jsii.Bool(true),
			IncludeSpace:       jsii.Bool(false),
		},
		// Read by the edge only: no replica where peers run.
		ReplicaRegions: replicas(props.ReplicaRegions),
		RemovalPolicy:  removal,
	})
	noRotation := func(secret awssecretsmanager.Secret, reason string) {
		cdknag.NagSuppressions_AddResourceSuppressions(secret, &[]*cdknag.NagPackSuppression{{
			Id: jsii.String("AwsSolutions-SMG4"), Reason: jsii.String(reason),
		}}, jsii.Bool(false))
	}
	noRotation(seed, "The seed is the cluster's identity: every peer ID and the cluster secret derive from it, and peers persist state signed under those IDs. Rotating it means re-keying the whole cluster, a planned operation, not a schedule.")
	noRotation(credentials, "The REST API credentials are read by every node at task start and by Lambda@Edge with a cache; automatic rotation would lock clients out until all tasks restart. Rotation is a runbook step (update the secret, redeploy the services).")
	noRotation(tokenKey, "Rotating the token key revokes every PSA token at once: it is an operator's decision (docs/runbooks.md: rotate the PSA token key), never a schedule that would lock every client out.")
	return &Secrets{Construct: this, IdentitySeed: seed, RestAPICredentials: credentials, PSATokenKey: tokenKey}, nil
}

// replicas lists each region once, in order; nil for none.
func replicas(regions []string) *[]*awssecretsmanager.ReplicaRegion {
	var out *[]*awssecretsmanager.ReplicaRegion
	seen := map[string]bool{}
	for _, region := range regions {
		if seen[region] {
			continue
		}
		seen[region] = true
		if out == nil {
			out = &[]*awssecretsmanager.ReplicaRegion{}
		}
		*out = append(*out, &awssecretsmanager.ReplicaRegion{Region: jsii.String(region)})
	}
	return out
}

// ReplicaArn is, in scope's stack (in region, the account of the secret),
// the ARN of the replica of the secret whose ARN is arn: a replica keeps its
// primary's name and suffix. Only that last part is taken from arn, once:
// arn may be a long cross-region reference, and task definitions repeat
// the result.
func ReplicaArn(scope constructs.Construct, arn *string, region string) *string {
	return awscdk.Stack_Of(scope).FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("secretsmanager"),
		Region:       jsii.String(region),
		Resource:     jsii.String("secret"),
		ResourceName: awscdk.Fn_Select(jsii.Number(6), awscdk.Fn_Split(jsii.String(":"), arn, nil)),
		ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
}
