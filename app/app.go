// Package app turns a CDK App and its context into the stacks of this
// project. app.go and the tests share it, so the tests synthesize exactly
// what `cdk synth` does.
package app

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks"
)

// ReadContext collects the app's settings from the CDK context (cdk.json
// merged with -c key=value). This is the only place that reads context.
func ReadContext(node constructs.Node) map[string]any {
	raw := map[string]any{}
	for _, key := range config.Keys {
		if v := node.TryGetContext(&key); v != nil {
			raw[key] = v
		}
	}
	return raw
}

// Build validates the configuration and adds the stacks to cdkApp, with the
// cdk-nag AwsSolutions checks over all of them. sourceDir is the repository
// root. Nothing is created when the configuration is invalid.
func Build(cdkApp awscdk.App, sourceDir string) (*stacks.IpfsCluster, error) {
	cfg, err := config.Parse(ReadContext(cdkApp.Node()))
	if err != nil {
		return nil, err
	}
	stack, err := stacks.New(cdkApp, cfg.StackName, &stacks.Props{Config: cfg, SourceDir: sourceDir})
	if err != nil {
		return nil, err
	}
	awscdk.Aspects_Of(cdkApp).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsiiTrue()}), nil)
	return stack, nil
}

func jsiiTrue() *bool { t := true; return &t }
