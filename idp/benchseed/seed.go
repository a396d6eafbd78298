// Package benchseed fills a database with synthetic citizens, clients and
// SSO sessions for benchmarks (`cardsso seed`, cardsso-bench,
// docs/performance.md). It is tooling, not part of a node: no production
// path imports it.
package benchseed

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
	"github.com/cardsso/cardsso/idp/internal/password"
	"github.com/cardsso/cardsso/idp/keys"
	"github.com/cardsso/cardsso/storage"
)

// Seeding fills a database with synthetic citizens, clients and SSO
// sessions, so that benchmarks run against realistic table sizes (a million
// accounts and a million sessions). It writes through storage/sqlstore's
// bulk inserts, with the numbers sealed and indexed under the master key as
// registration does, so the seeded citizens can log in.
//
// What differs from real registrations, for speed: every seeded account of
// one run shares one password and one argon2id hash of it (made once with
// the configured cost; hashing a million passwords would take hours), and the
// name is synthetic. Never seed a production database.

// Bulk is what seeding writes through: storage/sqlstore's bulk inserts.
type Bulk interface {
	BulkCreateAccounts(ctx context.Context, accounts []storage.Account) error
	BulkCreateSessions(ctx context.Context, sessions []storage.Session) error
}

// Sealer seals numbers and makes their blind index, as registration does
// (idp/keys.MasterKey).
type Sealer interface {
	Seal(plaintext, associatedData []byte) ([]byte, error)
	BlindIndex(number string) []byte
}

// Clients registers the seeded portals (idp/admin.Admin).
type Clients interface {
	CreateClient(ctx context.Context, spec admin.ClientSpec) (admin.ClientInfo, string, error)
}

// Target is the database a Seeder writes to, opened by the caller
// (idp.OpenSeeder).
type Target struct {
	Store    Bulk
	Sealer   Sealer
	Clients  Clients
	Password password.Params // the argon2id cost of the shared hash
	Now      func() time.Time
	// Close releases what the caller opened for the target; may be nil.
	Close func() error
}

// Seeder seeds one database.
type Seeder struct{ t Target }

// New returns a Seeder writing to t.
func New(t Target) *Seeder {
	if t.Now == nil {
		t.Now = time.Now
	}
	return &Seeder{t: t}
}

// Close releases the target.
func (s *Seeder) Close() error {
	if s.t.Close == nil {
		return nil
	}
	return s.t.Close()
}

// Spec says what to create.
type Spec struct {
	// Accounts to create; their numbers are Number(First) up to
	// Number(First+Accounts-1).
	Accounts int
	// First is the number of the first account, so that a second run can
	// add more citizens without colliding with the first.
	First int
	// Password of every seeded account (at least 8 characters of two
	// classes, as the policy asks).
	Password string
	// Sessions to create, spread over the accounts of this run; they expire
	// after SessionLifetime (default 12h).
	Sessions        int
	SessionLifetime time.Duration
	// Clients to create: confidential portals seed-portal-<n> with random
	// secrets that are not kept, so no one can use them.
	Clients int
	// Citizens, when set, receives "number TAB password" lines for the
	// first CitizensCount seeded accounts (cardsso-bench --citizens).
	Citizens      io.Writer
	CitizensCount int
	// Batch is how many rows go in one transaction. Default 50,000.
	Batch int
	// Progress, when set, is called after every batch.
	Progress func(what string, done, total int)
}

// Result says what was created.
type Result struct {
	Accounts     int           `json:"accounts"`
	Sessions     int           `json:"sessions"`
	Clients      int           `json:"clients"`
	Citizens     int           `json:"citizens_written"`
	PasswordCost string        `json:"password_cost"`
	FirstNumber  string        `json:"first_number,omitempty"`
	Duration     time.Duration `json:"duration_ns"`
	AccountsPerS float64       `json:"accounts_per_second"`
	SessionsPerS float64       `json:"sessions_per_second"`
	Note         string        `json:"note"`
}

// seedRegions are GB/T 2260 county codes the synthetic numbers are issued in.
var seedRegions = []string{"110105", "110108", "310115", "440305", "440106", "510104", "330106", "320102", "420106", "610113"}

// seedEpoch is the first birth date of synthetic numbers.
var seedEpoch = time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC)

