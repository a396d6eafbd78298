package storagetest

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
)

func testAccountCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a := newAccount("acct-1", 1)
	checkErr(t, "CreateAccount", s.CreateAccount(ctx, a), nil)

	got, err := s.GetAccount(ctx, a.ID)
	checkErr(t, "GetAccount", err, nil)
	checkEqual(t, fmt.Sprintf("GetAccount(%q)", a.ID), got, a)

	got, err = s.GetAccountBySSNIndex(ctx, a.SSNIndex)
	checkErr(t, "GetAccountBySSNIndex", err, nil)
	checkEqual(t, "GetAccountBySSNIndex", got, a)

	// Same id; same blind index under another id.
	checkErr(t, "CreateAccount(same id)", s.CreateAccount(ctx, newAccount(a.ID, 2)), storage.ErrAlreadyExists)
	checkErr(t, "CreateAccount(same ssn index)", s.CreateAccount(ctx, newAccount("acct-2", 1)), storage.ErrAlreadyExists)
	_, err = s.GetAccount(ctx, "acct-2")
	checkErr(t, `GetAccount("acct-2") after a refused create`, err, storage.ErrNotFound)
	got, err = s.GetAccount(ctx, a.ID)
	checkErr(t, "GetAccount", err, nil)
	checkEqual(t, "GetAccount after refused creates", got, a)

	_, err = s.GetAccount(ctx, "missing")
	checkErr(t, `GetAccount("missing")`, err, storage.ErrNotFound)
	_, err = s.GetAccountBySSNIndex(ctx, []byte("no such index"))
	checkErr(t, "GetAccountBySSNIndex(unknown)", err, storage.ErrNotFound)

	checkErr(t, "DeleteAccount", s.DeleteAccount(ctx, a.ID), nil)
	_, err = s.GetAccount(ctx, a.ID)
	checkErr(t, "GetAccount after delete", err, storage.ErrNotFound)
	_, err = s.GetAccountBySSNIndex(ctx, a.SSNIndex)
	checkErr(t, "GetAccountBySSNIndex after delete", err, storage.ErrNotFound)
	checkErr(t, "DeleteAccount again", s.DeleteAccount(ctx, a.ID), storage.ErrNotFound)

	// The blind index is free again.
	checkErr(t, "CreateAccount(reused index)", s.CreateAccount(ctx, newAccount("acct-3", 1)), nil)
}

func testAccountUpdate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a, b := newAccount("acct-1", 1), newAccount("acct-2", 2)
	checkErr(t, "CreateAccount", s.CreateAccount(ctx, a), nil)
	checkErr(t, "CreateAccount", s.CreateAccount(ctx, b), nil)

	want := a
	err := s.UpdateAccount(ctx, a.ID, func(old storage.Account) (storage.Account, error) {
		checkEqual(t, "updater's argument", old, a)
		old.Name = "李四"
		old.CardRegion = "440305"
		old.SSNSealed = blob(9)
		old.UpdatedAt = created.Add(48 * time.Hour)
		want = old
		return old, nil
	})
	checkErr(t, "UpdateAccount", err, nil)
	got, err := s.GetAccount(ctx, a.ID)
	checkErr(t, "GetAccount", err, nil)
	checkEqual(t, "GetAccount after update", got, want)

	// A failing updater writes nothing.
	err = s.UpdateAccount(ctx, a.ID, func(old storage.Account) (storage.Account, error) {
		old.Name = "not written"
		return old, errUpdater
	})
	checkErr(t, "UpdateAccount(failing updater)", err, errUpdater)
	// An updater must not change the key.
	err = s.UpdateAccount(ctx, a.ID, func(old storage.Account) (storage.Account, error) {
		old.ID = "acct-9"
		return old, nil
	})
	if err == nil {
		t.Errorf("UpdateAccount(changing the id) = nil; want an error")
	}
	_, err = s.GetAccount(ctx, "acct-9")
	checkErr(t, "GetAccount(changed id)", err, storage.ErrNotFound)
	// Taking another account's blind index is a duplicate.
	err = s.UpdateAccount(ctx, a.ID, func(old storage.Account) (storage.Account, error) {
		old.SSNIndex = b.SSNIndex
		return old, nil
	})
	checkErr(t, "UpdateAccount(duplicate ssn index)", err, storage.ErrAlreadyExists)

	got, err = s.GetAccount(ctx, a.ID)
	checkErr(t, "GetAccount", err, nil)
	checkEqual(t, "GetAccount after refused updates", got, want)
	got, err = s.GetAccountBySSNIndex(ctx, b.SSNIndex)
	checkErr(t, "GetAccountBySSNIndex", err, nil)
	checkEqual(t, "GetAccountBySSNIndex after refused updates", got, b)

	err = s.UpdateAccount(ctx, "missing", func(old storage.Account) (storage.Account, error) {
		t.Errorf("updater called for a missing account")
		return old, nil
	})
	checkErr(t, `UpdateAccount("missing")`, err, storage.ErrNotFound)
}

func testClientCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	list, err := s.ListClients(ctx)
	checkErr(t, "ListClients", err, nil)
	if len(list) != 0 {
		t.Errorf("ListClients on an empty store = %+v; want none", list)
	}

	c1 := newClient("client-b")
	c2 := newClient("client-a")
	// A public client: no secret, no lists, nothing optional.
	c3 := storage.Client{ID: "client-c", Name: "public", Public: true, CreatedAt: created, UpdatedAt: created}
	for _, c := range []storage.Client{c1, c2, c3} {
		checkErr(t, fmt.Sprintf("CreateClient(%q)", c.ID), s.CreateClient(ctx, c), nil)
	}
	checkErr(t, "CreateClient(duplicate)", s.CreateClient(ctx, newClient(c1.ID)), storage.ErrAlreadyExists)

	for _, c := range []storage.Client{c1, c2, c3} {
		got, err := s.GetClient(ctx, c.ID)
		checkErr(t, "GetClient", err, nil)
		checkEqual(t, fmt.Sprintf("GetClient(%q)", c.ID), got, c)
	}
	_, err = s.GetClient(ctx, "missing")
	checkErr(t, `GetClient("missing")`, err, storage.ErrNotFound)

	list, err = s.ListClients(ctx)
	checkErr(t, "ListClients", err, nil)
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	checkEqual(t, "ListClients", list, []storage.Client{c2, c1, c3})

	want := c1
	err = s.UpdateClient(ctx, c1.ID, func(old storage.Client) (storage.Client, error) {
		checkEqual(t, "updater's argument", old, c1)
		old.RedirectURIs = append(old.RedirectURIs, "https://new.example/cb")
		old.PostLogoutRedirectURIs = nil
		old.SecretHash = blob(7)
		old.FirstParty = false
		old.MinACR = ""
		want = old
		return old, nil
	})
	checkErr(t, "UpdateClient", err, nil)
	err = s.UpdateClient(ctx, c1.ID, func(old storage.Client) (storage.Client, error) {
		old.Name = "not written"
		return old, errUpdater
	})
	checkErr(t, "UpdateClient(failing updater)", err, errUpdater)
	err = s.UpdateClient(ctx, c1.ID, func(old storage.Client) (storage.Client, error) {
		old.ID = c2.ID
		return old, nil
	})
	if err == nil {
		t.Errorf("UpdateClient(changing the id) = nil; want an error")
	}
	got, err := s.GetClient(ctx, c1.ID)
	checkErr(t, "GetClient", err, nil)
	checkEqual(t, "GetClient after updates", got, want)
	got, err = s.GetClient(ctx, c2.ID)
	checkErr(t, "GetClient", err, nil)
	checkEqual(t, "GetClient of the other client", got, c2)
	err = s.UpdateClient(ctx, "missing", func(c storage.Client) (storage.Client, error) { return c, nil })
	checkErr(t, `UpdateClient("missing")`, err, storage.ErrNotFound)

	checkErr(t, "DeleteClient", s.DeleteClient(ctx, c1.ID), nil)
	checkErr(t, "DeleteClient again", s.DeleteClient(ctx, c1.ID), storage.ErrNotFound)
	_, err = s.GetClient(ctx, c1.ID)
	checkErr(t, "GetClient after delete", err, storage.ErrNotFound)
	list, err = s.ListClients(ctx)
	checkErr(t, "ListClients", err, nil)
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	checkEqual(t, "ListClients after delete", list, []storage.Client{c2, c3})
}
