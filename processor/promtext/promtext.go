// Package promtext writes metrics in Prometheus's text exposition format,
// version 0.0.4: what a /metrics endpoint serves and every Prometheus
// compatible scraper reads. It is the few rules of that format, written by
// hand so that the product needs no client library:
//
//   - a family is a "# HELP name text" line, a "# TYPE name type" line,
//     then all of its samples, together: a name appears in one group only;
//   - a sample is name{label="value",...} value, one per line, "\n" ends
//     every line (the last one too);
//   - in HELP text a backslash and a line feed are escaped (\\, \n); in a
//     label value a double quote too (\");
//   - a histogram is name_bucket{...,le="bound"} with cumulative counts,
//     bounds ascending and ending with le="+Inf" (which equals _count), then
//     name_sum and name_count;
//   - values are floats (Go's syntax, which Prometheus parses), with NaN,
//     +Inf and -Inf spelled so.
package promtext

import (
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// ContentType is the media type of the format, for the Content-Type header.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Types of a family.
const (
	Counter   = "counter"
	Gauge     = "gauge"
	Histogram = "histogram"
	Untyped   = "untyped"
)

// Label is one label of a sample.
type Label struct{ Name, Value string }

// Writer writes families to an io.Writer. The first error (of the
// io.Writer, or a misuse such as a name written in two groups) stops it;
// Err returns it.
type Writer struct {
	w    io.Writer
	err  error
	cur  string // the family being written
	typ  string
	seen map[string]bool
	buf  []byte
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w, seen: map[string]bool{}} }

// Err is the first error met.
func (w *Writer) Err() error { return w.err }

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// Family starts a family: its HELP and TYPE lines.
func (w *Writer) Family(name, typ, help string) {
	switch {
	case w.err != nil:
		return
	case !metricName.MatchString(name):
		w.err = fmt.Errorf("promtext: invalid metric name %q", name)
	case w.seen[name]:
		w.err = fmt.Errorf("promtext: family %s written twice (its samples must form one group)", name)
	case typ != Counter && typ != Gauge && typ != Histogram && typ != Untyped:
		w.err = fmt.Errorf("promtext: family %s: unknown type %q", name, typ)
	}
	if w.err != nil {
		return
	}
	w.seen[name], w.cur, w.typ = true, name, typ
	w.buf = append(w.buf[:0], "# HELP "...)
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, ' ')
	w.buf = appendEscaped(w.buf, help, false)
	w.buf = append(w.buf, "\n# TYPE "...)
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, typ...)
	w.buf = append(w.buf, '\n')
	w.flush()
}

// Sample writes one sample of the current counter, gauge or untyped
// family.
func (w *Writer) Sample(labels []Label, value float64) {
	if w.err == nil && (w.cur == "" || w.typ == Histogram) {
		w.err = fmt.Errorf("promtext: a sample outside a counter, gauge or untyped family (%q)", w.cur)
	}
	w.sample(w.cur, labels, value)
}

// Histogram writes one histogram of the current histogram family:
// cumulative[i] observations at or below bounds[i], then the total count
// (+Inf) last, so len(cumulative) == len(bounds)+1.
func (w *Writer) Histogram(labels []Label, bounds []float64, cumulative []uint64, sum float64) {
	if w.err == nil {
		switch {
		case w.typ != Histogram:
			w.err = fmt.Errorf("promtext: a histogram outside a histogram family (%q)", w.cur)
		case len(cumulative) != len(bounds)+1:
			w.err = fmt.Errorf("promtext: %s: %d counts for %d bounds (and +Inf)", w.cur, len(cumulative), len(bounds))
		}
	}
	for _, l := range labels {
		if l.Name == "le" && w.err == nil {
			w.err = fmt.Errorf("promtext: %s: label le is the bucket's", w.cur)
		}
	}
	withLE := append(labels[:len(labels):len(labels)], Label{Name: "le"})
	for i, c := range cumulative {
		withLE[len(labels)].Value = "+Inf"
		if i < len(bounds) {
			withLE[len(labels)].Value = formatFloat(bounds[i])
		}
		w.sample(w.cur+"_bucket", withLE, float64(c))
	}
	w.sample(w.cur+"_sum", labels, sum)
	w.sample(w.cur+"_count", labels, float64(cumulative[len(cumulative)-1]))
}

func (w *Writer) sample(name string, labels []Label, value float64) {
	if w.err != nil {
		return
	}
	w.buf = append(w.buf[:0], name...)
	if len(labels) > 0 {
		w.buf = append(w.buf, '{')
		for i, l := range labels {
			if !labelName.MatchString(l.Name) || strings.HasPrefix(l.Name, "__") {
				w.err = fmt.Errorf("promtext: %s: invalid label name %q", name, l.Name)
				return
			}
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			w.buf = append(w.buf, l.Name...)
			w.buf = append(w.buf, `="`...)
			w.buf = appendEscaped(w.buf, l.Value, true)
			w.buf = append(w.buf, '"')
		}
		w.buf = append(w.buf, '}')
	}
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, formatFloat(value)...)
	w.buf = append(w.buf, '\n')
	w.flush()
}

func (w *Writer) flush() {
	if _, err := w.w.Write(w.buf); err != nil && w.err == nil {
		w.err = fmt.Errorf("promtext: %w", err)
	}
}

// appendEscaped escapes backslash and line feed, and in a label value the
// double quote.
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

func formatFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', -1, 64) // counts as integers: 1000000, not 1e+06
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
