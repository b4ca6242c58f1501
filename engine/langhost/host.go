package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The Node.js SDK exits with this code after it has already shown the user an actionable message.
const exitAfterUserMessage = 32

// How long a cancelled program has, after SIGINT, to stop before it is killed (the official
// host's figure).
const defaultGracePeriod = 5 * time.Second

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	// Where the program's own output goes: the host's stdout and stderr, which the engine shows.
	stdout, stderr io.Writer
	grace          time.Duration

	mu            sync.Mutex
	engineAddress string

	// Closed by the first Cancel: a cancel is for the whole update, so it also holds for a
	// program that has not started yet.
	cancelled  chan struct{}
	cancelOnce sync.Once
	// The programs still running, so that the host outlives them when it is told to stop.
	running sync.WaitGroup
}

func newLanguageHost(engineAddress string) *languageHost {
	return &languageHost{
		stdout:        os.Stdout,
		stderr:        os.Stderr,
		grace:         defaultGracePeriod,
		engineAddress: engineAddress,
		cancelled:     make(chan struct{}),
	}
}

func (h *languageHost) cancel() {
	h.cancelOnce.Do(func() { close(h.cancelled) })
}

func (h *languageHost) isCancelled() bool {
	select {
	case <-h.cancelled:
		return true
	default:
		return false
	}
}

func (h *languageHost) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	h.engineAddress = req.GetEngineAddress()
	h.mu.Unlock()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// Cancel stops the running programs: SIGINT first, a kill once the grace period is over.
// Programs started later are not run at all.
func (h *languageHost) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancel()
	return &emptypb.Empty{}, nil
}

// npmProgram checks the program's runtime options and that npm is its package manager.
func npmProgram(info *pulumirpc.ProgramInfo) (runtimeOptions, error) {
	opts, err := parseRuntimeOptions(info.GetOptions().AsMap())
	if err != nil {
		return opts, err
	}
	return opts, checkNpmProject(info.GetProgramDirectory())
}

