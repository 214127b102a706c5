package record

import "testing"

func TestKey(t *testing.T) {
	for _, tc := range []struct {
		src  Source
		want string
	}{
		{Source{ShardID: "shardId-000000000001", SequenceNumber: "4959", SubSequenceNumber: 2, PartitionKey: "p", Data: []byte("x")}, "shardId-000000000001/4959/2"},
		{Source{}, "//0"},
	} {
		k := tc.src.Key()
		if got := k.String(); got != tc.want {
			t.Errorf("Key().String() = %q, want %q", got, tc.want)
		}
		other := tc.src
		other.PartitionKey, other.Data = "different", nil
		if other.Key() != k {
			t.Errorf("key depends on partition key or data: %v vs %v", other.Key(), k)
		}
	}
}
