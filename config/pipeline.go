package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/internal/partition"
)

// Pipeline context keys. Giving any of them turns the delivery pipelines on
// (package pipelines); then the required ones must all be there.
const (
	KeyPipelineAccount     = "pipelineAccount"
	KeyPipelineRegion      = "pipelineRegion"
	KeySourceRepository    = "sourceRepository"
	KeySourceConnectionArn = "sourceConnectionArn"
	KeyTestAccount         = "testAccount"
	KeyTestRegion          = "testRegion"
	KeyProdAccount         = "prodAccount"
	KeyProdRegion          = "prodRegion"
	// KeyTestOverrides and KeyProdOverrides hold objects of ordinary
	// cluster settings that apply to one stage only, e.g.
	// {"taskMemoryMiB": 2048, "dataRemovalPolicy": "destroy"}.
	KeyTestOverrides = "testOverrides"
	KeyProdOverrides = "prodOverrides"
)

// PipelineKeys are the pipeline settings, a part of Keys.
var PipelineKeys = []string{
	KeyPipelineAccount, KeyPipelineRegion, KeySourceRepository, KeySourceConnectionArn,
	KeyTestAccount, KeyTestRegion, KeyProdAccount, KeyProdRegion,
	KeyTestOverrides, KeyProdOverrides,
}

// Pipeline is the validated delivery configuration: where the pipelines
// live, what they build from, and the complete cluster configuration of each
// stage.
type Pipeline struct {
	Account string
	Region  string
	// SourceRepository is owner/name of the repository the connection reads.
	SourceRepository    string
	SourceConnectionArn string
	// Test and Prod are each stage's cluster configuration: the base
	// settings, the stage's overrides, its account and region, parsed by
	// Parse like any other configuration.
	Test Config
	Prod Config
}

var (
	// GitHub, GitLab and Bitbucket owners and names, as CodeConnections
	// takes them (owner/name, no sub-groups).
	repositoryPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,38}/[A-Za-z0-9_.-]{1,100}$`)
	connectionPattern = regexp.MustCompile(`^arn:aws:(codeconnections|codestar-connections):([a-z]{2}(?:-[a-z]+)+-[0-9]):([0-9]{12}):connection/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// smokeTestRoleSuffix names the role each stage's cluster stack offers the
// pipeline's smoke test; IAM role names are unique per account and at most
// 64 characters.
const smokeTestRoleSuffix = "-smoke-test"

// SmokeTestRoleName is the fixed name of the role the pipeline's smoke test
// assumes in this stack's account: the pipeline stack cannot read a
// generated name from a stack in another account.
func (c Config) SmokeTestRoleName() string { return c.StackName + smokeTestRoleSuffix }