func (h *languageHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	if _, err := npmProgram(req.GetInfo()); err != nil {
		return nil, fmt.Errorf("failed to parse options: %w", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("could not find node on the $PATH: %w", err)
	}
	resp := &pulumirpc.AboutResponse{Executable: node, Metadata: map[string]string{"packagemanager": "npm"}}
	// A version that cannot be read is left out, as the official host does: `pulumi about`
	// still shows the rest.
	if v, err := nodeVersion(ctx, node); err == nil {
		resp.Version = v
	} else {
		logging.V(3).Infof("about: %v", err)
	}
	if npm, err := lookPathNpm(); err == nil {
		if v, err := npmVersion(ctx, npm); err == nil {
			resp.Metadata["packagemanagerVersion"] = v
		} else {
			logging.V(3).Infof("about: %v", err)
		}
	}
	return resp, nil
}

func (h *languageHost) GetRequiredPackages(
	_ context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{Packages: h.requiredPackages(req.GetInfo().GetProgramDirectory())}, nil
}

// GetRequiredPlugins is the older form of GetRequiredPackages, for engines that still ask it.
func (h *languageHost) GetRequiredPlugins(
	_ context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetProgram() //nolint:staticcheck // engines before ProgramInfo send only this
	}
	var plugins []*pulumirpc.PluginDependency
	for _, p := range h.requiredPackages(dir) {
		plugins = append(plugins, &pulumirpc.PluginDependency{Name: p.Name, Kind: p.Kind, Version: p.Version, Server: p.Server})
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

// requiredPackages is the node_modules scan. What cannot be read is logged and skipped, as the
// official host does: the engine then loads what it needs on demand.
func (h *languageHost) requiredPackages(programDir string) []*pulumirpc.PackageDependency {
	scan := scanPlugins(programDir)
	warnIncompatibleSDKs(h.stderr, scan.sdkVersions)
	for _, problem := range scan.problems {
		logging.V(3).Infof("looking for plugins in %s: %v", programDir, problem)
	}
	return uniquePackages(scan.packages)
}

func (h *languageHost) GetProgramDependencies(
	_ context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	if _, err := npmProgram(req.GetInfo()); err != nil {
		return nil, fmt.Errorf("failed to parse options: %w", err)
	}
	deps, err := lockedDependencies(req.GetInfo().GetProgramDirectory(), req.GetTransitiveDependencies())
	if err != nil {
		return nil, fmt.Errorf("failed to get node dependencies: %w", err)
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, d := range deps {
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: d.name, Version: d.version})
	}
	return resp, nil
}

func (h *languageHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()

	info := req.GetInfo()
	if _, err := npmProgram(info); err != nil {
		return fmt.Errorf("failed to parse options: %w", err)
	}
	if req.GetUseLanguageVersionTools() {
		fmt.Fprintln(stdout, "Language version tools (fnm) are not supported by this language host; using the node on the $PATH.")
	}
	fmt.Fprint(stdout, "Installing dependencies...\n\n")
	root, err := workspaceRoot(info.GetProgramDirectory())
	if err != nil {
		return fmt.Errorf("failure while trying to find workspace root: %w", err)
	}
	if root != info.GetProgramDirectory() {
		fmt.Fprintf(stdout, "Detected workspace root at %s\n", root)
	}
	if err := runNpmInstall(server.Context(), root, stdout, stderr); err != nil {
		return err
	}
	fmt.Fprint(stdout, "Finished installing dependencies\n\n")
	return closer.Close()
}

// RuntimeOptionsPrompts asks nothing: the one choice the official host offers, the package
// manager, is npm here.
func (h *languageHost) RuntimeOptionsPrompts(
	context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	opts, err := parseRuntimeOptions(info.GetOptions().AsMap())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	if h.isCancelled() {
		return &pulumirpc.RunResponse{Error: "the update was cancelled before the program started"}, nil
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: "could not find node on the $PATH: " + err.Error()}, nil
	}
	runModule := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH")
	if runModule == "" {
		runModule = defaultRunModule
	}
	runScript, err := resolveModule(ctx, node, info.GetProgramDirectory(), runModule, "pulumi install")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	configJSON, secretKeysJSON, err := programConfig(req)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	h.mu.Lock()
	engine := h.engineAddress
	h.mu.Unlock()
	args := append(append([]string{}, opts.nodeargs...), runScript)
	flagArg := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	flagArg("monitor", req.GetMonitorAddress())
	flagArg("engine", engine)
	flagArg("organization", req.GetOrganization())
	flagArg("project", req.GetProject())
	flagArg("root-directory", info.GetRootDirectory())
	flagArg("stack", req.GetStack())
	flagArg("pwd", info.GetProgramDirectory())
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	flagArg("parallel", strconv.Itoa(int(req.GetParallel())))
	args = append(args, info.GetEntryPoint())
	args = append(args, req.GetArgs()...)

	cmd := exec.Command(node, args...)
	cmd.Dir = info.GetProgramDirectory()
	cmd.Env = append(os.Environ(), "PULUMI_CONFIG="+configJSON, "PULUMI_CONFIG_SECRET_KEYS="+secretKeysJSON)
	if opts.typescript {
		cmd.Env = append(cmd.Env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if opts.tsconfig != "" {
		cmd.Env = append(cmd.Env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfig)
	}
	// Wrapped, so that exec copies the output through pipes: node may make its stdio
	// non-blocking, which shared file descriptors would pass on to ours.
	cmd.Stdout = struct{ io.Writer }{h.stdout}
	cmd.Stderr = struct{ io.Writer }{h.stderr}
	// A grandchild that keeps the pipes open must not keep Run waiting after node is gone.
	cmd.WaitDelay = h.grace

	h.running.Add(1)
	defer h.running.Done()
	if err := cmd.Start(); err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("Problem executing program (could not run language executor): %v", err)}, nil
	}
	stopped := h.stopOnCancel(ctx, cmd.Process)
	err = cmd.Wait()
	how := stopped()

	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case how != "":
		return &pulumirpc.RunResponse{Error: "the program was stopped because the update was cancelled (" + how + ")"}, nil
	case errors.As(err, &exitErr) && exitErr.ExitCode() == exitAfterUserMessage:
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exitErr):
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode())}, nil
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("Problem executing program (could not run language executor): %v", err)}, nil
	}
}

// stopOnCancel interrupts the process when the update is cancelled (or the engine abandons
// the request) and kills it if it is still there after the grace period. The function it
// returns ends the watch once the process has exited and says how it was stopped, if it was.
func (h *languageHost) stopOnCancel(ctx context.Context, process *os.Process) func() string {
	exited := make(chan struct{})
	result := make(chan string, 1)
	go func() {
		select {
		case <-exited:
			result <- ""
			return
		case <-h.cancelled:
		case <-ctx.Done():
		}
		_ = process.Signal(os.Interrupt)
		timer := time.NewTimer(h.grace)
		defer timer.Stop()
		select {
		case <-exited:
			result <- "interrupted"
		case <-timer.C:
			_ = process.Kill()
			<-exited
			result <- fmt.Sprintf("killed: still running %s after the interrupt", h.grace)
		}
	}()
	return func() string {
		close(exited)
		return <-result
	}
}

// nodeVersion is `node --version` without its line break (v20.20.2).
func nodeVersion(ctx context.Context, node string) (string, error) {
	out, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("node --version: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// programConfig renders the stack configuration in the form @pulumi/pulumi reads from its
// environment: keys as "<namespace>:config:<name>" (the form every SDK version understands).
func programConfig(req *pulumirpc.RunRequest) (string, string, error) {
	values := map[string]string{}
	for k, v := range req.GetConfig() {
		key, err := config.ParseKey(k)
		if err != nil {
			return "", "", fmt.Errorf("invalid configuration key %q: %w", k, err)
		}
		values[key.Namespace()+":config:"+key.Name()] = v
	}
	configJSON, err := json.Marshal(values)
	if err != nil {
		return "", "", err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return "", "", err
	}
	return string(configJSON), string(secretKeysJSON), nil
}
