//go:build !unix

package app

// privateFiles has no umask to set here: files take their folder's
// access rules.
func privateFiles() {}
