// Package version holds qvt's version, for --version and the User-Agent
// of its API clients.
package version

import "runtime/debug"

// set at build time: -ldflags "-X qvt/internal/version.version=v1.2.3".
var version = ""

// String is the version: the one set at build time, else the module
// version, else "devel" and the VCS revision.
func String() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	v := "devel"
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}

// UserAgent is what qvt's clients send: "qvt/<version>".
func UserAgent() string {
	v := String()
	for i := range len(v) {
		if v[i] == ' ' {
			return "qvt/" + v[:i]
		}
	}
	return "qvt/" + v
}
