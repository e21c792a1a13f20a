package runs

import (
	"fmt"
	"testing"
)

func TestChangesAdd(t *testing.T) {
	a := Changes{New: map[string]int{"P1": 1, "P3": 2}, Fixed: 4, NewlyOverdue: 1}
	b := Changes{New: map[string]int{"P3": 5, "P4": 1}, NewKEV: 2, Reopened: 3, Fixed: 1}
	got := a.Add(b)
	want := Changes{New: map[string]int{"P1": 1, "P3": 7, "P4": 1}, NewKEV: 2, Fixed: 5, Reopened: 3, NewlyOverdue: 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%+v + %+v = %+v, want %+v", a, b, got, want)
	}
	if a.New["P3"] != 2 {
		t.Errorf("Add changed its receiver's map: %+v", a)
	}
	if z := (Changes{}).Add(Changes{}); z.New != nil {
		t.Errorf("nothing plus nothing: %+v", z)
	}
}
