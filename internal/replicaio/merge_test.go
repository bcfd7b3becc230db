package replicaio

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// sliceLines is a LineReader over fixed lines, failing with err at the end
// when set.
type sliceLines struct {
	lines  []Line
	err    error
	closed bool
}

func (s *sliceLines) Next() (Line, error) {
	if len(s.lines) == 0 {
		if s.err != nil {
			return Line{}, s.err
		}
		return Line{}, io.EOF
	}
	l := s.lines[0]
	s.lines = s.lines[1:]
	return l, nil
}

func (s *sliceLines) Close() error { s.closed = true; return nil }

func at(sec int, text string) Line {
	return Line{Time: time.Unix(int64(sec), 0), Text: text}
}

func TestMergeOrdersByTimeKeepingSourceOrderOnTies(t *testing.T) {
	a := &sliceLines{lines: []Line{at(1, "a1"), at(3, "a3"), at(5, "a5")}}
	b := &sliceLines{lines: []Line{at(2, "b2"), at(3, "b3")}, err: errors.New("stream broke")}
	c := &sliceLines{}
	var got, broken []string
	err := Merge([]Source{{"a", a}, {"b", b}, {"c", c}},
		func(r string, l Line) error { got = append(got, r+":"+l.Text); return nil },
		func(r string, err error) { broken = append(broken, fmt.Sprintf("%s: %v", r, err)) })
	if err != nil {
		t.Fatal(err)
	}
	if want := "a:a1 b:b2 a:a3 b:b3 a:a5"; strings.Join(got, " ") != want {
		t.Errorf("merged %v, want %s", got, want)
	}
	if len(broken) != 1 || broken[0] != "b: stream broke" {
		t.Errorf("broken = %v", broken)
	}
	if !a.closed || !b.closed || !c.closed {
		t.Error("a source was left open")
	}
}

func TestMergeStopsOnAnEmitError(t *testing.T) {
	a := &sliceLines{lines: []Line{at(1, "x"), at(2, "y")}}
	stop := errors.New("client gone")
	n := 0
	err := Merge([]Source{{"a", a}}, func(string, Line) error { n++; return stop }, func(string, error) {})
	if !errors.Is(err, stop) || n != 1 || !a.closed {
		t.Errorf("err %v after %d lines, closed %v", err, n, a.closed)
	}
}
