// Command gen-fielddocs writes api/v1alpha1's field documentation from the
// doc comments of its types.go; `go generate ./api/...` runs it.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/scaler-dev/scaler/internal/fielddocs"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen-fielddocs:", err)
		os.Exit(1)
	}
}

// run reads types.go and writes zz_generated.fielddocs.go in the current
// directory (go generate runs in the package's), temp file then rename.
func run() error {
	const in, out = "types.go", "zz_generated.fielddocs.go"
	src, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	fields, err := fielddocs.Parse(in, src)
	if err != nil {
		return err
	}
	pkg := os.Getenv("GOPACKAGE") // set by go generate
	if pkg == "" {
		pkg = "v1alpha1"
	}
	code, err := fielddocs.Generate(pkg, "fieldDocs", in, fields)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(".", "."+out+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(code); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(".", out))
}
