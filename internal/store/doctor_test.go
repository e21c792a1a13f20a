package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// dirState is each file of dir with its size and modification time.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fi.ModTime().String() + " " + fi.Mode().String() + " " + string(rune(fi.Size()))
	}
	return out
}

// Inspect reads the schema version, the meta values asked for and the
// last runs, and leaves the store's folder exactly as it was: closed, or
// open in a writer with its WAL.
func TestInspect(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "qvt.db")
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	err = st.Write(ctx, func(tx *Tx) error {
		if err := tx.SetMeta("subscription", "https://qualysapi.qualys.eu demo"); err != nil {
			return err
		}
		id, err := tx.StartRun("full", "{}", now)
		if err != nil {
			return err
		}
		if err := tx.FinishRun(id, nil, now.Add(time.Minute)); err != nil {
			return err
		}
		id, err = tx.StartRun("incremental", "{}", now.Add(time.Hour))
		if err != nil {
			return err
		}
		return tx.FinishRun(id, errors.New("qualys: 401"), now.Add(time.Hour+time.Second))
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		before := dirState(t, dir)
		f, err := Inspect(ctx, path, []string{"subscription", "creator"}, 5)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if f.Schema == 0 || f.Schema != f.Latest {
			t.Errorf("%s: schema %d, latest %d", when, f.Schema, f.Latest)
		}
		if f.Meta["subscription"] != "https://qualysapi.qualys.eu demo" {
			t.Errorf("%s: meta %v", when, f.Meta)
		}
		if _, ok := f.Meta["creator"]; ok {
			t.Errorf("%s: an absent meta value is reported: %v", when, f.Meta)
		}
		if len(f.Runs) != 2 || f.Runs[0].Kind != "incremental" || f.Runs[0].Status != "failed" || f.Runs[0].Error != "qualys: 401" ||
			f.Runs[1].Status != "done" || !f.Runs[1].Finished.Equal(now.Add(time.Minute)) {
			t.Errorf("%s: runs %+v", when, f.Runs)
		}
		if after := dirState(t, dir); len(after) != len(before) {
			t.Errorf("%s: inspecting changed the folder: %v, then %v", when, before, after)
		} else {
			for name, s := range before {
				if after[name] != s && name != "qvt.db-shm" {
					t.Errorf("%s: inspecting changed %s", when, name)
				}
			}
		}
	}
	check("open in a writer")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	check("closed")
}

// A missing store is an error, and Inspect does not create it.
func TestInspectMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.db")
	if _, err := Inspect(context.Background(), path, nil, 1); err == nil {
		t.Fatal("no error for a missing store")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Inspect created %s (%v)", path, err)
	}
}
