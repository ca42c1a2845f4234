package test

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/jsii-runtime-go"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/images"
)

// An image's asset hash is its tag in every node's task definition: when it
// changes, CloudFormation replaces every node's task. These tests synthesize
// the images construct over a copy of the repository's image folders and
// read the hashes the way `cdk deploy` does, from the cloud assembly.

// imageBuild is what one synth of the images construct produced.
type imageBuild struct {
	// hash of each image ("kubo", "cluster") as the asset manifest and the
	// template both name it.
	hash map[string]string
	// context lists the files of each image's staged build context (what
	// `cdk deploy` hands to docker build), relative and sorted.
	context map[string][]string
}

// imageFolders maps the images to their folders under the source root.
var imageFolders = map[string]string{"kubo": images.KuboDir, "cluster": images.ClusterDir, "collector": images.CollectorDir}

// copyImageSources copies what the images construct reads (docker/) and
// root files an unrelated change touches into a new temporary directory.
func copyImageSources(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	for _, p := range []string{"docker", "go.mod", "go.sum", "README.md", "test/images_test.go"} {
		src := filepath.Join(repoRoot, p)
		err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(repoRoot, path)
			if err != nil {
				return err
			}
			target := filepath.Join(dst, rel)
			info, err := d.Info()
			if err != nil {
				return err
			}
			switch {
			case d.IsDir():
				return os.MkdirAll(target, 0o755)
			case d.Type().IsRegular():
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
					return err
				}
				return os.WriteFile(target, b, info.Mode().Perm())
			}
			return nil
		})
		require.NoError(t, err, "copying %s", p)
	}
	return dst
}

// synthImages synthesizes the images construct over root in a stack of its
// own and reads both hashes from the asset manifest and the template.
func synthImages(t *testing.T, root string) imageBuild {
	t.Helper()
	// Hashes are cached per source path within one process; every synth
	// here uses a fresh directory, and this makes sure of it.
	awscdk.AssetStaging_ClearAssetHashCache()
	outdir := t.TempDir()
	cdkApp := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})
	stack := awscdk.NewStack(cdkApp, jsii.String("ImagesOnly"), nil)
	imgs, err := images.New(stack, "Images", &images.Props{SourceDir: root})
	require.NoError(t, err)
	// A task definition refers to an image by this URI, tag = asset hash.
	awscdk.NewCfnOutput(stack, jsii.String("kubo"), &awscdk.CfnOutputProps{Value: imgs.KuboAsset.ImageUri()})
	awscdk.NewCfnOutput(stack, jsii.String("cluster"), &awscdk.CfnOutputProps{Value: imgs.ClusterAsset.ImageUri()})
	awscdk.NewCfnOutput(stack, jsii.String("collector"), &awscdk.CfnOutputProps{Value: imgs.CollectorAsset.ImageUri()})
	cdkApp.Synth(nil)

	var manifest struct {
		DockerImages map[string]struct {
			Source struct {
				Directory string `json:"directory"`
			} `json:"source"`
			Destinations map[string]struct {
				ImageTag string `json:"imageTag"`
			} `json:"destinations"`
		} `json:"dockerImages"`
	}
	readJSON(t, filepath.Join(outdir, "ImagesOnly.assets.json"), &manifest)
	var template struct {
		Outputs map[string]struct {
			Value any `json:"Value"`
		} `json:"Outputs"`
	}
	readJSON(t, filepath.Join(outdir, "ImagesOnly.template.json"), &template)

	b := imageBuild{hash: map[string]string{}, context: map[string][]string{}}
	for name := range imageFolders {
		uri, err := json.Marshal(template.Outputs[name].Value)
		require.NoError(t, err)
		tags := imageTagRe.FindAllStringSubmatch(string(uri), -1)
		require.Len(t, tags, 1, "%s image URI in the template: %s", name, uri)
		hash := tags[0][1]
		entry, ok := manifest.DockerImages[hash]
		require.True(t, ok, "%s image %s is not in the asset manifest", name, hash)
		for _, d := range entry.Destinations {
			assert.Equal(t, hash, d.ImageTag, "%s: the pushed tag is the asset hash", name)
		}
		b.hash[name] = hash
		b.context[name] = listFiles(t, filepath.Join(outdir, entry.Source.Directory))
		// CDK filters with its own port of the .dockerignore rules; the
		// hash is only honest if Docker's matcher admits the same files.
		assert.Equal(t, dockerContext(t, filepath.Join(root, imageFolders[name])), b.context[name],
			"%s: the files CDK staged and hashed are the files docker build would send", name)
	}
	require.Len(t, manifest.DockerImages, len(imageFolders), "exactly the images")
	assert.Equal(t, *imgs.KuboAsset.AssetHash(), b.hash["kubo"])
	assert.Equal(t, *imgs.ClusterAsset.AssetHash(), b.hash["cluster"])
	assert.Equal(t, *imgs.CollectorAsset.AssetHash(), b.hash["collector"])
	return b
}

