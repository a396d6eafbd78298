// Command ecard-app is a command-line stand-in for the e-card phone app:
// it binds itself to a holder at a card service platform, confirms QR
// logins, and shows counter codes, keeping its key in a file. The client
// logic is package app (examples/ecard-app/app); see README.md.
//
//	ecard-app bind --platform URL --name 张三 --ssn 110105199003070017 --card A00000001
//	ecard-app scan QR-PAYLOAD-OR-URL [--yes | --refuse]
//	ecard-app show-code
//
// Exit codes: 0 done, 1 the command ran and failed (or the holder said
// no), 2 a usage mistake. Errors are one line on stderr.
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
