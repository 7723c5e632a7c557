package junit

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// XSD is junit.xsd: the JUnit dialect Write produces, in the shape Jenkins
// and the GitHub report actions read. Tests validate every writer's output
// against it, so a change that would make CI UIs drop our results fails here.
//
//go:embed junit.xsd
var XSD []byte

// ErrNoValidator means xmllint is not installed. No XSD validator is
// available as a pure-Go module on the proxy, and libxml2's own tool is the
// reference implementation, so validation shells out to it.
var ErrNoValidator = errors.New("xmllint not found: apt-get install libxml2-utils")

// ValidateXSD validates the JUnit file at path against XSD with xmllint
// (--nonet: the schema has no imports, nothing is fetched).
func ValidateXSD(ctx context.Context, path string) error {
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		return ErrNoValidator
	}
	dir, err := os.MkdirTemp("", "junit-xsd-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	xsd := filepath.Join(dir, "junit.xsd")
	if err := os.WriteFile(xsd, XSD, 0o644); err != nil {
		return err
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--noout", "--nonet", "--schema", xsd, path)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s does not match junit.xsd: %v\n%s", path, err, strings.TrimSpace(out.String()))
	}
	return nil
}
