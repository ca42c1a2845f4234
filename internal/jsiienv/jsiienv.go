// Package jsiienv mutes jsii's Node.js end-of-life banner for Node 20, the
// Node.js this project's machines run. Import it (blank) from every main and
// test package that uses the CDK.
//
// It must act before the jsii kernel's process is prepared, which happens in
// the package initialisation of the CDK's Go bindings (they capture the
// environment then, even though Node starts later): setting the variable in
// main() or TestMain is too late. Go initialises packages in import-path
// order among those whose imports are ready (Go spec, "Package
// initialization"), and this package imports only syscall, so it runs long
// before os, let alone the CDK.
package jsiienv

import "syscall"

// Variable is the jsii runtime's switch; its value lists the Node.js major
// versions whose end-of-life banner stays silent.
const Variable = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"

// NodeMajor is the Node.js major version muted when the variable is unset.
const NodeMajor = "20"

func init() {
	if _, set := syscall.Getenv(Variable); !set {
		_ = syscall.Setenv(Variable, NodeMajor)
	}
}
