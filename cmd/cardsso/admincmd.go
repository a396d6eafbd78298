package main

import (
	"github.com/spf13/cobra"

	"github.com/cardsso/cardsso/idp/admin"
)

// withAdmin is the RunE of an administrative command: it opens the node's
// database (openAdmin), runs fn on it and closes it, reporting a close
// error only when fn succeeded.
func (c *cli) withAdmin(fn func(cmd *cobra.Command, args []string, a *admin.Admin) error) func(*cobra.Command, []string) error {
	return runE(func(cmd *cobra.Command, args []string) (err error) {
		a, err := c.openAdmin(cmd)
		if err != nil {
			return err
		}
		defer closeAdmin(a, &err)
		return fn(cmd, args, a)
	})
}
