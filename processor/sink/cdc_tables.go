package sink

import (
	"fmt"
	"sync"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
)

// cdcTarget is one configured change-data-capture table.
type cdcTarget struct {
	spec *cdc.Table
	name tableName
	view tableName
	sql  cdcStatements
	// declared names the data attributes with a configured scalar type
	// (Document layout); the type-conflict check leaves them alone.
	declared map[string]bool
	// objectCols indexes the OBJECT columns of a Direct table.
	objectCols []int
}

// cdcState holds the tables of a ChangeWriter.
type cdcState struct {
	targets map[*cdc.Table]*cdcTarget
	order   []*cdcTarget

	mu      sync.Mutex
	dropped map[*cdc.Table]bool // dropped by a control event; re-created before the next write

	// spare holds upsertUnnest's array buffers between chunks (a sync.Pool
	// loses them at every garbage collection, and each is megabytes).
	spareMu sync.Mutex
	spare   [][]pgArray
}

func newCDCState(d dialect, specs []*cdc.Table) (*cdcState, error) {
	s := &cdcState{targets: map[*cdc.Table]*cdcTarget{}, dropped: map[*cdc.Table]bool{}}
	seen := map[tableName]bool{}
	for _, spec := range specs {
		name, err := parseTableName(spec.Name, d.defaultSchema())
		if err != nil {
			return nil, fmt.Errorf("CDC %w", err)
		}
		if seen[name] {
			return nil, fmt.Errorf("CDC table %s configured twice", name)
		}
		seen[name] = true
		view := name.withSuffix(liveViewSuffix)
		t := &cdcTarget{spec: spec, name: name, view: view, sql: buildCDCStatements(d, name, view, spec), declared: map[string]bool{}}
		for i, c := range spec.Columns {
			// An OBJECT's members are checked like any other value.
			t.declared[c.Name] = c.Type != cdc.Object
			if c.Type == cdc.Object && spec.Layout == cdc.Direct {
				t.objectCols = append(t.objectCols, i)
			}
		}
		s.targets[spec] = t
		s.order = append(s.order, t)
	}
	return s, nil
}

// ddl lists the statements that create every CDC table and its view.
func (s *cdcState) ddl() []string {
	var out []string
	for _, t := range s.order {
		out = append(out, t.sql.createTable, t.sql.createView)
	}
	return out
}

func (s *cdcState) tableNames() []tableName {
	var out []tableName
	for _, t := range s.order {
		out = append(out, t.name, t.view)
	}
	return out
}

func (s *cdcState) tableFor(spec *cdc.Table) (*cdcTarget, error) {
	if t := s.targets[spec]; t != nil {
		return t, nil
	}
	name := "<nil>"
	if spec != nil {
		name = spec.Name
	}
	return nil, fmt.Errorf("sink: change for table %s, which the writer was not opened with", name)
}

// takeArrays returns n array buffers, reused when there are spare ones.
func (s *cdcState) takeArrays(n int) []pgArray {
	s.spareMu.Lock()
	defer s.spareMu.Unlock()
	for i := len(s.spare) - 1; i >= 0; i-- {
		if a := s.spare[i]; len(a) >= n {
			s.spare = append(s.spare[:i], s.spare[i+1:]...)
			return a[:n]
		}
	}
	return make([]pgArray, n)
}

// returnArrays keeps a for the next chunk; two sets cover a pipelined
// writer (one chunk stored while the next is built).
func (s *cdcState) returnArrays(a []pgArray) {
	s.spareMu.Lock()
	defer s.spareMu.Unlock()
	if len(s.spare) < 2 {
		s.spare = append(s.spare, a)
	}
}
