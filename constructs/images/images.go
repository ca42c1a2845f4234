// Package images builds the two container images of a node as CDK Docker
// image assets: kubo and the ipfs-cluster sidecar, each FROM a pinned
// upstream release plus this project's scripts (see docker/README.md).
// Synth only hashes the build contexts; `cdk deploy` or the pipeline builds.
package images

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Props configure the images.
type Props struct {
	// SourceDir is the repository root, which holds docker/. Required.
	SourceDir string
	// Platform of the images. Default linux/amd64 (the Fargate default).
	Platform awsecrassets.Platform
}

// Images are the container images a node runs.
type Images struct {
	constructs.Construct
	Kubo    awsecs.ContainerImage
	Cluster awsecs.ContainerImage
}

// New declares both image assets.
func New(scope constructs.Construct, id string, props *Props) (*Images, error) {
	if props == nil || props.SourceDir == "" {
		return nil, fmt.Errorf("images: SourceDir (the repository root) is required")
	}
	kuboDir := filepath.Join(props.SourceDir, "docker", "kubo")
	clusterFile := filepath.Join("docker", "ipfs-cluster", "Dockerfile")
	for _, required := range []string{filepath.Join(kuboDir, "Dockerfile"), filepath.Join(props.SourceDir, clusterFile)} {
		if _, err := os.Stat(required); err != nil {
			return nil, fmt.Errorf("images: SourceDir %q: %w", props.SourceDir, err)
		}
	}
	platform := props.Platform
	if platform == nil {
		platform = awsecrassets.Platform_LINUX_AMD64()
	}
	this := constructs.NewConstruct(scope, jsii.String(id))
	kubo := awsecrassets.NewDockerImageAsset(this, jsii.String("Kubo"), &awsecrassets.DockerImageAssetProps{
		Directory: jsii.String(kuboDir),
		Platform:  platform,
	})
	// The cluster image compiles cluster-identity from this Go module, so its
	// context is the repository root, narrowed by the root .dockerignore.
	cluster := awsecrassets.NewDockerImageAsset(this, jsii.String("Cluster"), &awsecrassets.DockerImageAssetProps{
		Directory: jsii.String(props.SourceDir),
		File:      jsii.String(clusterFile),
		Platform:  platform,
	})
	return &Images{
		Construct: this,
		Kubo:      awsecs.ContainerImage_FromDockerImageAsset(kubo),
		Cluster:   awsecs.ContainerImage_FromDockerImageAsset(cluster),
	}, nil
}
