package controllers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/internal/nginx"
)

// agentOpenTimeout bounds the start of a reload agent; agentCallTimeout
// one request (nginx -t on a busy machine included).
const (
	agentOpenTimeout = 10 * time.Second
	agentCallTimeout = 30 * time.Second
)

// errAgentUnusable marks a load balancer whose reload agent cannot work
// (an image without the tools it needs): reloads go through one exec
// each, as they would without an agent.
var errAgentUnusable = errors.New("reload agent unusable")

// lbAgent is the reload agent (nginx.AgentCommand) of one load balancer
// container. Calls for one spec never overlap (the work queue serialises a
// spec's reconciles), so it needs no lock.
type lbAgent struct {
	containerID string
	session     Session
	replies     *bufio.Reader
}

// openAgent starts the reload agent in the load balancer and waits for it
// to say it runs.
func openAgent(ctx context.Context, rt Runtime, lbID string) (*lbAgent, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), agentOpenTimeout)
	defer cancel()
	s, err := rt.OpenSession(ctx, lbID, nginx.AgentCommand())
	if err != nil {
		return nil, err
	}
	a := &lbAgent{containerID: lbID, session: s, replies: bufio.NewReader(s)}
	line, err := a.readLine(ctx)
	if err != nil {
		a.close()
		return nil, fmt.Errorf("starting the reload agent: %w", err)
	}
	if strings.TrimSpace(line) != nginx.AgentReady {
		a.close()
		return nil, fmt.Errorf("%w: it printed %q on start", errAgentUnusable, strings.TrimSpace(line))
	}
	return a, nil
}

// call sends one request and reads its reply. Any error but a reply leaves
// the agent closed: its stream may be out of step.
func (a *lbAgent) call(ctx context.Context, req []byte) (code int, text string, err error) {
	ctx, cancel := context.WithTimeout(ctx, agentCallTimeout)
	defer cancel()
	if _, err := a.session.Write(req); err != nil {
		a.close()
		return 0, "", fmt.Errorf("reload agent: %w", err)
	}
	line, err := a.readLine(ctx)
	if err != nil {
		a.close()
		return 0, "", fmt.Errorf("reload agent: %w", err)
	}
	code, text, err = nginx.ParseReply(line)
	if err != nil {
		a.close()
	}
	return code, text, err
}

// readLine reads one line, giving up (and closing the session, which ends
// the read) when ctx ends.
func (a *lbAgent) readLine(ctx context.Context) (string, error) {
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		line, err := a.replies.ReadString('\n')
		done <- result{line, err}
	}()
	select {
	case r := <-done:
		return r.line, r.err
	case <-ctx.Done():
		a.close()
		<-done
		return "", ctx.Err()
	}
}

func (a *lbAgent) close() {
	if a != nil && a.session != nil {
		_ = a.session.Close()
	}
}

// testAndReload checks cfg with nginx -t and, only if it passes, puts
// peers in place and makes the running nginx use both (the reloaded master
// reads the peers file). It goes through the load balancer's reload agent
// when it has one, and otherwise (or when the agent fails) copies the
// candidate in and runs the check and reload in one exec. Applying the
// same config twice is harmless, so a request the agent may or may not
// have carried out is simply repeated.
func (r *Reconciler) testAndReload(ctx context.Context, st *specState, lb Container, cfg, peers []byte) error {
	log := logr.FromContextOrDiscard(ctx)
	if a := r.reloadAgent(ctx, st, lb); a != nil {
		code, text, err := a.call(ctx, nginx.ApplyRequest(cfg, peers))
		switch {
		case err == nil && code == nginx.ReplyOK:
			return nil
		case err == nil && code == nginx.RejectedCode:
			return fmt.Errorf("%w (the running config stays): %s", ErrConfigRejected, text)
		case err == nil:
			a.close()
			st.agent, st.agentOff = nil, lb.ID
			log.Info("reload agent cannot apply configs in this image; reloading with one exec each", "replica", lb.Name, "reply", text)
		default:
			st.agent = nil // started afresh on the next reload
			if ctx.Err() != nil {
				return err
			}
			log.Error(err, "reload agent failed; reloading with one exec", "replica", lb.Name)
		}
	}
	if err := r.Runtime.CopyFile(ctx, lb.ID, nginx.CandidatePath, cfg); err != nil {
		return fmt.Errorf("writing candidate config: %w", err)
	}
	res, err := r.Runtime.Exec(ctx, lb.ID, reloadScript(peers))
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("reload exited %d: %s", res.ExitCode, strings.TrimSpace(res.Output))
		if res.ExitCode == nginx.RejectedCode {
			err = fmt.Errorf("%w (the running config stays): %s", ErrConfigRejected, strings.TrimSpace(res.Output))
		}
	}
	return err
}

