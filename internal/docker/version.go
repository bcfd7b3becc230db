package docker

import (
	"context"
	"fmt"
)

// EngineVersion is what `scalectl version` shows of the Engine.
type EngineVersion struct {
	// Kind is the engine scalerd drives through this adapter: "docker".
	Kind          string
	Version       string
	APIVersion    string
	MinAPIVersion string
	// NegotiatedAPIVersion is the version scalerd speaks to it.
	NegotiatedAPIVersion string
	OS, Arch             string
}

// Version asks the Engine for its version.
func (r *Runtime) Version(ctx context.Context) (EngineVersion, error) {
	v, err := r.client.ServerVersion(ctx)
	if err != nil {
		return EngineVersion{}, fmt.Errorf("docker engine version: %w", classify(err))
	}
	return EngineVersion{Kind: "docker", Version: v.Version, APIVersion: v.APIVersion, MinAPIVersion: v.MinAPIVersion,
		NegotiatedAPIVersion: r.caps.APIVersion, OS: v.Os, Arch: v.Arch}, nil
}
