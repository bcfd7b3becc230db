package specstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

const (
	// quietPeriod is how long the directory must stay still before a
	// burst of events (an editor's save is several) is read as one change.
	// The events of one save (vim, sed -i, an atomic rename, a truncate
	// and write) come within a millisecond of each other; the time from a
	// save to the spec in force is part of every reaction, so the period
	// is only as long as a burst needs.
	quietPeriod = 15 * time.Millisecond
	// maxDelay bounds the wait under a steady stream of events, so that a
	// change is read within this long even if writing never pauses.
	maxDelay = 250 * time.Millisecond
	// resyncInterval re-reads the directory even without events: inotify
	// drops events when its queue overflows, and a network file system may
	// send none.
	resyncInterval = 30 * time.Second
)

// Run watches the directory until ctx ends and keeps the store up to date,
// calling the OnChange listeners for every spec that changed.
//
// It watches the directory, not the files: editors and most tools save by
// writing a new file and renaming it over the old one, which a watch on the
// old file would never see. Every event only triggers a re-read of the
// whole directory, so what was lost in a burst of events does not matter.
func (s *Store) Run(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch spec directory: %w", err)
	}
	defer w.Close()
	if err := w.Add(s.dir); err != nil {
		return fmt.Errorf("watch spec directory %s: %w", s.dir, err)
	}
	var (
		debounce    = time.NewTimer(time.Hour)
		pending     bool
		firstEvent  time.Time
		graceTimer  = time.NewTimer(time.Hour)
		resyncTimer = time.NewTicker(resyncInterval)
	)
	debounce.Stop()
	graceTimer.Stop()
	defer debounce.Stop()
	defer graceTimer.Stop()
	defer resyncTimer.Stop()

	reload := func() {
		pending = false
		if s.reloadAndNotify() {
			graceTimer.Reset(deleteGrace)
		}
	}
	// Catch what changed between Open and now.
	reload()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("watch spec directory: the watcher closed")
			}
			if !s.relevant(ev) {
				continue
			}
			now := time.Now()
			if !pending {
				pending, firstEvent = true, now
			}
			debounce.Reset(min(quietPeriod, maxDelay-now.Sub(firstEvent)))
		case <-debounce.C:
			reload()
		case <-graceTimer.C:
			reload()
		case <-s.recheck:
			graceTimer.Reset(deleteGrace)
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("watch spec directory: the watcher closed")
			}
			// An overflow means lost events; the re-read makes up for them.
			s.log.Error(err, "watching the spec directory", "dir", s.dir)
			reload()
		case <-resyncTimer.C:
			if len(w.WatchList()) == 0 {
				// The directory was removed or moved away and the watch
				// went with it; watch it again once it is back.
				if err := w.Add(s.dir); err != nil {
					s.log.Error(err, "cannot watch the spec directory; retrying", "dir", s.dir)
					continue
				}
			}
			reload()
		}
	}
}

// relevant reports whether an event can change what the store holds: an
// event on a spec file, or on the directory itself.
func (s *Store) relevant(ev fsnotify.Event) bool {
	if filepath.Clean(ev.Name) == s.dir {
		return true
	}
	return filepath.Dir(ev.Name) == s.dir && IsSpecFileName(filepath.Base(ev.Name))
}

// reloadAndNotify reloads and tells the listeners; it reports whether a
// deletion is waiting out its grace.
func (s *Store) reloadAndNotify() (pendingDelete bool) {
	s.writeMu.Lock()
	changed, pendingDelete, _ := s.reloadLocked(nil)
	s.writeMu.Unlock()
	s.notify(changed)
	return pendingDelete
}

// Reload re-reads the directory now, for a caller that knows it changed.
func (s *Store) Reload() {
	if s.reloadAndNotify() {
		s.signalRecheck()
	}
}

func (s *Store) signalRecheck() {
	select {
	case s.recheck <- struct{}{}:
	default:
	}
}
