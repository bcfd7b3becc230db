package v1alpha1

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
)

// ValidateSet checks what only the whole set of specs shows: names unique
// across files, no dependsOn cycle, no two load balancers publishing the
// same host address. Specs are judged in the order given, so when a name or
// an address is used twice the later spec gets the error; put the specs
// already in force first.
//
// A dependsOn naming a spec that is not in the set is a warning, not an
// error: files may be added in any order, deleting a dependency must not
// invalidate its dependants (they wait, and say so in their status), and a
// client that checks one file cannot see the rest of the directory.
func ValidateSet(specs []*ScaleSpec) (warnings ErrorList, err error) {
	var errs ErrorList
	for _, p := range CheckSet(specs) {
		if p.Warning {
			warnings = append(warnings, p.Err)
		} else {
			errs = append(errs, p.Err)
		}
	}
	return warnings, errs.OrNil()
}

// SetProblem is one finding of CheckSet, tied to the spec it is about so
// that a caller holding several versions of a spec knows which to reject.
type SetProblem struct {
	Spec    *ScaleSpec
	Err     *FieldError
	Warning bool
}

// CheckSet makes ValidateSet's checks and returns each finding with its
// spec.
func CheckSet(specs []*ScaleSpec) []SetProblem {
	var problems []SetProblem
	byName := map[string]*ScaleSpec{}
	var unique []*ScaleSpec
	for _, s := range specs {
		name := s.Metadata.Name
		if first, dup := byName[name]; dup {
			problems = append(problems, SetProblem{Spec: s, Err: s.fieldError("metadata.name",
				fmt.Sprintf("%q is already defined %s", name, describeSource(first)))})
			continue
		}
		byName[name] = s
		unique = append(unique, s)
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Strings(names)

	for _, s := range unique {
		for i, dep := range s.Spec.DependsOn {
			if _, ok := byName[dep]; ok || dep == "" || dep == s.Metadata.Name {
				continue
			}
			msg := fmt.Sprintf("%q is not defined; %s will wait until it is", dep, s.Metadata.Name)
			if guess := closest(dep, names); guess != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", guess)
			}
			problems = append(problems, SetProblem{Spec: s, Err: s.fieldError(fmt.Sprintf("spec.dependsOn[%d]", i), msg), Warning: true})
		}
	}
	problems = append(problems, dependencyCycles(unique, byName)...)
	return append(problems, addressClashes(unique)...)
}

// fieldError builds an error located in s's file.
func (s *ScaleSpec) fieldError(path, msg string) *FieldError {
	e := &FieldError{Path: path, Message: msg}
	s.Source().locate(ErrorList{e})
	return e
}

// describeSource says where a spec was defined, for "already defined" errors.
func describeSource(s *ScaleSpec) string {
	src := s.Source()
	switch {
	case src.File != "" && src.Line > 0:
		return fmt.Sprintf("in %s:%d", src.File, src.Line)
	case src.File != "":
		return "in " + src.File
	default:
		return "by another document"
	}
}

// dependencyCycles reports, for every spec on a dependsOn cycle, the entry
// that leads into its shortest cycle. Each member gets its own error so that
// whichever file the user opens names the problem.
func dependencyCycles(specs []*ScaleSpec, byName map[string]*ScaleSpec) []SetProblem {
	var problems []SetProblem
	for _, component := range stronglyConnected(specs, byName) {
		if len(component) < 2 {
			continue
		}
		inComponent := map[string]bool{}
		for _, name := range component {
			inComponent[name] = true
		}
		for _, name := range component {
			cycle := shortestCycle(name, byName, inComponent)
			s := byName[name]
			index := slices.Index(s.Spec.DependsOn, cycle[1])
			problems = append(problems, SetProblem{Spec: s, Err: s.fieldError(fmt.Sprintf("spec.dependsOn[%d]", index),
				fmt.Sprintf("dependency cycle %s; a spec cannot wait for itself", strings.Join(cycle, " -> ")))})
		}
	}
	return problems
}

// stronglyConnected returns the strongly connected components of the
// dependsOn graph (Tarjan's algorithm), each sorted, in a stable order.
func stronglyConnected(specs []*ScaleSpec, byName map[string]*ScaleSpec) [][]string {
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var components [][]string
	var visit func(name string)
	visit = func(name string) {
		index[name] = len(index)
		low[name] = index[name]
		stack = append(stack, name)
		onStack[name] = true
		for _, dep := range byName[name].Spec.DependsOn {
			if _, ok := byName[dep]; !ok || dep == name {
				continue
			}
			if _, seen := index[dep]; !seen {
				visit(dep)
				low[name] = min(low[name], low[dep])
			} else if onStack[dep] {
				low[name] = min(low[name], index[dep])
			}
		}
		if low[name] != index[name] {
			return
		}
		var component []string
		for {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[top] = false
			component = append(component, top)
			if top == name {
				break
			}
		}
		sort.Strings(component)
		components = append(components, component)
	}
	for _, s := range specs {
		if _, seen := index[s.Metadata.Name]; !seen {
			visit(s.Metadata.Name)
		}
	}
	return components
}

// shortestCycle finds, by breadth-first search inside one component, the
// shortest path from start back to start: [start, a, b, start].
func shortestCycle(start string, byName map[string]*ScaleSpec, inComponent map[string]bool) []string {
	parent := map[string]string{}
	queue := []string{start}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		for _, dep := range byName[name].Spec.DependsOn {
			if !inComponent[dep] || dep == name {
				continue
			}
			if dep == start {
				cycle := []string{start}
				for n := name; n != start; n = parent[n] {
					cycle = append(cycle, n)
				}
				slices.Reverse(cycle[1:])
				return append(cycle, start)
			}
			if _, seen := parent[dep]; !seen {
				parent[dep] = name
				queue = append(queue, dep)
			}
		}
	}
	return []string{start, start} // unreachable for a component of two or more
}

// addressClashes reports a load balancer that publishes a host address an
// earlier one already holds; an unspecified address (0.0.0.0, ::) holds the
// port on every address.
func addressClashes(specs []*ScaleSpec) []SetProblem {
	type published struct {
		spec *ScaleSpec
		addr netip.Addr
	}
	var problems []SetProblem
	byPort := map[int32][]published{}
	for _, s := range specs {
		lb := s.Spec.LoadBalancer
		if lb == nil || lb.Port < 1 || lb.Port > 65535 {
			continue
		}
		hostIP := lb.HostIP
		if hostIP == "" {
			hostIP = DefaultHostIP
		}
		addr, err := netip.ParseAddr(hostIP)
		if err != nil {
			continue // Validate reports it
		}
		for _, other := range byPort[lb.Port] {
			if addr == other.addr || addr.IsUnspecified() || other.addr.IsUnspecified() {
				problems = append(problems, SetProblem{Spec: s, Err: s.fieldError("spec.loadBalancer.port", fmt.Sprintf(
					"%s is already published by %q (%s); choose another port",
					netip.AddrPortFrom(addr, uint16(lb.Port)), other.spec.Metadata.Name, strings.TrimPrefix(describeSource(other.spec), "in ")))})
				break
			}
		}
		byPort[lb.Port] = append(byPort[lb.Port], published{s, addr})
	}
	return problems
}
