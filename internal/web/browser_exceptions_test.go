package web

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// An engineer records an exception for a finding through the form, from
// the finding's page, and sees the badge on the list; then revokes it.
func TestBrowserException(t *testing.T) {
	f := newExcFixture(t, t.TempDir()+"/qvt.db", Config{})
	hs := f.hs
	ctx, logged := browser(t)
	do(t, ctx, "the finding",
		chromedp.Navigate(hs.URL+"/finding/"+url.PathEscape(f.free)),
		chromedp.WaitVisible(chromedp.CSS("#exception")),
		chromedp.Click(chromedp.CSS(`#exception a[href^="/exceptions/new"]`)),
		chromedp.WaitVisible(chromedp.CSS("#exception-form")),
	)
	key := eval[string](t, ctx, `document.querySelector("#exception-form input[name=key]").value`)
	if key != f.free {
		t.Errorf("the form's key is %q, want %s", key, f.free)
	}
	do(t, ctx, "fill and send the form",
		chromedp.SetValue(chromedp.CSS(`#exception-form select[name=type]`), "compensating_control"),
		chromedp.SendKeys(chromedp.CSS(`#exception-form textarea[name=reason]`), "WAF rule 981176 blocks the exploit"),
		chromedp.SendKeys(chromedp.CSS(`#exception-form input[name=approver]`), "ciso@corp.example"),
		chromedp.SendKeys(chromedp.CSS(`#exception-form input[name=until]`), "30d"),
		chromedp.Click(chromedp.CSS(`#exception-form button[type=submit]`)),
	)
	waitFor(t, ctx, `location.pathname === "/exceptions/3"`)
	shot(t, ctx, "exception")
	if title := text(t, ctx, "#title"); !strings.Contains(title, "EXC-3") || !strings.Contains(title, "compensating_control") {
		t.Errorf("the exception's page: %q", title)
	}
	if covered := eval[int](t, ctx, `document.querySelectorAll("#covered tbody tr").length`); covered != 1 {
		t.Errorf("the exception's page lists %d findings, want 1", covered)
	}

	do(t, ctx, "the excepted list",
		chromedp.Navigate(hs.URL+"/findings?excepted=1&status=all"),
		chromedp.WaitVisible(chromedp.CSS("table.findings")),
	)
	badges := eval[[]string](t, ctx, `[...document.querySelectorAll("table.findings a.flag.excepted")].map(e => e.textContent + "|" + e.title)`)
	shot(t, ctx, "findings-excepted")
	found := false
	for _, b := range badges {
		if strings.HasPrefix(b, "Excepted EXC-3 until ") && strings.Contains(b, "WAF rule 981176 blocks the exploit") {
			found = true
		}
	}
	if !found {
		t.Errorf("no badge of EXC-3 with its reason on the list: %q", badges)
	}

	// Revoked, the finding comes back.
	do(t, ctx, "revoke",
		chromedp.Navigate(hs.URL+"/exceptions/3"),
		chromedp.WaitVisible(chromedp.CSS("#revoke-form")),
		chromedp.SendKeys(chromedp.CSS(`#revoke-form input[name=why]`), "the WAF is gone"),
		chromedp.Click(chromedp.CSS(`#revoke-form button[type=submit]`)),
	)
	waitFor(t, ctx, `document.getElementById("state") && document.getElementById("state").textContent.startsWith("revoked")`)
	do(t, ctx, "the finding again",
		chromedp.Navigate(hs.URL+"/finding/"+url.PathEscape(f.free)),
		chromedp.WaitVisible(chromedp.CSS("#exception")),
	)
	if exc := text(t, ctx, "#exception"); !strings.HasPrefix(exc, "none") {
		t.Errorf("after the revocation the finding shows %q", exc)
	}
	for _, l := range logged() {
		t.Errorf("the browser logged: %s", l)
	}
}
