package storagetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
)

// testCounterLog: verifications are stored as given (times to the
// millisecond, in UTC), listed newest first per client or for all, and an
// id is recorded once.
func testCounterLog(t *testing.T, _ storage.Store, cl storage.CounterLog) {
	ctx := context.Background()
	vs := []storage.CounterVerification{
		{ID: "v1", ClientID: "counter-a", At: created, Outcome: "valid", NumberMasked: "110***********0017", BindingID: "b1"},
		{ID: "v2", ClientID: "counter-a", At: created.Add(time.Second), Outcome: "used_code"},
		{ID: "v3", ClientID: "", At: created.Add(2 * time.Second), Outcome: "invalid_token"},
	}
	for _, v := range vs {
		checkErr(t, "RecordCounterVerification", cl.RecordCounterVerification(ctx, v), nil)
	}
	checkErr(t, "RecordCounterVerification again", cl.RecordCounterVerification(ctx, vs[0]), storage.ErrAlreadyExists)
	if err := cl.RecordCounterVerification(ctx, storage.CounterVerification{ID: "v4", At: created}); err == nil {
		t.Error("RecordCounterVerification without an outcome = nil; want an error")
	}
	if err := cl.RecordCounterVerification(ctx, storage.CounterVerification{Outcome: "valid", At: created}); err == nil {
		t.Error("RecordCounterVerification without an id = nil; want an error")
	}
	norm := func(v storage.CounterVerification) storage.CounterVerification {
		v.At = v.At.Truncate(time.Millisecond).UTC()
		return v
	}
	all, err := cl.ListCounterVerifications(ctx, "")
	checkErr(t, "ListCounterVerifications", err, nil)
	want := []storage.CounterVerification{norm(vs[2]), norm(vs[1]), norm(vs[0])}
	if !reflect.DeepEqual(all, want) {
		t.Errorf("ListCounterVerifications(\"\") = %+v; want %+v", all, want)
	}
	mine, err := cl.ListCounterVerifications(ctx, "counter-a")
	checkErr(t, "ListCounterVerifications", err, nil)
	if !reflect.DeepEqual(mine, want[1:]) {
		t.Errorf("ListCounterVerifications(counter-a) = %+v; want %+v", mine, want[1:])
	}
}
