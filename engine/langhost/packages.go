package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// manifest is the part of a package.json this host reads.
type manifest struct {
	Name            string                  `json:"name"`
	Version         string                  `json:"version"`
	Pulumi          plugin.PulumiPluginJSON `json:"pulumi"`
	Dependencies    map[string]string       `json:"dependencies"`
	DevDependencies map[string]string       `json:"devDependencies"`
}

// pluginScan is the outcome of a walk of a program's node_modules.
type pluginScan struct {
	packages []*pulumirpc.PackageDependency
	// Where each installed copy of @pulumi/pulumi is, and its version.
	sdkVersions map[string]semver.Version
	// Unreadable folders and package.json files, and packages whose plugin cannot be named.
	// The walk goes on past them, as the official host's does: they are logged, not fatal.
	problems []error
}

// scanPlugins finds the packages installed under programDir that declare a Pulumi resource
// plugin (`"pulumi": {"resource": true}` in their package.json, as @pulumi/github does). It
// walks every folder below programDir, following symbolic links once, and reads package.json
// files inside node_modules only; policy packs are skipped, their plugins are not the program's.
func scanPlugins(programDir string) pluginScan {
	scan := pluginScan{sdkVersions: map[string]semver.Version{}}
	// A folder is read once outside node_modules and once inside: npm links a `file:`
	// dependency (often a folder of the project itself) into node_modules, and only there is
	// its package.json a package's. The links cannot loop more than that.
	type visit struct {
		dir           string
		inNodeModules bool
	}
	seen := map[visit]bool{}
	var walk func(dir string, inNodeModules bool)
	walk = func(dir string, inNodeModules bool) {
		if seen[visit{dir, inNodeModules}] {
			return
		}
		seen[visit{dir, inNodeModules}] = true
		entries, err := os.ReadDir(dir)
		if err != nil {
			scan.problems = append(scan.problems, fmt.Errorf("reading %s: %w", dir, err))
			return
		}
		below := inNodeModules || filepath.Base(dir) == "node_modules"
		for _, entry := range entries {
			path := filepath.Join(dir, entry.Name())
			isDir := entry.IsDir()
			if entry.Type()&fs.ModeSymlink != 0 {
				target, err := filepath.EvalSymlinks(path)
				if err != nil {
					scan.problems = append(scan.problems, fmt.Errorf("resolving the link %s: %w", path, err))
					continue
				}
				info, err := os.Stat(target)
				if err != nil {
					scan.problems = append(scan.problems, err)
					continue
				}
				path, isDir = target, info.IsDir()
			}
			switch {
			case isDir:
				pack, err := workspace.DetectPolicyPackPathAt(path)
				if err != nil {
					scan.problems = append(scan.problems, err)
					continue
				}
				if pack == "" {
					walk(path, below)
				}
			case inNodeModules && entry.Name() == "package.json":
				scan.readManifest(path)
			}
		}
	}
	root, err := filepath.Abs(programDir)
	if err != nil {
		scan.problems = append(scan.problems, err)
		return scan
	}
	if resolved, err := filepath.EvalSymlinks(root); err == nil {
		root = resolved
	}
	walk(root, false)
	return scan
}

func (scan *pluginScan) readManifest(path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		scan.problems = append(scan.problems, err)
		return
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		scan.problems = append(scan.problems, fmt.Errorf("%s: %w", path, err))
		return
	}
	if m.Name == "@pulumi/pulumi" {
		v, err := semver.Parse(m.Version)
		if err != nil {
			scan.problems = append(scan.problems, fmt.Errorf("%s: version %q: %w", path, m.Version, err))
		} else {
			scan.sdkVersions[path] = v
		}
	}
	if !m.Pulumi.Resource {
		return
	}
	dep, err := pluginOf(m)
	if err != nil {
		scan.problems = append(scan.problems, fmt.Errorf("%s: %w", path, err))
		return
	}
	scan.packages = append(scan.packages, dep)
}

