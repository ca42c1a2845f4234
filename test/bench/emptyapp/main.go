// Command emptyapp is the baseline of the synth benchmark: a Go CDK app with
// one empty stack, so the jsii kernel start and the cloud assembly write are
// measured without any of this project's constructs.
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	// Like the app: the baseline pays for the same muted banner.
	_ "github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/jsiienv"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	awscdk.NewStack(app, jsii.String("Empty"), &awscdk.StackProps{
		Env: &awscdk.Environment{Region: jsii.String("eu-west-1")},
	})
	app.Synth(nil)
}
