// Temporary: writes one daily incremental detection file. Deleted before hand-off.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"qvt/internal/gen"
)

func main() {
	dir := os.Args[1]
	e, _ := strconv.Atoi(os.Args[2])
	d := gen.New(gen.Config{Seed: 1, Hosts: 25000, DetectionsPerHost: 40, QIDs: 150000, CVEs: 40000})
	ids := d.HostsProcessedSince(d.Now(e-1), e)
	p := filepath.Join(dir, fmt.Sprintf("det-%02d.xml", e))
	f, err := os.Create(p)
	if err != nil {
		panic(err)
	}
	if err := gen.WriteHostListDetection(f, d, ids, e, nil); err != nil {
		panic(err)
	}
	f.Close()
}
