package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/nginx"
)

// The load balancer's lifecycle. DESIGN.md: "The load balancer is replaced,
// never removed first: a new one is checked (image, nginx -t, port) before
// the old one stops; on any failure the old one keeps serving and the spec
// says why." A typo in spec.loadBalancer.image thus costs no request, and a
// real change of image or port costs as little as the Engine allows.

const (
	// roleLBCheck marks the short-lived container in which a new load
	// balancer image runs `nginx -t` on the rendered config before the
	// running load balancer is touched. It carries the spec's label, so one
	// that a killed scalerd left behind is found and removed.
	roleLBCheck = "lb-check"
	// labelLBAddress is the host address a load balancer publishes
	// (HOSTIP:PORT). A replacement on another port starts before the old
	// one stops; one on the same port can only start after it.
	labelLBAddress = v1alpha1.LabelPrefix + "address"
)

// Load balancer reasons, events and conditions alike.
const (
	ReasonLoadBalancerReplaced = "LoadBalancerReplaced"
	ReasonImageNotFound        = "ImageNotFound"
	ReasonConfigRejected       = "ConfigRejected"
	ReasonPortUnavailable      = "PortUnavailable"
	ReasonCheckFailed          = "CheckFailed"
	ReasonStartFailed          = "StartFailed"
	// ReasonNameTaken is a container that scalerd does not own holding the
	// name of a replica or of the load balancer.
	ReasonNameTaken = "NameTaken"
)

const (
	// lbRetryBase and lbRetryMax bound the wait before a failed replacement
	// is tried again: a missing image will not appear on the next event,
	// and every try costs Engine calls (an image lookup, a check
	// container). A changed spec.loadBalancer is tried at once.
	lbRetryBase = 5 * time.Second
	lbRetryMax  = 2 * time.Minute
	// lbCheckTimeout bounds the whole check of a new image and config:
	// create, copy, start and nginx -t in a check container.
	lbCheckTimeout = 30 * time.Second
	// lbCheckLife is the check container's own lifetime (its process is
	// `sleep`), so that one left by a killed scalerd does not run forever.
	lbCheckLife = "120"
	// lbSwapGrace bounds how long the old load balancer on the same port
	// gets, after SIGQUIT, to finish its in-flight requests before it is
	// killed and the new one can bind: nginx stops accepting at once, so
	// all of it is part of the gap (with the Engine's own stop and start).
	// In-flight requests to a web app take milliseconds; one that takes
	// longer is cut. One second is the Engine's smallest stop timeout.
	lbSwapGrace = time.Second
	// lbListenTimeout bounds the wait for a new load balancer on a new port
	// to listen before the old one is removed.
	lbListenTimeout = 5 * time.Second
	lbListenPoll    = 50 * time.Millisecond
)

// lbRetry is a replacement of the load balancer that failed while the old
// one kept serving. It is tried again after until, not on every pass.
type lbRetry struct {
	hash     string // the LoadBalancerHash that failed
	failures int
	until    time.Time
}

// lbKept is a replacement that failed with the old load balancer still
// serving: the reconcile goes on with it, and the spec says why.
type lbKept struct {
	reason string // LoadBalancerReady's reason
	err    error
}

func (e *lbKept) Error() string { return e.err.Error() }
func (e *lbKept) Unwrap() error { return e.err }

func kept(reason string, format string, args ...any) error {
	return &lbKept{reason: reason, err: fmt.Errorf(format, args...)}
}

