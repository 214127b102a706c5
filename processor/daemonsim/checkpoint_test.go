package daemonsim

import "testing"

func TestPositionCompare(t *testing.T) {
	tests := []struct {
		a, b Position
		want int
	}{
		{Position{"9", 0}, Position{"10", 0}, -1}, // numeric, not lexicographic
		{Position{"0010", 0}, Position{"9", 0}, 1},
		{Position{"123", 1}, Position{"123", 0}, 1},
		{Position{"123", 0}, Position{"123", 0}, 0},
		{Position{"49590338271490256608559692538361571095921575989136588899", 0}, Position{"49590338271490256608559692538361571095921575989136588898", 7}, 1},
		{Position{SentinelTrimHorizon, 0}, Position{"0", 0}, -1},
		{Position{SentinelLatest, 0}, Position{SentinelTrimHorizon, 0}, 1},
		{Position{SentinelShardEnd, 0}, Position{"99999999999999999999999999999999999999999999999999999999", 0}, 1},
	}
	for _, tt := range tests {
		if got := tt.a.Compare(tt.b); got != tt.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := tt.b.Compare(tt.a); got != -tt.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestCheckpointerValidation(t *testing.T) {
	const (
		seqA = "49590338271490256608559692538361571095921575989136588898"
		seqB = "49590338271490256608559692538361571095921575989136588950"
		seqC = "49590338271490256608559692538361571095921575989136589000"
	)
	type step struct {
		seq      *string
		sub      *int64
		wantErr  string
		wantLast Position
	}
	tests := []struct {
		name     string
		start    Position
		deliver  Position
		shardEnd bool
		steps    []step
	}{
		{"null goes to largest delivered", Position{SentinelTrimHorizon, 0}, Position{seqB, 2}, false,
			[]step{{nil, nil, "", Position{seqB, 2}}}},
		{"null sub-sequence is ignored", Position{SentinelTrimHorizon, 0}, Position{seqB, 2}, false,
			[]step{{nil, ptr[int64](9), "", Position{seqB, 2}}}},
		{"explicit within range", Position{seqA, 0}, Position{seqC, 0}, false,
			[]step{{ptr(seqB), ptr[int64](4), "", Position{seqB, 4}}, {ptr(seqB), nil, ErrIllegalArgument, Position{seqB, 4}}}},
		{"explicit without sub means sub 0", Position{seqA, 0}, Position{seqC, 0}, false,
			[]step{{ptr(seqB), nil, "", Position{seqB, 0}}}},
		{"above largest delivered", Position{seqA, 0}, Position{seqB, 0}, false,
			[]step{{ptr(seqC), nil, ErrIllegalArgument, Position{seqA, 0}}}},
		{"sub-sequence above largest", Position{seqA, 0}, Position{seqB, 1}, false,
			[]step{{ptr(seqB), ptr[int64](2), ErrIllegalArgument, Position{seqA, 0}}}},
		{"below last checkpoint", Position{seqB, 0}, Position{seqC, 0}, false,
			[]step{{ptr(seqA), nil, ErrIllegalArgument, Position{seqB, 0}}}},
		{"equal to last checkpoint is a no-op success", Position{seqB, 0}, Position{seqC, 0}, false,
			[]step{{ptr(seqB), nil, "", Position{seqB, 0}}}},
		{"not digits", Position{seqA, 0}, Position{seqC, 0}, false,
			[]step{{ptr("12a"), nil, ErrIllegalArgument, Position{seqA, 0}}, {ptr(SentinelLatest), nil, ErrIllegalArgument, Position{seqA, 0}}}},
		{"negative sub-sequence", Position{seqA, 0}, Position{seqC, 0}, false,
			[]step{{ptr(seqB), ptr[int64](-1), ErrIllegalArgument, Position{seqA, 0}}}},
		{"null at shard end", Position{seqA, 0}, Position{seqC, 0}, true,
			[]step{{nil, nil, "", Position{SentinelShardEnd, 0}}}},
		{"last record at shard end becomes SHARD_END", Position{seqA, 0}, Position{seqC, 0}, true,
			[]step{{ptr(seqC), nil, "", Position{SentinelShardEnd, 0}}}},
		{"earlier record at shard end stays", Position{seqA, 0}, Position{seqC, 0}, true,
			[]step{{ptr(seqB), nil, "", Position{seqB, 0}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := checkpointer{last: tt.start, largest: tt.start}
			c.deliver(tt.deliver)
			c.deliver(tt.start) // largest never shrinks
			if tt.shardEnd {
				c.endShard()
			}
			for i, s := range tt.steps {
				if got := c.checkpoint(s.seq, s.sub); got != s.wantErr {
					t.Fatalf("step %d: error %q, want %q", i, got, s.wantErr)
				}
				if c.last != s.wantLast {
					t.Fatalf("step %d: last checkpoint %v, want %v", i, c.last, s.wantLast)
				}
			}
		})
	}
}
