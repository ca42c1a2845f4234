package test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/monitoring/monitoringspec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/dockerfile"
)

// Issue 14, item 5: with publicSwarm=false a task has no route to the
// Internet, and ECR Public and Docker Hub have no VPC endpoint; its VPC
// endpoints reach the ECR of its own account and region only. So every
// image a template names must be a CDK image asset there, in every
// configuration (one code path for both swarm modes).

// privateImage is the URI of a CDK image asset (DefaultStackSynthesizer):
// the account's asset repository in a region, as Fn::Sub text; account and
// region are pseudo parameters or, in a stack with a concrete environment,
// literals.
var privateImage = regexp.MustCompile(`^(\$\{AWS::AccountId\}|\d{12})\.dkr\.ecr\.(\$\{AWS::Region\}|[a-z]{2}(?:-[a-z]+)+-\d)\.\$\{AWS::URLSuffix\}/cdk-[a-z0-9]+-container-assets-(\$\{AWS::AccountId\}|\d{12})-(\$\{AWS::Region\}|[a-z]{2}(?:-[a-z]+)+-\d):([0-9a-f]{64})$`)

// namedImage is one image a template names.
type namedImage struct {
	// where: "<template file> <logical ID> <container>".
	where string
	// region of the stack the template deploys to.
	region string
	image  any
	// container is the ECS container definition (nil for a Lambda).
	container map[string]any
	// volumes of the container's task definition, by name.
	volumes map[string]any
}

// assemblyImages lists every image the templates of a cloud assembly name:
// ECS containers and container-image Lambda functions, in every template
// file (nested assemblies and nested stacks included), with each template's
// region from the manifest; a nested stack's template is its parent's.
func assemblyImages(dir string) ([]namedImage, error) {
	regions := map[string]string{} // template file (relative to dir) -> region
	var walkManifest func(sub string) error
	walkManifest = func(sub string) error {
		m, err := readManifest(filepath.Join(dir, sub))
		if err != nil {
			return err
		}
		for _, a := range m.Artifacts {
			switch a.Type {
			case "cdk:cloud-assembly":
				if err := walkManifest(filepath.Join(sub, a.Properties.DirectoryName)); err != nil {
					return err
				}
			case "aws:cloudformation:stack":
				regions[filepath.Join(sub, a.Properties.TemplateFile)] = a.Environment[strings.LastIndex(a.Environment, "/")+1:]
			}
		}
		return nil
	}
	if err := walkManifest("."); err != nil {
		return nil, err
	}
	regionOf := func(rel string) (string, error) {
		if r, ok := regions[rel]; ok {
			return r, nil
		}
		// <parent artifact><path>.nested.template.json, next to its parent.
		best, region := "", ""
		for file, r := range regions {
			parent := strings.TrimSuffix(file, ".template.json")
			if filepath.Dir(file) == filepath.Dir(rel) && strings.HasPrefix(rel, parent) && len(parent) > len(best) {
				best, region = parent, r
			}
		}
		if best == "" {
			return "", fmt.Errorf("%s: no parent stack in the manifest", rel)
		}
		return region, nil
	}

	var images []namedImage
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".template.json") {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		region, err := regionOf(rel)
		if err != nil {
			return err
		}
		var doc struct {
			Resources map[string]resource `json:"Resources"`
		}
		if err := readJSONFile(p, &doc); err != nil {
			return err
		}
		for id, r := range doc.Resources {
			switch r.Type {
			case "AWS::ECS::TaskDefinition":
				volumes := map[string]any{}
				for _, v := range list(r.Properties["Volumes"]) {
					volumes[fmt.Sprint(path(v, "Name"))] = v
				}
				for _, c := range list(r.Properties["ContainerDefinitions"]) {
					def, _ := c.(map[string]any)
					images = append(images, namedImage{
						where: fmt.Sprintf("%s %s %v", rel, id, def["Name"]), region: region,
						image: def["Image"], container: def, volumes: volumes,
					})
				}
			case "AWS::Lambda::Function":
				// Zip functions (Lambda@Edge, CDK's providers) name no image.
				if uri := path(r.Properties, "Code", "ImageUri"); uri != nil {
					images = append(images, namedImage{where: rel + " " + id, region: region, image: uri})
				}
			}
		}
		return nil
	})
	return images, err
}

