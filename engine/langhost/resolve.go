package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// The program runner of @pulumi/pulumi. PULUMI_LANGUAGE_NODEJS_RUN_PATH overrides it, as for
// the official host (tests use it to run a stand-in).
const defaultRunModule = "@pulumi/pulumi/cmd/run"

// resolveScript asks node itself where a module is, from the program's directory: the same
// resolution the program's own require() uses (node_modules upwards, NODE_PATH, package
// "exports"), so the runner is the @pulumi/pulumi the program will load. The module name is
// passed as an argument, never spliced into the script.
const resolveScript = `const mod = process.argv[1];
try {
  console.log(require.resolve(mod));
} catch (error) {
  if (error.code === 'MODULE_NOT_FOUND') {
    console.error('It looks like the Pulumi SDK has not been installed. Have you run ' + process.argv[2] + '?');
  } else {
    console.error(error.message);
  }
  process.exit(1);
}`

// resolveModule returns the file node loads for mod from programDir. installHint is the
// command named in the message when the module is missing.
func resolveModule(ctx context.Context, node, programDir, mod, installHint string) (string, error) {
	// One line: some node shims (Volta on Windows) mangle arguments with newlines.
	script := strings.ReplaceAll(resolveScript, "\n", " ")
	cmd := exec.CommandContext(ctx, node, "-e", script, mod, installHint)
	cmd.Dir = programDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) && stderr.Len() > 0 {
			return "", errors.New(strings.TrimSpace(stderr.String()))
		}
		return "", fmt.Errorf("could not ask node where %s is: %w", mod, err)
	}
	return strings.TrimSpace(string(out)), nil
}
