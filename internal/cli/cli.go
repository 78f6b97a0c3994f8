// Package cli is the herald command line: every subcommand and its flags,
// each flag with a HERALD_<NAME> environment variable (HERALD_LISTEN_<NAME>
// and HERALD_DEMO_<NAME> for listen and demo, which must not take the
// server's settings).
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

// envPrefix is the start of every flag's environment variable.
const envPrefix = "HERALD_"

// bindEnv gives every flag of cmd that was not set on the command line the
// value of its environment variable (prefix + NAME), if set.
func bindEnv(cmd *cobra.Command, prefix string) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		name := envNameWith(prefix, f.Name)
		if v, ok := os.LookupEnv(name); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("environment variable %s=%q: %w", name, v, e)
			}
		}
	})
	return err
}

// envName is the environment variable of a flag: --allow-http is
// HERALD_ALLOW_HTTP.
func envName(flag string) string { return envNameWith(envPrefix, flag) }

// envNameWith is the environment variable of a flag under prefix.
func envNameWith(prefix, flag string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// addEnvToUsage gives every flag of cmd its HERALD_<NAME> variable.
func addEnvToUsage(cmd *cobra.Command) { addEnv(cmd, envPrefix) }

// addEnv gives every flag of cmd the environment variable prefix + NAME,
// named in its help text. The variables are read before the arguments are
// checked, so a variable can stand in for a flag an argument check looks at
// (HERALD_ALL=true herald trigger).
func addEnv(cmd *cobra.Command, prefix string) {
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" {
			f.Usage += " (env " + envNameWith(prefix, f.Name) + ")"
		}
	})
	check := cmd.Args
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if err := bindEnv(cmd, prefix); err != nil {
			return err
		}
		if check == nil {
			return nil
		}
		return check(cmd, args)
	}
}

func newLogger(w io.Writer, dev bool) *slog.Logger {
	if dev {
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