// ensureLoadBalancer returns the running nginx container of the spec:
//   - one with the wanted image and address is kept, and any other load
//     balancer of the spec removed (an old one that a replacement, or a
//     scalerd killed in the middle of one, left);
//   - with none running at all, one is created;
//   - with only an outdated one running, that one keeps serving until a
//     new one has passed its checks (replaceLoadBalancer). When they fail,
//     the old one is returned, LoadBalancerReady says why, and the
//     replacement is tried again with back-off.
func (r *Reconciler) ensureLoadBalancer(ctx context.Context, spec *v1alpha1.ScaleSpec, st *specState, lbs []Container, upstream []Container) (*Container, error) {
	log := logr.FromContextOrDiscard(ctx)
	name := spec.Metadata.Name
	want := v1alpha1.LoadBalancerHash(*spec.Spec.LoadBalancer)
	var keep, serving *Container
	var leftovers []Container
	for i := range lbs {
		c := &lbs[i]
		switch {
		case c.Labels[v1alpha1.LabelRole] != v1alpha1.RoleLB:
			leftovers = append(leftovers, *c) // a check container
		case keep == nil && c.Labels[v1alpha1.LabelConfigHash] == want && c.State == StateRunning:
			keep = c
		case serving == nil && c.Labels[v1alpha1.LabelConfigHash] != want && c.State == StateRunning:
			serving = c
		default:
			leftovers = append(leftovers, *c)
		}
	}

	if keep == nil && serving == nil {
		serving, leftovers = r.reviveLoadBalancer(ctx, spec, st, leftovers)
	}
	if keep != nil {
		if serving != nil {
			// The old one of a replacement that a killed scalerd left
			// half done: the new one serves, so the old one goes.
			leftovers = append(leftovers, *serving)
		}
		if len(leftovers) > 0 {
			log.Info("removing outdated load balancer containers", "action", "removeLoadBalancer", "count", len(leftovers), "keep", keep.Name)
			// A running nginx gets drainTimeout for its in-flight
			// requests; the rest serve nothing.
			var serve, idle []Container
			for _, c := range leftovers {
				if c.State == StateRunning && c.Labels[v1alpha1.LabelRole] == v1alpha1.RoleLB {
					serve = append(serve, c)
				} else {
					idle = append(idle, c)
				}
			}
			r.removeAll(ctx, idle, 0)
			r.removeAll(ctx, serve, spec.Spec.Strategy.DrainTimeout.Duration)
		}
		st.lbRetry = nil
		r.nameLoadBalancer(ctx, spec, st, keep)
		return keep, nil
	}

	if len(leftovers) > 0 {
		// Not running (or a check container): they serve nothing, but may
		// hold a name.
		log.Info("removing load balancer containers that do not serve", "action", "removeLoadBalancer", "count", len(leftovers))
		r.removeAll(ctx, leftovers, 0)
	}
	if serving == nil {
		r.dropAgent(st)
		st.appliedConfig, st.appliedPeers, st.appliedUpstream = nil, nil, nil
		st.lbRetry = nil
		return r.createLoadBalancer(ctx, spec, st, upstream)
	}

	if st.lbRetry != nil && st.lbRetry.hash == want && r.Now().Before(st.lbRetry.until) {
		return serving, nil // LoadBalancerReady already says why
	}
	lb, err := r.replaceLoadBalancer(ctx, spec, st, *serving, upstream)
	if err == nil {
		st.lbRetry = nil
		return lb, nil
	}
	var k *lbKept
	if errors.As(err, &k) {
		if st.lbRetry == nil || st.lbRetry.hash != want {
			st.lbRetry = &lbRetry{hash: want}
		}
		st.lbRetry.failures++
		wait := lbRetryBase
		for i := 1; i < st.lbRetry.failures && wait < lbRetryMax; i++ {
			wait *= 2
		}
		wait = min(wait, lbRetryMax)
		st.lbRetry.until = r.Now().Add(wait)
		log.Info("load balancer not replaced; the old one keeps serving", "reason", k.reason, "error", err.Error(), "retryIn", wait, "failures", st.lbRetry.failures)
		_ = r.lbFailed(name, st, k.reason, err)
		return serving, nil
	}
	return nil, r.lbFailed(name, st, "ReplaceFailed", err)
}

// reviveLoadBalancer starts again a stopped load balancer of another image
// or address (it died, or was stopped by a swap that a killed scalerd left
// half done) when the wanted image is not on the Engine: creating a new one
// would fail and leave no load balancer at all. The revived one serves with
// the config it had, and its replacement is tried, and reported, as usual.
// It returns the revived one, if any, and the containers left to remove.
func (r *Reconciler) reviveLoadBalancer(ctx context.Context, spec *v1alpha1.ScaleSpec, st *specState, leftovers []Container) (*Container, []Container) {
	want := v1alpha1.LoadBalancerHash(*spec.Spec.LoadBalancer)
	for i, c := range leftovers {
		if c.Labels[v1alpha1.LabelRole] != v1alpha1.RoleLB || c.Labels[v1alpha1.LabelConfigHash] == want || c.State == StateRemoving {
			continue
		}
		if ok, err := r.Runtime.ImageExists(ctx, spec.Spec.LoadBalancer.Image); err != nil || ok {
			return nil, leftovers // a new one can be made
		}
		if err := r.Runtime.StartContainer(ctx, c.ID); err != nil {
			logr.FromContextOrDiscard(ctx).Error(err, "starting the previous load balancer again", "replica", c.Name)
			continue
		}
		logr.FromContextOrDiscard(ctx).Info("started the previous load balancer again: the wanted image is missing", "action", "reviveLoadBalancer", "replica", c.Name, "image", c.Image)
		r.dropAgent(st)
		c.State = StateRunning
		rest := append(append([]Container(nil), leftovers[:i]...), leftovers[i+1:]...)
		return &c, rest
	}
	return nil, leftovers
}

