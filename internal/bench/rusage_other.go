//go:build !unix

package bench

import (
	"errors"
	"os"
	"time"
)

// The benchmark measures with Unix's rusage and FIFOs; elsewhere qvt
// builds, and qvt bench says it cannot run.

func usage(*os.ProcessState) (int64, time.Duration, bool) { return 0, 0, false }

func cpuTime() time.Duration { return 0 }

func syncDisks() {}

func mkfifo(string) error { return errors.New("qvt bench --scale needs a Unix system (FIFOs)") }
