// Package loadbalancer provides the internal Application Load Balancer in
// front of every node's kubo gateway, cluster REST API and Pinning Service
// API layer. It has no
// Internet-facing address: the CloudFront edge reaches it through a VPC
// origin, and its listeners admit that VPC origin only
// (AdmitCloudFrontVpcOrigins), not the VPC's address range.
package loadbalancer

import (
	"errors"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/node/nodespec"
	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/constructs/propcheck"
)

// Props configure the load balancer.
type Props struct {
	// Vpc and Subnets (isolated, one per zone) of the load balancer. Required.
	Vpc     awsec2.IVpc
	Subnets *awsec2.SubnetSelection
	// Targets is the security group of the nodes; the load balancer may
	// reach only the gateway, REST API and Pinning Service API ports in
	// it. Required.
	Targets awsec2.ISecurityGroup
	// GatewayPort, RestAPIPort and PinningServicePort are both the listener
	// and the container ports. Default: the nodes' (nodespec).
	GatewayPort        int
	RestAPIPort        int
	PinningServicePort int
	// GatewayHealthPath answers 200 on a healthy gateway. Default: the empty
	// directory every node pins (nodespec.EmptyDirectoryPath).
	GatewayHealthPath string
	// IdleTimeout of connections; uploads to the REST API can be slow.
	// Default 120 s.
	IdleTimeout awscdk.Duration
	// AccessLogRemovalPolicy of the access log bucket: DESTROY empties and
	// deletes it with the stack; anything else keeps it (RETAIN, see
	// accessLogRemoval). Default RETAIN.
	AccessLogRemovalPolicy awscdk.RemovalPolicy
}

// LoadBalancer is the internal ALB with one listener and target group per
// service.
type LoadBalancer struct {
	constructs.Construct
	LoadBalancer awselasticloadbalancingv2.ApplicationLoadBalancer
	// SecurityGroup is the load balancer's: its listeners admit nothing
	// until AdmitCloudFrontVpcOrigins.
	SecurityGroup      awsec2.SecurityGroup
	GatewayTargetGroup awselasticloadbalancingv2.ApplicationTargetGroup
	RestAPITargetGroup awselasticloadbalancingv2.ApplicationTargetGroup
	// PinningServiceTargetGroup holds every node's Pinning Service API
	// layer; its health path needs no credentials.
	PinningServiceTargetGroup awselasticloadbalancingv2.ApplicationTargetGroup
	GatewayPort               int
	RestAPIPort               int
	PinningServicePort        int
}

// Validate reports every problem at once.
func (p *Props) Validate() error {
	if p == nil {
		return errors.New("loadbalancer.Props: required (nil)")
	}
	l := propcheck.New("loadbalancer.Props")
	for field, set := range map[string]bool{"Vpc": p.Vpc != nil, "Subnets": p.Subnets != nil, "Targets": p.Targets != nil} {
		if !set {
			l.Add(field, "required")
		}
	}
	switch p.AccessLogRemovalPolicy {
	case "", awscdk.RemovalPolicy_RETAIN, awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE, awscdk.RemovalPolicy_DESTROY:
	default:
		l.Add("AccessLogRemovalPolicy", "%q is not supported; allowed: RETAIN, RETAIN_ON_UPDATE_OR_DELETE (kept as RETAIN) or DESTROY", p.AccessLogRemovalPolicy)
	}
	if !strings.HasPrefix(p.GatewayHealthPath, "/") && p.GatewayHealthPath != "" {
		l.Add("GatewayHealthPath", "%q is not a path; allowed: an absolute path such as %s", p.GatewayHealthPath, nodespec.EmptyDirectoryPath)
	}
	for field, port := range map[string]int{"GatewayPort": p.GatewayPort, "RestAPIPort": p.RestAPIPort, "PinningServicePort": p.PinningServicePort} {
		if port < 0 || port > 65535 {
			l.Add(field, "%d is not a TCP port; allowed: 1-65535 (0 for the default)", port)
		}
	}
	d := p.withDefaults()
	if d.GatewayPort == d.RestAPIPort {
		l.Add("RestAPIPort", "must differ from GatewayPort (both %d): one listener per service", d.GatewayPort)
	}
	if d.PinningServicePort == d.GatewayPort || d.PinningServicePort == d.RestAPIPort {
		l.Add("PinningServicePort", "%d must differ from GatewayPort and RestAPIPort: one listener per service", d.PinningServicePort)
	}
	return l.Err()
}

func (p *Props) withDefaults() Props {
	out := *p
	if out.GatewayPort == 0 {
		out.GatewayPort = nodespec.GatewayPort
	}
	if out.RestAPIPort == 0 {
		out.RestAPIPort = nodespec.RestAPIPort
	}
	if out.PinningServicePort == 0 {
		out.PinningServicePort = nodespec.PinningServicePort
	}
	if out.GatewayHealthPath == "" {
		out.GatewayHealthPath = nodespec.EmptyDirectoryPath
	}
	return out
}

