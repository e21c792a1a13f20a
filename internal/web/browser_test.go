package web

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"qvt/internal/finding"
	"qvt/internal/store/storetest"
)

// The browser tests drive Debian's headless Chromium (package chromium,
// which .ci/run installs; without it they skip, or fail when
// QVT_BROWSER_REQUIRED is set, as CI sets it) through the DevTools protocol: they load the
// overview, apply a filter, open a finding, and check what a person would
// see, with a screenshot of each page in the test's artifact directory
// (go test -artifacts -outputdir DIR keeps them). A KB entry that carries
// scripts proves that nothing of it runs.

func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("QVT_BROWSER_REQUIRED") != "" {
		t.Fatal("no Chromium on this machine (apt-get install chromium), and QVT_BROWSER_REQUIRED is set")
	}
	t.Skip("no Chromium on this machine (apt-get install chromium): browser tests skipped (QVT_BROWSER_REQUIRED makes this a failure)")
	return ""
}

// browser starts a headless Chromium and collects what its pages log.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	exe := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(acancel)
	var mu sync.Mutex
	var logged []string
	listen := func(ev any) {
		var line string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			line = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				line += " " + ev.ExceptionDetails.Exception.Description
			}
		case *runtime.EventConsoleAPICalled:
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			line = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
		case *cdplog.EventEntryAdded:
			line = "log " + string(ev.Entry.Level) + " " + string(ev.Entry.Source) + ": " + ev.Entry.Text
		}
		if line != "" {
			mu.Lock()
			logged = append(logged, line)
			mu.Unlock()
		}
	}
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithListener(listen))
	t.Cleanup(bcancel)
	if _, err := chromedp.Call(bctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	// Each test has a minute; the browser lives in bctx, the time limit in
	// the contexts derived from it.
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	t.Cleanup(cancel)
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), logged...)
	}
}

// shot writes a full-page screenshot into the test's artifact directory.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(t.ArtifactDir(), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// text is the text of the first element a CSS selector finds.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return v
}

