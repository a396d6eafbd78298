// Package storage defines what CardSSO keeps: the Store interface, its value
// types and the errors callers branch on.
//
// Every node of a deployment keeps its state here and nowhere else, so any node
// can serve any request. Implementations live in sub-packages (sqlstore) and
// pass the conformance suite in storagetest.
//
// Besides Store, capabilities.go names the optional interfaces a store may
// have, found by type assertion: the fast paths production runs
// (CodeSaver, TokenIssuer, Completer: one statement or transaction where
// the Store methods take several) and those for operations (Health,
// Migrator, Backuper, BulkCreator). storagetest checks each one a store
// has.
//
// Conventions:
//   - Create returns ErrAlreadyExists for a duplicate key, Get/Update/Delete
//     return ErrNotFound for a missing one.
//   - Update methods take an updater func that runs inside a transaction on the
//     current row: the write is compare-and-swap, and an updater error aborts it
//     with nothing written. An updater may run more than once (a transaction
//     retried after a deadlock), so it must have no effect beyond the value it
//     returns; it runs while the row is locked, so it must be quick and must not
//     call the store. It must keep the row's key.
//   - Claim methods mark a single-use value (authorization code, refresh token)
//     used in one atomic statement; of two concurrent claims exactly one wins,
//     the other gets ErrAlreadyUsed.
//   - Times are stored in UTC with at least millisecond precision.
//
// Personal data: the social security number is never stored in clear. The store
// holds the sealed (encrypted) number, its blind index for lookups and the
// masked form for display; sealing is the caller's job (idp/keys).
package storage
