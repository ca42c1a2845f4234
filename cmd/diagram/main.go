// Command diagram draws the architecture from the synthesized app: it
// synthesizes the CDK app with cdk.json's context (as `cdk synth` does,
// into a temporary directory) and writes docs/architecture.md, a Mermaid
// flowchart of every stack, its main resources and their references
// (package internal/diagram), and the same flowchart into README.md
// between its markers. test/ fails when either no longer matches the code.
//
//	go run ./cmd/diagram                     regenerate docs/architecture.md
//	go run ./cmd/diagram -assembly cdk.out   draw an existing assembly (any configuration)
//	go run ./cmd/diagram -o -                print instead of writing
//
// With -png FILE it also draws FILE with cdk-dia (npm, needs graphviz's
// dot on PATH); without dot that step is skipped with a note.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/app"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/config"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/diagram"
	_ "github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/jsiienv"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/jsiiexit"
)

// Page is where the diagram is committed, relative to the repository root;
// README.md carries its Mermaid block too.
const (
	Page   = "docs/architecture.md"
	Readme = "README.md"
)

// stderr keeps this program's messages after jsiiexit.Close, which
// discards descriptor 2 for jsii's late race line.
var stderr = jsiiexit.Stderr()

func main() {
	assembly := flag.String("assembly", "", "draw this cloud assembly directory instead of synthesizing cdk.json's configuration")
	out := flag.String("o", Page, "output file, - for stdout")
	png := flag.String("png", "", "also draw this PNG with cdk-dia (needs graphviz's dot)")
	flag.Parse()
	if err := run(*assembly, *out, *png); err != nil {
		_, _ = fmt.Fprintln(stderr, "diagram:", err)
		os.Exit(1)
	}
}

func run(assembly, out, png string) error {
	if assembly == "" {
		scratch, err := os.MkdirTemp("", "diagram-")
		if err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(scratch) }()
		// The jsii kernel, started by the first CDK call, and the edge
		// construct's bundling use the temporary directory: nothing of the
		// run outlives it.
		if err := os.Setenv("TMPDIR", scratch); err != nil {
			return err
		}
		assembly = filepath.Join(scratch, "cdk.out")
		if err := synth(assembly); err != nil {
			return err
		}
	}
	page, err := diagram.Markdown(assembly)
	if err != nil {
		return err
	}
	if out == "-" {
		fmt.Print(page)
	} else {
		if err := os.WriteFile(out, []byte(page), 0o644); err != nil {
			return err
		}
		if out == Page {
			if err := updateReadme(diagram.MermaidBlock(page)); err != nil {
				return err
			}
		}
	}
	if png != "" {
		return drawPNG(assembly, png)
	}
	return nil
}

// updateReadme rewrites the diagram between README.md's markers.
func updateReadme(block string) error {
	b, err := os.ReadFile(Readme)
	if err != nil {
		return err
	}
	readme, ok := diagram.ReplaceInReadme(string(b), block)
	if !ok {
		return fmt.Errorf("%s has no %q ... %q markers", Readme, diagram.ReadmeBegin, diagram.ReadmeEnd)
	}
	return os.WriteFile(Readme, []byte(readme), 0o644)
}

// synth builds the app with cdk.json's context into dir.
func synth(dir string) (err error) {
	ctx, err := config.LoadCdkJSONContext("cdk.json")
	if err != nil {
		return fmt.Errorf("run from the repository root: %w", err)
	}
	defer jsiiexit.Close()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("synth: %v", r)
		}
	}()
	cdkApp := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(dir), Context: &ctx})
	if _, err := app.Build(cdkApp, "."); err != nil {
		return err
	}
	cdkApp.Synth(nil)
	return nil
}

// drawPNG runs cdk-dia on the assembly's tree.json.
func drawPNG(assembly, png string) error {
	if _, err := exec.LookPath("dot"); err != nil {
		_, _ = fmt.Fprintln(stderr, "diagram: no graphviz (dot) on PATH: PNG skipped")
		return nil
	}
	abs, err := filepath.Abs(png)
	if err != nil {
		return err
	}
	cmd := exec.Command("npx", "--yes", "cdk-dia@0.12", "--tree", filepath.Join(assembly, "tree.json"),
		"--target", abs, "--rendering", "graphviz-png")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return errors.New("cdk-dia: " + err.Error())
	}
	return nil
}