// dockerContext lists the files of dir that docker build sends as its
// context, by moby's own .dockerignore matcher, plus the Dockerfile and the
// .dockerignore (read by the builder whatever the patterns say, and always
// staged by CDK).
func dockerContext(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	patterns, err := ignorefile.ReadAll(f)
	require.NoError(t, err)
	pm, err := patternmatcher.New(patterns)
	require.NoError(t, err)
	files := []string{".dockerignore", "Dockerfile"}
	for _, rel := range listFiles(t, dir) {
		excluded, err := pm.MatchesOrParentMatches(rel)
		require.NoError(t, err)
		if !excluded && rel != ".dockerignore" && rel != "Dockerfile" {
			files = append(files, rel)
		}
	}
	sort.Strings(files)
	return files
}

// imageTagRe finds the tag of a CDK container asset URI.
var imageTagRe = regexp.MustCompile(`container-assets-[^"]*:([0-9a-f]{64})`)

func readJSON(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v), file)
}

func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	require.NoError(t, err)
	sort.Strings(files)
	return files
}

func writeFile(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, rel)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o755))
}

// appendFile appends text (so the size changes too).
func appendFile(t *testing.T, root, rel, text string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	require.NoError(t, err)
	writeFile(t, root, rel, string(b)+text)
}

// unrelatedChanges makes every change that must not rebuild an image: a
// CDK-side go.mod bump (even to a Go the build image lacks), docs, a test,
// and in each image folder an editor backup, a swap file, notes, a test of
// the helper and a `go build` output.
func unrelatedChanges(t *testing.T, root string) {
	t.Helper()
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	bumped := regexp.MustCompile(`(?m)^go 1\.\d+(\.\d+)?$`).ReplaceAllString(string(gomod), "go 1.27")
	require.NotEqual(t, string(gomod), bumped, "the root go.mod has a go line")
	writeFile(t, root, "go.mod", bumped+"\nrequire example.com/unrelated v1.2.3\n")
	appendFile(t, root, "go.sum", "example.com/unrelated v1.2.3 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
	appendFile(t, root, "README.md", "\nAn unrelated paragraph.\n")
	appendFile(t, root, "test/images_test.go", "\n// an unrelated test change\n")
	appendFile(t, root, "docker/README.md", "\nAn unrelated paragraph.\n")

	cluster := images.ClusterDir
	script, err := os.ReadFile(filepath.Join(root, cluster, "cluster-entrypoint.sh"))
	require.NoError(t, err)
	writeFile(t, root, cluster+"/cluster-entrypoint.sh~", string(script)+"# half-edited\n")
	writeFile(t, root, cluster+"/NOTES.md", "notes\n")
	writeFile(t, root, cluster+"/identity/.identity.go.swp", "swap")
	writeFile(t, root, cluster+"/cmd/cluster-identity/main.go~", "package main // backup\n")
	appendFile(t, root, cluster+"/identity/identity_test.go", "\n// a test change\n")
	build := exec.Command("go", "build")
	build.Dir = filepath.Join(root, cluster, "cmd", "cluster-identity")
	build.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build in the copy: %s", out)
	binary := filepath.Join(build.Dir, "cluster-identity")
	require.FileExists(t, binary, "`go build` leaves its output next to the sources")
	built, err := os.ReadFile(binary)
	require.NoError(t, err)

	kubo := images.KuboDir
	initScript, err := os.ReadFile(filepath.Join(root, kubo, "container-init.d", "010-ipfs-cluster-aws.sh"))
	require.NoError(t, err)
	writeFile(t, root, kubo+"/container-init.d/010-ipfs-cluster-aws.sh~", string(initScript)+"# half-edited\n")
	writeFile(t, root, kubo+"/container-init.d/.010-ipfs-cluster-aws.sh.swp", "swap")
	writeFile(t, root, kubo+"/container-init.d/NOTES.md", "notes\n")
	writeFile(t, root, kubo+"/NOTES.md", "notes\n")
	writeFile(t, root, kubo+"/ipfs", string(built))

	collector := images.CollectorDir
	writeFile(t, root, collector+"/Dockerfile~", "FROM scratch\n")
	writeFile(t, root, collector+"/NOTES.md", "notes\n")
}

// TestImageHashesChangeOnlyWithWhatTheImagesCarry is issue 8's measure: no
// unrelated change touches an image hash; a change to what an image carries
// changes that image's hash and only that one.
func TestImageHashesChangeOnlyWithWhatTheImagesCarry(t *testing.T) {
	base := synthImages(t, copyImageSources(t))
	t.Logf("hashes of the checkout: %v", base.hash)

	// The copy is faithful: the full app's task definitions use the same
	// images (the hash covers only paths relative to the context).
	raw, err := json.Marshal(defaults.template.ToJSON())
	require.NoError(t, err)
	inApp := map[string]bool{}
	for _, m := range imageTagRe.FindAllStringSubmatch(string(raw), -1) {
		inApp[m[1]] = true
	}
	assert.Equal(t, map[string]bool{base.hash["kubo"]: true, base.hash["cluster"]: true, base.hash["collector"]: true}, inApp,
		"the app's image tags are the hashes of the copied image folders")

	// Each context holds what its Dockerfile copies and nothing else.
	for name := range imageFolders {
		assert.Equal(t, expectedContext(t, repoRoot, name), base.context[name], name)
	}

	t.Run("unrelated changes", func(t *testing.T) {
		root := copyImageSources(t)
		unrelatedChanges(t, root)
		after := synthImages(t, root)
		t.Logf("after unrelated changes: %v", after.hash)
		assert.Equal(t, base.hash, after.hash, "no image hash may change")
		assert.Equal(t, base.context, after.context, "no stray file may enter a build context")
	})

	// Each change appends to a file of one image folder (creating it if new).
	for _, tc := range []struct {
		name, image, file, text string
	}{
		{"entrypoint", "cluster", "cluster-entrypoint.sh", "# changed\n"},
		{"cluster-identity source", "cluster", "identity/identity.go", "\n// changed\n"},
		{"cluster-identity dependencies", "cluster", "go.sum", "example.com/x v1.0.0/go.mod h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"},
		{"init script", "kubo", "container-init.d/010-ipfs-cluster-aws.sh", "# changed\n"},
		{"new init script", "kubo", "container-init.d/020-new.sh", "#!/bin/sh\nset -eu\n"},
		{"kubo Dockerfile", "kubo", "Dockerfile", "ENV EXTRA=1\n"},
		{"restore script", "kubo", "maintenance/restore-from-backup.sh", "# changed\n"},
		{"collector Dockerfile", "collector", "Dockerfile", "ENV EXTRA=1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := copyImageSources(t)
			unrelatedChanges(t, root)
			rel := imageFolders[tc.image] + "/" + tc.file
			old, err := os.ReadFile(filepath.Join(root, rel))
			if !os.IsNotExist(err) {
				require.NoError(t, err)
			}
			writeFile(t, root, rel, string(old)+tc.text)
			after := synthImages(t, root)
			assert.Contains(t, after.context[tc.image], tc.file, "the changed file is in the build context")
			for name := range imageFolders {
				if name == tc.image {
					assert.NotEqual(t, base.hash[name], after.hash[name], "the %s image must be rebuilt", name)
					t.Logf("%s: %s -> %s", name, base.hash[name], after.hash[name])
				} else {
					assert.Equal(t, base.hash[name], after.hash[name], "the %s image must not be rebuilt", name)
				}
			}
		})
	}
}

