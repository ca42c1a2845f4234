package psatoken

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

type fakeSecretsManager struct {
	name, value string
	puts        int
	fail        error
}

func (f *fakeSecretsManager) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if f.fail != nil || aws.ToString(in.SecretId) != f.name {
		return nil, errors.Join(f.fail, errors.New("ResourceNotFoundException"))
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(f.value)}, nil
}

func (f *fakeSecretsManager) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	if aws.ToString(in.SecretId) != f.name || in.SecretString == nil {
		return nil, errors.New("ValidationException")
	}
	f.value = *in.SecretString
	f.puts++
	return &secretsmanager.PutSecretValueOutput{}, nil
}

// The store reads and writes the named secret's string value: one
// revocation is one new version.
func TestSecretsManagerStore(t *testing.T) {
	api := &fakeSecretsManager{name: "IpfsCluster/rest-api-credentials-psa-token-key", value: New().String()}
	store := SecretsManagerStore{API: api, Name: api.name}
	id := strings.Repeat("R", 22)
	if err := Update(context.Background(), store, func(s *Secret) error { return s.Revoke(id, time.Now().Unix()+60, time.Now()) }); err != nil {
		t.Fatal(err)
	}
	if api.puts != 1 || !strings.Contains(api.value, id) {
		t.Fatalf("%d puts, value %s", api.puts, api.value)
	}
	if _, err := (SecretsManagerStore{API: api, Name: "other"}).Get(context.Background()); err == nil || !strings.Contains(err.Error(), "other") {
		t.Fatalf("a missing secret: %v", err)
	}
}