// Number is the social security number of seeded citizen i (i ≥ 0): a
// valid GB 11643-1999 number (region, birth date, sequence 100–999, check
// character). Sequences below 100 are left to real and demo holders, so
// seeded numbers never collide with the simulator's fixture.
func Number(i int) string {
	const perDay = 900 // sequences 100–999
	region := seedRegions[i%len(seedRegions)]
	j := i / len(seedRegions)
	birth := seedEpoch.AddDate(0, 0, j/perDay)
	first17 := fmt.Sprintf("%s%s%03d", region, birth.Format("20060102"), 100+j%perDay)
	return first17 + string(citizenid.CheckCharacter(first17))
}

var seedSurnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
var seedGiven = []rune("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂")

// Seed creates spec's accounts, sessions and clients.
func (sd *Seeder) Seed(ctx context.Context, spec Spec) (Result, error) {
	t := sd.t
	start := time.Now()
	res := Result{PasswordCost: t.Password.String(),
		Note: "seeded accounts share one password and one argon2id hash of it"}
	switch {
	case spec.Accounts < 0 || spec.Sessions < 0 || spec.Clients < 0 || spec.First < 0 || spec.CitizensCount < 0:
		return res, &admin.InvalidError{Field: "seed", Reason: "counts must not be negative"}
	case spec.Sessions > 0 && spec.Accounts == 0:
		return res, &admin.InvalidError{Field: "sessions", Reason: "sessions are spread over the accounts of the same run: seed accounts too"}
	}
	if spec.Batch <= 0 {
		spec.Batch = 50_000
	}
	if spec.SessionLifetime <= 0 {
		spec.SessionLifetime = 12 * time.Hour
	}
	if spec.Accounts > 0 {
		if err := password.CheckPolicy(spec.Password); err != nil {
			return res, &admin.InvalidError{Field: "password", Reason: err.Error()}
		}
		if _, err := citizenid.Parse(Number(spec.First + spec.Accounts - 1)); err != nil {
			return res, &admin.InvalidError{Field: "accounts", Reason: "too many for the synthetic number range: " + err.Error()}
		}
		res.FirstNumber = citizenid.Mask(Number(spec.First))
	}
	hash, err := password.Hash(spec.Password, t.Password, nil)
	if spec.Accounts > 0 && err != nil {
		return res, err
	}

	now := t.Now().UTC()
	ids, err := sd.accounts(ctx, spec, hash, now, &res)
	if err != nil {
		return res, err
	}
	accountsDone := time.Now()
	res.AccountsPerS = float64(res.Accounts) / accountsDone.Sub(start).Seconds()
	if err := sd.sessions(ctx, spec, ids, now, &res); err != nil {
		return res, err
	}
	if res.Sessions > 0 {
		res.SessionsPerS = float64(res.Sessions) / time.Since(accountsDone).Seconds()
	}
	if err := sd.clients(ctx, spec, &res); err != nil {
		return res, err
	}
	res.Duration = time.Since(start)
	return res, nil
}

// accounts creates spec's accounts in batches, all with one password hash,
// and returns their ids.
func (sd *Seeder) accounts(ctx context.Context, spec Spec, hash string, now time.Time, res *Result) ([]string, error) {
	t := sd.t
	ids := make([]string, 0, spec.Accounts)
	batch := make([]storage.Account, 0, min(spec.Batch, spec.Accounts))
	for i := range spec.Accounts {
		n := spec.First + i
		num := Number(n)
		id := rand.Text()
		sealed, err := t.Sealer.Seal([]byte(num), storage.SSNAssociatedData(id))
		if err != nil {
			return nil, err
		}
		name := []rune{seedSurnames[n%len(seedSurnames)], seedGiven[(n/7)%len(seedGiven)]}
		if n%3 == 0 {
			name = append(name, seedGiven[(n/11)%len(seedGiven)])
		}
		batch = append(batch, storage.Account{
			ID: id, Name: string(name), SSNSealed: sealed, SSNIndex: t.Sealer.BlindIndex(num),
			SSNMasked: citizenid.Mask(num), CardRegion: num[:6], PasswordHash: hash,
			RealNameVerifiedAt: now, CreatedAt: now, UpdatedAt: now,
		})
		ids = append(ids, id)
		if spec.Citizens != nil && i < spec.CitizensCount {
			if _, err := fmt.Fprintf(spec.Citizens, "%s\t%s\n", num, spec.Password); err != nil {
				return nil, fmt.Errorf("citizens file: %w", err)
			}
			res.Citizens++
		}
		if len(batch) == cap(batch) || i == spec.Accounts-1 {
			if err := t.Store.BulkCreateAccounts(ctx, batch); err != nil {
				if errors.Is(err, storage.ErrAlreadyExists) {
					return nil, fmt.Errorf("accounts %d to %d: a number was seeded before (use --first to continue after it): %w", spec.First+i+1-len(batch), spec.First+i, admin.ErrAlreadyExists)
				}
				return nil, fmt.Errorf("accounts: %w", err)
			}
			res.Accounts += len(batch)
			batch = batch[:0]
			if spec.Progress != nil {
				spec.Progress("accounts", res.Accounts, spec.Accounts)
			}
		}
	}
	return ids, nil
}