// do runs actions and fails the test on error.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitFor waits until a JavaScript condition holds in the page.
func waitFor(t *testing.T, ctx context.Context, cond string) {
	t.Helper()
	for range 200 {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.readyState === "complete" && (`+cond+`)`))
		if err == nil && ok {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("waited in vain for %s", cond)
}

// A security lead opens the overview, an engineer filters the list and
// opens a finding.
func TestBrowserWalkthrough(t *testing.T) {
	// Both engines: the same figures and lists in the browser.
	storetest.Run(t, func(t *testing.T, loc string) {
		s, hs := newServerAt(t, loc, Config{})
		ctx, logged := browser(t)
		o, err := s.Overview(context.Background())
		if err != nil {
			t.Fatal(err)
		}

		// The overview: the key figures, the charts, the top lists.
		do(t, ctx, "overview", chromedp.Navigate(hs.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#card-open")))
		open, overdue := text(t, ctx, "#card-open b"), text(t, ctx, "#card-overdue b")
		caption := text(t, ctx, "figure.wide figcaption")
		polygons := eval[int](t, ctx, `document.querySelector("svg.trend").querySelectorAll("polygon").length`)
		bars := eval[int](t, ctx, `document.querySelectorAll("svg.bars rect").length`)
		topRows := eval[int](t, ctx, `document.querySelectorAll("table.top tbody tr").length`)
		shot(t, ctx, "overview")
		if open != num(o.Open) || overdue != num(o.Overdue) {
			t.Errorf("overview shows %s open, %s overdue; want %s, %s", open, overdue, num(o.Open), num(o.Overdue))
		}
		if polygons != 5 || bars < 10 || topRows < 10 || !strings.Contains(caption, "Open findings by rating") {
			t.Errorf("overview: %d trend areas, %d bars, %d top rows, caption %q", polygons, bars, topRows, caption)
		}

		// The list: tick Critical, apply; the URL holds the filter, every row
		// is Critical, and the page says what it shows.
		do(t, ctx, "findings",
			chromedp.Navigate(hs.URL+"/findings"),
			chromedp.WaitVisible(chromedp.CSS("table.findings")),
			chromedp.Click(chromedp.CSS(`input[name=rating][value=Critical]`)),
			chromedp.Click(chromedp.CSS(`form.filters button[type=submit]`)),
		)
		waitFor(t, ctx, `location.search !== ""`)
		location := eval[string](t, ctx, `location.href`)
		count := text(t, ctx, "#count")
		ratings := eval[[]string](t, ctx, `[...document.querySelectorAll("table.findings tbody td:first-child .badge")].map(e => e.textContent)`)
		shot(t, ctx, "findings-critical")
		u, _ := url.Parse(location)
		if u.Path != "/findings" || u.RawQuery != "rating=Critical" {
			t.Errorf("filtered URL %q, want /findings?rating=Critical (empty fields left out)", location)
		}
		want := 0
		for _, c := range o.ByRating {
			if c.Name == "Critical" {
				want = c.Count
			}
		}
		if len(ratings) == 0 || len(ratings) != min(want, defaultLimit) {
			t.Errorf("%d rows shown, want %d", len(ratings), min(want, defaultLimit))
		}
		for _, r := range ratings {
			if r != "Critical" {
				t.Errorf("row rated %q in a Critical list", r)
				break
			}
		}
		if !strings.Contains(count, "Critical") {
			t.Errorf("count line %q does not say the filter", count)
		}

		// A finding: its title, the CVSS breakdown, the KB text, the history.
		rowTitle := text(t, ctx, "table.findings tbody tr:first-child a.ftitle")
		do(t, ctx, "open a finding",
			chromedp.Click(chromedp.CSS("table.findings tbody tr:first-child a.ftitle")),
			chromedp.WaitVisible(chromedp.CSS("#timeline")),
		)
		title := text(t, ctx, "#title")
		vector := eval[string](t, ctx, `(document.getElementById("vector") || {}).textContent || ""`)
		env := eval[string](t, ctx, `(document.getElementById("env") || {}).textContent || ""`)
		status := text(t, ctx, "#status")
		metrics := eval[int](t, ctx, `document.querySelectorAll("table.cvss td").length`)
		events := eval[int](t, ctx, `document.querySelectorAll("#timeline li").length`)
		kb := eval[int](t, ctx, `document.querySelectorAll(".kbtext").length`)
		qidPage := eval[string](t, ctx, `document.querySelector(".crumbs a[href^='/qid/']").href`)
		shot(t, ctx, "finding")
		if !strings.Contains(title, rowTitle) || !strings.Contains(title, "Critical") {
			t.Errorf("finding page title %q, want the row's %q, rated Critical", title, rowTitle)
		}
		if vector != "" && (metrics < 16 || env == "–") {
			t.Errorf("CVSS %q shown with %d metric cells, env %q", vector, metrics, env)
		}
		if events < 1 || kb != 3 || !strings.Contains(status, "open") {
			t.Errorf("history has %d events, %d KB sections; status %q", events, kb, status)
		}

		// Its host and QID pages.
		do(t, ctx, "host page",
			chromedp.Click(chromedp.CSS(".crumbs a[href^='/host/']")),
			chromedp.WaitVisible(chromedp.CSS("table.findings")),
		)
		shot(t, ctx, "host")
		do(t, ctx, "QID page", chromedp.Navigate(qidPage), chromedp.WaitVisible(chromedp.CSS("table.findings")))
		shot(t, ctx, "qid")
		for _, l := range logged() {
			t.Errorf("the browser logged: %s", l)
		}
	})
}

// KB text with scripts, event handlers and javascript: links is shown as
// text and formatting; nothing of it runs.
func TestBrowserXSS(t *testing.T) {
	_, hs := newTestServer(t, Config{})
	ctx, logged := browser(t)
	do(t, ctx, "finding page",
		chromedp.Navigate(hs.URL+"/finding/"+url.PathEscape(finding.Key(xssIP, xssQID, 443))),
		chromedp.WaitVisible(chromedp.CSS("#diagnosis")),
		// Give anything that would run (onerror, onload) its chance.
		chromedp.Sleep(300*time.Millisecond),
	)
	flag := eval[string](t, ctx, `String(window.__xss)`)
	scripts := eval[[]string](t, ctx, `[...document.scripts].map(s => s.getAttribute("src") || "inline")`)
	dangerous := eval[int](t, ctx, `document.querySelectorAll(
		"main script, main img, main iframe, main svg, main style, [onerror], [onload], [onclick], [style], a[href^='javascript' i]").length`)
	diagnosis := text(t, ctx, "#diagnosis")
	title := text(t, ctx, "#title")
	shot(t, ctx, "finding-xss")
	// Clicking every link of the KB text runs nothing either.
	eval[bool](t, ctx, `[...document.querySelectorAll(".kbtext a")].forEach(a => { a.addEventListener("click", e => e.preventDefault()); a.click(); }), true`)
	if after := eval[string](t, ctx, `String(window.__xss)`); flag != "undefined" || after != "undefined" {
		t.Errorf("a payload ran: window.__xss = %q, then %q", flag, after)
	}
	if len(scripts) != 1 || !strings.HasPrefix(scripts[0], "/static/app.js") {
		t.Errorf("scripts on the page: %v", scripts)
	}
	if dangerous != 0 {
		t.Errorf("%d dangerous elements or attributes in the page", dangerous)
	}
	if !strings.Contains(diagnosis, "Look here.") || !strings.Contains(diagnosis, "advisory") {
		t.Errorf("diagnosis text lost: %q", diagnosis)
	}
	if !strings.Contains(title, `<script>window.__xss="title"</script>`) {
		t.Errorf("the title is not shown as text: %q", title)
	}
	for _, l := range logged() {
		// A payload blocked by the Content-Security-Policy would show here.
		t.Errorf("the browser logged: %s", l)
	}
}

// A security lead follows the overview's "Open P1/P2" card to the most
// urgent findings, filters them to KEV in the form, opens a finding and
// reads why it is P1; then the Fix first page and a fix's findings.
func TestBrowserPriorities(t *testing.T) {
	s, hs := newTestServer(t, Config{})
	ctx, logged := browser(t)
	o, err := s.Overview(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p12 := 0
	for _, c := range o.ByPriority {
		if c.Name == "P1" || c.Name == "P2" {
			p12 += c.Count
		}
	}
	do(t, ctx, "overview", chromedp.Navigate(hs.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#card-p1p2")))
	card := text(t, ctx, "#card-p1p2 b")
	kev := text(t, ctx, "#card-kev b")
	charts := eval[[]string](t, ctx, `[...document.querySelectorAll("figure figcaption")].map(e => e.textContent)`)
	prioAreas := eval[int](t, ctx, `[...document.querySelectorAll("svg.trend")][1].querySelectorAll("polygon").length`)
	shot(t, ctx, "overview-priorities")
	if card != num(p12) || kev != num(o.KEVOpen) {
		t.Errorf("cards: %s open P1/P2, %s KEV; want %s, %s", card, kev, num(p12), num(o.KEVOpen))
	}
	if !slices.Contains(charts, "Open findings by priority") || !slices.Contains(charts, "Open P1 and P2 findings, day by day") || prioAreas != 2 {
		t.Errorf("charts %q, %d areas in the P1/P2 chart", charts, prioAreas)
	}

	// The card's list: P1 first, sorted by priority; then KEV only.
	do(t, ctx, "P1/P2 list", chromedp.Click(chromedp.CSS("#card-p1p2")), chromedp.WaitVisible(chromedp.CSS("table.findings")))
	prios := eval[[]string](t, ctx, `[...document.querySelectorAll("table.findings tbody td.prio .badge")].map(e => e.textContent)`)
	sortSel := eval[string](t, ctx, `document.querySelector("select[name=sort]").value`)
	if len(prios) == 0 || prios[0] != "P1" || sortSel != "priority" || !slices.IsSortedFunc(prios, strings.Compare) {
		t.Errorf("the P1/P2 list shows %v, sorted by %q", prios, sortSel)
	}
	for _, p := range prios {
		if p != "P1" && p != "P2" {
			t.Errorf("a %s finding in the P1/P2 list", p)
			break
		}
	}
	do(t, ctx, "KEV only",
		chromedp.Click(chromedp.CSS(`input[name=kev]`)),
		chromedp.Click(chromedp.CSS(`form.filters button[type=submit]`)),
	)
	waitFor(t, ctx, `location.search.includes("kev=1")`)
	badges := eval[int](t, ctx, `document.querySelectorAll("table.findings tbody tr").length`)
	kevRows := eval[int](t, ctx, `document.querySelectorAll("table.findings tbody td.evidence .flag.kev").length`)
	shot(t, ctx, "findings-kev")
	if badges == 0 || kevRows != badges {
		t.Errorf("KEV list: %d rows, %d with the KEV badge", badges, kevRows)
	}

	// A KEV finding: its priority, the rule, the KEV section.
	do(t, ctx, "a KEV finding",
		chromedp.Click(chromedp.CSS("table.findings tbody tr:first-child a.ftitle")),
		chromedp.WaitVisible(chromedp.CSS("#priority")),
	)
	prio := text(t, ctx, "#prio")
	kevText := text(t, ctx, "#kev")
	shot(t, ctx, "finding-kev")
	if !strings.Contains(prio, "P1") || !strings.Contains(prio, "known exploited") || !strings.Contains(kevText, "CVE-") {
		t.Errorf("finding page: priority %q, KEV %q", prio, kevText)
	}

	// Fix first: ranked rows; a fix's link lists its findings.
	do(t, ctx, "fix first", chromedp.Click(chromedp.CSS(`nav a[href="/plan"]`)), chromedp.WaitVisible(chromedp.CSS("#plan")))
	first := eval[[]string](t, ctx, `[...document.querySelectorAll("#plan tbody tr:first-child td")].map(e => e.textContent.trim())`)
	shot(t, ctx, "plan")
	if len(first) < 5 || first[0] != "1" || first[4] == "0" {
		t.Errorf("the plan's first row: %q", first)
	}
	do(t, ctx, "a fix's findings", chromedp.Click(chromedp.CSS("#plan tbody tr:first-child td.fix a")), chromedp.WaitVisible(chromedp.CSS("table.findings")))
	rows := eval[int](t, ctx, `document.querySelectorAll("table.findings tbody tr").length`)
	if len(first) > 3 && num(rows) != first[3] && rows != defaultLimit {
		t.Errorf("the fix's list shows %d findings; its row says %s", rows, first[3])
	}
	for _, l := range logged() {
		t.Errorf("the browser logged: %s", l)
	}
}
