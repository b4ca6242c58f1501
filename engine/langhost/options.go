package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/shlex"
)

// runtimeOptions are the `runtime.options` of a nodejs project in Pulumi.yaml.
type runtimeOptions struct {
	// Run TypeScript sources through ts-node (the default).
	typescript bool
	// The tsconfig.json that ts-node uses, relative to the program; empty: ts-node's own lookup.
	tsconfig string
	// Extra arguments for node, before the program runner (e.g. --max-old-space-size=4096).
	nodeargs []string
}

// Package managers the Pulumi.yaml option names. This host drives npm only; the others are
// recognised so that the refusal can say what to do instead of calling the value unknown.
var otherPackageManagers = map[string]bool{"yarn": true, "pnpm": true, "bun": true}

// parseRuntimeOptions reads the options as the official host does: each has one type and a
// value of another type is an error, never a silent default.
func parseRuntimeOptions(options map[string]any) (runtimeOptions, error) {
	opts := runtimeOptions{typescript: true}
	if v, ok := options["typescript"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return opts, fmt.Errorf("typescript option must be a boolean, got %s", describe(v))
		}
		opts.typescript = b
	}
	if v, ok := options["tsconfig"]; ok {
		s, isString := v.(string)
		if !isString {
			return opts, fmt.Errorf("tsconfig option must be a string, got %s", describe(v))
		}
		opts.tsconfig = s
	}
	if v, ok := options["nodeargs"]; ok {
		s, isString := v.(string)
		if !isString {
			return opts, fmt.Errorf("nodeargs option must be a string, got %s", describe(v))
		}
		args, err := shlex.Split(s)
		if err != nil {
			return opts, fmt.Errorf("nodeargs option %q cannot be split into arguments: %w", s, err)
		}
		opts.nodeargs = args
	}
	if v, ok := options["packagemanager"]; ok {
		s, isString := v.(string)
		if !isString {
			return opts, fmt.Errorf("packagemanager option must be a string, got %s", describe(v))
		}
		switch {
		case s == "npm" || s == "auto":
		case otherPackageManagers[s]:
			return opts, fmt.Errorf("packagemanager %q is not supported by this language host, which drives npm only "+
				"(engine/langhost); set `packagemanager: npm` in Pulumi.yaml, or run the official pulumi-language-nodejs", s)
		default:
			return opts, fmt.Errorf("packagemanager option must be one of auto, npm, yarn, pnpm or bun, got %q", s)
		}
	}
	return opts, nil
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprintf("the boolean %v", v)
	case float64:
		return fmt.Sprintf("the number %v", v)
	case string:
		return fmt.Sprintf("the string %q", v)
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// foreignLockFiles are the lock files of package managers other than npm. With
// `packagemanager: auto` (or none) the official host would pick that package manager; this
// one refuses rather than install with npm over another tool's lock.
var foreignLockFiles = []struct{ file, manager string }{
	{"yarn.lock", "yarn"},
	{"pnpm-lock.yaml", "pnpm"},
	{"bun.lock", "bun"},
	{"bun.lockb", "bun"},
}

// checkNpmProject fails when the program would be handled by another package manager under
// `auto`: a foreign lock file in the program directory, PULUMI_PREFER_YARN, or a package.yaml.
func checkNpmProject(programDir string) error {
	for _, lock := range foreignLockFiles {
		if _, err := os.Stat(filepath.Join(programDir, lock.file)); err == nil {
			return fmt.Errorf("%s has %s, so it is a %s project; this language host drives npm only (engine/langhost): "+
				"remove %s and use npm, or run the official pulumi-language-nodejs",
				programDir, lock.file, lock.manager, lock.file)
		}
	}
	if v := strings.ToLower(os.Getenv("PULUMI_PREFER_YARN")); v == "1" || v == "true" {
		return errors.New("PULUMI_PREFER_YARN is set, but this language host drives npm only (engine/langhost): unset it")
	}
	if _, err := os.Stat(filepath.Join(programDir, "package.yaml")); err == nil {
		return fmt.Errorf("%s has package.yaml, which only pnpm reads; this language host drives npm only "+
			"(engine/langhost): use package.json", programDir)
	}
	return nil
}
