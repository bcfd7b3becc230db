package replicaio

import (
	"errors"
	"io"
)

// Source is the log of one replica.
type Source struct {
	Replica string
	Lines   LineReader
}

// Merge emits the lines of finite sources in time order, oldest first,
// with ties kept in the order of sources. It holds one line per source,
// whatever the size of the logs. A source whose read fails is reported to
// broken and dropped, so that one broken stream does not hide the others'
// lines; an error of emit ends the merge and is returned. Merge closes
// every source.
func Merge(sources []Source, emit func(replica string, l Line) error, broken func(replica string, err error)) error {
	heads := make([]*Line, len(sources))
	advance := func(i int) {
		l, err := sources[i].Lines.Next()
		if err != nil {
			heads[i] = nil
			if !errors.Is(err, io.EOF) {
				broken(sources[i].Replica, err)
			}
			return
		}
		heads[i] = &l
	}
	defer func() {
		for _, s := range sources {
			s.Lines.Close()
		}
	}()
	for i := range sources {
		advance(i)
	}
	for {
		next := -1
		for i, h := range heads {
			if h != nil && (next < 0 || h.Time.Before(heads[next].Time)) {
				next = i
			}
		}
		if next < 0 {
			return nil
		}
		if err := emit(sources[next].Replica, *heads[next]); err != nil {
			return err
		}
		advance(next)
	}
}
