package controllers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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
