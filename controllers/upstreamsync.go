package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/nginx"
)

// DefaultUpstreamCheckInterval is how often scalerd reads back what each
// load balancer runs (UpstreamInSync) when Reconciler.UpstreamCheckInterval
// is not set. The check is one request on the reload agent's stream and a
// TCP connect per member from inside the load balancer.
const DefaultUpstreamCheckInterval = 10 * time.Second

// upstreamSettle is how long after a reload the upstream is not read
// back: nginx's master starts the new workers some time after the signal
// (1.2 to 1.5 s at load average 26, see nginx.hastenSeconds), and until
// the old ones stop listening a check may reach one of them and report
// the previous config as a drift.
const upstreamSettle = 5 * time.Second

// Event reasons of the upstream check.
const (
	// ReasonUpstreamDrifted: nginx ran, or would load on its next start,
	// something other than what scalerd applied; scalerd applies it again.
	ReasonUpstreamDrifted = "UpstreamDrifted"
	// ReasonUpstreamRestored: after a drift, nginx runs what scalerd
	// planned again.
	ReasonUpstreamRestored = "UpstreamRestored"
	// ReasonMemberUnreachable: a member does not accept connections from
	// the load balancer, though its health check (run inside the replica)
	// passes.
	ReasonMemberUnreachable = "MemberUnreachable"
)

// upstreamCheckDue reports whether the load balancer's upstream is to be
// read back in this pass, and how long until the next check; a check it
// reports due is taken (the next one is scheduled).
func (r *Reconciler) upstreamCheckDue(st *specState, now time.Time) (bool, time.Duration) {
	every := r.UpstreamCheckInterval
	if every == 0 {
		every = DefaultUpstreamCheckInterval
	}
	if every < 0 || st.appliedConfig == nil {
		return false, 0
	}
	if now.Before(st.nextUpstreamCheck) {
		return false, st.nextUpstreamCheck.Sub(now)
	}
	if settled := st.reloadedAt.Add(upstreamSettle); now.Before(settled) {
		return false, settled.Sub(now)
	}
	st.nextUpstreamCheck = now.Add(every)
	return true, every
}

// checkUpstream reads back what lb's nginx runs and compares it with what
// scalerd applied: the config loaded and on disk, the peers file, the
// members the workers balance over, and whether each accepts a connection
// from the load balancer. It sets UpstreamInSync and returns whether the
// applied state drifted; a drift also forgets what was applied, so that
// the applyUpstream that follows puts it right.
func (r *Reconciler) checkUpstream(ctx context.Context, name string, st *specState, lb Container) (drifted bool) {
	log := logr.FromContextOrDiscard(ctx)
	running, err := r.readRunning(ctx, st, lb)
	if err != nil {
		log.Info("could not read back what the load balancer runs", "replica", lb.Name, "error", err.Error())
		r.setInSync(name, st, v1alpha1.ConditionUnknown, "CannotVerify", fmt.Sprintf("reading back what %s runs: %v", lb.Name, err))
		return false
	}
	configDrift, membersDrift := running.ConfigDrift(st.appliedConfig), running.MembersDrift(st.appliedPeers)
	if configDrift != "" || len(membersDrift) > 0 {
		drift := membersDrift
		if configDrift != "" {
			drift = append([]string{configDrift}, drift...)
		}
		msg := strings.Join(drift, "; ")
		log.Info("load balancer drifted from what scalerd applied; applying it again", "action", "resyncUpstream", "replica", lb.Name, "drift", msg)
		r.Events.Eventf(name, "loadbalancer/"+lb.Name, v1alpha1.EventWarning, ReasonUpstreamDrifted, "%s; scalerd applies its config and members again", msg)
		r.Metrics.upstreamDrifted(name)
		r.setInSync(name, st, v1alpha1.ConditionFalse, "Drifted", msg)
		// Forget only what drifted: members alone are put right without a
		// reload. Not nil: a nil config would make the next pass adopt
		// what runs.
		if configDrift != "" {
			st.appliedConfig = []byte{}
		}
		st.appliedPeers = nil
		st.upstreamDrifted = true
		return true
	}
	if unreachable := running.UnreachableList(); len(unreachable) > 0 {
		msg := "members that pass their health check but do not accept connections from the load balancer (nginx's passive health check skips them): " + strings.Join(unreachable, "; ")
		if c := v1alpha1.FindCondition(st.status.Conditions, v1alpha1.ConditionUpstreamInSync); c == nil || c.Message != msg {
			r.Events.Eventf(name, "loadbalancer/"+lb.Name, v1alpha1.EventWarning, ReasonMemberUnreachable, "%s", msg)
		}
		r.setInSync(name, st, v1alpha1.ConditionFalse, "MembersUnreachable", msg)
		return false
	}
	if st.upstreamDrifted {
		st.upstreamDrifted = false
		r.Events.Eventf(name, "loadbalancer/"+lb.Name, v1alpha1.EventNormal, ReasonUpstreamRestored, "nginx runs the planned config and %d members again", len(running.Members))
	}
	r.setInSync(name, st, v1alpha1.ConditionTrue, "InSync",
		fmt.Sprintf("nginx runs the config scalerd applied and its %d members, each of which accepts connections from the load balancer", len(running.Members)))
	return false
}

// readRunning asks lb's nginx what it runs.
func (r *Reconciler) readRunning(ctx context.Context, st *specState, lb Container) (nginx.Running, error) {
	text, err := r.askLB(ctx, st, lb, nginx.VerifyRequest(), nginx.VerifyCommand())
	if err != nil {
		return nginx.Running{}, err
	}
	return nginx.ParseVerify(text)
}

func (r *Reconciler) setInSync(name string, st *specState, s v1alpha1.ConditionStatus, reason, msg string) {
	r.Metrics.setInSync(name, s)
	r.mu.Lock()
	defer r.mu.Unlock()
	st.status.Conditions = v1alpha1.SetCondition(st.status.Conditions, r.condition(v1alpha1.ConditionUpstreamInSync, s, reason, msg))
}
