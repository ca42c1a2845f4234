package images

import (
	"path/filepath"
	"regexp"
	"testing"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/dockerfile"
)

// exactRelease is a tag that names one release (v0.43.0, 1.26.8-bookworm):
// never latest, stable or a minor line that moves.
var exactRelease = regexp.MustCompile(`^v?\d+\.\d+\.\d+(-[a-z0-9.]+)?$`)

// TestEveryBaseImageIsPinned: an image asset's hash covers its build
// context, not what a moving tag points to; every FROM of every image names
// an exact release or a digest, so a rebuild of the same hash pulls the same
// upstream.
func TestEveryBaseImageIsPinned(t *testing.T) {
	for _, dir := range Dirs {
		d, err := dockerfile.Read(filepath.Join("..", "..", dir, "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		if len(d.From) == 0 {
			t.Errorf("%s: no FROM", dir)
		}
		for image, tag := range d.From {
			if d.FromDigest[image] == "" && !exactRelease.MatchString(tag) {
				t.Errorf("%s: FROM %s:%s is not pinned to a release or digest", dir, image, tag)
			}
		}
	}
}

func TestExactRelease(t *testing.T) {
	for tag, want := range map[string]bool{
		"v0.43.0": true, "1.26.8-bookworm": true, "v1.1.6": true,
		"latest": false, "stable": false, "1.26": false, "": false, "v1": false, "1.26-bookworm": false,
	} {
		if exactRelease.MatchString(tag) != want {
			t.Errorf("%q: pinned = %v, want %v", tag, !want, want)
		}
	}
}
