package diagram

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeJSON(t *testing.T, dir, name string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

type obj = map[string]any

func logicalID(id string) []any { return []any{obj{"type": "aws:cdk:logicalId", "data": id}} }

// A node moved into a nested stack stays one box, inside its parent's
// subgraph, and its references through the nested stack's parameters and
// outputs are drawn. The nested template is found through the asset hash
// in its TemplateURL (an assembly synthesized without the CDK CLI) or the
// resource's aws:asset:path metadata (the CLI adds it).
func TestNestedStacks(t *testing.T) {
	for _, byMetadata := range []bool{false, true} {
		t.Run(fmt.Sprintf("asset path in metadata %v", byMetadata), func(t *testing.T) { nestedStacks(t, byMetadata) })
	}
}

func nestedStacks(t *testing.T, byMetadata bool) {
	dir := t.TempDir()
	writeJSON(t, dir, "manifest.json", obj{"artifacts": obj{
		"Parent.assets": obj{"type": "cdk:asset-manifest"},
		"Parent": obj{
			"type": "aws:cloudformation:stack", "environment": "aws://unknown-account/eu-west-1",
			"properties": obj{"templateFile": "Parent.template.json"},
			"metadata": obj{
				"/Parent/Net/Vpc/Resource":                            logicalID("NetVpc"),
				"/Parent/Nodes.NestedStack/Nodes.NestedStackResource": logicalID("NodesRes"),
				"/Parent/Nodes/Node3/Service/Service":                 logicalID("Node3Svc"),
				"/Parent/Nodes/Node3/FileSystem/Resource":             logicalID("Node3Fs"),
				"/Parent/Backup/Plan/Resource":                        logicalID("Plan"),
				"/Parent/Backup/Plan/FileSystems/Resource":            logicalID("Selection"),
				"/Parent/Monitoring/Topic/Resource":                   logicalID("Topic"),
				"/Parent/Monitoring/Node3Down/Resource":               logicalID("Alarm"),
			},
		},
	}})
	nested := obj{"Type": "AWS::CloudFormation::Stack", "Properties": obj{
		"TemplateURL": obj{"Fn::Join": []any{"", []any{"https://s3/", "0123abcd.json"}}},
		"Parameters":  obj{"refVpc": obj{"Ref": "NetVpc"}},
	}}
	if byMetadata {
		nested["Metadata"] = obj{"aws:asset:path": "ParentNodes.nested.template.json"}
	} else {
		writeJSON(t, dir, "Parent.assets.json", obj{"files": obj{
			"0123abcd": obj{"source": obj{"path": "ParentNodes.nested.template.json", "packaging": "file"}},
		}})
	}
	writeJSON(t, dir, "Parent.template.json", obj{"Resources": obj{
		"NetVpc":    obj{"Type": "AWS::EC2::VPC"},
		"NodesRes":  nested,
		"Plan":      obj{"Type": "AWS::Backup::BackupPlan"},
		"Selection": obj{"Type": "AWS::Backup::BackupSelection", "Properties": obj{"Plan": obj{"Ref": "Plan"}, "Resources": []any{obj{"Fn::GetAtt": []any{"NodesRes", "Outputs.FsArn"}}}}},
		"Topic":     obj{"Type": "AWS::SNS::Topic"},
		"Alarm":     obj{"Type": "AWS::CloudWatch::Alarm", "Properties": obj{"AlarmActions": []any{obj{"Ref": "Topic"}}, "Dimensions": []any{obj{"Fn::GetAtt": []any{"NodesRes", "Outputs.FsArn"}}}}},
	}})
	writeJSON(t, dir, "ParentNodes.nested.template.json", obj{
		"Parameters": obj{"refVpc": obj{"Type": "String"}},
		"Resources": obj{
			"Node3Svc": obj{"Type": "AWS::ECS::Service", "Properties": obj{"Vpc": obj{"Ref": "refVpc"}}},
			"Node3Fs":  obj{"Type": "AWS::EFS::FileSystem", "Properties": obj{"AvailabilityZoneName": "eu-west-1a"}},
		},
		"Outputs": obj{"FsArn": obj{"Value": obj{"Fn::GetAtt": []any{"Node3Fs", "Arn"}}}},
	})

	page, err := Markdown(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(page)
	for _, want := range []string{
		"  subgraph s0[\"Parent · eu-west-1\"]\n",
		"    subgraph s1[\"Parent/Nodes · eu-west-1\"]\n      s1_Node3[[\"node3<br/>ECS service + EFS file system<br/>eu-west-1a\"]]\n    end\n  end\n",
		"  s1_Node3 --> s0_Net_Vpc\n",     // a nested stack parameter
		"  s0_Backup_Plan --> s1_Node3\n", // a nested stack output
		"  s0_Monitoring_alarms --> s0_Monitoring_Topic\n",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("missing %q", want)
		}
	}
	// Alarms notify; what they watch is not drawn.
	if strings.Contains(page, "s0_Monitoring_alarms --> s1_Node3") {
		t.Error("an alarm's dimension is drawn as an arrow")
	}
	again, err := Markdown(dir)
	if err != nil || again != page {
		t.Errorf("a second rendering differs (%v)", err)
	}
}

// A Lambda function that only serves a custom resource (an
// AwsCustomResource's singleton provider at the stack's root) is drawn as
// part of the box its consumer belongs to, with its role; a function that
// something else also calls keeps its own box.
func TestCustomResourceProvidersJoinTheirConsumer(t *testing.T) {
	dir := t.TempDir()
	writeJSON(t, dir, "manifest.json", obj{"artifacts": obj{
		"App": obj{
			"type": "aws:cloudformation:stack", "environment": "aws://unknown-account/eu-west-1",
			"properties": obj{"templateFile": "App.template.json"},
			"metadata": obj{
				"/App/Lb/Alb/Resource":                  logicalID("Alb"),
				"/App/Lb/Lookup/Resource/Default":       logicalID("Lookup"),
				"/App/AWS679f/Resource":                 logicalID("Provider"),
				"/App/AWS679f/ServiceRole/Resource":     logicalID("ProviderRole"),
				"/App/Shared/Resource":                  logicalID("Shared"),
				"/App/Shared/ServiceRole/Resource":      logicalID("SharedRole"),
				"/App/Lb/SharedLookup/Resource/Default": logicalID("SharedLookup"),
				"/App/Schedule/Resource":                logicalID("Schedule"),
			},
		},
	}})
	fn := func(role string) obj {
		return obj{"Type": "AWS::Lambda::Function", "Properties": obj{"Role": obj{"Fn::GetAtt": []any{role, "Arn"}}}}
	}
	writeJSON(t, dir, "App.template.json", obj{"Resources": obj{
		"Alb":          obj{"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer"},
		"Lookup":       obj{"Type": "Custom::AWS", "Properties": obj{"ServiceToken": obj{"Fn::GetAtt": []any{"Provider", "Arn"}}}},
		"Provider":     fn("ProviderRole"),
		"ProviderRole": obj{"Type": "AWS::IAM::Role"},
		"Shared":       fn("SharedRole"),
		"SharedRole":   obj{"Type": "AWS::IAM::Role"},
		"SharedLookup": obj{"Type": "Custom::AWS", "Properties": obj{"ServiceToken": obj{"Fn::GetAtt": []any{"Shared", "Arn"}}}},
		"Schedule":     obj{"Type": "AWS::Events::Rule", "Properties": obj{"Targets": []any{obj{"Arn": obj{"Fn::GetAtt": []any{"Shared", "Arn"}}}}}},
	}})
	page, err := Markdown(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(page)
	for _, want := range []string{
		"| Application Load Balancer · Lb/Alb | Custom::AWS ×2, ElasticLoadBalancingV2::LoadBalancer, IAM::Role, Lambda::Function |\n",
		"    s0_Shared[\"Lambda function<br/>Shared\"]\n",
		"  s0_Lb_Alb --> s0_Shared\n",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("missing %q", want)
		}
	}
	if strings.Contains(page, "AWS679f") {
		t.Error("the provider that only serves the load balancer's custom resource has a box of its own")
	}
}
