// Command consul is the Consul agent and CLI, built from the upstream Go module
// github.com/hashicorp/consul (MPL-2.0) by scripts/artifacts/consul.sh.
//
// Upstream's main package cannot be installed with `go install` because its go.mod carries
// replace directives, so this module supplies an equivalent entry point: it hands the
// command line to Consul's registered subcommands, exactly as the upstream binary does.
package main

import (
	"fmt"
	"io"
	"log"
	"os"

	"github.com/hashicorp/consul/command"
	consulcli "github.com/hashicorp/consul/command/cli"
	"github.com/hashicorp/consul/command/version"
	_ "github.com/hashicorp/consul/service_os" // Windows service hooks (no-op elsewhere), as upstream
	mcli "github.com/mitchellh/cli"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	// Libraries write to the standard logger; Consul routes its own logging through hclog.
	log.SetOutput(io.Discard)

	ui := &consulcli.BasicUI{
		BasicUi: mcli.BasicUi{Writer: os.Stdout, ErrorWriter: os.Stderr},
	}
	commands := command.RegisteredCommands(ui)
	visible := make([]string, 0, len(commands))
	for name := range commands {
		visible = append(visible, name)
	}

	runner := &mcli.CLI{
		Name:         "consul",
		Args:         args,
		Commands:     commands,
		Autocomplete: true,
		HelpFunc:     mcli.FilteredHelpFunc(visible, mcli.BasicHelpFunc("consul")),
		HelpWriter:   os.Stdout,
		ErrorWriter:  os.Stderr,
	}

	// `consul -v` / `consul --version` print the same text as `consul version`.
	if runner.IsVersion() {
		return version.New(ui).Run(nil)
	}

	code, err := runner.Run()
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error executing CLI: %v\n", err)
		return 1
	}
	return code
}