// updatePeers makes the running nginx use peers without a reload: the
// agent writes the peers file and asks the workers to read it again; when
// the agent is down, one exec does the same. Sending the same peers twice
// is harmless.
func (r *Reconciler) updatePeers(ctx context.Context, st *specState, lb Container, peers []byte) error {
	log := logr.FromContextOrDiscard(ctx)
	if a := r.reloadAgent(ctx, st, lb); a != nil {
		code, text, err := a.call(ctx, nginx.PeersRequest(peers))
		switch {
		case err == nil && code == nginx.ReplyOK:
			return nil
		case err == nil:
			// The agent runs but nginx did not take the peers (it may be
			// restarting): the exec below says whether it does now.
			log.Info("reload agent could not update the members; trying with one exec", "replica", lb.Name, "code", code, "reply", text)
		default:
			st.agent = nil // started afresh on the next call
			if ctx.Err() != nil {
				return err
			}
			log.Error(err, "reload agent failed; updating the members with one exec", "replica", lb.Name)
		}
	}
	res, err := r.Runtime.Exec(ctx, lb.ID, nginx.PeersCommand(peers))
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("peers update exited %d: %s", res.ExitCode, strings.TrimSpace(res.Output))
	}
	return err
}

// askLB sends req, a question that changes nothing, to lb's reload agent
// and returns the text of its answer; with no agent, or one that broke, it
// runs cmd, the same question as one exec, instead. An answer that reports
// a failure is returned as that failure, with no exec: the exec would ask
// nginx the same way, at the cost of an Engine call.
func (r *Reconciler) askLB(ctx context.Context, st *specState, lb Container, req []byte, cmd []string) (string, error) {
	if a := r.reloadAgent(ctx, st, lb); a != nil {
		code, text, err := a.call(ctx, req)
		switch {
		case err == nil && code == nginx.ReplyOK:
			return text, nil
		case err == nil:
			return "", fmt.Errorf("load balancer %s: %s", lb.Name, text)
		}
		st.agent = nil // call closed it; started afresh next time
		if ctx.Err() != nil {
			return "", err
		}
	}
	res, err := r.Runtime.Exec(ctx, lb.ID, cmd)
	if err != nil {
		return "", err
	}
	if res.ExitCode != 0 {
		return "", fmt.Errorf("load balancer %s: %s", lb.Name, strings.TrimSpace(res.Output))
	}
	return strings.TrimSpace(res.Output), nil
}

// reloadAgent returns the reload agent of lb, starting it if needed, or
// nil when lb cannot run one.
func (r *Reconciler) reloadAgent(ctx context.Context, st *specState, lb Container) *lbAgent {
	if st.agent != nil && st.agent.containerID == lb.ID {
		return st.agent
	}
	r.dropAgent(st)
	if st.agentOff == lb.ID {
		return nil
	}
	a, err := openAgent(ctx, r.Runtime, lb.ID)
	if err != nil {
		if errors.Is(err, errAgentUnusable) {
			st.agentOff = lb.ID
		}
		logr.FromContextOrDiscard(ctx).Error(err, "no reload agent in the load balancer; reloading with one exec", "replica", lb.Name)
		return nil
	}
	st.agent = a
	return a
}

// dropAgent ends the reload agent, if any (its load balancer is going).
func (r *Reconciler) dropAgent(st *specState) {
	st.agent.close()
	st.agent = nil
}

// reloadScript checks the candidate config and only then writes peers (its
// argument) as the peers file, moves the candidate into place and reloads,
// in one exec so that a reaction costs one round trip. Exit code
// nginx.RejectedCode means the candidate failed `nginx -t` and was not
// applied.
func reloadScript(peers []byte) []string {
	test := strings.Join(nginx.TestCommand(nginx.CandidatePath), " ")
	reload := strings.Join(nginx.ReloadCommand(), " ")
	return []string{"/bin/sh", "-c", fmt.Sprintf(`%s 2>&1 || exit %d; printf '%%s' "$1" > %s && mv -f %s %s && %s 2>&1`,
		test, nginx.RejectedCode, nginx.PeersPath, nginx.CandidatePath, nginx.ConfigPath, reload), "sh", string(peers)}
}