// lbRequeue is how soon a failed load balancer replacement is due again,
// zero when none is pending.
func (r *Reconciler) lbRequeue(st *specState, now time.Time) time.Duration {
	if st.lbRetry == nil || !st.lbRetry.until.After(now) {
		return 0
	}
	return st.lbRetry.until.Sub(now)
}

// lbContainerSpec is the nginx container of a spec. Its name is left to
// the caller (createLB).
func lbContainerSpec(spec *v1alpha1.ScaleSpec) ContainerSpec {
	name := spec.Metadata.Name
	lbSpec := spec.Spec.LoadBalancer
	return ContainerSpec{
		Image: lbSpec.Image,
		Cmd:   nginx.StartCommand(),
		Labels: map[string]string{
			v1alpha1.LabelManagedBy:  v1alpha1.ManagedByValue,
			v1alpha1.LabelSpec:       name,
			v1alpha1.LabelRole:       v1alpha1.RoleLB,
			v1alpha1.LabelConfigHash: v1alpha1.LoadBalancerHash(*lbSpec),
			labelLBAddress:           lbAddress(lbSpec),
		},
		// X-Served-By ($hostname) stays NAME-lb whatever name the
		// container has for a while.
		Hostname:    lbName(name),
		Network:     spec.Spec.Network,
		StopTimeout: spec.Spec.Strategy.DrainTimeout.Duration,
		StopSignal:  "SIGQUIT",
		Publish:     &PortBinding{HostIP: lbSpec.HostIP, HostPort: int(lbSpec.Port), ContainerPort: lbListenPort},
		Hardened:    true,
		// Every request passes through nginx, and a reload's nginx -t
		// decides how soon a dead replica leaves the upstream: under
		// contention the load balancer gets the CPU weight of two
		// default containers.
		CPUReservationNanos: 2e9,
		CapAdd:              nginx.Capabilities(),
	}
}

func lbAddress(lb *v1alpha1.LoadBalancer) string {
	return net.JoinHostPort(lb.HostIP, strconv.Itoa(int(lb.Port)))
}

// createLoadBalancer creates and starts the spec's first load balancer (or
// one after the last died), with its first config in place.
func (r *Reconciler) createLoadBalancer(ctx context.Context, spec *v1alpha1.ScaleSpec, st *specState, upstream []Container) (*Container, error) {
	log := logr.FromContextOrDiscard(ctx)
	name := spec.Metadata.Name
	lbSpec := spec.Spec.LoadBalancer
	cfg, peers, names, err := renderConfig(spec, upstream)
	if err != nil {
		return nil, r.lbFailed(name, st, "RenderFailed", err)
	}
	cs := lbContainerSpec(spec)
	id, err := r.createLB(ctx, spec, &cs, cfg, peers, "")
	if err != nil {
		reason := "CreateFailed"
		if errors.Is(err, ErrNotFound) {
			reason = ReasonImageNotFound
			err = fmt.Errorf("spec.loadBalancer.image: %w; build or tag the image (make images, docker tag) or correct the field", err)
		}
		return nil, r.lbFailed(name, st, reason, err)
	}
	if err := r.Runtime.StartContainer(ctx, id); err != nil {
		_ = r.Runtime.RemoveContainer(ctx, id)
		return nil, r.lbFailed(name, st, ReasonStartFailed, fmt.Errorf("spec.loadBalancer.port: starting load balancer %s on %s: %w; free the port or choose another", cs.Name, lbAddress(lbSpec), err))
	}
	st.appliedConfig, st.appliedPeers, st.appliedUpstream, st.lastReload = cfg, peers, names, r.Now()
	log.Info("created load balancer", "action", "createLoadBalancer", "replica", cs.Name, "address", lbAddress(lbSpec))
	r.Events.Eventf(name, "loadbalancer/"+cs.Name, v1alpha1.EventNormal, ReasonLoadBalancerCreated, "load balancer %s listens on %s", cs.Name, lbAddress(lbSpec))
	return &Container{ID: id, Name: cs.Name, Image: cs.Image, Labels: cs.Labels, State: StateRunning}, nil
}

