package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

// scalerd refuses to start, saying why, when its socket directory is open
// to other users: one of them could have put their own socket there. It
// refuses before it touches the Engine or the spec directory's state.
func TestRunRefusesASocketDirectoryOthersCanWrite(t *testing.T) {
	dir := t.TempDir()
	sockDir := filepath.Join(dir, "scaler-1000")
	if err := os.Mkdir(sockDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sockDir, 0o777); err != nil {
		t.Fatal(err)
	}
	specDir := filepath.Join(dir, "specs")
	if err := os.Mkdir(specDir, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := Run(ctx, Options{SpecDir: specDir, Socket: filepath.Join(sockDir, "scalerd.sock"), StateDir: filepath.Join(dir, "state"),
		MetricsAddr: "127.0.0.1:0", Instance: "specs-socket-test", Log: logr.Discard()})
	if err == nil || !strings.Contains(err.Error(), sockDir+" has mode 0777") {
		t.Fatalf("Run = %v; want a refusal naming the directory and its mode", err)
	}
	if entries, _ := os.ReadDir(sockDir); len(entries) != 0 {
		t.Errorf("something was created in the refused directory: %v", entries)
	}
}
