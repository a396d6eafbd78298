package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/benchseed"
)

// newSeedCmd is `cardsso seed`. It is long for its help text (what a seeded
// citizen is and is not) and its flag table; the work is idp/benchseed's.
func (c *cli) newSeedCmd() *cobra.Command {
	var (
		spec         benchseed.Spec
		citizensFile string
		asJSON       bool
	)
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Fill the database with synthetic citizens, sessions and clients (benchmarks only)",
		Long: `Fill the database with synthetic citizens, SSO sessions and clients, so that
benchmarks (cardsso-bench, docs/performance.md) run against realistic table
sizes: a million accounts and a million sessions take a few minutes.

Seeded citizens have valid synthetic social security numbers (sequence
100-999, so they never collide with the simulator's demo holders), sealed and
indexed under the master key as registration does, and can log in with
--password. For speed every seeded account shares that one password and one
argon2id hash of it (made once at the configured cost). Sessions are spread
over the seeded accounts; their cookies are thrown away. Clients are
confidential portals seed-portal-<n> whose secrets are not kept.

--citizens-file writes "number<TAB>password" lines for the first
--citizens-count citizens (mode 0600), for cardsso-bench --citizens.

Never seed a production database.`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.IntVar(&spec.Accounts, "accounts", 1000, "citizen accounts to create")
	f.IntVar(&spec.First, "first", 0, "number of the first seeded citizen (to add more after an earlier run)")
	f.StringVar(&spec.Password, "password", "Bench-pass-2026", "`password` of every seeded citizen")
	f.IntVar(&spec.Sessions, "sessions", 0, "SSO sessions to create (spread over the seeded accounts)")
	f.DurationVar(&spec.SessionLifetime, "session-lifetime", 12*time.Hour, "how long seeded sessions live")
	f.IntVar(&spec.Clients, "clients", 0, "confidential clients seed-portal-<n> to create")
	f.StringVar(&citizensFile, "citizens-file", "", "write number<TAB>password of the first citizens to this `file`")
	f.IntVar(&spec.CitizensCount, "citizens-count", 1000, "how many citizens --citizens-file lists")
	f.IntVar(&spec.Batch, "batch", 50_000, "rows per transaction")
	addJSONFlag(cmd, &asJSON)
	cmd.RunE = runE(func(cmd *cobra.Command, args []string) (err error) {
		if citizensFile != "" {
			out, err := os.OpenFile(citizensFile, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return fmt.Errorf("citizens file: %w", err)
			}
			defer func() {
				if cerr := out.Close(); cerr != nil && err == nil {
					err = fmt.Errorf("citizens file: %w", cerr)
				}
			}()
			spec.Citizens = out
		}
		cfg, st, mk, err := c.openStore(cmd)
		if err != nil {
			return err
		}
		sd, err := benchseed.Open(cmd.Context(), cfg, st, mk)
		if err != nil {
			_ = st.Close()
			return startError("open database", err)
		}
		defer closeAdmin(sd, &err)
		last := time.Now()
		spec.Progress = func(what string, done, total int) {
			if time.Since(last) > 2*time.Second || done == total {
				last = time.Now()
				fmt.Fprintf(c.stderr, "seed: %s %d/%d\n", what, done, total)
			}
		}
		res, err := sd.Seed(cmd.Context(), spec)
		if err != nil {
			var ie *idp.InvalidError
			if errors.As(err, &ie) {
				return usageErrorf("--%s: %s", ie.Field, ie.Reason)
			}
			return fmt.Errorf("seed: %w", err)
		}
		if asJSON {
			return writeJSON(c.stdout, res)
		}
		fmt.Fprintf(c.stdout, "Seeded %d accounts (%.0f/s), %d sessions (%.0f/s) and %d clients in %v.\n",
			res.Accounts, res.AccountsPerS, res.Sessions, res.SessionsPerS, res.Clients, res.Duration.Round(time.Second/10))
		if res.Accounts > 0 {
			fmt.Fprintf(c.stdout, "Every seeded citizen's password is the one given; its hash (argon2id %s) is shared.\n", res.PasswordCost)
		}
		if res.Citizens > 0 {
			fmt.Fprintf(c.stdout, "Wrote %d citizens to %s.\n", res.Citizens, citizensFile)
		}
		return nil
	})
	return cmd
}
