package store

import (
	"context"
	"errors"

	"qvt/internal/exceptions"
)

// ErrOldSchema is returned by a read-only reader of a store whose schema
// lacks what it reads: the next write upgrades it.
var ErrOldSchema = errors.New("the store's schema is older than this qvt's: the next sync or import upgrades it")

// OwnershipFacts is what qvt doctor tells of owners and exceptions.
type OwnershipFacts struct {
	Owners     []OwnerStats
	Exceptions []exceptions.Exception // active ones, as the store holds them
}

// ReadOwnership reads the owners' summary and the active exceptions
// read-only (nothing is created or upgraded), as of today (YYYY-MM-DD).
func ReadOwnership(ctx context.Context, loc, today string) (*OwnershipFacts, error) {
	var s *Store
	if IsPostgres(loc) {
		var err error
		if s, err = openReadOnly(ctx, loc); err != nil {
			return nil, err
		}
	} else {
		// A diagnosis leaves no -wal or -shm file behind.
		db, err := openDiagnosis(loc)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(2)
		s = &Store{db: db, path: loc}
	}
	defer s.Close()
	var schema int64
	if err := s.Snapshot(ctx, func(q *Snap) error {
		var err error
		schema, err = schemaVersion(q)
		return err
	}); err != nil {
		return nil, err
	}
	if schema < 10 {
		return nil, ErrOldSchema
	}
	f := &OwnershipFacts{}
	var err error
	if f.Owners, err = s.OwnerSummary(ctx, today); err != nil {
		return nil, err
	}
	if f.Exceptions, err = s.Exceptions(ctx, ExceptionFilter{States: []string{exceptions.Active}}); err != nil {
		return nil, err
	}
	return f, nil
}
