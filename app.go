// Command ipfs-cluster-aws is the CDK app: it reads the configuration from
// the CDK context once, validates all of it, and only then builds the stack.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/app"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/jsiiexit"
	// Before the CDK bindings initialise: mutes jsii's Node 20 banner.
	_ "github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/jsiienv"
)

func main() {
	cdkApp := awscdk.NewApp(nil)
	if _, err := app.Build(cdkApp, "."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		jsiiexit.Close() // os.Exit skips deferred calls
		os.Exit(1)
	}
	cdkApp.Synth(nil)
	jsiiexit.Close()
}
