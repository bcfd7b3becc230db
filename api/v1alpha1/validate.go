package v1alpha1

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
)

var (
	dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	envName      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	networkName  = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
)

// maxNameLength is the DNS label limit: a spec's name is its replicas'
// network alias.
const maxNameLength = 63

// minMemoryLimit is the smallest memory limit the Engine accepts.
const minMemoryLimit = 6 << 20

// Bounds on what a spec may ask for. They are far beyond what one Engine
// host runs, so that a typo (replicas: 100000, interval: 2562047h) is an
// error in the file instead of a daemon that creates containers until the
// host gives out, or a duration that overflows at the Engine.
const (
	// MaxReplicas is the most replicas one spec may have.
	MaxReplicas = 1000
	// MaxDuration is the longest duration a spec may set.
	MaxDuration = 24 * time.Hour
	// MinPidsLimit leaves room for the app's process, a health probe and
	// a `scalectl exec` beside it; below it a replica fails in ways that
	// do not point at the limit (fork: Resource temporarily unavailable).
	MinPidsLimit = 16
	// MaxPidsLimit is the kernel's largest PID (PID_MAX_LIMIT on 64-bit):
	// a higher cap could never be reached, so it is what "no limit" is
	// written as.
	MaxPidsLimit = 4194304
)

// Validate checks one spec on its own and returns every problem at once as
// an ErrorList, or nil. Each error names its field path and what the field
// allows; a spec decoded from a file also gets the file and line. Checks
// that need the other specs (unique names, dependency cycles, clashing
// ports) are ValidateSet's.
//
// Validate is meant for a defaulted spec but is right on a raw one too: an
// omitted optional field is judged at its default.
func (s *ScaleSpec) Validate() error {
	var errs ErrorList
	switch s.APIVersion {
	case GroupVersion:
	case "":
		errs.addf("apiVersion", "required; set it to %q", GroupVersion)
	default:
		errs.addf("apiVersion", "%q is not supported; use %q", s.APIVersion, GroupVersion)
	}
	switch s.Kind {
	case Kind:
	case "":
		errs.addf("kind", "required; set it to %q", Kind)
	default:
		errs.addf("kind", "%q is not a kind scaler reads; use %q", s.Kind, Kind)
	}
	if msg := nameProblem(s.Metadata.Name); msg != "" {
		errs.addf("metadata.name", "%s", msg)
	}
	s.Spec.validate(&errs, s.Metadata.Name, s.Source().written)
	s.Source().locate(errs)
	return errs.OrNil()
}

// nameProblem says what is wrong with a spec name, or "".
func nameProblem(name string) string {
	switch {
	case name == "":
		return `required; a lowercase name like "web"`
	case len(name) > maxNameLength:
		return fmt.Sprintf("%q is %d characters long; a name has at most %d", truncate(name), len(name), maxNameLength)
	case !dns1123Label.MatchString(name):
		return fmt.Sprintf("%q is not a valid name; use lowercase letters, digits and '-', starting and ending with a letter or digit", name)
	}
	return ""
}

// validate checks the spec; written reports whether the file wrote a field
// out, to tell an explicit 0 from an omitted field.
func (spec *Spec) validate(errs *ErrorList, self string, written func(path string) bool) {
	if r := spec.Replicas; r != nil && *r < 0 {
		errs.addf("spec.replicas", "%d is negative; use 0 or more", *r)
	} else if r != nil && *r > MaxReplicas {
		errs.addf("spec.replicas", "%d is more than %d, the most replicas scaler runs for one spec", *r, MaxReplicas)
	}
	firstDep := map[string]int{}
	for i, dep := range spec.DependsOn {
		path := fmt.Sprintf("spec.dependsOn[%d]", i)
		if msg := nameProblem(dep); msg != "" {
			errs.addf(path, "%s", msg)
			continue
		}
		if dep == self {
			errs.addf(path, "%q is this spec itself; a spec cannot depend on itself", dep)
			continue
		}
		if first, dup := firstDep[dep]; dup {
			errs.addf(path, "%q is listed twice; the first is spec.dependsOn[%d]", dep, first)
			continue
		}
		firstDep[dep] = i
	}
	switch {
	case spec.Network == "":
	case spec.Network == "bridge" || spec.Network == "host" || spec.Network == "none":
		errs.addf("spec.network", "%q is one of Docker's predefined networks; name a user-defined network, on which replicas reach each other by name", spec.Network)
	case !networkName.MatchString(spec.Network):
		errs.addf("spec.network", "%q is not a valid network name; use letters, digits, '_', '.' and '-', starting with a letter or digit", spec.Network)
	}
	spec.Template.validate(errs, "spec.template", spec.LoadBalancer != nil, written)
	spec.Strategy.validate(errs, "spec.strategy")
	if spec.LoadBalancer != nil {
		spec.LoadBalancer.validate(errs, "spec.loadBalancer", written)
	}
	if r := spec.RevisionHistoryLimit; r != nil && *r < 0 {
		errs.addf("spec.revisionHistoryLimit", "%d is negative; use 0 or more", *r)
	}
	if spec.Autoscaling != nil {
		spec.Autoscaling.validate(errs, "spec.autoscaling", spec.LoadBalancer)
	}
}

