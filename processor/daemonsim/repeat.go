package daemonsim

import "io"

// Repeat is a daemon's stdin for benchmarks that run the child in process:
// Head, then Body N times, then Tail, without holding N copies of a
// 14 MB processRecords line in memory.
type Repeat struct {
	Head, Body, Tail []byte
	N                int

	cur   []byte
	stage int
}

func (r *Repeat) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		switch {
		case r.stage == 0:
			r.cur, r.stage = r.Head, 1
		case r.stage == 1 && r.N > 0:
			r.cur = r.Body
			r.N--
		case r.stage == 1:
			r.cur, r.stage = r.Tail, 2
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}
