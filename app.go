// Command ipfs-cluster-aws is the CDK app: it reads the configuration from
// the CDK context once, validates all of it, and only then builds the stack.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/app"
)

func main() {
	// jsii 1.119 calls Node 20 end-of-life and prints a banner on every
	// synth; the value names the one major version whose banner is muted.
	if os.Getenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION") == "" {
		os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	}
	defer jsii.Close()
	cdkApp := awscdk.NewApp(nil)
	if _, err := app.Build(cdkApp, "."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cdkApp.Synth(nil)
}
