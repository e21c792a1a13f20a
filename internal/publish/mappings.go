package publish

import (
	"context"
	"slices"
	"strings"

	"qvt/internal/store"
)

// Mappings is a target's map of its items (findings, groups of findings,
// hosts) to the objects it made for them, read from the store when a
// publish starts and changed as it goes. Flush writes the changes back;
// an item set and then dropped, or dropped and set again, is written as
// its last state.
type Mappings struct {
	Items  map[string]store.Mapping
	target string
	set    map[string]bool // items to write
	drop   map[string]bool // items to delete
}

// LoadMappings reads a target's mappings.
func LoadMappings(ctx context.Context, st *store.Store, target string) (*Mappings, error) {
	items, err := st.Mappings(ctx, target)
	if err != nil {
		return nil, err
	}
	return &Mappings{Items: items, target: target, set: map[string]bool{}, drop: map[string]bool{}}, nil
}

// Set maps x.Item to x.
func (m *Mappings) Set(x store.Mapping) {
	m.Items[x.Item] = x
	m.set[x.Item] = true
	delete(m.drop, x.Item)
}

// Drop forgets an item's mapping.
func (m *Mappings) Drop(item string) {
	delete(m.Items, item)
	delete(m.set, item)
	m.drop[item] = true
}

// Unflushed counts the changes not written yet.
func (m *Mappings) Unflushed() int { return len(m.set) + len(m.drop) }

// Flush writes the changes to the store.
func (m *Mappings) Flush(ctx context.Context, st *store.Store) error {
	if len(m.set) > 0 {
		ms := make([]store.Mapping, 0, len(m.set))
		for it := range m.set {
			ms = append(ms, m.Items[it])
		}
		slices.SortFunc(ms, func(a, b store.Mapping) int { return strings.Compare(a.Item, b.Item) })
		if err := st.SetMappings(ctx, m.target, ms); err != nil {
			return err
		}
		clear(m.set)
	}
	if len(m.drop) > 0 {
		items := make([]string, 0, len(m.drop))
		for it := range m.drop {
			items = append(items, it)
		}
		slices.Sort(items)
		if err := st.DeleteMappings(ctx, m.target, items); err != nil {
			return err
		}
		clear(m.drop)
	}
	return nil
}
