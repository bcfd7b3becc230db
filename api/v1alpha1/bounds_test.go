package v1alpha1

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// aliasBomb is a valid 1 MB spec that anchors a 1 MB string and uses it
// refs times: a small file that would decode to refs megabytes.
func aliasBomb(refs int) []byte {
	var b bytes.Buffer
	b.WriteString(header + "spec:\n  template:\n    image: demoapp:dev\n    env:\n")
	fmt.Fprintf(&b, "      - {name: BIG, value: &big %q}\n", strings.Repeat("x", 1<<20))
	for i := range refs {
		fmt.Fprintf(&b, "      - {name: V%d, value: *big}\n", i)
	}
	return b.Bytes()
}

// misindented is a spec of about size bytes in long env lines, with one
// mis-indented line near the end: the worst case for finding the line of
// a syntax error.
func misindented(size int) []byte {
	var b bytes.Buffer
	b.WriteString(header + "spec:\n  template:\n    image: demoapp:dev\n    env:\n")
	value := strings.Repeat("v", 4000)
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "      - {name: V%d, value: %s}\n", i, value)
	}
	b.WriteString("    port: 5000\n   stopGracePeriod: 5s\n")
	return b.Bytes()
}

// measure runs f once and returns its time and the bytes it allocated.
func measure(f func()) (time.Duration, uint64) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	f()
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	return took, after.TotalAlloc - before.TotalAlloc
}

func TestAliasBombIsRefusedWithBoundedMemory(t *testing.T) {
	data := aliasBomb(300)
	var docs []Document
	took, allocated := measure(func() { docs, _ = LoadDocuments("bomb.yaml", data) })
	t.Logf("%d byte file: refused in %v, %d MB allocated", len(data), took, allocated>>20)
	if len(docs) != 1 || docs[0].Spec != nil {
		t.Fatalf("alias bomb loaded: %+v", docs)
	}
	if err := docs[0].Err.Error(); !strings.Contains(err, "bomb.yaml:") || !strings.Contains(err, "spec.template.env[") ||
		!strings.Contains(err, "decodes to more than 4194304 bytes of values (aliases count each time they are used)") {
		t.Errorf("error %q, want the byte budget with its file, line and field", err)
	}
	// The file itself is 1 MB; a few copies of it are fine, 300 are not.
	if allocated > 64<<20 {
		t.Errorf("refusing the bomb allocated %d MB", allocated>>20)
	}
	// The same value used a few times is within the budget.
	docs, _ = LoadDocuments("ok.yaml", aliasBomb(2))
	if len(docs) != 1 || docs[0].Err != nil {
		t.Errorf("a 1 MB value used 3 times was refused: %v", docs[0].Err)
	}
}

func TestSyntaxErrorOfALargeFileIsFoundInLinearTime(t *testing.T) {
	for _, size := range []int{1 << 20, 3900 << 10} {
		data := misindented(size)
		lines := bytes.Count(data, []byte("\n"))
		var docs []Document
		took, allocated := measure(func() { docs, _ = LoadDocuments("big.yaml", data) })
		t.Logf("%d bytes, %d lines: located in %v, %d MB allocated", len(data), lines, took, allocated>>20)
		want := fmt.Sprintf("big.yaml:%d: YAML syntax error: did not find expected key", lines)
		if len(docs) != 1 || docs[0].Err == nil || docs[0].Err.Error() != want {
			t.Fatalf("got %v, want %s", docs[0].Err, want)
		}
		// A few parses of the file; the quadratic search took 8 GB on
		// 3.9 MB. Memory, not time, is asserted: the machine is shared.
		if limit := uint64(40 * len(data)); allocated > limit {
			t.Errorf("%d MB allocated for a %d byte file; want under %d MB", allocated>>20, len(data), limit>>20)
		}
	}
}

