package buildinfo

import (
	"runtime"
	"testing"
)

func TestReadReportsTheToolchainAndPlatform(t *testing.T) {
	info := Read()
	if info.GoVersion != runtime.Version() {
		t.Errorf("GoVersion = %q, want %q", info.GoVersion, runtime.Version())
	}
	if info.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("Platform = %q", info.Platform)
	}
	if info.Version == "" {
		t.Error("Version is empty; a test binary has build info with a main module")
	}
}
