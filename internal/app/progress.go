package app

import (
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"qvt/internal/pull"
)

// newProgress shows a sync's progress: bars on a terminal, log lines
// elsewhere (and with -v, where bars would garble the log; with --quiet,
// the log drops them).
func (e *env) newProgress() (pull.Progress, func()) {
	if f, ok := e.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !e.verbose && !e.quiet {
		p := mpb.New(mpb.WithOutput(f), mpb.WithWidth(40), mpb.WithRefreshRate(150*time.Millisecond))
		b := &bars{p: p, bars: map[string]*mpb.Bar{}}
		return b, p.Wait
	}
	return &logProgress{log: e.log, counts: map[string]int{}, last: map[string]time.Time{}}, func() {}
}

type bars struct {
	p    *mpb.Progress
	mu   sync.Mutex
	bars map[string]*mpb.Bar
}

func (b *bars) Start(phase string, total int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	name := decor.Name(phase, decor.WC{C: decor.DindentRight | decor.DextraSpace, W: 18})
	var bar *mpb.Bar
	if total > 0 {
		bar = b.p.AddBar(int64(total), mpb.PrependDecorators(name, decor.CountersNoUnit("%d / %d")),
			mpb.AppendDecorators(decor.EwmaETA(decor.ET_STYLE_GO, 30), decor.Name(" "), decor.Percentage()))
	} else {
		bar = b.p.AddBar(0, mpb.PrependDecorators(name, decor.CurrentNoUnit("%d records")),
			mpb.AppendDecorators(decor.Elapsed(decor.ET_STYLE_GO)))
	}
	b.bars[phase] = bar
}

func (b *bars) Add(phase string, n int) {
	b.mu.Lock()
	bar := b.bars[phase]
	b.mu.Unlock()
	if bar != nil {
		bar.IncrBy(n)
	}
}

func (b *bars) Done(phase string, err error) {
	b.mu.Lock()
	bar := b.bars[phase]
	b.mu.Unlock()
	switch {
	case bar == nil:
	case err != nil:
		bar.Abort(false) // left where it stopped: the error follows
	default:
		bar.SetTotal(-1, true)
	}
}

// logProgress writes a structured line per phase start and end, and at
// most one every 10 seconds while a phase runs.
type logProgress struct {
	log    *slog.Logger
	mu     sync.Mutex
	counts map[string]int
	totals map[string]int
	last   map[string]time.Time
}

func (l *logProgress) Start(phase string, total int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.totals == nil {
		l.totals = map[string]int{}
	}
	l.totals[phase] = total
	l.last[phase] = time.Now()
	l.log.Info("sync: started", "phase", phase, "total", total)
}

func (l *logProgress) Add(phase string, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[phase] += n
	if time.Since(l.last[phase]) >= 10*time.Second {
		l.last[phase] = time.Now()
		l.log.Info("sync: progress", "phase", phase, "done", l.counts[phase], "total", l.totals[phase])
	}
}

// Done says finished only of a phase that succeeded.
func (l *logProgress) Done(phase string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.log.Warn("sync: failed", "phase", phase, "done", l.counts[phase], "error", err)
		return
	}
	l.log.Info("sync: finished", "phase", phase, "done", l.counts[phase])
}
