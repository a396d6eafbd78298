package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
	"github.com/cardsso/cardsso/idp/keys"
	"github.com/cardsso/cardsso/storage/sqlstore"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // bad configuration, flag, argument or command
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit code. Errors are
// written to stderr as one line: "cardsso: <what>: <why>".
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, restore the default behaviour so that a
		// second one ends the process at once.
		<-ctx.Done()
		stop()
	}()

	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	// cobra's own errors (unknown commands, flags and arguments) are usage
	// errors that the command's help explains.
	code, hint := exitUsage, true
	msg := oneLine(strings.Replace(err.Error(), "\n\nDid you mean this?\n\t", "; did you mean: ", 1))
	var ee *exitError
	if errors.As(err, &ee) {
		code, hint = ee.code, ee.hint
	}
	if hint && cmd != nil {
		msg += fmt.Sprintf(" (see '%s --help')", cmd.CommandPath())
	}
	fmt.Fprintf(stderr, "cardsso: %s\n", msg)
	return code
}

// exitError is an error with the exit code it causes.
type exitError struct {
	code int
	err  error
	hint bool // point to the command's --help
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf is a mistake on the command line: exit code 2, with a pointer
// to the command's help.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...), hint: true}
}

// cli holds what every command needs: where output goes and how the
// environment is read.
type cli struct {
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)

	configFile string // --config
	dataDir    string // --data-dir
}

// newRootCmd builds the command tree. It does not read os.Args or call
// os.Exit, so that tests can run it.
func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	c := &cli{stdout: stdout, stderr: stderr, lookupEnv: os.LookupEnv}
	root := &cobra.Command{
		Use:   "cardsso",
		Short: "CardSSO: single sign-on for government portals, verified by the social security card",
		Long: `CardSSO is an OpenID Connect identity provider that verifies citizens
against the social security card platform.

Configuration comes from defaults, a YAML file (--config or $CARDSSO_CONFIG),
CARDSSO_* environment variables and flags, each overriding the one before.

Exit codes: 0 success, 1 failure, 2 bad configuration, flag or usage.`,
		Version:       version(),
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE:          missingSubcommand,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: err, hint: true}
	})
	root.SetVersionTemplate("cardsso {{.Version}}\n")

	pf := root.PersistentFlags()
	pf.StringVar(&c.configFile, "config", "", "YAML configuration `file` (default $CARDSSO_CONFIG, else none)")
	pf.StringVar(&c.dataDir, "data-dir", "./data", "`directory` for the SQLite database and the generated master key")

	root.AddCommand(
		c.newServeCmd(),
		c.newMigrateCmd(),
		c.newClientsCmd(),
		c.newSPsCmd(),
		c.newKeysCmd(),
		c.newLicenseCmd(),
		c.newSeedCmd(),
		c.newBackupCmd(),
		c.newECardCmd(),
	)
	return root
}

// missingSubcommand is the RunE of commands that only group others.
func missingSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	var names []string
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	return usageErrorf("missing command for %q (want %s)", cmd.CommandPath(), orList(names))
}

// runE adapts a command body: an error that does not say otherwise is a
// runtime failure (exit 1); a configuration error or an idp.InvalidError is a
// usage error (exit 2).
func runE(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := fn(cmd, args)
		if err == nil {
			return nil
		}
		var ee *exitError
		var ce *configError
		var ie *idp.InvalidError
		switch {
		case errors.As(err, &ee):
			return err
		case errors.As(err, &ce), errors.As(err, &ie):
			return &exitError{code: exitUsage, err: err}
		}
		return &exitError{code: exitFailure, err: err}
	}
}

// config loads and validates the configuration for cmd: defaults, the file,
// the environment, then --data-dir and the overrides given (flag → YAML path)
// when those flags were set on the command line.
func (c *cli) config(cmd *cobra.Command, overrides ...flagSetting) (fileConfig, error) {
	var flags []flagSetting
	if f := cmd.Flags().Lookup("data-dir"); f != nil && f.Changed {
		flags = append(flags, flagSetting{Path: "data_dir", Flag: "--data-dir", Value: c.dataDir})
	}
	for _, o := range overrides {
		if f := cmd.Flags().Lookup(strings.TrimPrefix(o.Flag, "--")); f != nil && f.Changed {
			flags = append(flags, o)
		}
	}
	fc, err := loadConfig(c.configFile, c.lookupEnv, flags)
	if err != nil {
		return fc, err
	}
	return fc, fc.Validate()
}

// openAdmin opens the node's database for an administrative command: the
// store of the storage section, and the admin side of idp on it.
func (c *cli) openAdmin(cmd *cobra.Command) (*admin.Admin, error) {
	cfg, st, mk, err := c.openStore(cmd)
	if err != nil {
		return nil, err
	}
	a, err := idp.OpenAdmin(cmd.Context(), cfg, st, mk)
	if err != nil {
		_ = st.Close()
		return nil, startError("open database", err)
	}
	return a, nil
}

// openStore loads the configuration and opens the master key and the store
// of the storage section, for a command that works on the database.
func (c *cli) openStore(cmd *cobra.Command) (idp.Config, *sqlstore.Store, *keys.MasterKey, error) {
	fc, err := c.config(cmd)
	if err != nil {
		return idp.Config{}, nil, nil, err
	}
	cfg := fc.idpConfig(fc.newLogger(c.stderr))
	mk, err := idp.OpenMasterKey(cfg)
	if err != nil {
		return idp.Config{}, nil, nil, startError("open database", err)
	}
	st, err := fc.openStore(cmd.Context())
	if err != nil {
		return idp.Config{}, nil, nil, startError("open database", err)
	}
	return cfg, st, mk, nil
}

// startError reports why a node or an admin session could not start: a
// configuration idp or a component refused (an *idp.InvalidError or a
// *configError naming the YAML path) is a configuration error, anything
// else a runtime failure.
func startError(what string, err error) error {
	var ie *idp.InvalidError
	var ce *configError
	switch {
	case errors.As(err, &ie):
		return &configError{Path: ie.Field, Reason: ie.Reason}
	case errors.As(err, &ce):
		return ce // a component's configuration (openStore, openChecks)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// closeAdmin closes a and reports a close error only when nothing else failed.
func closeAdmin(a io.Closer, err *error) {
	if cerr := a.Close(); cerr != nil && *err == nil {
		*err = fmt.Errorf("close database: %w", cerr)
	}
}

// addJSONFlag adds --json to cmd.
func addJSONFlag(cmd *cobra.Command, v *bool) {
	cmd.Flags().BoolVar(v, "json", false, "print machine-readable JSON")
}

// exactlyOneID is an Args validator for commands that take one client ID.
func exactlyOneID(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return usageErrorf("missing %s", what)
		case len(args) > 1:
			return usageErrorf("want one %s, got %d arguments", what, len(args))
		}
		return nil
	}
}

// oneLine folds a multi-line message (cobra's suggestions, yaml's error
// lists) into one line.
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " ")
}

// version is the module version the binary was built from ("(devel)" for
// go run and go build in the source tree) and the Go version.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	return v + " " + bi.GoVersion
}
