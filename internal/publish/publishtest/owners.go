package publishtest

import (
	"context"
	"testing"

	"qvt/internal/clock"
	"qvt/internal/exceptions"
	"qvt/internal/owners"
	"qvt/internal/store"
)

// SetOwners gives the store's findings the owners set gives them, as a
// change of rules does (history events 'owner' for each change of
// owner, new revisions), at clock.Now().
func SetOwners(t testing.TB, st *store.Store, set owners.Set) {
	t.Helper()
	if err := set.Validate(); err != nil {
		t.Fatal(err)
	}
	err := st.Write(context.Background(), func(tx *store.Tx) error {
		_, err := tx.ReassignOwners(set, clock.Now().Unix())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Reason and Approver are those of the exceptions Except records;
// Recorder recorded them.
const (
	Reason   = "TLS 1.1 needed by the payment terminal until it is replaced"
	Approver = "ciso@corp.example"
	Recorder = "alice@corp.example"
)

// Except records an exception of type typ covering one finding (key)
// until a date ("" for none) as of clock.Now(), applies the exceptions,
// and returns the exception's name (EXC-n).
func Except(t testing.TB, st *store.Store, key, typ, until string) string {
	t.Helper()
	e := exceptions.Exception{Type: typ, Scope: exceptions.Scope{Key: key},
		Reason: Reason, Approver: Approver, RecordedBy: Recorder, Until: until}
	if err := e.Validate(exceptions.DefaultPolicy(), clock.Today()); err != nil {
		t.Fatal(err)
	}
	var id int64
	err := st.Write(context.Background(), func(tx *store.Tx) error {
		var err error
		if id, err = tx.AddException(&e, clock.Now()); err != nil {
			return err
		}
		_, err = tx.ApplyExceptions(clock.Now(), nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return exceptions.Name(id)
}

// ApplyExceptions runs the store's expiry and coverage as of clock.Now(),
// as every command that writes does.
func ApplyExceptions(t testing.TB, st *store.Store) store.ApplyResult {
	t.Helper()
	var res store.ApplyResult
	err := st.Write(context.Background(), func(tx *store.Tx) error {
		var err error
		res, err = tx.ApplyExceptions(clock.Now(), nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}
