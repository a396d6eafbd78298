package password

import (
	"runtime"

	"github.com/cardsso/cardsso/idp/internal/password/internal/argon2"
)

// Each argon2id hash works in MemoryKiB of memory (19 MiB at the default
// cost). Allocated afresh for every hash, that memory was garbage at once
// and, near the node's soft memory limit, handed back to the operating
// system and faulted in again by the next login: on a virtual machine
// where a page fault is costly, a third of a login's CPU. Hashes now take
// their memory from a small free list and put it back: at most one buffer
// per core is kept (the Limiter runs one hash per core), so a burst of
// logins holds GOMAXPROCS buffers and no garbage, and ReleaseMemory (the
// Limiter calls it once logins have been idle, ReturnIdleMemory) lets them
// go, so an idle node does not hold them.

var memories = make(chan *argon2.Memory, runtime.GOMAXPROCS(0))

func getMemory() *argon2.Memory {
	select {
	case m := <-memories:
		return m
	default:
		return new(argon2.Memory)
	}
}

func putMemory(m *argon2.Memory) {
	select {
	case memories <- m:
	default: // more hashes ran at once than are kept: let it go
	}
}

// ReleaseMemory drops the kept hash memory; the next hash allocates again.
func ReleaseMemory() {
	for {
		select {
		case <-memories:
		default:
			return
		}
	}
}
