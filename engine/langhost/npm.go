package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/blang/semver"
)

// findUp returns the nearest file of that name in dir or one of its parents.
func findUp(dir, name string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		candidate := filepath.Join(dir, name)
		if _, err := os.Stat(candidate); err == nil {
			return candidate, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

type dependency struct{ name, version string }

// lockedDependencies lists the packages package-lock.json (the nearest one above programDir:
// a workspace's lock sits at its root) records: all of them when transitive, else those the
// package.json beside the lock names in dependencies or devDependencies.
func lockedDependencies(programDir string, transitive bool) ([]dependency, error) {
	lockPath, err := findUp(programDir, "package-lock.json")
	if err != nil {
		return nil, fmt.Errorf("no package-lock.json found in %s or above it: run `npm install` to create one", programDir)
	}
	data, err := os.ReadFile(lockPath)
	if err != nil {
		return nil, err
	}
	var lock struct {
		// Lock file versions 2 and 3: every installed folder by its path ("node_modules/a",
		// "node_modules/a/node_modules/b"); "" is the project itself.
		Packages map[string]lockedPackage `json:"packages"`
		// Lock file version 1: a tree by package name.
		Dependencies map[string]lockV1 `json:"dependencies"`
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		return nil, fmt.Errorf("%s: %w", lockPath, err)
	}

	type entry struct {
		dependency
		folder   string // the name package.json uses, that of the folder in node_modules
		topLevel bool
	}
	var all []entry
	if lock.Packages != nil {
		for path, p := range lock.Packages {
			at := strings.LastIndex(path, "node_modules/")
			if at < 0 {
				continue // the project itself, or a folder of it that a link points to
			}
			if p.Link {
				// A `file:` dependency or a workspace: the folder's own entry has the version.
				p = lock.Packages[p.Resolved]
			}
			folder := path[at+len("node_modules/"):]
			name := folder
			if p.Name != "" {
				name = p.Name // an alias ("x": "npm:y@1") installs y under the folder x
			}
			// Top level: installed right in the project's node_modules, where Node resolves it first.
			all = append(all, entry{dependency{name, p.Version}, folder, at == 0})
		}
	} else {
		var visit func(deps map[string]lockV1, top bool)
		visit = func(deps map[string]lockV1, top bool) {
			for name, d := range deps {
				all = append(all, entry{dependency{name, d.Version}, name, top})
				visit(d.Dependencies, false)
			}
		}
		visit(lock.Dependencies, true)
	}

	var direct map[string]bool
	if !transitive {
		var m manifest
		manifestPath := filepath.Join(filepath.Dir(lockPath), "package.json")
		data, err := os.ReadFile(manifestPath)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", manifestPath, err)
		}
		direct = map[string]bool{}
		for name := range m.Dependencies {
			direct[name] = true
		}
		for name := range m.DevDependencies {
			direct[name] = true
		}
	}

	seen := map[dependency]bool{}
	var out []dependency
	for _, e := range all {
		if direct != nil && (!e.topLevel || !direct[e.folder]) {
			continue
		}
		if !seen[e.dependency] {
			seen[e.dependency] = true
			out = append(out, e.dependency)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].name != out[j].name {
			return out[i].name < out[j].name
		}
		return out[i].version < out[j].version
	})
	return out, nil
}

type lockedPackage struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Link     bool   `json:"link"`
	Resolved string `json:"resolved"`
}

type lockV1 struct {
	Version      string            `json:"version"`
	Dependencies map[string]lockV1 `json:"dependencies"`
}

func lookPathNpm() (string, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("could not find npm on the $PATH; npm is installed with Node.js (https://nodejs.org/): %w", err)
	}
	return npm, nil
}

// npmVersion is `npm --version`, checked to be a version.
func npmVersion(ctx context.Context, npm string) (string, error) {
	out, err := exec.CommandContext(ctx, npm, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("npm --version: %w", err)
	}
	v := strings.TrimSpace(string(out))
	if _, err := semver.ParseTolerant(v); err != nil {
		return "", fmt.Errorf("npm --version printed %q: %w", v, err)
	}
	return v, nil
}

// installCommand is the npm command that installs a project's dependencies: `npm ci` when the
// project has a lock file and nothing was installed from it yet (a fresh clone gets exactly
// the locked tree, as scripts/setup does), otherwise `npm install`, which keeps what is
// installed and brings it in line with package.json.
func installCommand(dir string) []string {
	_, lockErr := os.Stat(filepath.Join(dir, "package-lock.json"))
	_, installedErr := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if lockErr == nil && errors.Is(installedErr, os.ErrNotExist) {
		return []string{"ci", "--loglevel=error"}
	}
	return []string{"install", "--loglevel=error"}
}

// workspaceRoot is the root of the npm workspace programDir belongs to: the nearest folder
// above it whose package.json lists it under "workspaces"; programDir itself otherwise.
func workspaceRoot(programDir string) (string, error) {
	dir, err := filepath.Abs(programDir)
	if err != nil {
		return "", err
	}
	for parent := filepath.Dir(dir); parent != filepath.Dir(parent); parent = filepath.Dir(parent) {
		data, err := os.ReadFile(filepath.Join(parent, "package.json"))
		if err != nil {
			continue
		}
		var m struct {
			Workspaces json.RawMessage `json:"workspaces"`
		}
		if json.Unmarshal(data, &m) != nil || len(m.Workspaces) == 0 {
			continue
		}
		var globs []string
		if json.Unmarshal(m.Workspaces, &globs) != nil {
			var object struct {
				Packages []string `json:"packages"`
			}
			if json.Unmarshal(m.Workspaces, &object) != nil {
				continue
			}
			globs = object.Packages
		}
		for _, glob := range globs {
			matches, err := filepath.Glob(filepath.Join(parent, glob))
			if err != nil {
				return "", fmt.Errorf("%s: workspace pattern %q: %w", filepath.Join(parent, "package.json"), glob, err)
			}
			for _, m := range matches {
				if filepath.Clean(m) == dir {
					return parent, nil
				}
			}
		}
	}
	return dir, nil
}

// runNpmInstall installs the dependencies of the project in dir, its output going to stdout
// and stderr as it comes.
func runNpmInstall(ctx context.Context, dir string, stdout, stderr io.Writer) error {
	npm, err := lookPathNpm()
	if err != nil {
		return err
	}
	args := installCommand(dir)
	fmt.Fprintf(stdout, "$ npm %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, npm, args...)
	cmd.Dir = dir
	// Wrapped, so that exec copies the output through a pipe: npm may set its stdio to
	// non-blocking mode, which a shared file descriptor would pass on to ours.
	cmd.Stdout = struct{ io.Writer }{stdout}
	cmd.Stderr = struct{ io.Writer }{stderr}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm %s in %s failed: %w", args[0], dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		return fmt.Errorf("npm %s reported success, but %s has no node_modules", args[0], dir)
	}
	return nil
}
