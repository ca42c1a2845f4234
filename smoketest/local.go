package smoketest

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/localcluster"
)

// The local counterparts of what cmd/smoketest reads from AWS: the local
// cluster's root plays the stack outputs and the credentials secret, its
// process table plays ECS.

// LocalConfig is the checks' Config for a local cluster (package
// localcluster) reached as a deployment is: through its local edge (the
// CloudFront and ALB stand-in, EdgeURLs), with the credentials of its
// secrets.env, every peer expected and the replication factor its peers
// run with. Wait and HTTP stay for the caller.
func LocalConfig(c *localcluster.Cluster) (Config, error) {
	_, cluster, err := c.PeerEnvironment(0)
	if err != nil {
		return Config{}, err
	}
	rfMin, err := strconv.Atoi(cluster["CLUSTER_REPLICATIONFACTORMIN"])
	if err != nil {
		return Config{}, fmt.Errorf("node0's CLUSTER_REPLICATIONFACTORMIN: %w", err)
	}
	edge := c.EdgeOptions()
	gateway, api := c.EdgeURLs()
	return Config{
		GatewayURL: gateway, APIURL: api,
		// The secret's current value, as the deployed smoke test reads it
		// from Secrets Manager (the edge reads the same file).
		Username: c.Secrets.Username, Password: c.Secrets.Password, GatewayAuth: edge.PrivateGateway,
		ExpectedPeers: len(c.Peers), ReplicationFactorMin: rfMin,
	}, nil
}

// LocalProcessesCheck names the local counterpart of the ECS check.
const LocalProcessesCheck = "local-processes"

// LocalProcesses checks that every peer's kubo and cluster processes run,
// and the local edge: what ECS's running counts say of a deployment.
func LocalProcesses(c *localcluster.Cluster) Result {
	start := time.Now()
	var down []string
	for _, p := range c.Peers {
		if !p.KuboRunning() {
			down = append(down, fmt.Sprintf("node%d kubo", p.Index))
		}
		if !p.ClusterRunning() {
			down = append(down, fmt.Sprintf("node%d cluster peer", p.Index))
		}
	}
	if !c.EdgeRunning() {
		down = append(down, "the local edge")
	}
	r := Result{Name: LocalProcessesCheck, Status: OK, Duration: time.Since(start),
		Detail: fmt.Sprintf("%d peers (kubo and cluster peer each) and the local edge running", len(c.Peers))}
	if len(down) > 0 {
		r.Status = Fail
		r.Detail = "not running: " + strings.Join(down, ", ") + " (`go run ./cmd/localcluster up` starts what is missing)"
	}
	return r
}
