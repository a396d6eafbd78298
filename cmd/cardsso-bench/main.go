package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run1(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "cardsso-bench: %v\n", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

// options are the command line.
type options struct {
	issuer       string
	workload     string
	workers      int
	duration     time.Duration
	warmup       time.Duration
	runs         int
	pid          int
	jsonOut      bool
	target       string
	clientID     string
	secret       string
	redirect     string
	scope        string
	refreshScope string
	ccScope      string
	setupParams  string
	citizens     string
	sourceIPs    int
	introspect   string
	samlKey      string
	samlMetadata string
	notes        []string
	soak         soak
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("cardsso-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: cardsso-bench [flags]

A closed-loop load generator for OpenID Providers (CardSSO or a peer).
Workloads: %s, or all (each in turn), and saml-sso
(CardSSO only: see --saml-sp-metadata).

Each workload reports iterations per second, latency, errors, HTTP requests
per iteration and the generator's own CPU per iteration ("gen CPU µs/iter");
with --pid also the server's CPU per iteration and its RSS. The HTTP client
(fasthttp) keeps connections alive and follows no redirects; the flows do.

Flags:
`, strings.Join(workloadOrder, ", "))
		fs.PrintDefaults()
	}
	fs.StringVar(&o.issuer, "issuer", "http://127.0.0.1:8080", "issuer `URL` of the provider (as its discovery document names it)")
	fs.StringVar(&o.workload, "workload", "discovery", "`names` of workloads, comma-separated, or all")
	fs.IntVar(&o.workers, "workers", 16, "concurrent workers (closed loop)")
	fs.DurationVar(&o.duration, "duration", 15*time.Second, "measured `duration` of a run")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "warm-up before each run, not counted")
	fs.IntVar(&o.runs, "runs", 1, "runs per workload; the report gives the median")
	fs.IntVar(&o.pid, "pid", 0, "`pid` of the server process, to measure its CPU time and RSS")
	fs.BoolVar(&o.jsonOut, "json", false, "print JSON instead of a table")
	fs.StringVar(&o.target, "target", "", "a `label` for the report (e.g. cardsso-sqlite)")
	fs.StringVar(&o.clientID, "client-id", "bench", "client `id` registered at the provider")
	fs.StringVar(&o.secret, "client-secret", "", "client `secret` (client_secret_basic)")
	fs.StringVar(&o.redirect, "redirect-uri", "http://127.0.0.1:9999/cb", "registered redirect `URI` (nothing needs to listen there)")
	fs.StringVar(&o.scope, "scope", "openid profile", "`scope` of the sso-code-flow and login flows")
	fs.StringVar(&o.refreshScope, "refresh-scope", "openid profile offline_access", "`scope` of the flows that obtain tokens for refresh and introspect")
	fs.StringVar(&o.ccScope, "cc-scope", "", "`scope` asked for in the client credentials grant")
	fs.StringVar(&o.setupParams, "setup-params", "", "extra authorization `parameters` (query form, e.g. prompt=consent) for the flows that set workers up")
	fs.StringVar(&o.citizens, "citizens", "", "citizens `file` (number TAB password per line, from cardsso seed --citizens-file) for providers with a login form")
	fs.IntVar(&o.sourceIPs, "source-ips", 64, "browsers (the login workload, and the sign-ins that set workers up) spread over this many loopback source addresses (127.0.0.2 …); 0 uses the default address")
	fs.StringVar(&o.introspect, "introspect", "access", "`token` the introspect workload introspects: access or refresh")
	fs.StringVar(&o.samlKey, "saml-sp-key", "", "PEM `file` of the saml-sso workload's SP key and certificate (made when missing)")
	fs.StringVar(&o.samlMetadata, "saml-sp-metadata", "", "write the SP's metadata to this `file` (for cardsso sps add) and exit")
	fs.DurationVar(&o.soak.Every, "soak-every", 0, "soak mode: sample the database size (--db-file) and the server's RSS (--pid) every `interval` of the run (e.g. 30s with --duration 10m)")
	fs.StringVar(&o.soak.DBFile, "db-file", "", "SQLite database `file` of the server, for the soak samples (its -wal is counted too)")
	fs.Func("note", "a `note` for the report (repeatable), e.g. the argon2id parameters", func(s string) error {
		o.notes = append(o.notes, s)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return o, usageError{err}
	}
	if fs.NArg() > 0 {
		return o, usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	switch {
	case o.workers < 1:
		return o, usageError{errors.New("--workers must be at least 1")}
	case o.runs < 1:
		return o, usageError{errors.New("--runs must be at least 1")}
	case o.duration <= 0:
		return o, usageError{errors.New("--duration must be positive")}
	case o.introspect != "access" && o.introspect != "refresh":
		return o, usageError{errors.New("--introspect must be access or refresh")}
	case o.soak.Every < 0:
		return o, usageError{errors.New("--soak-every must not be negative")}
	case o.sourceIPs < 0 || o.sourceIPs > 250:
		return o, usageError{errors.New("--source-ips must be from 0 to 250")}
	}
	return o, nil
}

func (o options) workloadNames() ([]string, error) {
	if o.workload == "all" {
		return workloadOrder, nil
	}
	var names []string
	for _, n := range strings.Split(o.workload, ",") {
		n = strings.TrimSpace(n)
		if _, ok := workloads[n]; !ok {
			return nil, usageError{fmt.Errorf("unknown workload %q (want %s, saml-sso or all)", n, strings.Join(workloadOrder, ", "))}
		}
		names = append(names, n)
	}
	return names, nil
}

func run1(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if o.samlMetadata != "" {
		if o.samlKey == "" {
			return usageError{errors.New("--saml-sp-metadata needs --saml-sp-key")}
		}
		return writeSPMetadata(o.samlKey, o.samlMetadata)
	}
	names, err := o.workloadNames()
	if err != nil {
		return err
	}
	sums, err := bench(ctx, o, names, stderr)
	if err != nil {
		return err
	}
	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sums)
	}
	printTable(stdout, sums)
	return nil
}

// bench sets up the target and runs each workload.
func bench(ctx context.Context, o options, names []string, progress io.Writer) ([]Summary, error) {
	setupParams, err := url.ParseQuery(o.setupParams)
	if err != nil {
		return nil, usageError{fmt.Errorf("--setup-params: %w", err)}
	}
	t := &Target{
		Issuer: o.issuer, ClientID: o.clientID, Secret: o.secret, Redirect: o.redirect,
		Scope: o.scope, CCScope: o.ccScope,
		hc: newHTTPClient(o.workers*2, nil),
	}
	if err := t.discover(ctx); err != nil {
		return nil, err
	}
	env := &Env{T: t, SetupParams: setupParams, RefreshScope: o.refreshScope, Workers: o.workers,
		IntrospectRefresh: o.introspect == "refresh", SAMLKey: o.samlKey}
	if o.citizens != "" {
		if env.Citizens, err = readCitizens(o.citizens); err != nil {
			return nil, err
		}
	}
	for i := range o.sourceIPs {
		env.SourceIPs = append(env.SourceIPs, net.IPv4(127, 0, 0, byte(2+i)))
	}
	var out []Summary
	for _, name := range names {
		workers := make([]Worker, o.workers)
		for i := range workers {
			w, err := workloads[name](ctx, env, i)
			if err != nil {
				return out, fmt.Errorf("%s: setup: %w", name, err)
			}
			workers[i] = w
		}
		var runs []Result
		for r := range o.runs {
			res := run(ctx, workers, o.warmup, o.duration, o.pid, &t.requests, o.soak)
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			fmt.Fprintf(progress, "%s run %d/%d: %.0f/s p50 %v p99 %v errors %d rss max %.1f MB server cpu %v/iteration (%.2f cores) gen cpu %v/iteration (%.2f cores)\n",
				name, r+1, o.runs, res.RPS, ms(res.P50), ms(res.P99), res.Errors, float64(res.RSSMaxKiB)*1024/1e6,
				res.ServerCPUPerIter.Round(time.Microsecond), res.ServerCPU.Seconds()/res.Duration.Seconds(),
				res.GenCPUPerIter.Round(time.Microsecond), res.GenCPU.Seconds()/res.Duration.Seconds())
			for _, e := range res.ErrorSamples {
				fmt.Fprintf(progress, "  error: %s\n", e)
			}
			for _, sm := range res.Soak {
				fmt.Fprintf(progress, "  soak %v: %d iterations, database %.1f MB, rss %.1f MB\n",
					sm.Elapsed, sm.Iterations, float64(sm.DBBytes)/1e6, float64(sm.RSSKiB)*1024/1e6)
			}
			runs = append(runs, res)
		}
		s := summarize(o.target, name, o.workers, runs)
		s.Notes = slices.Clone(o.notes)
		out = append(out, s)
	}
	return out, nil
}

// ms rounds a latency for display.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

func printTable(w io.Writer, sums []Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tworkload\tworkers\truns\tper s (median)\treq/iter\tp50\tp90\tp99\terrors\tRSS before\tRSS max\tserver CPU µs/iter\tgen CPU µs/iter\t")
	for _, s := range sums {
		rss := func(k int64) string {
			if k == 0 {
				return "-"
			}
			return fmt.Sprintf("%.1f MB", float64(k)*1024/1e6)
		}
		cpu := func(d time.Duration) string {
			if d <= 0 {
				return "-"
			}
			return fmt.Sprintf("%d", d.Microseconds())
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.0f\t%.1f\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t\n",
			s.Target, s.Workload, s.Workers, len(s.Runs), s.RPS, s.RequestsPerIteration,
			ms(s.P50), ms(s.P90), ms(s.P99), s.Errors, rss(s.RSSBeforeKiB), rss(s.RSSMaxKiB),
			cpu(s.ServerCPUPerIter), cpu(s.GenCPUPerIter))
	}
	_ = tw.Flush()
	for _, s := range sums {
		for _, n := range s.Notes {
			fmt.Fprintf(w, "note (%s): %s\n", s.Workload, n)
		}
	}
}