// sessions spreads spec's sessions over the accounts ids, in batches; their
// cookies are thrown away.
func (sd *Seeder) sessions(ctx context.Context, spec Spec, ids []string, now time.Time, res *Result) error {
	t := sd.t
	sbatch := make([]storage.Session, 0, min(spec.Batch, spec.Sessions))
	for i := range spec.Sessions {
		var raw [32]byte
		_, _ = rand.Read(raw[:])
		value := base64.RawURLEncoding.EncodeToString(raw[:]) // a cookie no one holds
		sum := sha256.Sum256([]byte(value))
		auth := now.Add(-time.Duration(i%3600) * time.Second)
		sbatch = append(sbatch, storage.Session{
			ID: hex.EncodeToString(sum[:]), AccountID: ids[(i*7)%len(ids)],
			AuthTime: auth, ACR: "urn:cardsso:loa:1", AMR: []string{"pwd"},
			Clients:   []string{fmt.Sprintf("seed-portal-%d", i%max(spec.Clients, 1))},
			CreatedAt: auth, LastSeenAt: auth, ExpiresAt: auth.Add(spec.SessionLifetime),
		})
		if len(sbatch) == cap(sbatch) || i == spec.Sessions-1 {
			if err := t.Store.BulkCreateSessions(ctx, sbatch); err != nil {
				return fmt.Errorf("sessions: %w", err)
			}
			res.Sessions += len(sbatch)
			sbatch = sbatch[:0]
			if spec.Progress != nil {
				spec.Progress("sessions", res.Sessions, spec.Sessions)
			}
		}
	}
	return nil
}

// clients registers spec's confidential portals seed-portal-<n>, whose
// secrets are not kept.
func (sd *Seeder) clients(ctx context.Context, spec Spec, res *Result) error {
	t := sd.t
	for i := range spec.Clients {
		_, _, err := t.Clients.CreateClient(ctx, admin.ClientSpec{
			ID:           fmt.Sprintf("seed-portal-%d", i),
			Name:         fmt.Sprintf("Seeded portal %d", i),
			RedirectURIs: []string{fmt.Sprintf("https://portal-%d.example.gov.cn/oidc/callback", i)},
			FirstParty:   i%2 == 0,
		})
		if err != nil {
			return fmt.Errorf("client %d: %w", i, err)
		}
		res.Clients++
	}
	return nil
}

// Seedable is a node's store that also takes rows in bulk
// (storage/sqlstore).
type Seedable interface {
	idp.Store
	storage.BulkCreator
}

// Open opens seeding on st, a node's opened and migrated store, with the
// master key mk and cfg's password cost; Seeder.Close closes st. On error st is
// left open for the caller to close.
func Open(ctx context.Context, cfg idp.Config, st Seedable, mk *keys.MasterKey) (*Seeder, error) {
	a, err := idp.OpenAdmin(ctx, cfg, st, mk)
	if err != nil {
		return nil, err
	}
	pw := cfg.Password
	if pw == (idp.PasswordConfig{}) {
		pw = idp.Defaults().Password
	}
	return New(Target{
		Store: st, Sealer: mk, Clients: a, Now: cfg.Now, Close: a.Close,
		Password: password.Params{MemoryKiB: pw.MemoryKiB, Time: pw.Time, Threads: pw.Threads},
	}), nil
}
