// Package systemd holds scalerd's systemd unit (scalerd.service.in) and the
// test that systemd itself accepts it.
package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// render does what `make install` does to the unit: @BINDIR@ becomes the
// directory of the installed binaries.
func render(t *testing.T, bindir string) string {
	t.Helper()
	in, err := os.ReadFile("scalerd.service.in")
	if err != nil {
		t.Fatal(err)
	}
	out := strings.ReplaceAll(string(in), "@BINDIR@", bindir)
	if strings.Contains(out, "@") {
		t.Fatalf("the rendered unit still has a placeholder:\n%s", out)
	}
	return out
}

// systemd-analyze verify reads the unit as systemd would: an unknown key,
// a bad value or an ExecStart that is not executable is reported. Any
// output counts as a failure, since unknown keys are warnings only.
func TestUnitPassesSystemdAnalyzeVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian: apt-get install systemd); the unit is not verified")
	}
	dir := t.TempDir()
	bindir := filepath.Join(dir, "bin")
	if err := os.Mkdir(bindir, 0o755); err != nil {
		t.Fatal(err)
	}
	// verify checks that ExecStart names an executable; a stub stands in
	// for scalerd.
	if err := os.WriteFile(filepath.Join(bindir, "scalerd"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(dir, "scalerd.service")
	if err := os.WriteFile(unit, []byte(render(t, bindir)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", unit, err, out)
	}
}

// The unit promises what scalerd and scalectl rely on: readiness and the
// watchdog, the paths scalectl looks at, and the hardening of issue 20.
func TestUnitSaysWhatScalerReliesOn(t *testing.T) {
	unit := render(t, "/usr/local/bin")
	for _, want := range []string{
		"Type=notify", "WatchdogSec=", "Restart=on-failure",
		"ExecStart=/usr/local/bin/scalerd --spec-dir /etc/scaler/specs --state-dir /var/lib/scaler --socket /run/scaler/scalerd.sock --socket-group scaler",
		"StateDirectory=scaler", "RuntimeDirectory=scaler", "RuntimeDirectoryMode=0750", "Group=scaler",
		"ProtectSystem=strict", "ReadWritePaths=/etc/scaler/specs", "NoNewPrivileges=yes", "ProtectHome=yes", "PrivateTmp=yes",
		"ExecReload=/bin/kill -HUP $MAINPID",
	} {
		if !strings.Contains(unit, "\n"+want) {
			t.Errorf("the unit lacks %q", want)
		}
	}
}
