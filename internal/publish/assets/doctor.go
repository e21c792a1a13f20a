package assets

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// WithBudget bounds each request's retries: at most attempts attempts
// and wait in all (qvt doctor diagnoses, it does not wait out a 429
// storm).
func WithBudget(attempts int, wait time.Duration) Option {
	return func(t *Target) { t.client.MaxAttempts, t.client.MaxWait = attempts, wait }
}

// Found is what Check found: the API base, the schema, and what qvt
// needs that the schema lacks.
type Found struct {
	Base    string
	Schema  string // the schema's id as the configuration named it
	Missing []string
}

// Check connects (finding the Cloud workspace when needed), finds the
// schema, and lists the object types and attributes qvt needs that it
// lacks, creating nothing.
func (t *Target) Check(ctx context.Context) (Found, error) {
	if err := t.connect(ctx); err != nil {
		return Found{}, err
	}
	f := Found{Base: t.client.Base, Schema: string(t.schema)}
	types, err := t.api.types(ctx, t.schema)
	if err != nil {
		return f, fmt.Errorf("assets: listing object types: %w", err)
	}
	hostSpecs, findSpecs := t.cfg.specs()
	for _, want := range []struct {
		name  string
		specs []attrSpec
	}{{t.cfg.HostType, hostSpecs}, {t.cfg.FindingType, findSpecs}} {
		i := slices.IndexFunc(types, func(ty typeJSON) bool { return strings.EqualFold(ty.Name, want.name) })
		if i < 0 {
			f.Missing = append(f.Missing, "object type "+want.name)
			continue
		}
		attrs, err := t.api.attributes(ctx, types[i].ID)
		if err != nil {
			return f, fmt.Errorf("assets: listing the attributes of %s: %w", want.name, err)
		}
		for _, s := range want.specs {
			if !slices.ContainsFunc(attrs, func(a attrJSON) bool { return strings.EqualFold(a.Name, s.name) }) {
				f.Missing = append(f.Missing, "attribute "+want.name+"."+s.name)
			}
		}
	}
	return f, nil
}
