package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// A package-lock.json (version 3) with a direct dependency, a dev dependency, their own
// dependencies (one nested, in a second version), an alias, and a workspace link.
const lockV3 = `{
  "name": "prog", "lockfileVersion": 3,
  "packages": {
    "": {"name": "prog", "dependencies": {"@pulumi/pulumi": "3.248.0", "pad": "npm:left-pad@1.3.0"}, "devDependencies": {"jest": "30.5.2"}},
    "node_modules/@pulumi/pulumi": {"version": "3.248.0", "dependencies": {"semver": "^7"}},
    "node_modules/semver": {"version": "7.7.3"},
    "node_modules/jest": {"version": "30.5.2", "dev": true},
    "node_modules/jest/node_modules/semver": {"version": "6.3.1", "dev": true},
    "node_modules/pad": {"name": "left-pad", "version": "1.3.0"},
    "node_modules/tool": {"resolved": "packages/tool", "link": true},
    "packages/tool": {"name": "tool", "version": "0.1.0"}
  }
}`

const manifestJSON = `{"name": "prog", "dependencies": {"@pulumi/pulumi": "3.248.0", "pad": "npm:left-pad@1.3.0"}, "devDependencies": {"jest": "30.5.2"}}`

func dependencyList(deps []*pulumirpc.DependencyInfo) string {
	var names []string
	for _, d := range deps {
		names = append(names, d.Name+"@"+d.Version)
	}
	return strings.Join(names, " ")
}

func TestProgramDependenciesComeFromTheLockFile(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"package.json": manifestJSON, "package-lock.json": lockV3})
	client := serve(t, newLanguageHost(""))
	get := func(transitive bool, programDir string) string {
		t.Helper()
		resp, err := client.GetProgramDependencies(timeout(t, 30e9), &pulumirpc.GetProgramDependenciesRequest{
			Info: programInfo(t, programDir, nil), TransitiveDependencies: transitive,
		})
		if err != nil {
			t.Fatal(err)
		}
		return dependencyList(resp.Dependencies)
	}
	// Direct: what package.json names; the alias is listed under the package it installs, the
	// linked workspace folder with its own version.
	if got := get(false, dir); got != "@pulumi/pulumi@3.248.0 jest@30.5.2 left-pad@1.3.0" {
		t.Errorf("direct: %s", got)
	}
	if got := get(true, dir); got != "@pulumi/pulumi@3.248.0 jest@30.5.2 left-pad@1.3.0 semver@6.3.1 semver@7.7.3 tool@0.1.0" {
		t.Errorf("transitive: %s", got)
	}
	// A program in a subfolder uses the lock file above it (a workspace keeps one at its root).
	sub := filepath.Join(dir, "infra")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := get(false, sub); got != "@pulumi/pulumi@3.248.0 jest@30.5.2 left-pad@1.3.0" {
		t.Errorf("from a subfolder: %s", got)
	}
}

func TestProgramDependenciesFromAVersion1LockFile(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"package.json":      `{"dependencies": {"a": "1"}}`,
		"package-lock.json": `{"lockfileVersion": 1, "dependencies": {"a": {"version": "1.0.0", "dependencies": {"b": {"version": "2.0.0"}}}, "c": {"version": "3.0.0"}}}`,
	})
	direct, err := lockedDependencies(dir, false)
	if err != nil || len(direct) != 1 || direct[0] != (dependency{"a", "1.0.0"}) {
		t.Errorf("direct: %v %v", direct, err)
	}
	all, err := lockedDependencies(dir, true)
	if err != nil || len(all) != 3 {
		t.Errorf("transitive: %v %v", all, err)
	}
}

func TestProgramDependenciesWithoutALockFile(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"package.json": "{}"})
	_, err := serve(t, newLanguageHost("")).GetProgramDependencies(timeout(t, 30e9), &pulumirpc.GetProgramDependenciesRequest{Info: programInfo(t, dir, nil)})
	if err == nil || !strings.Contains(err.Error(), "failed to get node dependencies: no package-lock.json found in "+dir+" or above it: run `npm install` to create one") {
		t.Fatalf("%v", err)
	}
}

// fakeNpm puts an npm first on PATH that says what it was asked, writes a line to stderr,
// creates node_modules and exits with the given code.
func fakeNpm(t *testing.T, code int) {
	t.Helper()
	bin := writeFiles(t, t.TempDir(), map[string]string{"npm": "#!/bin/sh\n" +
		"echo \"fake npm $* in $(pwd)\"\n" +
		"echo 'npm warn something to say' >&2\n" +
		"mkdir -p node_modules\n" +
		"exit " + string(rune('0'+code)) + "\n"})
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// install runs InstallDependencies and returns what it streamed to stdout and to stderr.
func install(t *testing.T, dir string) (string, string, error) {
	t.Helper()
	stream, err := serve(t, newLanguageHost("")).InstallDependencies(timeout(t, 60e9), &pulumirpc.InstallDependenciesRequest{Info: programInfo(t, dir, nil)})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			return stdout.String(), stderr.String(), nil
		}
		if err != nil {
			return stdout.String(), stderr.String(), err
		}
		stdout.Write(msg.Stdout)
		stderr.Write(msg.Stderr)
	}
}

