//go:build unix

package bench

import (
	"os"
	"runtime"
	"syscall"
	"time"
)

// usage is a finished process's peak memory and user CPU time.
func usage(ps *os.ProcessState) (maxRSS int64, user time.Duration, ok bool) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0, false
	}
	rss := int64(ru.Maxrss)
	if runtime.GOOS != "darwin" { // Linux and the BSDs report kilobytes, macOS bytes
		rss *= 1024
	}
	return rss, time.Duration(ru.Utime.Nano()), true
}

// cpuTime is this process's CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func syncDisks() { syscall.Sync() }

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }
