package app

import (
	"fmt"
	"strconv"

	"github.com/spf13/pflag"
)

// countFlag is an int flag that refuses, when it is parsed, a value below
// its minimum: "--hosts -1" is a usage error naming the flag, not a data
// set of no hosts.
type countFlag struct {
	p   *int
	min int
}

func (f countFlag) String() string { return strconv.Itoa(*f.p) }
func (f countFlag) Type() string   { return "int" }

func (f countFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("not a whole number")
	}
	if n < f.min {
		return fmt.Errorf("want %d or more", f.min)
	}
	*f.p = n
	return nil
}

// countVar defines a countFlag with a default value and a minimum.
func countVar(fl *pflag.FlagSet, p *int, name string, value, min int, usage string) {
	*p = value
	fl.Var(countFlag{p, min}, name, usage)
}
