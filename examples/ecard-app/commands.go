package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cardsso/cardsso/connectors/ecardapp"
	"github.com/cardsso/cardsso/examples/ecard-app/app"
)

func newBindCmd(stdout io.Writer) *cobra.Command {
	var (
		platform, keyPath string
		h                 app.Holder
		force             bool
	)
	cmd := &cobra.Command{
		Use:   "bind --platform URL --name NAME --ssn NUMBER --card CARD",
		Short: "Bind a new key to a holder, after the platform's real-name and real-card checks",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = runE(func(cmd *cobra.Command, _ []string) error {
		if platform == "" || h.Name == "" || h.Number == "" || h.CardNumber == "" {
			return usageError{errors.New("bind: --platform, --name, --ssn and --card are required")}
		}
		if h.DeviceName == "" {
			h.DeviceName = defaultDeviceName()
		}
		if _, err := app.ParseBase(platform); err != nil {
			return usageError{fmt.Errorf("bind: --platform: %w", err)}
		}
		if err := app.CheckNew(keyPath, force); err != nil {
			return err
		}
		a, err := app.Bind(cmd.Context(), nil, platform, h)
		if errors.Is(err, app.ErrHolder) {
			return usageError{fmt.Errorf("bind: %w", err)}
		}
		if err != nil {
			return err
		}
		if err := a.Save(keyPath, force); err != nil {
			return fmt.Errorf("bound as %s, but the key was not saved: %w", a.BindingID, err)
		}
		fmt.Fprintf(stdout, "bound %s (%s) as %s at %s; key in %s\n",
			a.MaskedNumber, a.DeviceName, a.BindingID, a.Platform, keyPath)
		return nil
	})
	f := cmd.Flags()
	f.StringVar(&platform, "platform", "", "the platform's app API base URL (the simulator: <issuer>/ecard-sim)")
	f.StringVar(&h.Name, "name", "", "the holder's name")
	f.StringVar(&h.Number, "ssn", "", "the holder's social security number (18 characters)")
	f.StringVar(&h.CardNumber, "card", "", "the card number")
	f.StringVar(&h.DeviceName, "device", "", "the device name the account page shows (default: ecard-app on the host name)")
	f.BoolVar(&force, "force", false, "replace an existing key file (its binding is lost)")
	keyFlag(cmd, &keyPath)
	return cmd
}

func defaultDeviceName() string {
	name := "ecard-app"
	if h, err := os.Hostname(); err == nil && h != "" {
		name += " on " + h
	}
	if r := []rune(name); len(r) > 64 {
		name = string(r[:64])
	}
	return name
}

func newScanCmd(stdin io.Reader, stdout io.Writer) *cobra.Command {
	var (
		keyPath     string
		yes, refuse bool
	)
	cmd := &cobra.Command{
		Use:   "scan QR-PAYLOAD-OR-URL",
		Short: "Confirm (or refuse) a QR login after showing which portal asks",
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = runE(func(cmd *cobra.Command, args []string) error {
		ticketURL, err := app.TicketURL(args[0])
		if err != nil {
			return usageError{fmt.Errorf("scan: %w", err)}
		}
		a, err := app.Load(keyPath)
		if err != nil {
			return err
		}
		t, err := a.Ticket(cmd.Context(), ticketURL)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s asks you to log in as %s.\nThe request expires at %s (in %s).\n",
			quote(t.Portal), a.MaskedNumber, t.ExpiresAt.Local().Format("15:04:05"),
			time.Until(t.ExpiresAt).Round(time.Second))
		if refuse {
			if err := a.Refuse(cmd.Context(), t); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "refused")
			return nil
		}
		if !yes && !ask(stdin, stdout, "confirm? [y/N] ") {
			return errors.New("not confirmed; nothing was sent")
		}
		if err := a.Confirm(cmd.Context(), t); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "confirmed")
		return nil
	})
	f := cmd.Flags()
	f.BoolVarP(&yes, "yes", "y", false, "confirm without asking")
	f.BoolVar(&refuse, "refuse", false, "refuse the login (without asking)")
	keyFlag(cmd, &keyPath)
	return cmd
}

// quote prints a portal name from the platform safely on one line.
func quote(s string) string {
	if s == "" {
		return "A portal (unnamed)"
	}
	return fmt.Sprintf("%q", s)
}

// ask reads one answer line; only y or yes (any case) says yes.
func ask(stdin io.Reader, stdout io.Writer, prompt string) bool {
	fmt.Fprint(stdout, prompt)
	line, _ := bufio.NewReader(stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

func newShowCodeCmd(stdout io.Writer) *cobra.Command {
	var (
		keyPath string
		light   bool
	)
	cmd := &cobra.Command{
		Use:   "show-code",
		Short: "Print a counter code and its QR code, for staff to scan",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = runE(func(cmd *cobra.Command, _ []string) error {
		a, err := app.Load(keyPath)
		if err != nil {
			return err
		}
		code, err := a.CounterCode()
		if err != nil {
			return err
		}
		qr, err := app.QRText(code, light)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n%s\nvalid for %s (%s)\n", qr, code, ecardapp.CounterCodeLifetime, a.MaskedNumber)
		return nil
	})
	cmd.Flags().BoolVar(&light, "light", false, "draw for a terminal with dark text on a light background")
	keyFlag(cmd, &keyPath)
	return cmd
}
