package sqlstore

import "github.com/cardsso/cardsso/storage"

// The capabilities beyond storage.Store that a Store has (storage's
// capabilities.go), each checked by storagetest.RunTests.
var (
	_ storage.CodeSaver   = (*Store)(nil)
	_ storage.TokenIssuer = (*Store)(nil)
	_ storage.Completer   = (*Store)(nil)
	_ storage.Health      = (*Store)(nil)
	_ storage.Migrator    = (*Store)(nil)
	_ storage.Backuper    = (*Store)(nil)
	_ storage.BulkCreator = (*Store)(nil)
	_ storage.CounterLog  = (*Store)(nil)
)
