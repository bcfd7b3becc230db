package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONLogsCarryKeysAndHonourVerbosity(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "json", 0)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("created replica", "spec", "web", "replica", "web-1")
	log.V(1).Info("planned")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("V(1) must be hidden at verbosity 0, got %d lines: %s", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["msg"] != "created replica" || rec["spec"] != "web" || rec["replica"] != "web-1" {
		t.Errorf("record = %v", rec)
	}
}

func TestUnknownFormatNamesTheFlag(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, "xml", 0); err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Fatalf("want an error naming --log-format, got %v", err)
	}
}
