package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
)

// A stand-in for @pulumi/pulumi/cmd/run: it reports how it was started to $RUN_REPORT, then
// exits with $RUN_EXIT, waits until it is signalled ("wait"), or ignores SIGINT ("stubborn").
const fakeRunner = `const fs = require('fs');
fs.writeFileSync(process.env.RUN_REPORT, JSON.stringify({
  pid: process.pid, script: process.argv[1], argv: process.argv.slice(2), execArgv: process.execArgv, cwd: process.cwd(),
  typescript: process.env.PULUMI_NODEJS_TYPESCRIPT ?? null, tsconfig: process.env.PULUMI_NODEJS_TSCONFIG_PATH ?? null,
  config: JSON.parse(process.env.PULUMI_CONFIG), secretKeys: JSON.parse(process.env.PULUMI_CONFIG_SECRET_KEYS),
}));
switch (process.env.RUN_MODE) {
  case 'wait': setInterval(() => undefined, 1000); break;
  case 'stubborn': process.on('SIGINT', () => undefined); setInterval(() => undefined, 1000); break;
  default: process.exit(Number(process.env.RUN_EXIT ?? 0));
}
`

type runReport struct {
	Pid        int               `json:"pid"`
	Script     string            `json:"script"`
	Argv       []string          `json:"argv"`
	ExecArgv   []string          `json:"execArgv"`
	Cwd        string            `json:"cwd"`
	Typescript *string           `json:"typescript"`
	Tsconfig   *string           `json:"tsconfig"`
	Config     map[string]string `json:"config"`
	SecretKeys []string          `json:"secretKeys"`
}

// runnerProject is a project folder whose node_modules holds the stand-in runner, used as
// PULUMI_LANGUAGE_NODEJS_RUN_PATH; it returns the folder and the report's path.
func runnerProject(t *testing.T, mode string) (string, string) {
	t.Helper()
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"package.json":                           `{"name": "prog"}`,
		"node_modules/fake-sdk/package.json":     `{"name": "fake-sdk", "version": "1.0.0"}`,
		"node_modules/fake-sdk/cmd/run/index.js": fakeRunner,
	})
	report := filepath.Join(t.TempDir(), "report.json")
	t.Setenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH", "fake-sdk/cmd/run")
	t.Setenv("RUN_REPORT", report)
	t.Setenv("RUN_MODE", mode)
	t.Setenv("NODE_PATH", "")
	return dir, report
}