// given tells whether a context value is set: cdk.json lists every pipeline
// key with an empty value, which must leave the pipelines off.
func given(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		s := strings.TrimSpace(x)
		return s != "" && s != "{}"
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// parsePipeline is Parse's hook for the pipeline settings. base is the
// cluster configuration parsed from raw and found the problems in found,
// which stage problems do not repeat. Without any pipeline setting it
// returns nil and found unchanged.
func parsePipeline(raw map[string]any, base Config, found []string) (*Pipeline, []string) {
	if !slices.ContainsFunc(PipelineKeys, func(k string) bool { return given(raw[k]) }) {
		return nil, found
	}
	problems := slices.Clone(found)
	p := &parser{raw: raw}
	pl := &Pipeline{Region: base.Region}
	testRegion, prodRegion := base.Region, base.Region
	var testAccount, prodAccount string
	p.str(KeyPipelineAccount, &pl.Account)
	p.str(KeyPipelineRegion, &pl.Region)
	p.str(KeySourceRepository, &pl.SourceRepository)
	p.str(KeySourceConnectionArn, &pl.SourceConnectionArn)
	p.str(KeyTestAccount, &testAccount)
	p.str(KeyTestRegion, &testRegion)
	p.str(KeyProdAccount, &prodAccount)
	p.str(KeyProdRegion, &prodRegion)
	// cdk.json's empty placeholders mean "the default".
	for _, r := range []*string{&pl.Region, &testRegion, &prodRegion} {
		if *r == "" {
			*r = base.Region
		}
	}
	testOverrides := p.overrides(KeyTestOverrides)
	prodOverrides := p.overrides(KeyProdOverrides)
	problems = append(problems, p.problems...)

	fail := func(key, format string, args ...any) {
		problems = append(problems, key+": "+fmt.Sprintf(format, args...))
	}
	account := func(key, v string) {
		if !accountPattern.MatchString(v) {
			fail(key, "%q is not an AWS account ID; allowed: 12 digits (required once any pipeline setting is given)", v)
		}
	}
	region := func(key, v string) {
		if err := partition.ValidateRegion(v); err != nil {
			fail(key, "%v (default: %s)", err, KeyRegion)
		}
	}
	account(KeyPipelineAccount, pl.Account)
	region(KeyPipelineRegion, pl.Region)
	account(KeyTestAccount, testAccount)
	region(KeyTestRegion, testRegion)
	account(KeyProdAccount, prodAccount)
	region(KeyProdRegion, prodRegion)
	if !repositoryPattern.MatchString(pl.SourceRepository) {
		fail(KeySourceRepository, "%q is not a repository; allowed: owner/name, e.g. my-org/ipfs-cluster-aws (required once any pipeline setting is given)", pl.SourceRepository)
	}
	if err := partition.ValidateArn(pl.SourceConnectionArn); err != nil {
		fail(KeySourceConnectionArn, "%v", err)
	} else if m := connectionPattern.FindStringSubmatch(pl.SourceConnectionArn); m == nil {
		fail(KeySourceConnectionArn, "%q is not a connection ARN; allowed: arn:aws:codeconnections:<region>:<account>:connection/<uuid> or arn:aws:codestar-connections:<region>:<account>:connection/<uuid> (required once any pipeline setting is given)", pl.SourceConnectionArn)
	} else if accountPattern.MatchString(pl.Account) && m[3] != pl.Account {
		fail(KeySourceConnectionArn, "belongs to account %s; allowed: a connection of %s (%s): a pipeline uses connections of its own account", m[3], KeyPipelineAccount, pl.Account)
	}

	var stageProblems []string
	pl.Test, stageProblems = parseStage("test", raw, testOverrides, testAccount, testRegion, found)
	problems = append(problems, stageProblems...)
	pl.Prod, stageProblems = parseStage("prod", raw, prodOverrides, prodAccount, prodRegion, found)
	problems = append(problems, stageProblems...)

	// Two stages in one account share its IAM names and, through the
	// credentials' us-east-1 replica, its secret names.
	if testAccount == prodAccount && accountPattern.MatchString(testAccount) && pl.Test.StackName != "" && pl.Prod.StackName != "" {
		if pl.Test.StackName == pl.Prod.StackName {
			fail(KeyTestOverrides+"/"+KeyProdOverrides, "both stages deploy stack %q into account %s; allowed: a different %s in one stage's overrides when %s = %s", pl.Test.StackName, testAccount, KeyStackName, KeyTestAccount, KeyProdAccount)
		} else if pl.Test.RestAPICredentialsSecretName == pl.Prod.RestAPICredentialsSecretName {
			fail(KeyTestOverrides+"/"+KeyProdOverrides, "both stages name their credentials secret %q in account %s (replicated to us-east-1); allowed: different %s per stage when %s = %s", pl.Test.RestAPICredentialsSecretName, testAccount, KeyRestAPICredentialsName, KeyTestAccount, KeyProdAccount)
		}
	}
	return pl, problems
}

// parseStage builds one stage's context — the base settings, the stage's
// overrides, its account and region — and parses it with Parse, the one
// validation of cluster settings. Problems already in base (a bad base
// setting) are not repeated per stage.
func parseStage(stage string, raw, overrides map[string]any, account, region string, base []string) (Config, []string) {
	stageRaw := map[string]any{}
	for k, v := range raw {
		if !slices.Contains(PipelineKeys, k) {
			stageRaw[k] = v
		}
	}
	for k, v := range overrides {
		stageRaw[k] = v
	}
	stageRaw[KeyAccount] = account
	stageRaw[KeyRegion] = region
	prefix := fmt.Sprintf("%s stage (base settings + %sOverrides, in %sRegion %s): ", stage, stage, stage, region)
	cfg, err := Parse(stageRaw)
	var verr *ValidationError
	if errors.As(err, &verr) {
		var problems []string
		for _, problem := range verr.Problems {
			// The stage's account and region are reported under its own
			// keys; base problems once.
			if strings.HasPrefix(problem, KeyAccount+":") || strings.HasPrefix(problem, KeyRegion+":") || slices.Contains(base, problem) {
				continue
			}
			problems = append(problems, prefix+problem)
		}
		return Config{}, problems
	}
	if err != nil {
		return Config{}, []string{prefix + err.Error()}
	}
	if name := cfg.SmokeTestRoleName(); len(name) > 64 {
		return cfg, []string{fmt.Sprintf("%s%s: %q is too long for a pipeline stage; allowed: at most %d characters (its smoke-test role is named %q, at most 64)", prefix, KeyStackName, cfg.StackName, 64-len(smokeTestRoleSuffix), name)}
	}
	return cfg, nil
}

// overrides reads a stage's settings object: a JSON object in cdk.json, or
// its JSON text from `-c key='{...}'`. Only cluster settings may appear, and
// not account or region, which the stage's own keys set.
func (p *parser) overrides(key string) map[string]any {
	v := p.raw[key]
	if !given(v) {
		return nil
	}
	var m map[string]any
	switch x := v.(type) {
	case map[string]any:
		m = x
	case string:
		if err := json.Unmarshal([]byte(x), &m); err != nil {
			p.fail(key, "%q is not a JSON object; allowed: an object of cluster settings, e.g. {\"taskMemoryMiB\": 2048, \"dataRemovalPolicy\": \"destroy\"}", x)
			return nil
		}
	default:
		p.fail(key, "must be an object of cluster settings, got %v", v)
		return nil
	}
	var allowed []string
	for _, k := range Keys {
		if k != KeyAccount && k != KeyRegion && !slices.Contains(PipelineKeys, k) {
			allowed = append(allowed, k)
		}
	}
	out, unknown := map[string]any{}, map[string]any{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch {
		case slices.Contains(allowed, k):
			out[k] = m[k]
		case slices.Contains(Keys, k):
			p.fail(key, "%q cannot be overridden per stage; allowed: %s (a stage's account and region come from its own account and region settings)", k, strings.Join(allowed, ", "))
		default:
			unknown[k] = m[k]
		}
	}
	for _, problem := range unknownKeys(unknown, allowed, false) {
		p.fail(key, "%s", problem)
	}
	return out
}