// pluginOf names the resource plugin of a package: the "pulumi" section's name and version
// when set, else the package's own (an @pulumi/ package's plugin drops the scope; any other
// package must name its plugin). Plugin versions carry a leading v.
func pluginOf(m manifest) (*pulumirpc.PackageDependency, error) {
	name := m.Pulumi.Name
	if name == "" {
		switch {
		case m.Name == "":
			return nil, errors.New(`missing expected "name" property`)
		case strings.HasPrefix(m.Name, "@pulumi/"):
			name = strings.TrimPrefix(m.Name, "@pulumi/")
		default:
			return nil, fmt.Errorf(`the third-party plugin package %q must name its plugin: "pulumi": {"name": "<plugin>"} in package.json`, m.Name)
		}
	}
	version := m.Pulumi.Version
	if version == "" {
		version = m.Version
	}
	if version == "" {
		return nil, errors.New(`missing expected "version" property`)
	}
	if !strings.HasPrefix(version, "v") {
		version = "v" + version
	}
	return &pulumirpc.PackageDependency{
		Name:             name,
		Kind:             "resource",
		Version:          version,
		Server:           m.Pulumi.Server,
		Parameterization: parameterization(m.Pulumi.Parameterization),
		Extension:        parameterization(m.Pulumi.ExtensionParameterization),
	}, nil
}

func parameterization(p *plugin.PulumiParameterizationJSON) *pulumirpc.PackageParameterization {
	if p == nil {
		return nil
	}
	return &pulumirpc.PackageParameterization{Name: p.Name, Version: p.Version, Value: p.Value}
}

// uniquePackages drops repeated copies of the same plugin (a package installed at two places
// of the tree), keeping the first, in a stable order.
func uniquePackages(packages []*pulumirpc.PackageDependency) []*pulumirpc.PackageDependency {
	key := func(p *pulumirpc.PackageDependency) string {
		k := p.Name + "@" + p.Version + " " + p.Server
		if p.Parameterization != nil {
			k += " " + p.Parameterization.Name + "@" + p.Parameterization.Version
		}
		return k
	}
	seen := map[string]bool{}
	out := make([]*pulumirpc.PackageDependency, 0, len(packages))
	for _, p := range packages {
		if !seen[key(p)] {
			seen[key(p)] = true
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// warnIncompatibleSDKs tells the user when two installed copies of @pulumi/pulumi cannot work
// together (a program and a provider SDK that pulls in an SDK of another major version).
func warnIncompatibleSDKs(w io.Writer, versions map[string]semver.Version) {
	paths := make([]string, 0, len(versions))
	for p := range versions {
		paths = append(paths, p)
	}
	// The program's own copy (the shallowest) first, the others compared with it.
	sort.Slice(paths, func(i, j int) bool {
		di, dj := strings.Count(paths[i], "node_modules"), strings.Count(paths[j], "node_modules")
		if di != dj {
			return di < dj
		}
		return paths[i] < paths[j]
	})
	for _, p := range paths[min(1, len(paths)):] {
		first := paths[0]
		if ok, why := compatibleSDKs(versions[first], versions[p]); !ok {
			fmt.Fprintf(w, "Found incompatible versions of @pulumi/pulumi. %s\n  Version %s referenced at %s\n  Version %s referenced at %s\n",
				why, versions[first], first, versions[p], p)
			return
		}
	}
}

// compatibleSDKs is the rule the engine applies to SDK copies: the same major version from
// 3 on; 1.x and 2.x mix; 0.x only with the same minor (and 0.17 with 1.x, its successor).
func compatibleSDKs(a, b semver.Version) (bool, string) {
	const differentMajor = "Differing major versions are not supported."
	const differentMinor = "Differing major or minor versions are not supported."
	switch {
	case a.Major == 0 && b.Major == 0:
		if a.Minor != b.Minor {
			return false, differentMinor
		}
		return true, ""
	case a.Major > 2 || b.Major > 2:
		if a.Major != b.Major {
			return false, differentMajor
		}
		return true, ""
	case a.Major >= 1 && b.Major >= 1:
		return true, ""
	case (a.Major == 0 && a.Minor == 17 && b.Major == 1) || (b.Major == 0 && b.Minor == 17 && a.Major == 1):
		return true, ""
	default:
		return false, differentMinor
	}
}