// New creates the load balancer.
func New(scope constructs.Construct, id string, props *Props) (*LoadBalancer, error) {
	if err := props.Validate(); err != nil {
		return nil, err
	}
	p := props.withDefaults()
	if p.IdleTimeout == nil {
		p.IdleTimeout = awscdk.Duration_Seconds(jsii.Number(120))
	}
	if p.AccessLogRemovalPolicy == "" {
		p.AccessLogRemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	this := constructs.NewConstruct(scope, jsii.String(id))

	// The description is CloudFormation's replacement trigger: kept as
	// deployed, although the listeners now admit the VPC origin only.
	securityGroup := awsec2.NewSecurityGroup(this, jsii.String("SecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              p.Vpc,
		Description:      jsii.String("Internal ALB: from inside the VPC (CloudFront VPC origin) to the node gateway and REST API ports only"),
		AllowAllOutbound: jsii.Bool(false),
	})
	// No deletion protection: a load balancer created with it on turns the
	// rollback of a failed first deploy into ROLLBACK_FAILED, and turning it
	// on after creation would make every `cdk destroy` stop at it. It holds
	// no data (its access logs are in the bucket below, kept with retain)
	// and the stack re-creates it as it was. Written out as false: a stack
	// deployed with it on keeps an attribute the template merely omits.
	alb := awselasticloadbalancingv2.NewApplicationLoadBalancer(this, jsii.String("Alb"), &awselasticloadbalancingv2.ApplicationLoadBalancerProps{
		DeletionProtection:      jsii.Bool(false),
		Vpc:                     p.Vpc,
		VpcSubnets:              p.Subnets,
		InternetFacing:          jsii.Bool(false),
		SecurityGroup:           securityGroup,
		DropInvalidHeaderFields: jsii.Bool(true),
		IdleTimeout:             p.IdleTimeout,
		DesyncMitigationMode:    awselasticloadbalancingv2.DesyncMitigationMode_STRICTEST,
	})

	destroy := p.AccessLogRemovalPolicy == awscdk.RemovalPolicy_DESTROY
	accessLogs := awss3.NewBucket(this, jsii.String("AccessLogs"), &awss3.BucketProps{
		// ALB access logs support SSE-S3 only.
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		Versioned:         jsii.Bool(true),
		RemovalPolicy:     accessLogRemoval(p.AccessLogRemovalPolicy),
		AutoDeleteObjects: jsii.Bool(destroy),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Expiration:                  awscdk.Duration_Days(jsii.Number(365)),
			NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(30)),
		}},
	})
	alb.LogAccessLogs(accessLogs, jsii.String("alb"))
	if destroy {
		// The load balancer writes a log object every five minutes until
		// it is gone: it must be deleted before the bucket is emptied, not
		// in parallel (it depends on the bucket policy only).
		alb.Node().AddDependency(accessLogs)
	}
	cdknag.NagSuppressions_AddResourceSuppressions(accessLogs, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-S1"),
		Reason: jsii.String("This bucket only receives the load balancer's access logs; logging access to it would need yet another log bucket with the same finding. It is private, versioned and SSL-only."),
	}}, jsii.Bool(false))

	listen := func(name string, port int, healthPath, healthyCodes string) awselasticloadbalancingv2.ApplicationTargetGroup {
		targetGroup := awselasticloadbalancingv2.NewApplicationTargetGroup(this, jsii.String(name+"Targets"), &awselasticloadbalancingv2.ApplicationTargetGroupProps{
			Vpc:                 p.Vpc,
			Port:                jsii.Number(float64(port)),
			Protocol:            awselasticloadbalancingv2.ApplicationProtocol_HTTP,
			TargetType:          awselasticloadbalancingv2.TargetType_IP,
			DeregistrationDelay: awscdk.Duration_Seconds(jsii.Number(30)),
			HealthCheck: &awselasticloadbalancingv2.HealthCheck{
				Path:                    jsii.String(healthPath),
				HealthyHttpCodes:        jsii.String(healthyCodes),
				Interval:                awscdk.Duration_Seconds(jsii.Number(15)),
				Timeout:                 awscdk.Duration_Seconds(jsii.Number(5)),
				HealthyThresholdCount:   jsii.Number(2),
				UnhealthyThresholdCount: jsii.Number(3),
			},
		})
		alb.AddListener(jsii.String(name), &awselasticloadbalancingv2.BaseApplicationListenerProps{
			Port:     jsii.Number(float64(port)),
			Protocol: awselasticloadbalancingv2.ApplicationProtocol_HTTP,
			// Open would add 0.0.0.0/0; AdmitCloudFrontVpcOrigins admits
			// the edge only.
			Open:                jsii.Bool(false),
			DefaultTargetGroups: &[]awselasticloadbalancingv2.IApplicationTargetGroup{targetGroup},
		})
		securityGroup.Connections().AllowTo(p.Targets, awsec2.Port_Tcp(jsii.Number(float64(port))), jsii.String(name+" to the nodes"))
		return targetGroup
	}
	gateway := listen("Gateway", p.GatewayPort, p.GatewayHealthPath, "200")
	restAPI := listen("RestApi", p.RestAPIPort, nodespec.RestAPIHealthPath, "204")
	pinningService := listen("PinningService", p.PinningServicePort, nodespec.PinningServiceHealthPath, "204")

	return &LoadBalancer{
		Construct:                 this,
		SecurityGroup:             securityGroup,
		LoadBalancer:              alb,
		GatewayTargetGroup:        gateway,
		RestAPITargetGroup:        restAPI,
		PinningServiceTargetGroup: pinningService,
		GatewayPort:               p.GatewayPort,
		RestAPIPort:               p.RestAPIPort,
		PinningServicePort:        p.PinningServicePort,
	}, nil
}

// accessLogRemoval is the bucket's policy for the data's policy. A kept bucket
// is RETAIN, not RETAIN_ON_UPDATE_OR_DELETE: the load balancer writes a test
// object into it as soon as logging is on, and CloudFormation cannot delete a
// bucket that holds objects, so RetainExceptOnCreate would turn the rollback
// of a failed first deploy into ROLLBACK_FAILED. Its name is generated, so a
// bucket left by a failed create never collides with the retry's.
func accessLogRemoval(data awscdk.RemovalPolicy) awscdk.RemovalPolicy {
	if data == awscdk.RemovalPolicy_DESTROY {
		return data
	}
	return awscdk.RemovalPolicy_RETAIN
}
