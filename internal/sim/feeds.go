package sim

import (
	"compress/gzip"
	"io"
	"net/http"

	"qvt/internal/gen"
)

// The public feeds: CISA's KEV catalog and FIRST's daily EPSS file, as
// of the double's epoch (gen's KEV and WriteEPSS). Both are plain static
// files on their real hosts: no authentication, no parameters, no rate
// limit. The faults a file download can meet are injected as for NVD: a
// 503, a body cut off mid-stream, a slow body.
//
// The EPSS file is served as its bytes, a .csv.gz (Content-Type
// application/gzip), not with a gzip Content-Encoding, as a CDN serves a
// compressed file.

func (s *Server) serveFeed(w http.ResponseWriter, r *http.Request, api string) {
	a := s.apis[api]
	idx := s.logStart(api, r, cloneValues(r.URL.Query()))
	res := &callResult{}
	defer s.logEnd(idx, res)

	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		res.status = http.StatusMethodNotAllowed
		s.nvdEmpty(w, r, res.status)
		return
	}
	epoch, _ := s.snapshot()
	fault, where := s.drawFault(a, false)
	if fault == Fault403 { // NVD's throttling answer; files are not throttled
		fault = ""
	}
	res.fault = fault
	if fault == Fault503 {
		res.status = http.StatusServiceUnavailable
		s.nvdEmpty(w, r, res.status)
		return
	}
	res.status = http.StatusOK
	switch api {
	case APIKEV:
		w.Header().Set("Content-Type", "application/json")
		s.respond(w, r, http.StatusOK, func(w io.Writer) error { return gen.WriteKEV(w, s.data, epoch) },
			fault, where, shape{recordEnds: []string{"\n        },\n"}, tail: len("    ]\n}\n")})
	default:
		w.Header().Set("Content-Type", "application/gzip")
		plain := r.Clone(r.Context())
		plain.Header.Del("Accept-Encoding") // the file is compressed already
		s.respond(w, plain, http.StatusOK, func(w io.Writer) error {
			zw := gzip.NewWriter(w)
			if err := gen.WriteEPSS(zw, s.data, epoch); err != nil {
				return err
			}
			return zw.Close()
		}, fault, where, shape{tail: 8}) // 8: the gzip trailer, whose loss alone a reader notices
	}
}

// KEVURL returns the KEV feed's URL on the started server.
func (s *Server) KEVURL() string { return s.base + PathKEV }

// EPSSURL returns the EPSS file's URL on the started server.
func (s *Server) EPSSURL() string { return s.base + PathEPSS }