func TestInstallDependenciesStreamsNpmCiOnAFreshClone(t *testing.T) {
	fakeNpm(t, 0)
	dir := writeFiles(t, t.TempDir(), map[string]string{"package.json": manifestJSON, "package-lock.json": lockV3})
	stdout, stderr, err := install(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := "Installing dependencies...\n\n$ npm ci --loglevel=error\nfake npm ci --loglevel=error in " + dir + "\nFinished installing dependencies\n\n"
	if stdout != want {
		t.Errorf("stdout:\n%q\nwant:\n%q", stdout, want)
	}
	if stderr != "npm warn something to say\n" {
		t.Errorf("stderr: %q", stderr)
	}
}

func TestInstallDependenciesRunsNpmInstallOverAnInstalledTree(t *testing.T) {
	fakeNpm(t, 0)
	dir := writeFiles(t, t.TempDir(), map[string]string{"package.json": manifestJSON, "package-lock.json": lockV3, "node_modules/.package-lock.json": lockV3})
	stdout, _, err := install(t, dir)
	if err != nil || !strings.Contains(stdout, "\nfake npm install --loglevel=error in "+dir+"\n") {
		t.Fatalf("%q %v", stdout, err)
	}
	// No lock file: npm install makes one.
	bare := writeFiles(t, t.TempDir(), map[string]string{"package.json": manifestJSON})
	if stdout, _, err := install(t, bare); err != nil || !strings.Contains(stdout, "fake npm install --loglevel=error") {
		t.Fatalf("%q %v", stdout, err)
	}
}

func TestInstallDependenciesInstallsAtTheWorkspaceRoot(t *testing.T) {
	fakeNpm(t, 0)
	root := writeFiles(t, t.TempDir(), map[string]string{
		"package.json":                `{"name": "mono", "workspaces": ["packages/*"]}`,
		"packages/infra/package.json": `{"name": "infra"}`,
	})
	stdout, _, err := install(t, filepath.Join(root, "packages", "infra"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "Detected workspace root at "+root+"\n") || !strings.Contains(stdout, "fake npm install --loglevel=error in "+root+"\n") {
		t.Fatalf("%q", stdout)
	}
}

func TestAFailedInstallFailsTheRequest(t *testing.T) {
	fakeNpm(t, 1)
	dir := writeFiles(t, t.TempDir(), map[string]string{"package.json": manifestJSON, "package-lock.json": lockV3})
	stdout, _, err := install(t, dir)
	if err == nil || !strings.Contains(err.Error(), "npm ci in "+dir+" failed: exit status 1") {
		t.Fatalf("%v", err)
	}
	if strings.Contains(stdout, "Finished") {
		t.Errorf("stdout: %q", stdout)
	}
}

func TestInstallDependenciesRefusesAYarnProject(t *testing.T) {
	fakeNpm(t, 0)
	dir := writeFiles(t, t.TempDir(), map[string]string{"package.json": manifestJSON, "yarn.lock": ""})
	stdout, _, err := install(t, dir)
	if err == nil || !strings.Contains(err.Error(), "has yarn.lock, so it is a yarn project") || strings.Contains(stdout, "fake npm") {
		t.Fatalf("%q %v", stdout, err)
	}
}

func TestAboutReportsNodeAndNpm(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"package.json": manifestJSON})
	resp, err := serve(t, newLanguageHost("")).About(timeout(t, 60e9), &pulumirpc.AboutRequest{Info: programInfo(t, dir, nil)})
	if err != nil {
		t.Fatal(err)
	}
	node, _ := exec.LookPath("node")
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	npm, err := exec.Command("npm", "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if resp.Executable != node || resp.Version != strings.TrimSuffix(string(out), "\n") || strings.ContainsAny(resp.Version, "\n ") {
		t.Errorf("executable %q version %q", resp.Executable, resp.Version)
	}
	if resp.Metadata["packagemanager"] != "npm" || resp.Metadata["packagemanagerVersion"] != strings.TrimSpace(string(npm)) {
		t.Errorf("metadata %v", resp.Metadata)
	}

	_, err = serve(t, newLanguageHost("")).About(timeout(t, 60e9), &pulumirpc.AboutRequest{Info: programInfo(t, dir, map[string]any{"packagemanager": "pnpm"})})
	if err == nil || !strings.Contains(err.Error(), `failed to parse options: packagemanager "pnpm" is not supported`) {
		t.Errorf("pnpm: %v", err)
	}
}