// TestLocateSyntaxErrorAgreesWithTheFullSearch checks the bounded search
// against the search over every prefix that it replaced, on every line of
// a spec broken in each of several ways.
func TestLocateSyntaxErrorAgreesWithTheFullSearch(t *testing.T) {
	base := strings.Split(strings.TrimSuffix(fullSpec, "\n"), "\n")
	breakers := map[string]func(string) string{
		"indent":        func(l string) string { return " " + l },
		"outdent":       func(l string) string { return strings.TrimPrefix(l, " ") },
		"tab":           func(l string) string { return "\t" + l },
		"open quote":    func(l string) string { return l + ` "x` },
		"open bracket":  func(l string) string { return l + " [" },
		"stray colon":   func(l string) string { return l + ": :" },
		"bad flow":      func(l string) string { return l + " {a: b" },
		"anchor twice":  func(l string) string { return l + " &a &b" },
		"unknown alias": func(l string) string { return l + " *nope" },
	}
	checked := 0
	for what, breakLine := range breakers {
		for i := range base {
			lines := append([]string(nil), base...)
			lines[i] = breakLine(lines[i])
			text := []byte(strings.Join(lines, "\n") + "\n")
			err := syntaxCheck(text)
			if err == nil {
				continue
			}
			m := yamlLineError.FindStringSubmatch(err.Error())
			if m == nil {
				continue
			}
			var reported int
			fmt.Sscan(m[1], &reported)
			want := fullSearch(text, reported, m[2])
			docs, _ := LoadDocuments("f.yaml", text)
			if len(docs) != 1 || docs[0].Err == nil {
				continue
			}
			got := AsErrorList(docs[0].Err)[0].Line
			if got != want {
				t.Errorf("%s on line %d: located on line %d, the full search says %d (%s)", what, i+1, got, want, m[2])
			}
			checked++
		}
	}
	if checked < 50 {
		t.Fatalf("only %d broken files checked", checked)
	}
}

// fullSearch is the search over every prefix, quadratic, for reference.
func fullSearch(text []byte, reported int, msg string) int {
	var ends []int
	for off := 0; off < len(text); {
		_, off = lineEnd(text, off)
		ends = append(ends, off)
	}
	for line := reported; line <= len(ends); line++ {
		if failsWith(text[:ends[line-1]], msg) {
			return line
		}
	}
	return reported
}

const fullSpec = header + `spec:
  replicas: 3
  dependsOn: [redis]
  template:
    image: demoapp:dev
    command: ["/demoapp"]
    env:
      - {name: REDIS_ADDR, value: "redis:6379"}
      - name: GREETING
        value: hello
    port: 5000
    healthCheck:
      command: ["/demoapp", "healthcheck"]
      interval: 2s
  strategy:
    maxSurge: 1
  loadBalancer:
    port: 8080
`

func BenchmarkLoadAliasBomb(b *testing.B) {
	data := aliasBomb(300)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		LoadDocuments("bomb.yaml", data)
	}
}

func BenchmarkLocateSyntaxErrorIn4MB(b *testing.B) {
	data := misindented(3900 << 10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		LoadDocuments("big.yaml", data)
	}
}

// TestUnicodeLineBreaksCountAsYAMLCountsThem: yaml.v3 breaks lines at NEL,
// LS and PS too, so a file written with them gets the same line numbers
// as the same file written with "\n".
func TestUnicodeLineBreaksCountAsYAMLCountsThem(t *testing.T) {
	files := []string{
		header + "spec:\n  template:\n    image: demoapp:dev\n   port: 5000\n",
		header + "spec:\n  replicas: -1\n  template:\n    image: demoapp:dev\n",
		header + "spec:\n  template: {image: demoapp:dev}\n---\n" + header + "spec:\n  replica: 2\n",
	}
	for _, file := range files {
		want, _ := LoadDocuments("f.yaml", []byte(file))
		for _, br := range []string{"\u0085", "\u2028", "\u2029", "\r\n", "\r"} {
			got, _ := LoadDocuments("f.yaml", []byte(strings.ReplaceAll(file, "\n", br)))
			if len(got) != len(want) {
				t.Fatalf("%q: %d documents, want %d", br, len(got), len(want))
			}
			for i := range want {
				if errText(got[i].Err) != errText(want[i].Err) || got[i].Line != want[i].Line {
					t.Errorf("%q, document %d: line %d, %v; want line %d, %v", br, i, got[i].Line, got[i].Err, want[i].Line, want[i].Err)
				}
			}
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