// assetHash returns the asset hash of an image in the account's private ECR
// of the stack's region, or a problem.
func assetHash(img namedImage) (string, error) {
	sub, ok := path(img.image, "Fn::Sub").(string)
	if !ok || len(img.image.(map[string]any)) != 1 {
		return "", fmt.Errorf("%s: image %v is not a CDK image asset (a registry name)", img.where, img.image)
	}
	m := privateImage.FindStringSubmatch(sub)
	switch {
	case m == nil:
		return "", fmt.Errorf("%s: image %q is not in the account's private ECR", img.where, sub)
	case m[1] != m[3] || m[2] != m[4]:
		return "", fmt.Errorf("%s: image %q: registry and repository disagree on account or region", img.where, sub)
	case m[2] != "${AWS::Region}" && m[2] != img.region:
		return "", fmt.Errorf("%s: image %q is in %s, the stack in %s: a task without Internet reaches only its own region's ECR", img.where, sub, m[2], img.region)
	}
	return m[5], nil
}

// publicImages lists every image of the assembly in dir that a task without
// a route to the Internet could not pull, and how many images it checked.
func publicImages(dir string) (problems []string, checked int, err error) {
	images, err := assemblyImages(dir)
	if err != nil {
		return nil, 0, err
	}
	for _, img := range images {
		if _, err := assetHash(img); err != nil {
			problems = append(problems, err.Error())
		}
	}
	sort.Strings(problems)
	return problems, len(images), nil
}

func TestEveryImageIsAPrivateAsset(t *testing.T) {
	for _, s := range allApps() {
		problems, checked, err := publicImages(s.outDir)
		require.NoError(t, err)
		// kubo, the cluster, the Pinning Service API layer and the
		// collector of every node, and its maintenance task's kubo image.
		assert.Equal(t, 5*s.config.NodeCount, checked, "publicSwarm=%v: the images checked", s.config.PublicSwarm)
		assert.Empty(t, problems, "publicSwarm=%v", s.config.PublicSwarm)
	}
}

// TestPublicImagesAreFound: the check tells a registry name, another
// region's or account's repository and a hand-written URI from an asset.
func TestPublicImagesAreFound(t *testing.T) {
	const hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	asset := "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/cdk-hnb659fds-container-assets-${AWS::AccountId}-${AWS::Region}:" + hash
	concrete := "123456789012.dkr.ecr.eu-west-1.${AWS::URLSuffix}/cdk-hnb659fds-container-assets-123456789012-eu-west-1:" + hash
	for image, ok := range map[any]bool{
		"public.ecr.aws/aws-observability/aws-otel-collector:v0.49.0": false,
		"ipfs/kubo:v0.43.0":           false,
		"docker.io/ipfs/kubo:v0.43.0": false,
		"ghcr.io/org/image:1.0":       false,
		"quay.io/org/image:1.0":       false,
		"busybox":                     false,
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com/repo:1":                                    false,
		`{"Fn::Sub":"` + asset + `"}`:                                                            true,
		`{"Fn::Sub":"` + concrete + `"}`:                                                         true,
		`{"Fn::Sub":"` + strings.Replace(concrete, "eu-west-1.", "us-east-1.", 1) + `"}`:         false,
		`{"Fn::Sub":"` + strings.Replace(concrete, "-123456789012-", "-210987654321-", 1) + `"}`: false,
		`{"Fn::Sub":"` + strings.Replace(concrete, "eu-west-1", "us-east-1", 2) + `"}`:           false,
		`{"Fn::Sub":"public.ecr.aws/x/y:latest"}`:                                                false,
		`{"Fn::Sub":"` + asset + `","Extra":1}`:                                                  false,
	} {
		v := image
		if s := image.(string); strings.HasPrefix(s, "{") {
			require.NoError(t, json.Unmarshal([]byte(s), &v))
		}
		_, err := assetHash(namedImage{where: "test", region: "eu-west-1", image: v})
		assert.Equal(t, ok, err == nil, "%v: %v", image, err)
	}
}