func (t *Template) validate(errs *ErrorList, path string, hasLoadBalancer bool, written func(string) bool) {
	switch {
	case t.Image == "":
		errs.addf(path+".image", `required; an image reference like "demoapp:dev"`)
	case !validImageReference(t.Image):
		errs.addf(path+".image", `%q is not a valid image reference; write it like "demoapp:dev" or "registry.example.com/team/app:1.2"`, truncate(t.Image))
	}
	for i, arg := range t.Command {
		validateNoNUL(errs, fmt.Sprintf("%s.command[%d]", path, i), arg)
	}
	firstEnv := map[string]int{}
	for i, env := range t.Env {
		validateNoNUL(errs, fmt.Sprintf("%s.env[%d].value", path, i), env.Value)
		envPath := fmt.Sprintf("%s.env[%d].name", path, i)
		switch {
		case env.Name == "":
			errs.addf(envPath, "required; the name of the environment variable")
		case !envName.MatchString(env.Name):
			errs.addf(envPath, "%q is not a valid variable name; use letters, digits and '_', not starting with a digit", truncate(env.Name))
		default:
			if first, dup := firstEnv[env.Name]; dup {
				errs.addf(envPath, "%q is set twice; the first is %s.env[%d]", env.Name, path, first)
				continue
			}
			firstEnv[env.Name] = i
		}
	}
	switch {
	case t.Port == 0 && written(path+".port"):
		errs.addf(path+".port", "0 is not a port; use 1-65535, or leave port out for a spec without a load balancer")
	case t.Port == 0 && hasLoadBalancer:
		errs.addf(path+".port", "required when spec.loadBalancer is set: the port the app listens on inside the container, 1-65535")
	case t.Port != 0:
		validatePort(errs, path+".port", t.Port)
	}
	t.Resources.validate(errs, path+".resources")
	if hc := t.HealthCheck; hc != nil {
		hcPath := path + ".healthCheck"
		switch {
		case len(hc.Command) == 0:
			errs.addf(hcPath+".command", `required: the command that exits 0 when the replica is healthy, like ["/demoapp", "healthcheck"]`)
		case hc.Command[0] == "":
			errs.addf(hcPath+".command[0]", "required: the program to run")
		}
		for i, arg := range hc.Command {
			validateNoNUL(errs, fmt.Sprintf("%s.command[%d]", hcPath, i), arg)
		}
		validateDuration(errs, hcPath+".interval", hc.Interval, time.Millisecond)
		validateDuration(errs, hcPath+".timeout", hc.Timeout, time.Millisecond)
		if hc.Retries != nil && *hc.Retries < 1 {
			errs.addf(hcPath+".retries", "%d must be at least 1", *hc.Retries)
		}
		validateDuration(errs, hcPath+".startPeriod", hc.StartPeriod, time.Millisecond)
		validateDuration(errs, hcPath+".startInterval", hc.StartInterval, time.Millisecond)
	}
	validateDuration(errs, path+".stopGracePeriod", t.StopGracePeriod, 0)
	t.validateVolumes(errs, path)
	if p := t.PidsLimit; p != nil && *p < MinPidsLimit {
		errs.addf(path+".pidsLimit", "%d is too few for the app, its health probe and an exec; use %d to %d, or leave it out for %d",
			*p, MinPidsLimit, MaxPidsLimit, DefaultPidsLimit)
	} else if p != nil && *p > MaxPidsLimit {
		errs.addf(path+".pidsLimit", "%d is more than %d, the kernel's largest PID; use at most %d, which is no limit",
			*p, MaxPidsLimit, MaxPidsLimit)
	}
}

func (r *Resources) validate(errs *ErrorList, path string) {
	limitCPUs, limitMemory := r.Limits.validate(errs, path+".limits", true)
	reservedCPUs, reservedMemory := r.Reservations.validate(errs, path+".reservations", false)
	if limitCPUs > 0 && reservedCPUs > limitCPUs {
		errs.addf(path+".reservations.cpus", "%s is more than the limit of %s (%s.limits.cpus); a reservation cannot exceed its limit",
			r.Reservations.CPUs, r.Limits.CPUs, path)
	}
	if limitMemory > 0 && reservedMemory > limitMemory {
		errs.addf(path+".reservations.memory", "%s is more than the limit of %s (%s.limits.memory); a reservation cannot exceed its limit",
			r.Reservations.Memory, r.Limits.Memory, path)
	}
}

