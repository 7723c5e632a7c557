package local

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// Clusters still running when the process gets SIGINT or SIGTERM are
// stopped, then the signal is re-raised with the default action so that the
// process ends as it would have (go test reports the interrupt).
var sig struct {
	sync.Mutex
	live map[*Cluster]struct{}
	ch   chan os.Signal
}

func registerForSignals(c *Cluster) {
	sig.Lock()
	defer sig.Unlock()
	if sig.live == nil {
		sig.live = map[*Cluster]struct{}{}
	}
	sig.live[c] = struct{}{}
	if sig.ch == nil {
		sig.ch = make(chan os.Signal, 1)
		signal.Notify(sig.ch, os.Interrupt, syscall.SIGTERM)
		go handleSignals(sig.ch)
	}
}

func unregisterForSignals(c *Cluster) {
	sig.Lock()
	defer sig.Unlock()
	delete(sig.live, c)
}

func handleSignals(ch chan os.Signal) {
	s := <-ch
	sig.Lock()
	live := make([]*Cluster, 0, len(sig.live))
	for c := range sig.live {
		live = append(live, c)
	}
	sig.Unlock()
	for _, c := range live {
		c.logf("got %v: stopping", s)
		_ = c.Stop()
	}
	signal.Reset(os.Interrupt, syscall.SIGTERM)
	if ss, ok := s.(syscall.Signal); ok {
		_ = syscall.Kill(os.Getpid(), ss)
	}
}
