// Command pulumi-language-nodejs is the project's Node.js language host for the Pulumi engine.
//
// Why it exists: the Go module proxy these machines reach does not serve
// github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 at any version, so the
// official host cannot be built here. This one answers the LanguageRuntime protocol as the
// official host of the same version does for a Node.js program whose package manager is npm:
// it runs the program (@pulumi/pulumi/cmd/run under node), reports the Node.js runtime, the
// program's dependencies and the resource plugins its node_modules declare, installs the
// dependencies with npm, and stops a cancelled program. Code generation (GenerateProgram,
// GenerateProject, GeneratePackage), Link, Pack and RunPlugin stay unimplemented; see
// docs/development.md ("The Pulumi engine").
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// What `-origin` prints: scripts/engine tells this host from the official one by it (the
// official host has no such flag and exits with an error).
const origin = "mender-fleet engine/langhost"

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	showOrigin := flag.Bool("origin", false, "print which implementation this is and exit")
	flag.String("tracing", "", "accepted for compatibility; tracing is not supported")
	runtime := flag.String("runtime", "nodejs", "the JavaScript runtime; only nodejs is supported")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Version)
		return
	}
	if *showOrigin {
		fmt.Println(origin)
		return
	}
	if *runtime != "nodejs" {
		fail(fmt.Errorf("unsupported runtime: %s (this language host runs node only)", *runtime))
	}
	// Honours the -v and --logtostderr flags the engine passes on when `pulumi -v=N` is used.
	logging.InitLogging(false, 0, false)

	var engineAddress string
	if args := flag.Args(); len(args) > 0 {
		engineAddress = args[0]
	}
	host := newLanguageHost(engineAddress)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	serverCancel := make(chan bool)
	go func() {
		<-ctx.Done()
		// Interrupted: stop the programs as a Cancel would, and outlive them (at most the
		// grace period and a little), so that none is left behind.
		host.cancel()
		waited := make(chan struct{})
		go func() { host.running.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(host.grace + time.Second):
		}
		close(serverCancel)
	}()

	if engineAddress != "" {
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, stop); err != nil {
			fail(fmt.Errorf("could not start health check host RPC server: %w", err))
		}
	}

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: serverCancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fail(fmt.Errorf("could not start language host RPC server: %w", err))
	}
	// The engine reads the port from our first line of output.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fail(fmt.Errorf("language host RPC stopped serving: %w", err))
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
	os.Exit(1)
}
