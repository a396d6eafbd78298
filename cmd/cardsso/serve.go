package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/cardsso/cardsso/idp"
)

func (c *cli) newServeCmd() *cobra.Command {
	var addr, issuer, pprofAddr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a CardSSO node",
		Long: `Run a CardSSO node: the OpenID Provider, the login pages, /healthz, /readyz
and /metrics (on metrics_addr when it is set, and then not on --addr).
Pending database migrations run first.

With no configuration it runs on SQLite in <data-dir>/cardsso.db with the card
simulator, listens on 127.0.0.1:8080 with issuer http://localhost:8080, and
generates a master key into <data-dir>/master.key (production must supply its
own). SIGINT or SIGTERM shuts it down gracefully.

Configuration: defaults < the YAML file (--config or $CARDSSO_CONFIG) <
environment < flags. Every key, its environment variable and its default
(the README's configuration reference explains each):

` + settingsHelp(),
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen `address` (host:port)")
	cmd.Flags().StringVar(&issuer, "issuer", "http://localhost:8080", "issuer `URL` (what relying parties discover and tokens carry)")
	cmd.Flags().StringVar(&pprofAddr, "pprof-addr", "", "serve the Go profiler (/debug/pprof/) on this loopback `address`, e.g. 127.0.0.1:6060; off when empty")
	cmd.RunE = runE(func(cmd *cobra.Command, args []string) error {
		fc, err := c.config(cmd,
			flagSetting{Path: "addr", Flag: "--addr", Value: addr},
			flagSetting{Path: "issuer", Flag: "--issuer", Value: issuer},
		)
		if err != nil {
			return err
		}
		logs := newLogBuffer(c.stderr) // logbuf.go: one write per batch of lines
		defer logs.Close()
		logger := fc.newLogger(logs)
		logger = slog.New(flushingHandler{logger.Handler(), logs})
		// zitadel/oidc logs through the default logger: the process's
		// default is the node's logger.
		slog.SetDefault(logger)
		if pprofAddr != "" {
			stop, err := servePprof(pprofAddr, logger)
			if err != nil {
				return err
			}
			defer stop()
		}
		return serve(cmd, &fc, logger)
	})
	return cmd
}

// serve opens the master key, the configured connector and store and runs
// a node on them until the command's context ends.
func serve(cmd *cobra.Command, fc *fileConfig, logger *slog.Logger) (err error) {
	ctx := cmd.Context()
	cfg := fc.idpConfig(logger)
	tuneGC(cfg, logger)
	mk, err := idp.OpenMasterKey(cfg)
	if err != nil {
		return startError("start", err)
	}
	connectorMetrics := prometheus.NewRegistry()
	checks, err := fc.openChecks(idp.NodeLogger(logger), connectorMetrics)
	if err != nil {
		return err
	}
	cfg.ExtraMetrics = connectorMetrics
	st, err := fc.openStore(ctx)
	if err != nil {
		return startError("start", err)
	}
	srv, err := idp.New(ctx, cfg, idp.Parts{Store: st, Checks: checks, MasterKey: mk})
	if err != nil {
		_ = st.Close()
		return startError("start", err)
	}
	defer func() {
		if cerr := srv.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close: %w", cerr)
		}
	}()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	issuer := srv.Issuer()
	if issuer == "" {
		issuer = cfg.Issuer
	}
	logger.Info("listening", "addr", ln.Addr().String(), "issuer", issuer)
	if w := issuerMismatch(issuer, ln.Addr()); w != "" {
		logger.Warn(w, "addr", ln.Addr().String(), "issuer", issuer)
	}

	// /metrics on a listener of its own (metrics_addr): it stops with the
	// main one, gracefully, and takes it down if it fails.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	metricsDone := make(chan error, 1)
	if cfg.MetricsAddr == "" {
		metricsDone <- nil
	} else {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("listen (metrics_addr): %w", err)
		}
		logger.Info("serving metrics", "addr", mln.Addr().String(), "path", "/metrics")
		go func() {
			err := srv.ServeMetrics(ctx, mln)
			if err != nil {
				cancel()
			}
			metricsDone <- err
		}()
	}

	err = srv.Serve(ctx, ln)
	cancel()
	if merr := <-metricsDone; merr != nil && err == nil {
		err = fmt.Errorf("metrics: %w", merr)
	}
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// issuerMismatch warns about the common mistake of moving a local node to
// another port without moving its issuer: relying parties would then be sent
// to a port nothing listens on. It only judges loopback http issuers.
func issuerMismatch(issuer string, addr net.Addr) string {
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme != "http" || !isLoopbackHost(u.Hostname()) {
		return ""
	}
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	if port != fmt.Sprint(tcp.Port) {
		return "the issuer's port is not the listening port: relying parties will not reach this node; set --issuer"
	}
	return ""
}
