package daemon

import (
	"context"
	"time"

	"github.com/scaler-dev/scaler/internal/buildinfo"
	"github.com/scaler-dev/scaler/internal/controlapi"
	"github.com/scaler-dev/scaler/internal/docker"
)

// engineVersionTimeout bounds the Engine call behind `scalectl version`,
// so that a hung Engine still lets the daemon's own version through.
const engineVersionTimeout = 5 * time.Second

// engineVersioner is the engine adapter's version call.
type engineVersioner interface {
	Version(ctx context.Context) (docker.EngineVersion, error)
}

func (b *backend) Version(ctx context.Context) (controlapi.VersionInfo, error) {
	info := controlapi.VersionInfo{
		Daemon:   buildinfo.Read(),
		Instance: b.instance,
		Engine:   controlapi.EngineInfo{NegotiatedAPIVersion: b.runtime.Capabilities().APIVersion},
	}
	ev, ok := b.runtime.(engineVersioner)
	if !ok {
		info.EngineError = "this engine adapter does not report its version"
		return info, nil
	}
	ctx, cancel := context.WithTimeout(ctx, engineVersionTimeout)
	defer cancel()
	v, err := ev.Version(ctx)
	if err != nil {
		info.EngineError = err.Error()
		return info, nil
	}
	info.Engine = controlapi.EngineInfo{Kind: v.Kind, Version: v.Version, APIVersion: v.APIVersion,
		MinAPIVersion: v.MinAPIVersion, NegotiatedAPIVersion: v.NegotiatedAPIVersion, Platform: v.OS + "/" + v.Arch}
	return info, nil
}