// TestTaskLocalMountsAreImageVolumes: Fargate creates a task-local (bind
// mount) volume owned by root with mode 0755 unless the container's image
// declares that path a VOLUME; then the volume starts as the image's
// directory. So for every writable task-local mount of every container, the
// Dockerfile that `cdk deploy` builds (the staged build context of the
// container's image asset) declares the path a VOLUME and makes it
// world-writable and sticky before that line. Every container runs as a
// user other than root, but for the maintenance task's.
func TestTaskLocalMountsAreImageVolumes(t *testing.T) {
	for _, s := range allApps() {
		images, err := assemblyImages(s.outDir)
		require.NoError(t, err)
		contexts := stagedImageContexts(t, s.outDir)
		mounts := 0
		for _, img := range images {
			user := fmt.Sprint(img.container["User"])
			if img.container["Name"] == node.MaintenanceContainerName {
				// The maintenance task, run by hand with its node stopped,
				// moves the restored data in the file system's root and
				// gives it to the node's user: root by design
				// (TestMaintenanceTaskRestoresIntoItsOwnFileSystemOnly).
				assert.Equal(t, "0:0", user, img.where)
				continue
			}
			assert.NotRegexp(t, `^(0|root)(:|$)`, user, img.where)
			assert.NotEqual(t, "<nil>", user, "%s: a user of its own, not the image's default", img.where)
			hash, err := assetHash(img)
			require.NoError(t, err)
			for _, m := range list(img.container["MountPoints"]) {
				volume := img.volumes[fmt.Sprint(path(m, "SourceVolume"))]
				taskLocal := len(volume.(map[string]any)) == 1 // a name only
				if !taskLocal || path(m, "ReadOnly") == true {
					continue
				}
				mounts++
				mountPath := fmt.Sprint(path(m, "ContainerPath"))
				context, ok := contexts[hash]
				require.True(t, ok, "%s: image %s has no staged build context", img.where, hash)
				d, err := dockerfile.Read(filepath.Join(s.outDir, context, "Dockerfile"))
				require.NoError(t, err)
				assert.Contains(t, d.Volumes, mountPath, "%s: the image must declare %s a VOLUME", img.where, mountPath)
				assert.True(t, writableBeforeVolume(d.Final, mountPath), "%s: the image makes %s mode 1777 before its VOLUME line", img.where, mountPath)
			}
		}
		// kubo's and the cluster's /tmp on every node.
		assert.Equal(t, 2*s.config.NodeCount, mounts, "task-local mounts checked")
	}
}

// writableBeforeVolume tells whether a RUN sets mode 1777 on p before the
// first VOLUME that declares it (later changes to a volume path are lost).
func writableBeforeVolume(final []dockerfile.Instruction, p string) bool {
	chmod := regexp.MustCompile(`chmod\s+(?:-\S+\s+)*1777\s+(?:\S+\s+)*` + regexp.QuoteMeta(p) + `(?:\s|$|;|&)`)
	writable := false
	for _, in := range final {
		switch in.Keyword {
		case "RUN":
			writable = writable || chmod.MatchString(in.Args)
		case "VOLUME":
			if strings.Contains(" "+strings.Trim(in.Args, "[]")+" ", " "+p+" ") || strings.Contains(in.Args, `"`+p+`"`) {
				return writable
			}
		}
	}
	return false
}

// stagedImageContexts maps each image asset hash to its staged build
// context (relative to the assembly), from the assets manifests.
func stagedImageContexts(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.assets.json"))
	require.NoError(t, err)
	out := map[string]string{}
	for _, f := range files {
		var m struct {
			DockerImages map[string]struct {
				Source struct {
					Directory string `json:"directory"`
				} `json:"source"`
			} `json:"dockerImages"`
		}
		require.NoError(t, readJSONFile(f, &m))
		for hash, img := range m.DockerImages {
			out[hash] = img.Source.Directory
		}
	}
	require.NotEmpty(t, out, "image assets in %s", dir)
	return out
}

// TestMetricsCollectorRunsLikeThePeers (issue 14, item 5): the collector
// runs as its own non-root user on a read-only root file system with no
// volume, non-essential, with a health check asking the health_check
// extension its configuration enables.
func TestMetricsCollectorRunsLikeThePeers(t *testing.T) {
	for _, s := range allApps() {
		for i := 0; i < s.config.NodeCount; i++ {
			c := taskContainers(t, s, i)[node.CollectorContainerName]
			require.NotNil(t, c, "node%d runs the collector", i)
			assert.Equal(t, monitoringspec.CollectorUser, c["User"], "node%d", i)
			assert.Equal(t, true, c["ReadonlyRootFilesystem"], "node%d", i)
			assert.Nil(t, c["MountPoints"], "node%d: the collector writes nothing", i)
			assert.Equal(t, false, c["Essential"], "node%d: a failing collector must not stop the peer", i)
			assert.Equal(t, append([]any{"CMD"}, anySlice(monitoringspec.CollectorHealthCheck)...), path(c, "HealthCheck", "Command"), "node%d: exec form, the image has no shell", i)
			for _, field := range []string{"Interval", "Timeout", "Retries", "StartPeriod"} {
				assert.NotNil(t, path(c, "HealthCheck", field), "node%d health check %s", i, field)
			}
		}
	}
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