// createLB creates the load balancer container cs with cfg and peers (the
// members, which nginx reads when it starts) in place, named
// NAME-lb, or NAME-lb-HASH when that name is avoid (the load balancer it
// replaces has it) or taken by a container scalerd does not own. It sets
// cs.Name to the name it got.
func (r *Reconciler) createLB(ctx context.Context, spec *v1alpha1.ScaleSpec, cs *ContainerSpec, cfg, peers []byte, avoid string) (string, error) {
	name := spec.Metadata.Name
	canonical := lbName(name)
	alternate := canonical + "-" + cs.Labels[v1alpha1.LabelConfigHash][:8]
	var lastErr error
	for _, n := range []string{canonical, alternate} {
		if n == avoid {
			continue
		}
		cs.Name = n
		id, err := r.Runtime.CreateContainer(ctx, *cs)
		if errors.Is(err, ErrConflict) {
			r.Events.Eventf(name, "loadbalancer/"+canonical, v1alpha1.EventWarning, ReasonNameTaken,
				"the name %s is taken by a container scalerd does not own (%v); the load balancer is created under another name. Fix: `docker rm %s` if it is a leftover, or rename the spec (metadata.name)", n, err, n)
			lastErr = fmt.Errorf("creating load balancer %s: %w", n, err)
			continue
		}
		if err != nil {
			return "", fmt.Errorf("creating load balancer %s: %w", n, err)
		}
		if err := r.Runtime.CopyFile(ctx, id, nginx.ConfigPath, cfg); err != nil {
			_ = r.Runtime.RemoveContainer(ctx, id)
			return "", fmt.Errorf("writing nginx config into %s: %w", n, err)
		}
		if err := r.Runtime.CopyFile(ctx, id, nginx.PeersPath, peers); err != nil {
			_ = r.Runtime.RemoveContainer(ctx, id)
			return "", fmt.Errorf("writing nginx peers file into %s: %w", n, err)
		}
		return id, nil
	}
	return "", lastErr
}

// nameLoadBalancer gives the load balancer its usual name, NAME-lb, back
// once the one it replaced is gone, so that `scalectl exec --replica
// web-lb` and `docker logs web-lb` find it. A name held by a container
// scalerd does not own is tried again after lbRetryMax.
func (r *Reconciler) nameLoadBalancer(ctx context.Context, spec *v1alpha1.ScaleSpec, st *specState, lb *Container) {
	want := lbName(spec.Metadata.Name)
	if lb.Name == want || r.Now().Before(st.lbRenameAt) {
		return
	}
	err := r.Runtime.RenameContainer(ctx, lb.ID, want)
	if err != nil {
		st.lbRenameAt = r.Now().Add(lbRetryMax)
		if errors.Is(err, ErrConflict) {
			r.Events.Eventf(spec.Metadata.Name, "loadbalancer/"+lb.Name, v1alpha1.EventWarning, ReasonNameTaken,
				"the load balancer runs as %s: the name %s is taken by a container scalerd does not own. Fix: `docker rm %s` if it is a leftover, or rename the spec (metadata.name)", lb.Name, want, want)
			return
		}
		logr.FromContextOrDiscard(ctx).Error(err, "renaming the load balancer", "replica", lb.Name, "to", want)
		return
	}
	logr.FromContextOrDiscard(ctx).Info("renamed load balancer", "action", "renameLoadBalancer", "from", lb.Name, "to", want)
	lb.Name = want
}

