package load

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

func TestPipe(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	bad := errors.New("bad record")
	cases := []struct {
		name    string
		decode  func(emit func(int) error) error
		write   func([]int) error
		want    []int  // what the writer got, in order
		wantErr string // prefix of the error, "" for none
	}{
		{
			name: "every record reaches the writer in order",
			decode: func(emit func(int) error) error {
				for i := range 3000 {
					if err := emit(i); err != nil {
						return err
					}
				}
				return nil
			},
			want: func() []int {
				var s []int
				for i := range 3000 {
					s = append(s, i)
				}
				return s
			}(),
		},
		{
			name: "a decode error after some records",
			decode: func(emit func(int) error) error {
				emit(1)
				return bad
			},
			wantErr: "bad record",
		},
		{
			// The decoder would never end by itself.
			name: "a writer error stops the decoder",
			decode: func(emit func(int) error) error {
				for i := 0; ; i++ {
					if err := emit(i); err != nil {
						return err
					}
				}
			},
			write:   func([]int) error { return bad },
			wantErr: "bad record",
		},
		{
			// A decoder bug must reach the user as an error (exit 1,
			// the transaction rolled back), not crash the process.
			name: "a decoder panic",
			decode: func(emit func(int) error) error {
				emit(1)
				var s []int
				_ = s[5]
				return nil
			},
			wantErr: "internal error: runtime error: index out of range",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []int
			write := c.write
			if write == nil {
				write = func(b []int) error { got = append(got, b...); return nil }
			}
			err := pipe(context.Background(), log, c.decode, one, write)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("error %v", err)
			case c.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), c.wantErr)):
				t.Fatalf("error %v, want one starting %q", err, c.wantErr)
			}
			if c.wantErr == "" && !slices.Equal(got, c.want) {
				t.Errorf("the writer got %d records, want %d in order", len(got), len(c.want))
			}
		})
	}
}
