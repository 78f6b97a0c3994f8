// Package cli is the herald command line: every subcommand and its flags,
// each flag with a HERALD_<NAME> environment variable.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Version is Herald's version, sent in User-Agent; set at build time with
// -ldflags "-X github.com/heraldhq/herald/internal/cli.Version=...".
var Version = "0.1.0-dev"

// Execute runs the command line with args and returns the exit code.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "herald:", err)
		return 1
	}
	return 0
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "herald",
		Short:         "Webhook notifications for card-issuing platforms",
		Long:          "Herald stores the events a card-issuing platform publishes and delivers them to every subscribed endpoint as signed, authenticated HTTP POSTs, with retries, expiry, search and re-send.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newServe(), newMigrate(), newTenants(), newKeys(), newEvents(), newTrigger(), newSecrets(), newListen())
	root.AddCommand(benchCommands()...)
	root.AddCommand(newDemo())
	return root
}

// bindEnv gives every flag of cmd that was not set on the command line the
// value of its HERALD_<NAME> environment variable, if set.
func bindEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("environment variable %s=%q: %w", envName(f.Name), v, e)
			}
		}
	})
	return err
}

// envName is the environment variable of a flag: --allow-http is
// HERALD_ALLOW_HTTP.
func envName(flag string) string {
	return "HERALD_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// addEnvToUsage appends "(env HERALD_X)" to every flag's help text.
func addEnvToUsage(cmd *cobra.Command) {
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" {
			f.Usage += " (env " + envName(f.Name) + ")"
		}
	})
	cmd.PreRunE = func(cmd *cobra.Command, _ []string) error { return bindEnv(cmd) }
}

func newLogger(w io.Writer, dev bool) *slog.Logger {
	if dev {
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