// replaceLoadBalancer replaces the running load balancer old by one with
// the spec's image and address, checking all it can before old stops: the
// image is on the Engine, its nginx accepts the rendered config, and the
// new container is created with the config in place. On a new port the new
// one starts (which proves the port free) and listens before old is
// removed: no gap. On the same port it cannot bind while old holds the
// port, so old stops (SIGQUIT, nginx finishes its in-flight requests) and
// the new one starts at once: the gap is that stop and one start. An error
// of type *lbKept means old still serves.
func (r *Reconciler) replaceLoadBalancer(ctx context.Context, spec *v1alpha1.ScaleSpec, st *specState, old Container, upstream []Container) (*Container, error) {
	log := logr.FromContextOrDiscard(ctx)
	name := spec.Metadata.Name
	lbSpec := spec.Spec.LoadBalancer
	addr := lbAddress(lbSpec)
	oldAddr := old.Labels[labelLBAddress]
	if oldAddr == "" {
		oldAddr = "its address"
	}

	ok, err := r.Runtime.ImageExists(ctx, lbSpec.Image)
	if err != nil {
		return nil, kept(ReasonCheckFailed, "spec.loadBalancer.image: cannot look up image %q: %w; the load balancer %s keeps serving and the change is tried again", lbSpec.Image, err, old.Name)
	}
	if !ok {
		return nil, kept(ReasonImageNotFound, "spec.loadBalancer.image: image %q is not on this Engine (scaler never pulls); the load balancer %s keeps serving with image %q. Fix: build or tag the image (make images, docker tag), or set spec.loadBalancer.image back to %q",
			lbSpec.Image, old.Name, old.Image, old.Image)
	}
	cfg, peers, names, err := renderConfig(spec, upstream)
	if err != nil {
		return nil, kept("RenderFailed", "%w", err)
	}
	if err := r.checkLBConfig(ctx, spec, old, cfg); err != nil {
		return nil, err
	}
	cs := lbContainerSpec(spec)
	id, err := r.createLB(ctx, spec, &cs, cfg, peers, old.Name)
	if err != nil {
		return nil, kept("CreateFailed", "spec.loadBalancer: %w; the load balancer %s keeps serving", err, old.Name)
	}
	removeNew := func() { _ = r.Runtime.RemoveContainer(context.WithoutCancel(ctx), id) }

	_, oldPort, _ := net.SplitHostPort(old.Labels[labelLBAddress])
	samePort := oldPort == "" || oldPort == strconv.Itoa(int(lbSpec.Port))
	var gap time.Duration
	if samePort {
		grace := min(spec.Spec.Strategy.DrainTimeout.Duration, lbSwapGrace)
		started := time.Now()
		if err := r.Runtime.StopContainer(ctx, old.ID, grace); err != nil && !errors.Is(err, ErrNotFound) {
			removeNew()
			return nil, kept(ReasonStartFailed, "stopping the old load balancer %s: %w; it is left as it is and the replacement tried again", old.Name, err)
		}
		stopped := time.Now()
		if err := r.Runtime.StartContainer(ctx, id); err != nil {
			// Put the old one back at once: it ran a moment ago.
			rerr := r.Runtime.StartContainer(ctx, old.ID)
			removeNew()
			if rerr != nil {
				return nil, fmt.Errorf("spec.loadBalancer: the new load balancer %s could not start on %s (%v), and restarting the old one %s failed too: %w; a new one is created on the next pass", cs.Name, addr, err, old.Name, rerr)
			}
			return nil, kept(ReasonStartFailed, "spec.loadBalancer: the new load balancer %s (image %q) could not start on %s: %w; the old one %s was started again and serves. Fix: check spec.loadBalancer.image and that nothing else holds the port", cs.Name, lbSpec.Image, addr, err, old.Name)
		}
		gap = time.Since(started)
		log.V(1).Info("swapped load balancers on one port", "replica", cs.Name, "old", old.Name,
			"stopMillis", stopped.Sub(started).Milliseconds(), "startMillis", time.Since(stopped).Milliseconds())
		if err := r.Runtime.RemoveContainer(ctx, old.ID); err != nil {
			log.Error(err, "removing the replaced load balancer; tried again on the next pass", "replica", old.Name)
		}
	} else {
		if err := r.Runtime.StartContainer(ctx, id); err != nil {
			removeNew()
			return nil, kept(ReasonPortUnavailable, "spec.loadBalancer.port: the new load balancer cannot listen on %s: %w; %s keeps serving on %s. Fix: free that port or choose another", addr, err, old.Name, oldAddr)
		}
		if err := r.waitListening(ctx, id); err != nil {
			removeNew()
			return nil, kept(ReasonStartFailed, "spec.loadBalancer: the new load balancer on %s did not come up: %w; %s keeps serving on %s", addr, err, old.Name, oldAddr)
		}
		// Its clients move to the new port; those still on the old one
		// get drainTimeout to finish.
		r.removeAll(ctx, []Container{old}, spec.Spec.Strategy.DrainTimeout.Duration)
	}
	r.dropAgent(st)
	st.appliedConfig, st.appliedPeers, st.appliedUpstream, st.lastReload = cfg, peers, names, r.Now()
	lb := &Container{ID: id, Name: cs.Name, Image: cs.Image, Labels: cs.Labels, State: StateRunning}
	r.nameLoadBalancer(ctx, spec, st, lb)
	msg := fmt.Sprintf("load balancer %s (image %s, %s) replaced %s (image %s, %s)", lb.Name, lbSpec.Image, addr, old.Name, old.Image, oldAddr)
	if samePort {
		msg += fmt.Sprintf("; the port was closed for %d ms", gap.Milliseconds())
	}
	log.Info("replaced load balancer", "action", "replaceLoadBalancer", "replica", lb.Name, "old", old.Name, "address", addr, "samePort", samePort, "gapMillis", float64(gap.Microseconds())/1000)
	r.Events.Eventf(name, "loadbalancer/"+lb.Name, v1alpha1.EventNormal, ReasonLoadBalancerReplaced, "%s", msg)
	return lb, nil
}

