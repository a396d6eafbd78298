package main

import (
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/cardsso/cardsso/idp"
)

// memoryLimitBase is the soft memory limit for everything but password
// hashing: the node's working set under load is 20-40 MiB.
const memoryLimitBase = 48 << 20

// gcPercent is the collector's GOGC for a node: with a heap of 10-20 MiB
// the default (100) collects every few MiB of garbage, a tenth of the CPU
// of token and introspection requests; at 400 it collects four times less
// often, and the soft memory limit (setMemoryLimit) still bounds the heap.
const gcPercent = 400

// tuneGC sets the collector's GOGC and soft memory limit for a node, each
// unless its environment variable (GOGC, GOMEMLIMIT) sets it.
func tuneGC(cfg idp.Config, log *slog.Logger) {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(gcPercent)
	}
	if _, ok := os.LookupEnv("GOMEMLIMIT"); !ok {
		setMemoryLimit(cfg, log)
	}
}

// setMemoryLimit gives the Go runtime a soft memory limit:
// memoryLimitBase plus the memory of the argon2id hashes that may run at
// once (one per core, each password.memory_kib). Each login allocates a
// hash's memory afresh and drops it; with the default GOGC the heap was let
// grow to twice its peak before a collection, about 300 MB under a burst of
// logins. The limit makes the collector run (and return memory) sooner
// near it; it never fails an allocation, and it costs nothing while the
// heap is far below it.
func setMemoryLimit(cfg idp.Config, log *slog.Logger) {
	kib := int64(cfg.Password.MemoryKiB)
	if kib == 0 {
		kib = 19456
	}
	limit := int64(memoryLimitBase) + int64(runtime.GOMAXPROCS(0))*kib<<10
	debug.SetMemoryLimit(limit)
	log.Debug("soft memory limit", "bytes", limit, "override", "GOMEMLIMIT")
}