func readReport(t *testing.T, path string) runReport {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r runReport
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRunStartsTheProgramAsTheOfficialHostDoes(t *testing.T) {
	dir, report := runnerProject(t, "exit")
	client := serve(t, newLanguageHost(""))
	if _, err := client.Handshake(timeout(t, 10e9), &pulumirpc.LanguageHandshakeRequest{EngineAddress: "127.0.0.1:2"}); err != nil {
		t.Fatal(err)
	}
	resp, err := client.Run(timeout(t, 60e9), &pulumirpc.RunRequest{
		Info:             programInfo(t, dir, map[string]any{"typescript": false, "tsconfig": "tsconfig.build.json", "nodeargs": "--no-warnings --max-old-space-size=123"}),
		MonitorAddress:   "127.0.0.1:1",
		Organization:     "acme",
		Project:          "fleet",
		Stack:            "canary",
		DryRun:           true,
		Parallel:         4,
		Config:           map[string]string{"fleet:branch": "canary", "mender:token": "secret"},
		ConfigSecretKeys: []string{"mender:token"},
		Args:             []string{"extra"},
	})
	if err != nil || resp.Error != "" || resp.Bail {
		t.Fatalf("%v %v", resp, err)
	}
	r := readReport(t, report)
	if r.Script != filepath.Join(dir, "node_modules/fake-sdk/cmd/run/index.js") || r.Cwd != dir {
		t.Errorf("script %s in %s", r.Script, r.Cwd)
	}
	if want := []string{"--no-warnings", "--max-old-space-size=123"}; !reflect.DeepEqual(r.ExecArgv, want) {
		t.Errorf("node arguments %q, want %q", r.ExecArgv, want)
	}
	want := []string{"--monitor", "127.0.0.1:1", "--engine", "127.0.0.1:2", "--organization", "acme", "--project", "fleet",
		"--root-directory", dir, "--stack", "canary", "--pwd", dir, "--dry-run", "--parallel", "4", ".", "extra"}
	if !reflect.DeepEqual(r.Argv, want) {
		t.Errorf("arguments %q\nwant %q", r.Argv, want)
	}
	// typescript: false, but the tsconfig still applies (ts-node may be registered by the program).
	if r.Typescript != nil || r.Tsconfig == nil || *r.Tsconfig != "tsconfig.build.json" {
		t.Errorf("typescript %v tsconfig %v", r.Typescript, r.Tsconfig)
	}
	if !reflect.DeepEqual(r.Config, map[string]string{"fleet:config:branch": "canary", "mender:config:token": "secret"}) ||
		!reflect.DeepEqual(r.SecretKeys, []string{"mender:token"}) {
		t.Errorf("config %v secret keys %v", r.Config, r.SecretKeys)
	}
}

func TestRunDefaultsToTypeScript(t *testing.T) {
	dir, report := runnerProject(t, "exit")
	resp, err := serve(t, newLanguageHost("")).Run(timeout(t, 60e9), &pulumirpc.RunRequest{Info: programInfo(t, dir, nil)})
	if err != nil || resp.Error != "" {
		t.Fatalf("%v %v", resp, err)
	}
	r := readReport(t, report)
	if r.Typescript == nil || *r.Typescript != "true" || r.Tsconfig != nil || len(r.ExecArgv) != 0 || len(r.SecretKeys) != 0 {
		t.Errorf("%+v", r)
	}
}

func TestRunRefusesANonBooleanTypescriptOption(t *testing.T) {
	dir, report := runnerProject(t, "exit")
	resp, err := serve(t, newLanguageHost("")).Run(timeout(t, 60e9), &pulumirpc.RunRequest{Info: programInfo(t, dir, map[string]any{"typescript": "false"})})
	if err != nil || resp.Error != `typescript option must be a boolean, got the string "false"` {
		t.Fatalf("%v %v", resp, err)
	}
	if _, err := os.Stat(report); err == nil {
		t.Error("the program ran")
	}
}

func TestRunReportsHowTheProgramExited(t *testing.T) {
	dir, _ := runnerProject(t, "exit")
	client := serve(t, newLanguageHost(""))
	for code, want := range map[string]*pulumirpc.RunResponse{
		"3":  {Error: "Program exited with non-zero exit code: 3"},
		"32": {Bail: true}, // the SDK has shown the user a message already
	} {
		t.Setenv("RUN_EXIT", code)
		resp, err := client.Run(timeout(t, 60e9), &pulumirpc.RunRequest{Info: programInfo(t, dir, nil)})
		if err != nil || resp.Error != want.Error || resp.Bail != want.Bail {
			t.Errorf("exit %s: %v %v", code, resp, err)
		}
	}
}

func TestTheRunnerIsFoundWithNodesOwnResolution(t *testing.T) {
	dir, report := runnerProject(t, "exit")
	// A program in a subfolder: node looks in the node_modules folders above it.
	sub := filepath.Join(dir, "infra", "program")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	client := serve(t, newLanguageHost(""))
	resp, err := client.Run(timeout(t, 60e9), &pulumirpc.RunRequest{Info: programInfo(t, sub, nil)})
	if err != nil || resp.Error != "" {
		t.Fatalf("%v %v", resp, err)
	}
	if r := readReport(t, report); r.Script != filepath.Join(dir, "node_modules/fake-sdk/cmd/run/index.js") {
		t.Errorf("script %s", r.Script)
	}
	// And NODE_PATH, which walking up node_modules folders would miss.
	elsewhere := writeFiles(t, t.TempDir(), map[string]string{"index.ts": ""})
	t.Setenv("NODE_PATH", filepath.Join(dir, "node_modules"))
	if resp, err := client.Run(timeout(t, 60e9), &pulumirpc.RunRequest{Info: programInfo(t, elsewhere, nil)}); err != nil || resp.Error != "" {
		t.Fatalf("NODE_PATH: %v %v", resp, err)
	}
}

func TestAMissingSDKIsReportedAsTheOfficialHostDoes(t *testing.T) {
	runnerProject(t, "exit")
	t.Setenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH", "")
	dir := writeFiles(t, t.TempDir(), map[string]string{"package.json": "{}"})
	resp, err := serve(t, newLanguageHost("")).Run(timeout(t, 60e9), &pulumirpc.RunRequest{Info: programInfo(t, dir, nil)})
	if err != nil || resp.Error != "It looks like the Pulumi SDK has not been installed. Have you run pulumi install?" {
		t.Fatalf("%q %v", resp.GetError(), err)
	}
}

// cancelDuringRun starts a program, cancels the update once it runs, and returns the response
// and how long the program took to stop.
func cancelDuringRun(t *testing.T, mode string, grace time.Duration) (*pulumirpc.RunResponse, time.Duration) {
	t.Helper()
	dir, report := runnerProject(t, mode)
	h, _ := testHost(grace)
	client := serve(t, h)
	type result struct {
		resp *pulumirpc.RunResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := client.Run(timeout(t, 60e9), &pulumirpc.RunRequest{Info: programInfo(t, dir, nil)})
		done <- result{resp, err}
	}()
	waitForFile(t, report, 30*time.Second)
	time.Sleep(100 * time.Millisecond) // the runner has set up its SIGINT handler by now
	start := time.Now()
	if _, err := client.Cancel(timeout(t, 10e9), &emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if err := syscall.Kill(readReport(t, report).Pid, 0); err == nil {
		t.Error("the program is still running")
	}
	return r.resp, time.Since(start)
}

func TestCancelInterruptsTheProgram(t *testing.T) {
	resp, took := cancelDuringRun(t, "wait", 5*time.Second)
	if resp.Error != "the program was stopped because the update was cancelled (interrupted)" || took > 2*time.Second {
		t.Fatalf("%q after %s", resp.Error, took)
	}
}

func TestCancelKillsAProgramThatIgnoresTheInterruptAfterTheGracePeriod(t *testing.T) {
	grace := 500 * time.Millisecond
	resp, took := cancelDuringRun(t, "stubborn", grace)
	if resp.Error != "the program was stopped because the update was cancelled (killed: still running 500ms after the interrupt)" {
		t.Fatalf("%q", resp.Error)
	}
	if took < grace || took > grace+2*time.Second {
		t.Fatalf("stopped after %s, grace period %s", took, grace)
	}
}

func TestACancelBeforeTheProgramStartsIsKept(t *testing.T) {
	dir, report := runnerProject(t, "wait")
	client := serve(t, newLanguageHost(""))
	if _, err := client.Cancel(timeout(t, 10e9), &emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	resp, err := client.Run(timeout(t, 60e9), &pulumirpc.RunRequest{Info: programInfo(t, dir, nil)})
	if err != nil || resp.Error != "the update was cancelled before the program started" {
		t.Fatalf("%v %v", resp, err)
	}
	if _, err := os.Stat(report); err == nil {
		t.Error("the program was started")
	}
}

func TestAnAbandonedRunStopsTheProgram(t *testing.T) {
	dir, report := runnerProject(t, "stubborn")
	h, _ := testHost(300 * time.Millisecond)
	client := serve(t, h)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _, _ = client.Run(ctx, &pulumirpc.RunRequest{Info: programInfo(t, dir, nil)}) }()
	waitForFile(t, report, 30*time.Second)
	time.Sleep(100 * time.Millisecond)
	cancel() // the engine went away
	pid := readReport(t, report).Pid
	deadline := time.Now().Add(3 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the program outlived the request by more than the grace period")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