// checkLBConfig runs `nginx -t` on cfg in a short-lived container of the
// spec's load balancer image, with the capabilities the load balancer has,
// and removes it. A created-but-not-started load balancer cannot run
// commands, and one that starts with a bad config just exits, so the check
// gets a container of its own, whose process only sleeps: the check's
// output is then an exec's, as in a reload.
func (r *Reconciler) checkLBConfig(ctx context.Context, spec *v1alpha1.ScaleSpec, old Container, cfg []byte) error {
	image := spec.Spec.LoadBalancer.Image
	ctx, cancel := context.WithTimeout(ctx, lbCheckTimeout)
	defer cancel()
	cs := ContainerSpec{
		Image: image,
		Cmd:   []string{"sleep", lbCheckLife},
		Labels: map[string]string{
			v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue,
			v1alpha1.LabelSpec:      spec.Metadata.Name,
			v1alpha1.LabelRole:      roleLBCheck,
		},
		// On the spec's network, as the load balancer: nginx -t resolves
		// the host names a serverSnippet may hold.
		Network:  spec.Spec.Network,
		Hardened: true,
		CapAdd:   nginx.Capabilities(),
	}
	failed := func(err error) error {
		return kept(ReasonCheckFailed, "spec.loadBalancer.image: cannot check the config in image %q (the check runs `sleep` and `nginx -t` in it): %w; the load balancer %s keeps serving", image, err, old.Name)
	}
	id, err := r.Runtime.CreateContainer(ctx, cs)
	if err != nil {
		return failed(err)
	}
	defer func() {
		rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lbCheckTimeout)
		defer cancel()
		_ = r.Runtime.RemoveContainer(rmCtx, id)
	}()
	if err := r.Runtime.CopyFile(ctx, id, nginx.ConfigPath, cfg); err != nil {
		return failed(err)
	}
	if err := r.Runtime.StartContainer(ctx, id); err != nil {
		return failed(err)
	}
	res, err := r.Runtime.Exec(ctx, id, nginx.TestCommand(nginx.ConfigPath))
	if err != nil {
		return failed(err)
	}
	if res.ExitCode != 0 {
		return &lbKept{reason: ReasonConfigRejected, err: fmt.Errorf("%w: spec.loadBalancer.image: nginx in image %q rejects the rendered config (nginx -t exited %d: %s); the load balancer %s keeps serving. Fix: use an nginx image that accepts scaler's config (make images builds scaler-nginx:dev), or correct spec.loadBalancer.serverSnippet",
			ErrConfigRejected, image, res.ExitCode, trimOutput(res.Output), old.Name)}
	}
	return nil
}

// trimOutput keeps a command's output short enough for an event.
func trimOutput(s string) string {
	const limit = 512
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	return s
}

