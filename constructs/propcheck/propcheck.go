// Package propcheck is how every construct of this project reports invalid
// Props: all problems at once (errors.Join), each naming its field and what
// is allowed. It has no CDK dependency, so the configuration package and the
// local cluster can run the constructs' rules without starting jsii.
package propcheck

import (
	"errors"
	"fmt"
)

// Problem is one invalid field.
type Problem struct {
	// Owner names the Props type, e.g. "node.Props".
	Owner string
	// Field is the field's name in Owner, e.g. "MemoryMiB" or
	// "GatewayDomain.Names".
	Field string
	// Message says what is wrong and what is allowed.
	Message string
}

func (p *Problem) Error() string { return p.Owner + "." + p.Field + ": " + p.Message }

// List collects the problems of one Props value.
type List struct {
	owner    string
	problems []error
}

// New starts a list for the Props type owner (e.g. "edge.Props").
func New(owner string) *List { return &List{owner: owner} }

// Add records a problem with field.
func (l *List) Add(field, format string, args ...any) {
	l.problems = append(l.problems, &Problem{Owner: l.owner, Field: field, Message: fmt.Sprintf(format, args...)})
}

// Include records the problems of a nested value (its fields prefixed with
// field), e.g. a node's Settings inside node.Props.
func (l *List) Include(field string, err error) {
	for _, p := range Problems(err) {
		name := p.Field
		if field != "" {
			name = field + "." + p.Field
		}
		l.problems = append(l.problems, &Problem{Owner: l.owner, Field: name, Message: p.Message})
	}
	l.problems = append(l.problems, others(err)...)
}

// Err is nil when nothing was recorded, else every problem joined.
func (l *List) Err() error { return errors.Join(l.problems...) }

// Problems returns the field problems inside err (joined or single).
func Problems(err error) []*Problem {
	var out []*Problem
	walk(err, func(e error) {
		if p, ok := e.(*Problem); ok {
			out = append(out, p)
		}
	})
	return out
}

func others(err error) []error {
	var out []error
	walk(err, func(e error) {
		if _, ok := e.(*Problem); !ok {
			out = append(out, e)
		}
	})
	return out
}

func walk(err error, visit func(error)) {
	if err == nil {
		return
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			walk(e, visit)
		}
		return
	}
	visit(err)
}
