// Command psatoken revokes Pinning Service API tokens and rotates their key
// (docs/runbooks.md: "Rotate the PSA token key / revoke a token"), in the
// token key secret of a deployment (Secrets Manager) or of a local cluster
// (its secrets file). It never touches the REST API password or a peer.
//
//	psatoken -secret NAME [-region R] revoke -token TOKEN   # one client's token
//	psatoken -secret NAME [-region R] revoke -id ID -expires UNIX
//	psatoken -secret NAME [-region R] rotate                # every token
//	psatoken -secret NAME [-region R] list                  # revoked IDs
//	psatoken -local .localcluster/secrets.env ...           # the local cluster
//
// NAME is the stack output RestApiCredentialsSecretName followed by
// "-psa-token-key". Each change reaches an edge location when its cache of
// the secret expires: within 5 minutes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/psatoken"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "psatoken:", err)
		os.Exit(2)
	}
}

// run is the command; store, when not nil, replaces the one the flags name
// (tests).
func run(ctx context.Context, args []string, stdout io.Writer, store psatoken.Store) error {
	fs := flag.NewFlagSet("psatoken", flag.ContinueOnError)
	secret := fs.String("secret", "", "name of the token key secret (the credentials secret's name + \"-psa-token-key\")")
	region := fs.String("region", "", "region of the secret's primary (the cluster's region; default: the AWS configuration's)")
	local := fs.String("local", "", "a local cluster's secrets file instead of Secrets Manager")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("a subcommand is required: revoke, rotate or list")
	}
	if store == nil {
		switch {
		case (*secret == "") == (*local == ""):
			return errors.New("give -secret NAME or -local FILE")
		case *local != "":
			store = localcluster.PSATokenStore(*local)
		default:
			var opts []func(*awsconfig.LoadOptions) error
			if *region != "" {
				opts = append(opts, awsconfig.WithRegion(*region))
			}
			cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
			if err != nil {
				return err
			}
			store = psatoken.SecretsManagerStore{API: secretsmanager.NewFromConfig(cfg), Name: *secret}
		}
	}

	sub := flag.NewFlagSet(fs.Arg(0), flag.ContinueOnError)
	token := sub.String("token", "", "revoke: the token itself (its ID and expiry are read from it)")
	id := sub.String("id", "", "revoke: the token's ID (the \"id\" POST /psa/token answered)")
	expires := sub.Int64("expires", 0, "revoke with -id: the token's expiry in Unix seconds (default: the longest a token lives from now)")
	if err := sub.Parse(fs.Args()[1:]); err != nil {
		return err
	}
	now := time.Now()
	switch fs.Arg(0) {
	case "revoke":
		var c psatoken.Claims
		switch {
		case *token != "" && *id == "":
			var err error
			if c, err = psatoken.ReadClaims(*token); err != nil {
				return err
			}
		case *token == "" && *id != "":
			c = psatoken.Claims{ID: *id, Expiry: *expires}
			if c.Expiry == 0 {
				c.Expiry = now.Add(psatoken.MaxLifetime).Unix()
			}
		default:
			return errors.New("revoke: give -token TOKEN or -id ID")
		}
		if err := psatoken.Update(ctx, store, func(s *psatoken.Secret) error { return s.Revoke(c.ID, c.Expiry, now) }); err != nil {
			return err
		}
		_, _ = fmt.Fprintf(stdout, "revoked %s (expires %s); the edge refuses it once its cache expires (5 minutes at most)\n", c.ID, time.Unix(c.Expiry, 0).UTC().Format(time.RFC3339))
	case "rotate":
		if err := psatoken.Update(ctx, store, func(s *psatoken.Secret) error { s.Rotate(); return nil }); err != nil {
			return err
		}
		_, _ = fmt.Fprintln(stdout, "new token key written: every token issued before is refused once the edge's cache expires (5 minutes at most); clients need new tokens from POST /psa/token")
	case "list":
		value, err := store.Get(ctx)
		if err != nil {
			return err
		}
		s, err := psatoken.Parse(value)
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(s.Revoked))
		for k := range s.Revoked {
			ids = append(ids, k)
		}
		sort.Strings(ids)
		for _, k := range ids {
			_, _ = fmt.Fprintf(stdout, "%s\t%s\n", k, time.Unix(s.Revoked[k], 0).UTC().Format(time.RFC3339))
		}
	default:
		return fmt.Errorf("unknown subcommand %q: revoke, rotate or list", fs.Arg(0))
	}
	return nil
}
