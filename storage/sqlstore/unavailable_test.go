package sqlstore_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cardsso/cardsso/storage"
	"github.com/cardsso/cardsso/storage/sqlstore"
	"github.com/cardsso/cardsso/storage/storagetest"
)

// swallower is a TCP proxy to PostgreSQL that can start swallowing traffic
// (a partition: no reset, no answer) and stop again.
type swallower struct {
	ln      net.Listener
	target  string
	swallow atomic.Bool
	mu      sync.Mutex
	conns   []net.Conn
}

func newSwallower(t *testing.T, target string) *swallower {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &swallower{ln: ln, target: target}
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go p.pipe(up, c)
			go p.pipe(c, up)
		}
	}()
	return p
}

// pipe copies until swallowing starts; then it reads and drops.
func (p *swallower) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.swallow.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				_ = dst.Close()
			}
			return
		}
	}
}

// TestHungPostgresIsUnavailable: with PostgreSQL silently swallowing
// traffic, a read and a write fail within the query timeout with
// storage.ErrUnavailable (not a hang, not "not found"), and work again
// once traffic flows (issue #18 §3, §4).
func TestHungPostgresIsUnavailable(t *testing.T) {
	if !storagetest.PostgresConfigured() {
		t.Log("CARDSSO_TEST_POSTGRES is not set: the hung-database test needs PostgreSQL and does not run")
		return
	}
	dsn := storagetest.FreshPostgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	if u.Port() == "" {
		target += ":5432"
	}
	p := newSwallower(t, target)
	u.Host = p.ln.Addr().String()
	const timeout = 700 * time.Millisecond
	s := open(t, sqlstore.Config{Flavour: "postgres", DSN: u.String(), QueryTimeout: timeout, MaxOpenConns: 4})
	ctx := context.Background()
	if _, err := s.GetClient(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("GetClient(unknown) on a healthy database = %v; want ErrNotFound only", err)
	}
	p.swallow.Store(true)
	start := time.Now()
	_, err = s.GetClient(ctx, "nobody")
	if !errors.Is(err, storage.ErrUnavailable) || errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetClient with the database hung = %v; want ErrUnavailable", err)
	}
	err = s.RecordOnce(ctx, "k", time.Now().Add(time.Minute))
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("RecordOnce with the database hung = %v; want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 4*timeout+2*time.Second {
		t.Errorf("two calls took %s with a query timeout of %s", d, timeout)
	}
	p.swallow.Store(false)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := s.GetClient(ctx, "nobody")
		if errors.Is(err, storage.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the partition healed: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRefusedPostgresIsUnavailable: a server that refuses connections
// (stopped; here: the proxy gone) is ErrUnavailable too.
func TestRefusedPostgresIsUnavailable(t *testing.T) {
	if !storagetest.PostgresConfigured() {
		t.Log("CARDSSO_TEST_POSTGRES is not set: the refused-database test needs PostgreSQL and does not run")
		return
	}
	dsn := storagetest.FreshPostgres(t)
	u, _ := url.Parse(dsn)
	target := u.Host
	p := newSwallower(t, target)
	u.Host = p.ln.Addr().String()
	s := open(t, sqlstore.Config{Flavour: "postgres", DSN: u.String(), QueryTimeout: time.Second})
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	var err error
	for range 3 { // a pooled connection may need a try to be found dead
		if _, err = s.GetClient(context.Background(), "nobody"); errors.Is(err, storage.ErrUnavailable) {
			break
		}
	}
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("GetClient with the server refusing = %v; want ErrUnavailable", err)
	}
}

// TestFullSQLiteIsUnavailable: a write to a full database is
// ErrUnavailable; nothing is lost through it: afterwards the file passes
// integrity_check and every client is still there (issue #18 §6).
func TestFullSQLiteIsUnavailable(t *testing.T) {
	ctx := context.Background()
	s := open(t, sqlstore.Config{DSN: tempFile(t)})
	for _, id := range []string{"a", "b", "c"} {
		if err := s.CreateClient(ctx, storage.Client{ID: id, Name: id, RedirectURIs: []string{"https://p/cb"}, CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.Exec("PRAGMA max_page_count = 1")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	big := storage.AuthRequest{ID: "full", ClientID: "c", LoginState: make([]byte, 64<<10),
		CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Minute)}
	if err := s.CreateAuthRequest(ctx, big); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("CreateAuthRequest on a full database = %v; want ErrUnavailable", err)
	}
	if _, err := s.GetAuthRequest(ctx, "none"); !errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("GetAuthRequest(unknown) on the full database = %v; want ErrNotFound only", err)
	}
	for i := range 20 { // many failed writes, each rolled back
		big.ID = "full-" + string(rune('a'+i))
		_ = s.CreateAuthRequest(ctx, big)
	}
	var check string
	if err := s.DB().Get(&check, "PRAGMA integrity_check"); err != nil || check != "ok" {
		t.Errorf("integrity_check after the full disk = %q, %v", check, err)
	}
	cs, err := s.ListClients(ctx)
	if err != nil || len(cs) != 3 {
		t.Errorf("clients after the full disk: %d, %v; want the 3", len(cs), err)
	}
	if _, err := s.GetAuthRequest(ctx, "full"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a failed write left a row: %v", err)
	}
}
