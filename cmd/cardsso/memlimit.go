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
const memoryLimitBase = 64 << 20

// setMemoryLimit gives the Go runtime a soft memory limit when GOMEMLIMIT
// does not set one: memoryLimitBase plus the memory of the argon2id hashes
// that may run at once (one per core, each password.memory_kib). Each login
// allocates a hash's memory afresh and drops it; with the default GOGC the
// heap was let grow to twice its peak before a collection, about 300 MB
// under a burst of logins. The limit makes the collector run (and return
// memory) sooner near it; it never fails an allocation, and it costs
// nothing while the heap is far below it.
func setMemoryLimit(cfg idp.Config, log *slog.Logger) {
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		return
	}
	kib := int64(cfg.Password.MemoryKiB)
	if kib == 0 {
		kib = 19456
	}
	limit := int64(memoryLimitBase) + int64(runtime.GOMAXPROCS(0))*kib<<10
	debug.SetMemoryLimit(limit)
	log.Debug("soft memory limit", "bytes", limit, "override", "GOMEMLIMIT")
}
