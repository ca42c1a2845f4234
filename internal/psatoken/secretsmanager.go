package psatoken

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretsManagerAPI is the part of the Secrets Manager client a
// SecretsManagerStore uses.
type SecretsManagerAPI interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

// SecretsManagerStore is the token key secret in Secrets Manager: the
// primary, in the cluster's region (its us-east-1 replica, which the edge
// reads, follows within seconds).
type SecretsManagerStore struct {
	API  SecretsManagerAPI
	Name string
}

// Get reads the current value.
func (s SecretsManagerStore) Get(ctx context.Context) (string, error) {
	out, err := s.API.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.Name)})
	if err != nil {
		return "", fmt.Errorf("psatoken: reading %s: %w", s.Name, err)
	}
	if out.SecretString == nil {
		return "", errors.New("psatoken: the secret has no string value")
	}
	return *out.SecretString, nil
}

// Put writes a new current version.
func (s SecretsManagerStore) Put(ctx context.Context, value string) error {
	if _, err := s.API.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(s.Name), SecretString: aws.String(value)}); err != nil {
		return fmt.Errorf("psatoken: writing %s: %w", s.Name, err)
	}
	return nil
}
