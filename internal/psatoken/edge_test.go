package psatoken

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAgreesWithTheEdge: the facts this package shares with the edge's
// handler (lambda-edge/basic-auth/psa.mjs) are the same there. A revoked
// entry dropped before its token's expiry would make the token valid again.
func TestAgreesWithTheEdge(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found on PATH (Node.js is a prerequisite): %v", err)
	}
	psa, err := filepath.Abs(filepath.Join("..", "..", "lambda-edge", "basic-auth", "psa.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	// The edge issues a token with a key this package generated; this
	// package reads its claims.
	script := `const m = await import(process.argv[1]);
const secret = m.parseTokenSecret(JSON.parse(process.argv[2]));
const issued = m.issueToken(secret, { sub: 'x', expiresIn: m.PSA_LIMITS.maxExpiresIn }, 1800000000);
console.log(JSON.stringify({ maxExpiresIn: m.PSA_LIMITS.maxExpiresIn, token: issued.token, jti: issued.jti, exp: issued.exp }));`
	out, err := exec.Command(node, "--input-type=module", "-e", script, psa, New().String()).Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var edge struct {
		MaxExpiresIn int64
		Token, Jti   string
		Exp          int64
	}
	if err := json.Unmarshal(out, &edge); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if time.Duration(edge.MaxExpiresIn)*time.Second != MaxLifetime {
		t.Errorf("MaxLifetime %s, the edge's maxExpiresIn %d s", MaxLifetime, edge.MaxExpiresIn)
	}
	c, err := ReadClaims(edge.Token)
	if err != nil || c.ID != edge.Jti || c.Expiry != edge.Exp || !strings.HasPrefix(edge.Token, "eyJ") {
		t.Errorf("claims of the edge's token: %+v %v, want %s %d", c, err, edge.Jti, edge.Exp)
	}
}
