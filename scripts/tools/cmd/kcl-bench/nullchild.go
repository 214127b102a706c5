package main

import (
	"bufio"
	"fmt"
	"io"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/daemonsim"
)

// nullChild answers every action with its status without decoding it, so
// a run against it measures the driver and the pipe alone.
func nullChild(in io.Reader, out io.Writer) error {
	r := bufio.NewReaderSize(in, 1<<20)
	w := bufio.NewWriter(out)
	var line []byte
	for {
		line = line[:0]
		for {
			frag, err := r.ReadSlice('\n')
			line = append(line, frag...)
			if err == bufio.ErrBufferFull {
				continue
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("reading stdin: %w", err)
			}
			break
		}
		action := daemonsim.PeekAction(line)
		if action == "" {
			return fmt.Errorf("unexpected line %.80q", line)
		}
		fmt.Fprintf(w, `{"action":"status","responseFor":%q}`+"\n", action)
		if err := w.Flush(); err != nil {
			return fmt.Errorf("writing stdout: %w", err)
		}
	}
}
