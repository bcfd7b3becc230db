package v1alpha1

import (
	"strings"
	"testing"
)

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		// compose and Docker forms: powers of 1024, any case, optional "b".
		{in: "256M", want: 256 << 20},
		{in: "256m", want: 256 << 20},
		{in: "256MB", want: 256 << 20},
		{in: "1g", want: 1 << 30},
		{in: "512k", want: 512 << 10},
		{in: "1024", want: 1024},
		{in: "1024b", want: 1024},
		{in: "1.5G", want: 3 << 29},
		{in: "256 M", want: 256 << 20},
		{in: "2t", want: 2 << 40},
		{in: "1p", want: 1 << 50},
		// Kubernetes forms.
		{in: "256Mi", want: 256 << 20},
		{in: "1Gi", want: 1 << 30},
		{in: "1GiB", want: 1 << 30},
		{in: "128974848", want: 128974848},
		{in: "129e6", want: 129000000},
		{in: "1.5e3", want: 1500},
		{in: "129M", want: 129 << 20},
		{in: "1Ei", want: 1 << 60},
		{in: "0.1k", want: 103}, // a fractional byte rounds up
		{in: ".5Ki", want: 512},
		{in: "0", want: 0},
		{in: "lots", wantErr: `"lots" is not a memory size; use a number with an optional unit like 256M or 256Mi`},
		{in: "", wantErr: `"" is not a memory size; use a number with an optional unit like 256M or 256Mi`},
		{in: "-1M", wantErr: `"-1M" is negative; use a number with an optional unit like 256M or 256Mi`},
		{in: "256 MiB extra", wantErr: `"256 MiB extra" is not a memory size; use a number with an optional unit like 256M or 256Mi`},
		{in: "10x", wantErr: `"10x" has an unknown unit "x"; use b, k, m, g, t or p (powers of 1024, as Docker reads them) or Ki, Mi, Gi, Ti, Pi, Ei`},
		{in: "1E", wantErr: `"1E" has an unknown unit "E"; use b, k, m, g, t or p (powers of 1024, as Docker reads them) or Ki, Mi, Gi, Ti, Pi, Ei`},
		{in: "1e3k", wantErr: `"1e3k" mixes an exponent with a unit; write 129e6 or 129M, not both`},
		{in: "8Ei", wantErr: `"8Ei" is too large a memory size`},
		{in: "1e999", wantErr: `"1e999" is too large a memory size`},
	}
	for _, tt := range tests {
		got, err := ParseMemory(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseMemory(%q) error = %v, want %s", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParseCPUs(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{in: "0.5", want: 5e8},
		{in: "2", want: 2e9},
		{in: ".25", want: 25e7},
		{in: "1.000000001", want: 1000000001},
		{in: "500m", want: 5e8},
		{in: "0", want: 0},
		{in: "half", wantErr: `"half" is not a CPU count; use a decimal number of CPUs like "0.5" or "2"`},
		{in: "-1", wantErr: `"-1" is not a CPU count; use a decimal number of CPUs like "0.5" or "2"`},
		{in: "1.0000000001", wantErr: `"1.0000000001" is too precise; Docker counts CPUs in billionths`},
		{in: "99999999999", wantErr: `"99999999999" is too many CPUs`},
	}
	for _, tt := range tests {
		got, err := ParseCPUs(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseCPUs(%q) error = %v, want %s", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseCPUs(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestValidImageReference(t *testing.T) {
	valid := []string{
		"demoapp", "demoapp:dev", "scaler-nginx:dev", "library/redis:7.2",
		"registry.example.com/team/app:1.2", "localhost:5000/app", "[::1]:5000/app:v1",
		"app@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"app:v1@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"a__b/c.d-e", "Registry.Example.com/app",
	}
	invalid := []string{
		"", "Demo App", "Demoapp", "app:", ":tag", "app:-tag", "app@sha256:short", "/app", "app/",
		"app:" + strings.Repeat("a", 129), // a tag has at most 128 characters
		strings.Repeat("a", 256),          // a name at most 255
	}
	for _, s := range valid {
		if !validImageReference(s) {
			t.Errorf("validImageReference(%q) = false, want true", s)
		}
	}
	for _, s := range invalid {
		if validImageReference(s) {
			t.Errorf("validImageReference(%q) = true, want false", s)
		}
	}
}
