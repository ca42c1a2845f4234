package test

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/clustersecrets"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/edge/edgespec"
)

// TestSecretsAreGeneratedAtDeployTime: the seed and the credentials carry
// only a generation template; Secrets Manager makes the values, free of
// ',' and ':' (the cluster parses user:pass,user:pass). Both follow the
// data's removal policy: a retained file system without its seed would
// come back under other peer IDs.
func TestSecretsAreGeneratedAtDeployTime(t *testing.T) {
	for _, s := range allApps() {
		wantPolicy, _ := dataPolicies(s)
		for id, secret := range s.exactly(t, 3, "AWS::SecretsManager::Secret") {
			assert.Nil(t, secret.Properties["SecretString"], "%s has a literal value", id)
			generate, ok := secret.Properties["GenerateSecretString"].(map[string]any)
			require.True(t, ok, id)
			assert.Equal(t, true, generate["ExcludePunctuation"], "%s: ',' and ':' would break user:pass lists", id)
			assert.Equal(t, false, generate["IncludeSpace"], id)
			assert.Equal(t, wantPolicy, secret.DeletionPolicy, "%s with dataRemovalPolicy=%s", id, s.config.DataRemovalPolicy)
		}
		_, seed := s.withPrefix(t, "AWS::SecretsManager::Secret", "SecretsIdentitySeed")
		assert.EqualValues(t, 64, path(seed.Properties, "GenerateSecretString", "PasswordLength"))
		_, credentials := s.withPrefix(t, "AWS::SecretsManager::Secret", "SecretsRestApiCredentials")
		var template map[string]any
		require.NoError(t, json.Unmarshal([]byte(path(credentials.Properties, "GenerateSecretString", "SecretStringTemplate").(string)), &template))
		assert.Equal(t, map[string]any{clustersecrets.UsernameKey: s.config.RestAPIUsername}, template)
		assert.Equal(t, clustersecrets.PasswordKey, path(credentials.Properties, "GenerateSecretString", "GenerateStringKey"))
		_, tokenKey := s.withPrefix(t, "AWS::SecretsManager::Secret", "SecretsPsaTokenKey")
		assert.Equal(t, edgespec.PSATokenKeyJSONKey, path(tokenKey.Properties, "GenerateSecretString", "GenerateStringKey"))
		assert.EqualValues(t, 64, path(tokenKey.Properties, "GenerateSecretString", "PasswordLength"), "an HMAC-SHA256 key of more than 256 bits")
		assert.JSONEq(t, `{"`+edgespec.PSATokenRevokedJSONKey+`":{}}`, path(tokenKey.Properties, "GenerateSecretString", "SecretStringTemplate").(string), "nothing revoked at first")
	}
}

// TestPSATokenKeyIsReplicatedForTheEdge: the token key has the fixed name
// the Lambda@Edge bundle carries and a us-east-1 replica, like the
// credentials; its value is generated, never in a template.
func TestPSATokenKeyIsReplicatedForTheEdge(t *testing.T) {
	s := defaults
	_, tokenKey := s.withPrefix(t, "AWS::SecretsManager::Secret", "SecretsPsaTokenKey")
	assert.Equal(t, edgespec.PSATokenKeySecretName(s.config.RestAPICredentialsSecretName), tokenKey.Properties["Name"])
	assert.Equal(t, []any{map[string]any{"Region": edgespec.Region}}, tokenKey.Properties["ReplicaRegions"])
	assert.Nil(t, tokenKey.Properties["SecretString"])
	assert.Nil(t, tokenKey.Properties["KmsKeyId"], "the AWS-managed key: the edge function has no kms:Decrypt")
}

// TestRestCredentialsAreReplicatedForTheEdge: only the credentials have a
// fixed name (the Lambda@Edge bundle carries it) and a us-east-1 replica.
func TestRestCredentialsAreReplicatedForTheEdge(t *testing.T) {
	s := defaults
	_, seed := s.withPrefix(t, "AWS::SecretsManager::Secret", "SecretsIdentitySeed")
	assert.Nil(t, seed.Properties["Name"])
	assert.Nil(t, seed.Properties["ReplicaRegions"], "the seed never leaves the cluster's region")
	_, credentials := s.withPrefix(t, "AWS::SecretsManager::Secret", "SecretsRestApiCredentials")
	assert.Equal(t, s.config.RestAPICredentialsSecretName, credentials.Properties["Name"])
	assert.Equal(t, []any{map[string]any{"Region": edgespec.Region}}, credentials.Properties["ReplicaRegions"])
}

// TestClusterSecretsPropsAreValidated: every problem at once, each naming
// its field, and nothing created.
func TestClusterSecretsPropsAreValidated(t *testing.T) {
	stack := awscdk.NewStack(testApp(t, nil), jsii.String("SecretsProps"), nil)
	for _, tc := range []struct {
		name  string
		props *clustersecrets.Props
		want  []string
	}{
		{"nil", nil, []string{"clustersecrets.Props: required (nil)"}},
		{"no name", &clustersecrets.Props{}, []string{"clustersecrets.Props.RestAPICredentialsName: required"}},
		{"everything wrong", &clustersecrets.Props{RestAPICredentialsName: "creds-AbC123", RestAPIUsername: "a:b", ReplicaRegions: []string{"US-EAST-1"}}, []string{
			`clustersecrets.Props.RestAPICredentialsName: "creds-AbC123" ends with a hyphen and six characters`,
			`clustersecrets.Props.RestAPIUsername: "a:b" is not allowed`,
			`clustersecrets.Props.ReplicaRegions: "US-EAST-1" is not an AWS region name; allowed: a region of the aws partition`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := clustersecrets.New(stack, "Secrets", tc.props)
			require.Error(t, err)
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
	assert.Empty(t, childIDs(stack), "rejected secrets must not leave constructs behind")
}
