// Package images builds the container images of a node as CDK Docker image
// assets: kubo and the ipfs-cluster sidecar, each FROM a pinned upstream
// release plus this project's scripts, and the metrics collector, FROM the
// pinned upstream collector (see docker/README.md). Synth only hashes the
// build contexts; `cdk deploy` or the pipeline builds and pushes them to the
// account's private ECR, the only registry a task without an Internet route
// (publicSwarm=false) can pull from: every image of a task comes from here.
//
// Each image's build context is its own folder, narrowed by the folder's
// .dockerignore to what its Dockerfile copies, so an image's asset hash (and
// with it every node's task definition) changes only when what the image
// carries changes.
package images

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/propcheck"
)

// The build contexts, relative to Props.SourceDir.
const (
	KuboDir      = "docker/kubo"
	ClusterDir   = "docker/ipfs-cluster"
	CollectorDir = "docker/otel-collector"
)

// Dirs are every image's build context.
var Dirs = []string{KuboDir, ClusterDir, CollectorDir}

// Props configure the images.
type Props struct {
	// SourceDir is the repository root, which holds Dirs. Required.
	SourceDir string
	// Platform of the images: linux/amd64 (the default, Fargate's X86_64)
	// or linux/arm64 (Fargate's ARM64).
	Platform awsecrassets.Platform
}

// Images are the container images a node runs.
type Images struct {
	constructs.Construct
	Kubo      awsecs.ContainerImage
	Cluster   awsecs.ContainerImage
	Collector awsecs.ContainerImage
	// The assets behind the images; their AssetHash is what a task
	// definition's image tag is.
	KuboAsset      awsecrassets.DockerImageAsset
	ClusterAsset   awsecrassets.DockerImageAsset
	CollectorAsset awsecrassets.DockerImageAsset
}

var allowedPlatforms = []string{"linux/amd64", "linux/arm64"}

// Validate reports every problem at once, each naming its field and what is
// allowed.
func (p *Props) Validate() error {
	if p == nil {
		return errors.New("images.Props: required (nil)")
	}
	l := propcheck.New("images.Props")
	allowedDir := "the repository root, whose " + strings.Join(Dirs, ", ") + " each hold a Dockerfile and a .dockerignore"
	if p.SourceDir == "" {
		l.Add("SourceDir", "required; allowed: %s", allowedDir)
	} else {
		for _, dir := range Dirs {
			// Without its .dockerignore a context would hash (and ship)
			// whatever lies in the folder.
			for _, name := range []string{"Dockerfile", ".dockerignore"} {
				rel := filepath.Join(dir, name)
				if info, err := os.Stat(filepath.Join(p.SourceDir, rel)); err != nil || !info.Mode().IsRegular() {
					l.Add("SourceDir", "%q has no file %s; allowed: %s", p.SourceDir, rel, allowedDir)
				}
			}
		}
	}
	if p.Platform != nil {
		got := ""
		if s := p.Platform.Platform(); s != nil {
			got = *s
		}
		ok := false
		for _, a := range allowedPlatforms {
			ok = ok || got == a
		}
		if !ok {
			l.Add("Platform", "%q is not a Fargate platform; allowed: %v (nil for linux/amd64)", got, allowedPlatforms)
		}
	}
	return l.Err()
}

// New declares the image assets.
func New(scope constructs.Construct, id string, props *Props) (*Images, error) {
	if err := props.Validate(); err != nil {
		return nil, err
	}
	platform := props.Platform
	if platform == nil {
		platform = awsecrassets.Platform_LINUX_AMD64()
	}
	this := constructs.NewConstruct(scope, jsii.String(id))
	asset := func(name, dir string) awsecrassets.DockerImageAsset {
		return awsecrassets.NewDockerImageAsset(this, jsii.String(name), &awsecrassets.DockerImageAssetProps{
			Directory: jsii.String(filepath.Join(props.SourceDir, dir)),
			Platform:  platform,
			// The default depends on a feature flag; the hash must honour
			// the folder's .dockerignore whatever the app's flags say.
			IgnoreMode: awscdk.IgnoreMode_DOCKER,
		})
	}
	kubo := asset("Kubo", KuboDir)
	cluster := asset("Cluster", ClusterDir)
	collector := asset("Collector", CollectorDir)
	return &Images{
		Construct:      this,
		Kubo:           awsecs.ContainerImage_FromDockerImageAsset(kubo),
		Cluster:        awsecs.ContainerImage_FromDockerImageAsset(cluster),
		Collector:      awsecs.ContainerImage_FromDockerImageAsset(collector),
		KuboAsset:      kubo,
		ClusterAsset:   cluster,
		CollectorAsset: collector,
	}, nil
}
