package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blang/semver"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

const githubPackage = `{"name": "@pulumi/github", "version": "6.15.0", "pulumi": {"resource": true, "name": "github"}}`

// A program tree with the cases the scan must tell apart.
func pluginTree(t *testing.T) string {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"package.json": `{"name": "prog", "pulumi": {"resource": true}}`, // not in node_modules
		"node_modules/@pulumi/github/package.json":                githubPackage,
		"node_modules/@pulumi/pulumi/package.json":                `{"name": "@pulumi/pulumi", "version": "3.248.0"}`,
		"node_modules/@pulumi/random/package.json":                `{"name": "@pulumi/random", "version": "4.16.0", "pulumi": {"resource": true}}`,
		"node_modules/@acme/mender/package.json":                  `{"name": "@acme/mender", "version": "2.0.0", "pulumi": {"resource": true, "name": "mender", "version": "2.1.0", "server": "https://plugins.example.org/"}}`,
		"node_modules/acme-unnamed/package.json":                  `{"name": "acme-unnamed", "version": "1.0.0", "pulumi": {"resource": true}}`,
		"node_modules/left-pad/package.json":                      `{"name": "left-pad", "version": "1.3.0"}`,
		"node_modules/broken/package.json":                        `{"name": `,
		"node_modules/x/node_modules/@pulumi/github/package.json": githubPackage, // a second copy
		"node_modules/@pulumi/ext/package.json":                   `{"name": "@pulumi/ext", "version": "1.0.0", "pulumi": {"resource": true, "parameterization": {"name": "ext", "version": "1.0.0", "value": "AQI="}}}`,
		"src/node_modules/@pulumi/aws/package.json":               `{"name": "@pulumi/aws", "version": "7.0.0", "pulumi": {"resource": true}}`, // below the program
		// A policy pack's plugins are not the program's.
		"policy/PulumiPolicy.yaml":                        "runtime: nodejs\n",
		"policy/node_modules/@pulumi/azure/package.json":  `{"name": "@pulumi/azure", "version": "6.0.0", "pulumi": {"resource": true}}`,
		"elsewhere/node_modules/@pulumi/tls/package.json": `{"name": "@pulumi/tls", "version": "5.0.0", "pulumi": {"resource": true}}`,
		"local/probe/package.json":                        `{"name": "@acme/probe", "version": "0.3.0", "pulumi": {"resource": true, "name": "fleetprobe"}}`,
	})
	// A linked package (npm install of a folder), and a link that loops back into node_modules.
	if err := os.Symlink(filepath.Join(dir, "elsewhere", "node_modules", "@pulumi", "tls"), filepath.Join(dir, "node_modules", "@pulumi", "tls")); err != nil {
		t.Fatal(err)
	}
	// npm links a `file:` dependency, here a folder of the program read before node_modules.
	if err := os.Symlink(filepath.Join(dir, "local", "probe"), filepath.Join(dir, "node_modules", "probe")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "node_modules", "x"), filepath.Join(dir, "node_modules", "x", "node_modules", "loop")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func describePackages(packages []*pulumirpc.PackageDependency) string {
	var lines []string
	for _, p := range packages {
		line := p.Kind + " " + p.Name + " " + p.Version
		if p.Server != "" {
			line += " from " + p.Server
		}
		if p.Parameterization != nil {
			line += " parameterized " + p.Parameterization.Name + "@" + p.Parameterization.Version + " " + string(p.Parameterization.Value)
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func TestRequiredPackagesComeFromTheNodeModulesScan(t *testing.T) {
	dir := pluginTree(t)
	h, out := testHost(defaultGracePeriod)
	client := serve(t, h)
	resp, err := client.GetRequiredPackages(timeout(t, 30e9), &pulumirpc.GetRequiredPackagesRequest{Info: programInfo(t, dir, nil)})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"resource aws v7.0.0",
		"resource ext v1.0.0 parameterized ext@1.0.0 \x01\x02",
		"resource fleetprobe v0.3.0",
		"resource github v6.15.0",
		"resource mender v2.1.0 from https://plugins.example.org/",
		"resource random v4.16.0",
		"resource tls v5.0.0",
	}, "\n")
	if got := describePackages(resp.Packages); got != want {
		t.Fatalf("packages:\n%s\nwant:\n%s", got, want)
	}
	if out.String() != "" {
		t.Errorf("one SDK version, yet the host printed %q", out.String())
	}

	plugins, err := client.GetRequiredPlugins(timeout(t, 30e9), &pulumirpc.GetRequiredPluginsRequest{Info: programInfo(t, dir, nil)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range plugins.Plugins {
		names = append(names, p.Kind+" "+p.Name+" "+p.Version)
	}
	if got := strings.Join(names, ", "); got != "resource aws v7.0.0, resource ext v1.0.0, resource fleetprobe v0.3.0, resource github v6.15.0, resource mender v2.1.0, resource random v4.16.0, resource tls v5.0.0" {
		t.Fatalf("plugins: %s", got)
	}
}

func TestTheScanReportsWhatItSkips(t *testing.T) {
	scan := scanPlugins(pluginTree(t))
	var problems []string
	for _, p := range scan.problems {
		problems = append(problems, p.Error())
	}
	all := strings.Join(problems, "\n")
	for _, want := range []string{
		`acme-unnamed/package.json: the third-party plugin package "acme-unnamed" must name its plugin`,
		"broken/package.json: unexpected end of JSON input",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("problems:\n%s\nwant one containing %q", all, want)
		}
	}
	if len(problems) != 2 {
		t.Errorf("problems: %q", problems)
	}
}

func TestAProgramWithoutNodeModulesNeedsNoPlugins(t *testing.T) {
	h, _ := testHost(defaultGracePeriod)
	dir := writeFiles(t, t.TempDir(), map[string]string{"index.ts": ""})
	resp, err := serve(t, h).GetRequiredPackages(timeout(t, 30e9), &pulumirpc.GetRequiredPackagesRequest{Info: programInfo(t, dir, nil)})
	if err != nil || len(resp.Packages) != 0 {
		t.Fatalf("%v %v", resp, err)
	}
}

func TestIncompatibleSDKCopiesAreReported(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"node_modules/@pulumi/pulumi/package.json":                          `{"name": "@pulumi/pulumi", "version": "3.248.0"}`,
		"node_modules/@pulumi/old/node_modules/@pulumi/pulumi/package.json": `{"name": "@pulumi/pulumi", "version": "2.25.2"}`,
	})
	h, out := testHost(defaultGracePeriod)
	if _, err := serve(t, h).GetRequiredPackages(timeout(t, 30e9), &pulumirpc.GetRequiredPackagesRequest{Info: programInfo(t, dir, nil)}); err != nil {
		t.Fatal(err)
	}
	want := "Found incompatible versions of @pulumi/pulumi. Differing major versions are not supported.\n" +
		"  Version 3.248.0 referenced at " + filepath.Join(dir, "node_modules/@pulumi/pulumi/package.json") + "\n" +
		"  Version 2.25.2 referenced at " + filepath.Join(dir, "node_modules/@pulumi/old/node_modules/@pulumi/pulumi/package.json") + "\n"
	if out.String() != want {
		t.Fatalf("printed:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestSDKCompatibility(t *testing.T) {
	cases := []struct {
		a, b string
		ok   bool
	}{
		{"3.248.0", "3.1.0", true},
		{"3.248.0", "2.25.2", false},
		{"4.0.0", "3.248.0", false},
		{"1.14.0", "2.25.2", true},
		{"0.17.28", "1.0.0", true},
		{"0.17.28", "2.0.0", false},
		{"0.16.0", "0.17.0", false},
		{"0.17.1", "0.17.9", true},
		{"0.16.0", "1.0.0", false},
	}
	for _, c := range cases {
		ok, why := compatibleSDKs(semver.MustParse(c.a), semver.MustParse(c.b))
		back, _ := compatibleSDKs(semver.MustParse(c.b), semver.MustParse(c.a))
		if ok != c.ok || back != c.ok {
			t.Errorf("%s with %s: %v/%v (%s), want %v", c.a, c.b, ok, back, why, c.ok)
		}
	}
	var w bytes.Buffer
	warnIncompatibleSDKs(&w, map[string]semver.Version{"a": semver.MustParse("3.1.0"), "b": semver.MustParse("3.248.0")})
	if w.Len() != 0 {
		t.Errorf("compatible copies: %q", w.String())
	}
}
