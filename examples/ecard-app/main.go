package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cardsso/cardsso/examples/ecard-app/app"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is a mistake on the command line: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdin, stdout)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	code := exitFailure
	var ue usageError
	// cobra's own errors (unknown command, flag or argument) come back
	// before the command's RunE has run.
	if errors.As(err, &ue) || cmd == nil || !ranCommand(cmd) {
		code = exitUsage
	}
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	if code == exitUsage && cmd != nil {
		msg += fmt.Sprintf(" (see '%s --help')", cmd.CommandPath())
	}
	fmt.Fprintf(stderr, "ecard-app: %s\n", msg)
	return code
}

// ranCommand says whether cmd's RunE ran (it sets the annotation), so that
// an error from it is a runtime failure rather than a usage mistake.
func ranCommand(cmd *cobra.Command) bool { return cmd.Annotations["ran"] == "yes" }

func newRootCmd(stdin io.Reader, stdout io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "ecard-app",
		Short:         "A command-line stand-in for the e-card phone app",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(newBindCmd(stdout), newScanCmd(stdin, stdout), newShowCodeCmd(stdout))
	return root
}

// runE marks the command as run before calling f (see ranCommand).
func runE(f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if cmd.Annotations == nil {
			cmd.Annotations = map[string]string{}
		}
		cmd.Annotations["ran"] = "yes"
		return f(cmd, args)
	}
}

func keyFlag(cmd *cobra.Command, path *string) {
	cmd.Flags().StringVar(path, "key", app.DefaultKeyFile, "the key file")
}
