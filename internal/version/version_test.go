package version

import (
	"runtime"
	"runtime/debug"
	"testing"
)

const rev = "659fb4d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f70"

func buildInfo(mainVersion string, settings ...string) *debug.BuildInfo {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "qvt", Version: mainVersion}}
	for i := 0; i+1 < len(settings); i += 2 {
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
	}
	return bi
}

func TestFromBuildInfo(t *testing.T) {
	native := runtime.GOOS + "/" + runtime.GOARCH
	cases := []struct {
		name                        string
		bi                          *debug.BuildInfo
		ldVersion, ldCommit, ldDate string
		want                        string
	}{
		{"release build: every value stamped",
			buildInfo("(devel)", "GOOS", "linux", "GOARCH", "arm64"), "v1.2.3", rev, "2026-12-05",
			"v1.2.3 (commit 659fb4d0e1f2, built 2026-12-05, go1.26.8 linux/arm64)"},
		{"stamped commit wins over the toolchain's revision",
			buildInfo("(devel)", "vcs.revision", "0000000000000000000000000000000000000000", "GOOS", "windows", "GOARCH", "amd64"), "v1.2.3", rev, "",
			"v1.2.3 (commit 659fb4d0e1f2, go1.26.8 windows/amd64)"},
		{"stamped dirty commit keeps its suffix",
			buildInfo("(devel)"), "", rev + "+dirty", "2026-12-05",
			"devel (commit 659fb4d0e1f2+dirty, built 2026-12-05, go1.26.8 " + native + ")"},
		{"go build in a clone: the toolchain's revision and pseudo-version",
			buildInfo("v0.0.0-20261205120700-659fb4d0e1f2", "vcs.revision", rev, "vcs.modified", "false", "GOOS", "darwin", "GOARCH", "arm64"), "", "", "",
			"v0.0.0-20261205120700-659fb4d0e1f2 (commit 659fb4d0e1f2, go1.26.8 darwin/arm64)"},
		{"go build with uncommitted changes",
			buildInfo("(devel)", "vcs.revision", rev, "vcs.modified", "true"), "", "", "",
			"devel (commit 659fb4d0e1f2+dirty, go1.26.8 " + native + ")"},
		{"no VCS and nothing stamped: the commit is said to be unknown",
			buildInfo(""), "", "", "",
			"devel (commit unknown, go1.26.8 " + native + ")"},
		{"short stamped commit left as it is",
			buildInfo("(devel)"), "v2.0.0", "abc1234", "",
			"v2.0.0 (commit abc1234, go1.26.8 " + native + ")"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := FromBuildInfo(c.bi, c.ldVersion, c.ldCommit, c.ldDate).Long()
			if got != c.want {
				t.Errorf("Long() = %q\n           want %q", got, c.want)
			}
		})
	}
}

func TestFromBuildInfoWithoutBuildInfo(t *testing.T) {
	in := FromBuildInfo(nil, "", "", "")
	if in.Version != "devel" || in.Commit != "" || in.GoVersion != runtime.Version() || in.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("FromBuildInfo(nil) = %+v", in)
	}
}

// The User-Agent carries the version alone: no commit, no spaces.
func TestUserAgent(t *testing.T) {
	ua := UserAgent()
	if ua != "qvt/"+String() {
		t.Errorf("UserAgent() = %q, String() = %q", ua, String())
	}
	for _, r := range ua {
		if r == ' ' {
			t.Errorf("UserAgent() = %q has a space", ua)
		}
	}
}
