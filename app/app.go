// Package app turns a CDK App and its context into the stacks of this
// project. app.go and the tests share it, so the tests synthesize exactly
// what `cdk synth` does.
package app

import (
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/kmspolicy"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/pipelines"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/stacks"
)

// ReadContext collects the whole CDK context (cdk.json merged with -c
// key=value and what the CLI adds) for config.Parse, which refuses keys that
// are neither settings nor CDK's own. This is the only place that reads
// context.
func ReadContext(node constructs.Node) map[string]any {
	// One kernel round trip for the whole context instead of one per key.
	// Its plain values are used as they come: the Go runtime leaves a map
	// nested in it in jsii's wire form, so a setting whose value is a map or
	// a list is read again on its own. Other keys keep whatever they hold:
	// only their names are checked.
	all, _ := node.GetAllContext(nil).(map[string]any)
	raw := make(map[string]any, len(all))
	for key, v := range all {
		switch v.(type) {
		case map[string]any, []any:
			if slices.Contains(config.Keys, key) {
				v = node.TryGetContext(&key)
			}
		}
		raw[key] = v
	}
	return raw
}

// Built is what BuildAll added to the app: the standalone cluster stack
// (with a second region, its two stacks there beside it), or,
// when the configuration has pipeline settings, the two delivery pipelines
// whose stages hold the cluster stacks.
type Built struct {
	Stack    *stacks.IpfsCluster
	Delivery *pipelines.Delivery
}

// Build is BuildAll for callers that want the standalone stack; it is nil
// when the configuration turns the pipelines on.
func Build(cdkApp awscdk.App, sourceDir string) (*stacks.IpfsCluster, error) {
	built, err := BuildAll(cdkApp, sourceDir)
	if err != nil {
		return nil, err
	}
	return built.Stack, nil
}

// BuildAll validates the configuration and adds the stacks to cdkApp, with
// the cdk-nag AwsSolutions checks over all of them (the pipelines add the
// checks to their stages themselves: the App's aspects do not reach into a
// Stage). sourceDir is the repository root. Nothing is created when the
// configuration is invalid.
func BuildAll(cdkApp awscdk.App, sourceDir string) (*Built, error) {
	cfg, err := config.Parse(ReadContext(cdkApp.Node()))
	if err != nil {
		return nil, err
	}
	built := &Built{}
	if cfg.Pipeline != nil {
		built.Delivery, err = pipelines.New(cdkApp, &pipelines.Props{Config: cfg, SourceDir: sourceDir})
	} else {
		if cfg.Account != "" {
			// As in the pipelines' stages: with a concrete account ec2.Vpc
			// checks its zones against a lookup that needs credentials;
			// answer it with the configured zones.
			cdkApp.Node().SetContext(jsii.String(pipelines.AvailabilityZonesContextKey(cfg.Account, cfg.Region)), cfg.AvailabilityZones)
			if cfg.SecondRegion != "" {
				cdkApp.Node().SetContext(jsii.String(pipelines.AvailabilityZonesContextKey(cfg.Account, cfg.SecondRegion)), cfg.SecondRegionAvailabilityZones)
			}
		}
		built.Stack, err = stacks.New(cdkApp, cfg.StackName, &stacks.Props{Config: cfg, SourceDir: sourceDir})
	}
	if err != nil {
		return nil, err
	}
	// Every key outside the pipelines' stages (whose cluster stacks' keys
	// carry the statement from their constructs), CDK Pipelines' own too.
	kmspolicy.AddTo(cdkApp)
	awscdk.Aspects_Of(cdkApp).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsiiTrue()}), nil)
	return built, nil
}

func jsiiTrue() *bool { t := true; return &t }
