package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/psatoken"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
)

// The command on a local cluster's secrets file: revoke by token and by
// ID, list, rotate; the other secrets stay as they were.
func TestLocalRevokeListRotate(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secrets.env")
	initial := psatoken.New()
	content := fmt.Sprintf("%s=%s\n%s=admin\n%s=pw\n%s=%s\n", nodespec.IdentitySeedVariable, strings.Repeat("s", 64),
		nodespec.RestAPIUsernameVariable, nodespec.RestAPIPasswordVariable, localcluster.PSATokenSecretVariable, initial)
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cmd := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"-local", file}, args...), &out, nil)
		return out.String(), err
	}
	id := strings.Repeat("T", 22)
	token := "e30." + base64.RawURLEncoding.EncodeToString([]byte(`{"jti":"`+id+`","exp":4102444800}`)) + ".x"
	if out, err := cmd("revoke", "-token", token); err != nil || !strings.Contains(out, "revoked "+id) {
		t.Fatalf("revoke -token: %q %v", out, err)
	}
	if out, err := cmd("revoke", "-id", strings.Repeat("U", 22)); err != nil || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke -id: %q %v", out, err)
	}
	out, err := cmd("list")
	if err != nil || !strings.Contains(out, id+"\t2100-01-01T00:00:00Z") || !strings.Contains(out, strings.Repeat("U", 22)) {
		t.Fatalf("list: %q %v", out, err)
	}
	if _, err := cmd("rotate"); err != nil {
		t.Fatal(err)
	}
	s, err := localcluster.ReadSecrets(file)
	if err != nil {
		t.Fatal(err)
	}
	after, err := psatoken.Parse(s.PSATokenSecret)
	if err != nil || after.Key == initial.Key || len(after.Revoked) != 0 || s.Password != "pw" || s.Username != "admin" {
		t.Fatalf("rotate: a new key, an empty list, the rest untouched: %+v %+v %v", s, after, err)
	}
	for _, bad := range [][]string{{}, {"frobnicate"}, {"revoke"}, {"revoke", "-token", token, "-id", id}, {"revoke", "-token", "nope"}} {
		if _, err := cmd(bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if err := run(ctx, []string{"list"}, &bytes.Buffer{}, nil); err == nil {
		t.Error("neither -secret nor -local accepted")
	}
}
