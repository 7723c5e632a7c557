package sim

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// throttler is the traffic manager's application-level throttling: a
// request count per application over a one-minute window that starts with
// the window's first request, against the application's tier (NPerMin). On
// the all-in-one patterns it is the embedded traffic manager; on the
// distributed ones the gateways reach it through their
// throttle_decision_endpoints. Counting is exact, which real traffic
// managers (asynchronous decisions over JMS) only approximate.
type throttler struct {
	off bool // tm-not-throttling
	mu  sync.Mutex
	win map[string]*throttleWindow
}

type throttleWindow struct {
	start time.Time
	count int
}

func newThrottler(off bool) *throttler {
	return &throttler{off: off, win: map[string]*throttleWindow{}}
}

// tierLimit is the request quota per minute of an application tier
// ("10PerMin" -> 10); 0 means unlimited.
func tierLimit(tier string) int {
	if n, ok := strings.CutSuffix(tier, "PerMin"); ok {
		if v, err := strconv.Atoi(n); err == nil && v > 0 {
			return v
		}
	}
	return 0
}

// allow counts a request of app and reports whether it is within quota and,
// when not, when the window ends.
func (t *throttler) allow(app, tier string) (bool, time.Time) {
	limit := tierLimit(tier)
	if limit == 0 || t.off {
		return true, time.Time{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	w := t.win[app]
	if w == nil || now.Sub(w.start) >= time.Minute {
		w = &throttleWindow{start: now}
		t.win[app] = w
	}
	w.count++
	return w.count <= limit, w.start.Add(time.Minute)
}
