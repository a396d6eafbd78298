package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
)

// cardsso ecard bindings list|revoke: the e-card app bindings, as the
// configured connector (connectors.BindingAdmin) holds them. They live on
// the card platform, not in CardSSO's database, so these commands open the
// connector only. The embedded simulator keeps its bindings in the memory
// of the process that serves the app API: a command run beside
// `cardsso serve` opens a simulator of its own and sees none of them (use
// the account page there, or the cardplatform connector).

func (c *cli) newECardCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ecard",
		Short: "Administer the electronic social security card (e-card app bindings)",
		RunE:  missingSubcommand,
	}
	bindings := &cobra.Command{
		Use:   "bindings",
		Short: "List and revoke e-card app bindings on the card platform",
		RunE:  missingSubcommand,
	}
	bindings.AddCommand(c.newBindingsListCmd(), c.newBindingsRevokeCmd())
	cmd.AddCommand(bindings)
	return cmd
}

// bindingJSON is a binding as `ecard bindings list --json` prints it: the
// holder's number masked.
type bindingJSON struct {
	ID         string     `json:"id"`
	Number     string     `json:"number_masked"`
	DeviceName string     `json:"device_name"`
	BoundAt    time.Time  `json:"bound_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (c *cli) newBindingsListCmd() *cobra.Command {
	var (
		ssn    string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list [--ssn NUMBER] [--json]",
		Short: "List the app bindings (of one holder with --ssn), newest first",
		Long: `List the e-card app bindings the card platform holds, live and revoked,
newest first: those of one holder with --ssn, else every binding (a platform
may refuse the full list). Numbers are printed masked.`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&ssn, "ssn", "", "only the bindings of this social security `number`")
	addJSONFlag(cmd, &asJSON)
	cmd.RunE = c.withBindings(func(cmd *cobra.Command, args []string, ba connectors.BindingAdmin) error {
		var num *citizenid.Number
		if ssn != "" {
			n, err := citizenid.Parse(ssn)
			if err != nil {
				return usageErrorf("--ssn %s: %v", citizenid.Mask(ssn), err)
			}
			num = &n
		}
		bs, err := ba.Bindings(cmd.Context(), num)
		if err != nil {
			return fmt.Errorf("list bindings: %w", err)
		}
		if asJSON {
			out := make([]bindingJSON, 0, len(bs))
			for _, b := range bs {
				out = append(out, bindingJSON{ID: b.ID, Number: b.Number.Masked(), DeviceName: b.DeviceName,
					BoundAt: b.BoundAt.UTC(), LastUsedAt: optTime(b.LastUsedAt.UTC()), RevokedAt: optTime(b.RevokedAt.UTC())})
			}
			return writeJSON(cmd.OutOrStdout(), out)
		}
		t := newTable(cmd.OutOrStdout())
		t.row("ID", "NUMBER", "DEVICE", "BOUND", "LAST USED", "REVOKED")
		for _, b := range bs {
			t.row(b.ID, b.Number.Masked(), b.DeviceName, formatTime(b.BoundAt), formatTime(b.LastUsedAt), formatTime(b.RevokedAt))
		}
		return t.flush()
	})
	return cmd
}

func (c *cli) newBindingsRevokeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an app binding: its confirmations and counter codes are refused from then on",
		Args:  exactlyOneID("binding ID"),
	}
	cmd.RunE = c.withBindings(func(cmd *cobra.Command, args []string, ba connectors.BindingAdmin) error {
		err := ba.RevokeBinding(cmd.Context(), args[0], nil)
		if errors.Is(err, connectors.ErrBindingNotFound) {
			return fmt.Errorf("no e-card binding %q", args[0])
		}
		if err != nil {
			return fmt.Errorf("revoke binding: %w", err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "binding %s revoked\n", args[0])
		return nil
	})
	return cmd
}

// withBindings is the RunE of a bindings command: it opens the configured
// connector (not the database) and runs fn on its BindingAdmin, bounded by
// a minute.
func (c *cli) withBindings(fn func(cmd *cobra.Command, args []string, ba connectors.BindingAdmin) error) func(*cobra.Command, []string) error {
	return runE(func(cmd *cobra.Command, args []string) error {
		fc, err := c.config(cmd)
		if err != nil {
			return err
		}
		checks, err := fc.openChecks(fc.newLogger(c.stderr), prometheus.NewRegistry())
		if err != nil {
			return startError("open connector", err)
		}
		ba, ok := checks.(connectors.BindingAdmin)
		if !ok {
			return fmt.Errorf("connector %s does not administer e-card bindings", fc.Connector.Type)
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
		defer cancel()
		cmd.SetContext(ctx)
		return fn(cmd, args, ba)
	})
}
