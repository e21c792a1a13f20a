package doctor

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"qvt/internal/config"
)

// The NVD probe asks for one record with the key in its header, and a
// refused key is a failure that does not repeat the key NVD echoes.
func TestNVDProbe(t *testing.T) {
	const key = "nvd-secret-key"
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.RawQuery+" key="+r.Header.Get("apiKey"))
		if k := r.Header.Get("apiKey"); k != "" && k != "good" {
			w.Header().Set("message", "Invalid apiKey "+k)
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Write([]byte(`{"totalResults":1,"vulnerabilities":[]}`))
	}))
	defer srv.Close()
	u := srv.URL + "/rest/json/cves/2.0"

	got := NVD(context.Background(), config.NVD{APIURL: u, APIKey: key})
	if len(got) != 1 || got[0].Level != Fail || !strings.Contains(got[0].Message, "NVD refused the API key: HTTP 404 Invalid apiKey [masked]") {
		t.Errorf("refused key: %+v", got)
	}
	if strings.Contains(got[0].Message+got[0].Fix, key) {
		t.Errorf("the key is printed: %+v", got[0])
	}
	if got := NVD(context.Background(), config.NVD{APIURL: u, APIKey: "good"}); got[0].Level != OK {
		t.Errorf("good key: %+v", got)
	}
	if got := NVD(context.Background(), config.NVD{APIURL: u}); got[0].Level != Warn || !strings.Contains(got[0].Message, "about 20 minutes") {
		t.Errorf("no key: %+v", got)
	}
	if asked[0] != "resultsPerPage=1 key="+key || asked[2] != "resultsPerPage=1 key=" {
		t.Errorf("requests: %q", asked)
	}
	if got := NVD(context.Background(), config.NVD{APIURL: u + "?apiKey=" + key}); got[0].Level != Fail || strings.Contains(got[0].Message, key) {
		t.Errorf("key in the URL: %+v", got)
	}
}
