package oidc

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/cardsso/cardsso/storage"
)

// clientCache serves registered clients from memory. Every token, authorize
// and introspection request needs its client (often several times: the
// library asks for it, then for its secret, then for its subject); a query
// for each made the client table the busiest of all.
//
// Clients change through `cardsso clients` or the admin API, possibly in
// another process, which cannot tell this node. So an entry is reloaded
// from storage once it is older than the TTL: a new secret, a changed
// redirect URI or a deleted client takes effect on every node within the
// TTL. A client not in the cache (a miss) is loaded at once; an unknown id is
// remembered as unknown for a short time only (missTTL), so a client
// registered a moment ago is found at its first request after that, and a
// flood of made-up ids costs at most one query per id per missTTL. Storage
// faults are never cached. Invalidate drops an entry when this process
// changes a client.
type clientCache struct {
	store   clientGetter
	ttl     time.Duration
	missTTL time.Duration
	now     func() time.Time

	mu sync.RWMutex
	m  map[string]cachedClient
}

type clientGetter interface {
	GetClient(ctx context.Context, id string) (storage.Client, error)
}

type cachedClient struct {
	c        storage.Client
	notFound error // storage.ErrNotFound from the store, when unknown
	expires  time.Time
}

// maxCachedClients bounds the cache; past it, the cache starts over.
const maxCachedClients = 100_000

// Default TTLs of the client cache.
const (
	DefaultClientCacheTTL = 5 * time.Second
	clientMissTTL         = time.Second
)

func newClientCache(store clientGetter, ttl time.Duration, now func() time.Time) *clientCache {
	return &clientCache{store: store, ttl: ttl, missTTL: min(ttl, clientMissTTL), now: now, m: map[string]cachedClient{}}
}

// get returns the client, from memory while its entry is fresh. The value
// shares its slices with the cache: callers must not modify them.
func (cc *clientCache) get(ctx context.Context, id string) (storage.Client, error) {
	if cc.ttl <= 0 {
		return cc.store.GetClient(ctx, id)
	}
	now := cc.now()
	cc.mu.RLock()
	e, ok := cc.m[id]
	cc.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.c, e.notFound
	}
	c, err := cc.store.GetClient(ctx, id)
	switch {
	case err == nil:
		e = cachedClient{c: c, expires: now.Add(cc.ttl)}
	case errors.Is(err, storage.ErrNotFound):
		e = cachedClient{notFound: err, expires: now.Add(cc.missTTL)}
	default:
		return c, err // a fault: ask again next time
	}
	cc.mu.Lock()
	if len(cc.m) >= maxCachedClients {
		cc.m = map[string]cachedClient{}
	}
	cc.m[id] = e
	cc.mu.Unlock()
	return e.c, e.notFound
}

// invalidate drops a client's entry (after this process changed it).
func (cc *clientCache) invalidate(id string) {
	cc.mu.Lock()
	delete(cc.m, id)
	cc.mu.Unlock()
}
