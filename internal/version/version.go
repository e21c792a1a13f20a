// Package version holds qvt's version and the commit it was built from,
// for qvt version, --version and the User-Agent of its API clients.
package version

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Set at build time (deploy/build.sh):
//
//	-ldflags "-X qvt/internal/version.version=v1.2.3
//	          -X qvt/internal/version.commit=<40 hex>[+dirty]
//	          -X qvt/internal/version.date=2026-12-05"
//
// commit matters where the Go toolchain cannot read the VCS itself: a
// Docker build context without .git, a source archive.
var version, commit, date = "", "", ""

// Info is what a binary knows of its own build.
type Info struct {
	Version   string // v1.2.3, a module pseudo-version, or "devel"
	Commit    string // 12 hex digits of the revision, "+dirty" for uncommitted changes; "" when unknown
	Date      string // build date, when the build stamped one
	GoVersion string // go1.26.8
	Platform  string // linux/amd64
}

// shortCommit is how many hex digits of a revision are shown: enough to
// name a commit of this repository without ambiguity.
const shortCommit = 12

// FromBuildInfo reads an Info from what the linker stamped (ldVersion,
// ldCommit, ldDate: -X values, "" when not set) and from the Go
// toolchain's build information (bi may be nil). The stamped values win:
// a build script knows better than a toolchain that may not see .git.
func FromBuildInfo(bi *debug.BuildInfo, ldVersion, ldCommit, ldDate string) Info {
	in := Info{Version: ldVersion, Commit: ldCommit, Date: ldDate, GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH}
	var rev, goos, goarch string
	var modified bool
	if bi != nil {
		if bi.GoVersion != "" {
			in.GoVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			case "GOOS":
				goos = s.Value
			case "GOARCH":
				goarch = s.Value
			}
		}
		if goos != "" && goarch != "" {
			in.Platform = goos + "/" + goarch
		}
		if in.Version == "" {
			if v := bi.Main.Version; v != "" && v != "(devel)" {
				in.Version = v
			}
		}
	}
	if in.Version == "" {
		in.Version = "devel"
	}
	if in.Commit == "" && rev != "" {
		in.Commit = rev
		if modified {
			in.Commit += "+dirty"
		}
	}
	in.Commit = abbreviate(in.Commit)
	return in
}

// abbreviate shortens a full revision to shortCommit digits, keeping a
// "+dirty" (or any other) suffix.
func abbreviate(c string) string {
	hash, suffix := c, ""
	if i := strings.IndexByte(c, '+'); i >= 0 {
		hash, suffix = c[:i], c[i:]
	}
	if len(hash) > shortCommit && isHex(hash) {
		hash = hash[:shortCommit]
	}
	return hash + suffix
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// Long is the version with its provenance, as qvt version prints it:
// "v1.2.3 (commit abc123def456, built 2026-12-05, go1.26.8 linux/amd64)".
func (in Info) Long() string {
	var b strings.Builder
	b.WriteString(in.Version)
	b.WriteString(" (commit ")
	if in.Commit != "" {
		b.WriteString(in.Commit)
	} else {
		b.WriteString("unknown")
	}
	if in.Date != "" {
		b.WriteString(", built ")
		b.WriteString(in.Date)
	}
	b.WriteString(", ")
	b.WriteString(in.GoVersion)
	b.WriteString(" ")
	b.WriteString(in.Platform)
	b.WriteString(")")
	return b.String()
}

// Current is this binary's Info.
func Current() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return FromBuildInfo(bi, version, commit, date)
}

// String is the version alone: the one set at build time, else the module
// version, else "devel". It has no spaces, so it fits a User-Agent.
func String() string { return Current().Version }

// Long is this binary's version with its commit, build date, Go version
// and platform: what qvt version and qvt --version print after "qvt ".
func Long() string { return Current().Long() }

// UserAgent is what qvt's clients send: "qvt/<version>".
func UserAgent() string { return "qvt/" + String() }
