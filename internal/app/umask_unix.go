//go:build unix

package app

import "syscall"

// privateFiles makes every file qvt creates owner-only (0600, folders
// 0700), those its libraries create included (SQLite's WAL and shared
// memory, bench's inputs): they hold the inventory of what is exploitable.
func privateFiles() { syscall.Umask(0o077) }