// expectedContext is what an image's Dockerfile copies, found in the source
// folder by Go rules rather than by the .dockerignore under test: for kubo
// every container-init.d/*.sh (what upstream's start_ipfs and localcluster
// run), for the cluster the nested module's go.mod, go.sum and non-test Go
// sources and the entrypoint, for the collector nothing; each plus the
// Dockerfile and .dockerignore.
func expectedContext(t *testing.T, root, image string) []string {
	t.Helper()
	dir := filepath.Join(root, imageFolders[image])
	want := []string{".dockerignore", "Dockerfile"}
	switch image {
	case "kubo":
		scripts, err := filepath.Glob(filepath.Join(dir, "container-init.d", "*.sh"))
		require.NoError(t, err)
		require.NotEmpty(t, scripts)
		for _, s := range scripts {
			want = append(want, "container-init.d/"+filepath.Base(s))
		}
		want = append(want, "maintenance/restore-from-backup.sh")
	case "cluster":
		want = append(want, "cluster-entrypoint.sh", "go.mod", "go.sum")
		for _, pkg := range []string{"cmd/cluster-identity", "identity", "cmd/pinning-service", "psa"} {
			sources, err := filepath.Glob(filepath.Join(dir, pkg, "*.go"))
			require.NoError(t, err)
			for _, s := range sources {
				base := filepath.Base(s)
				if !strings.HasSuffix(base, "_test.go") && !strings.HasPrefix(base, ".") {
					want = append(want, pkg+"/"+base)
				}
			}
		}
	}
	sort.Strings(want)
	return want
}

// TestImagesPropsReportEveryProblem: every problem at once, each naming its
// field and what is allowed; a folder without its .dockerignore is refused
// (its whole content would count).
func TestImagesPropsReportEveryProblem(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, images.KuboDir+"/Dockerfile", "FROM scratch\n")
	err := (&images.Props{SourceDir: root, Platform: awsecrassets.Platform_Custom(jsii.String("windows/amd64"))}).Validate()
	require.Error(t, err)
	problems := strings.Split(err.Error(), "\n")
	const allowed = "; allowed: the repository root, whose docker/kubo, docker/ipfs-cluster, docker/otel-collector each hold a Dockerfile and a .dockerignore"
	missing := func(file string) string {
		return `images.Props.SourceDir: "` + root + `" has no file ` + file + allowed
	}
	assert.ElementsMatch(t, []string{
		missing("docker/kubo/.dockerignore"),
		missing("docker/ipfs-cluster/Dockerfile"),
		missing("docker/ipfs-cluster/.dockerignore"),
		missing("docker/otel-collector/Dockerfile"),
		missing("docker/otel-collector/.dockerignore"),
		`images.Props.Platform: "windows/amd64" is not a Fargate platform; allowed: [linux/amd64 linux/arm64] (nil for linux/amd64)`,
	}, problems)

	assert.EqualError(t, (&images.Props{}).Validate(), "images.Props.SourceDir: required"+allowed)
	assert.EqualError(t, (*images.Props)(nil).Validate(), "images.Props: required (nil)")
	assert.NoError(t, (&images.Props{SourceDir: repoRoot, Platform: awsecrassets.Platform_LINUX_ARM64()}).Validate())
}