// lbListeningCommand succeeds once nginx answers HTTP on its port inside
// the container. Its PID file alone (written once the listening sockets are
// open) was not enough: under load the workers started 0.4 s later, and a
// port change that stopped the old load balancer then left both ports
// without an answer. Any status line counts (the request may reach no
// upstream). An image without bash is trusted on its PID file.
func lbListeningCommand() []string {
	script := fmt.Sprintf(`test -s %s || exit 1
command -v bash >/dev/null 2>&1 || exit 0
exec bash -c 'exec 3<>/dev/tcp/127.0.0.1/%d && printf "HEAD /nginx-status HTTP/1.0\r\n\r\n" >&3 && IFS= read -r -t 2 line <&3 && [[ $line == HTTP/* ]]'`, nginx.PIDPath, lbListenPort)
	return []string{"/bin/sh", "-c", script}
}

// waitListening waits until the nginx of a just started load balancer
// listens.
func (r *Reconciler) waitListening(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, lbListenTimeout)
	defer cancel()
	for {
		res, err := r.Runtime.Exec(ctx, id, lbListeningCommand())
		if err == nil && res.ExitCode == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("nginx wrote no PID file in %s", lbListenTimeout)
			}
			return err
		case <-time.After(lbListenPoll):
		}
	}
}

// adoptLoadBalancer takes over the config that a running load balancer of
// the spec was given before this scalerd started (a restart, an upgrade):
// the replicas in its upstream count as having passed their start probe,
// and its config as applied, so that the restart neither empties the
// upstream of replicas Docker still calls starting nor reloads nginx for
// nothing. The one with the wanted image and address is adopted, else an
// outdated one that still serves (its replacement may be failing). A load
// balancer whose config cannot be read is left to the usual path: render
// and reload.
func (r *Reconciler) adoptLoadBalancer(ctx context.Context, spec *v1alpha1.ScaleSpec, st *specState, lbs, app []Container) {
	want := v1alpha1.LoadBalancerHash(*spec.Spec.LoadBalancer)
	var lb *Container
	for i := range lbs {
		c := &lbs[i]
		if c.Labels[v1alpha1.LabelRole] != v1alpha1.RoleLB || c.State != StateRunning {
			continue
		}
		if lb == nil || c.Labels[v1alpha1.LabelConfigHash] == want {
			lb = c
		}
	}
	if lb == nil {
		return
	}
	// A hung Engine is bounded by the runtime (--engine-timeout), as every
	// call is; a failed read falls back to rendering and reloading once.
	res, err := r.Runtime.Exec(ctx, lb.ID, nginx.ReadConfigCommand())
	if err != nil || res.ExitCode != 0 {
		logr.FromContextOrDiscard(ctx).Info("could not read the running load balancer's config; it is rendered afresh", "replica", lb.Name, "error", err, "output", res.Output)
		return
	}
	running := nginx.RunningUpstream([]byte(res.Output))
	port := strconv.Itoa(int(spec.Spec.Template.Port))
	var ids, names []string
	for _, c := range sortedByIndex(app) {
		addr, ok := running[c.Name]
		if ok && c.State == StateRunning && addr == net.JoinHostPort(c.IPs[spec.Spec.Network], port) {
			ids = append(ids, c.ID)
			names = append(names, c.Name)
		}
	}
	r.starts.inherit(spec.Metadata.Name, ids)
	// A load balancer of an older scalerd has no peers file: its config
	// differs from the rendered one, and the next apply reloads it with one.
	st.appliedConfig, st.appliedPeers = nginx.SplitRunning([]byte(res.Output))
	st.appliedUpstream = names
}

func (r *Reconciler) lbFailed(name string, st *specState, reason string, err error) error {
	r.Events.Eventf(name, "loadbalancer/"+lbName(name), v1alpha1.EventWarning, reason, "%v", err)
	r.mu.Lock()
	st.status.Conditions = v1alpha1.SetCondition(st.status.Conditions, r.condition(v1alpha1.ConditionLoadBalancerReady, v1alpha1.ConditionFalse, reason, err.Error()))
	r.mu.Unlock()
	return err
}

// lbReady reports the config applied. While a replacement of the load
// balancer is failing, LoadBalancerReady stays False with its reason,
// though the old one applies every new upstream.
func (r *Reconciler) lbReady(st *specState) {
	if st.lbRetry != nil {
		return
	}
	r.mu.Lock()
	st.status.Conditions = v1alpha1.SetCondition(st.status.Conditions, r.condition(v1alpha1.ConditionLoadBalancerReady, v1alpha1.ConditionTrue, "ConfigApplied", "nginx runs the rendered config"))
	r.mu.Unlock()
}
