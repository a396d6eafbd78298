package sqlstore_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
	"github.com/cardsso/cardsso/storage/sqlstore"
)

// killChildEnv makes the test binary a writer that TestKillNineLosesNoCommittedWrite kills.
const killChildEnv = "CARDSSO_TEST_KILL_CHILD_DB"

// TestKillNineLosesNoCommittedWrite: a process writing under load (8
// goroutines through the group-commit writer) is killed with SIGKILL; every
// write it was answered for before the kill is in the database afterwards,
// and the file passes integrity_check (issue #18 §6). The child is this
// test binary, re-run with killChildEnv set.
func TestKillNineLosesNoCommittedWrite(t *testing.T) {
	if db := os.Getenv(killChildEnv); db != "" {
		killChild(db)
		return
	}
	db := tempFile(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillNineLosesNoCommittedWrite$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+db)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var committed []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if id, ok := strings.CutPrefix(line, "committed "); ok {
			committed = append(committed, id)
			if len(committed) == 2000 {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
	}
	for sc.Scan() { // what the pipe still holds was committed too
		if id, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
			committed = append(committed, id)
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the writer was not killed by SIGKILL: %v (%v)", err, cmd.ProcessState)
	}
	if len(committed) < 2000 {
		t.Fatalf("the writer reported only %d writes", len(committed))
	}
	s := open(t, sqlstore.Config{DSN: db})
	ctx := context.Background()
	var check string
	if err := s.DB().Get(&check, "PRAGMA integrity_check"); err != nil || check != "ok" {
		t.Fatalf("integrity_check after kill -9 = %q, %v", check, err)
	}
	lost := 0
	for _, id := range committed {
		if _, err := s.GetAuthRequest(ctx, id); err != nil {
			lost++
			if lost < 5 {
				t.Errorf("committed write %s lost after kill -9: %v", id, err)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d committed writes lost", lost, len(committed))
	}
}

// killChild writes auth requests from 8 goroutines and prints each one's
// id once the store has answered for it, until it is killed.
func killChild(db string) {
	s, err := sqlstore.Open(context.Background(), sqlstore.Config{DSN: db})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	lines := make(chan string, 64)
	for w := range 8 {
		go func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("w%d-%07d", w, i)
				now := time.Now()
				err := s.CreateAuthRequest(context.Background(), storage.AuthRequest{ID: id, ClientID: "c",
					LoginState: make([]byte, 512), CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
				if err != nil {
					fmt.Fprintln(os.Stderr, "child write:", err)
					os.Exit(4)
				}
				lines <- id
			}
		}()
	}
	w := bufio.NewWriter(os.Stdout)
	for id := range lines {
		fmt.Fprintln(w, "committed "+id)
		_ = w.Flush()
	}
}