// validate checks one list and returns its values (0 when absent or
// invalid) for the reservation-versus-limit check.
func (rl *ResourceList) validate(errs *ErrorList, path string, isLimit bool) (nanoCPUs, memory int64) {
	if rl.CPUs != "" {
		n, err := ParseCPUs(rl.CPUs)
		switch {
		case err != nil:
			errs.addf(path+".cpus", "%s", err.Error())
		case n == 0:
			errs.addf(path+".cpus", "%q must be more than 0; leave cpus out for no limit", rl.CPUs)
		default:
			nanoCPUs = n
		}
	}
	if rl.Memory != "" {
		n, err := ParseMemory(rl.Memory)
		switch {
		case err != nil:
			errs.addf(path+".memory", "%s", err.Error())
		case n == 0:
			errs.addf(path+".memory", "%q must be more than 0; leave memory out for no limit", rl.Memory)
		case isLimit && n < minMemoryLimit:
			errs.addf(path+".memory", "%q is below Docker's smallest memory limit, 6Mi", rl.Memory)
		default:
			memory = n
		}
	}
	return nanoCPUs, memory
}

func (st *Strategy) validate(errs *ErrorList, path string) {
	validateIntOrPercent(errs, path+".maxSurge", st.MaxSurge)
	validateIntOrPercent(errs, path+".maxUnavailable", st.MaxUnavailable)
	effective := *st
	effective.Default()
	if effective.MaxSurge.Value == 0 && effective.MaxUnavailable.Value == 0 {
		errs.addf(path, "maxSurge and maxUnavailable are both 0, so a rollout could never replace a replica; raise one of them")
	}
	validateDuration(errs, path+".drainTimeout", st.DrainTimeout, 0)
	validateDuration(errs, path+".progressDeadline", st.ProgressDeadline, 0)
}

func (lb *LoadBalancer) validate(errs *ErrorList, path string, written func(string) bool) {
	if lb.Image != "" && !validImageReference(lb.Image) {
		errs.addf(path+".image", `%q is not a valid image reference; write it like "scaler-nginx:dev"`, truncate(lb.Image))
	}
	if lb.HostIP != "" {
		if _, err := netip.ParseAddr(lb.HostIP); err != nil {
			errs.addf(path+".hostIP", "%q is not an IP address; use one like 127.0.0.1, or 0.0.0.0 for every interface", truncate(lb.HostIP))
		}
	}
	switch {
	case lb.Port == 0 && written(path+".port"):
		errs.addf(path+".port", "0 is not a port; use 1-65535, the host port to publish the app on")
	case lb.Port == 0:
		errs.addf(path+".port", "required: the host port to publish the app on, 1-65535")
	default:
		validatePort(errs, path+".port", lb.Port)
	}
	if lb.Algorithm != "" && !slices.Contains(Algorithms, lb.Algorithm) {
		errs.addf(path+".algorithm", "%q is not supported; use one of %s", truncate(lb.Algorithm), strings.Join(Algorithms, ", "))
	}
	if lb.MaxFails != nil && *lb.MaxFails < 0 {
		errs.addf(path+".maxFails", "%d is negative; use 0 or more (0 turns failure counting off)", *lb.MaxFails)
	}
	validateDuration(errs, path+".failTimeout", lb.FailTimeout, 0)
	validateNoNUL(errs, path+".serverSnippet", lb.ServerSnippet)
}

func validatePort(errs *ErrorList, path string, port int32) {
	if port < 1 || port > 65535 {
		errs.addf(path, "%d is not a port; use 1-65535", port)
	}
}

// validateDuration requires a set duration to be positive, at most
// MaxDuration and, when floor is set, at least floor (Docker refuses health
// check timings under 1ms).
func validateDuration(errs *ErrorList, path string, d *Duration, floor time.Duration) {
	switch {
	case d == nil:
	case d.Duration <= 0:
		errs.addf(path, "%q must be positive; write it like \"2s\"", d.Duration.String())
	case d.Duration < floor:
		errs.addf(path, "%q is below Docker's minimum of %s", d.Duration.String(), floor)
	case d.Duration > MaxDuration:
		errs.addf(path, "%q is longer than 24h, the longest duration scaler accepts", d.Duration.String())
	}
}

// validateNoNUL refuses a NUL character, which no command argument,
// environment variable or nginx config can carry: the Engine would refuse
// it only when creating the container.
func validateNoNUL(errs *ErrorList, path, s string) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		errs.addf(path, "contains a NUL character (\\0) at byte %d; remove it", i)
	}
}

func validateIntOrPercent(errs *ErrorList, path string, v *IntOrPercent) {
	switch {
	case v == nil:
	case v.IsPercent && (v.Value < 0 || v.Value > 100):
		errs.addf(path, "\"%d%%\" is not a percentage from 0%% to 100%%", v.Value)
	case v.Value < 0:
		errs.addf(path, "%d is negative; use 0 or more, or a percentage like \"25%%\"", v.Value)
	}
}

// IsValidName reports whether name can name a spec (a DNS-1123 label).
func IsValidName(name string) bool {
	return nameProblem(name) == ""
}
