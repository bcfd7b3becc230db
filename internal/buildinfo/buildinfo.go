// Package buildinfo reads a scaler binary's version from the build
// information the Go toolchain embeds, so that no release step has to
// stamp it and it cannot disagree with what was built.
package buildinfo

import (
	"runtime"
	"runtime/debug"

	"github.com/scaler-dev/scaler/internal/controlapi"
)

// Read returns this binary's version: the module version of a `go install
// ...@v1.2.3` build, "(devel)" for a build from a checkout, with the VCS
// commit when the build recorded one.
func Read() controlapi.BuildInfo {
	info := controlapi.BuildInfo{Version: "(unknown)", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	if bi.Main.Version != "" {
		info.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Commit = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}
