package daemonsim

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/testenv"
)

// TestEncodingMatchesDaemonClasses serialises the same messages with the
// real MultiLangDaemon message classes from jars/lib and compares bytes.
func TestEncodingMatchesDaemonClasses(t *testing.T) {
	jars, err := filepath.Abs("../../jars/lib")
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(jars, "amazon-kinesis-client-multilang-*.jar")); len(m) == 0 {
		testenv.Missing(t, "jars/lib has no multilang jar: run make jars")
	}
	javac, err := exec.LookPath("javac")
	if err != nil {
		testenv.Missing(t, "no javac on PATH: install a JDK (openjdk-17-jdk-headless)")
	}
	dir := t.TempDir()
	classpath := filepath.Join(jars, "*")
	if out, err := exec.Command(javac, "-d", dir, "-cp", classpath, "testdata/DaemonEncode.java").CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	recs := encodeTestRecords(t)
	tsv := filepath.Join(dir, "records.tsv")
	if err := os.WriteFile(tsv, recordsTSV(recs), 0o644); err != nil {
		t.Fatal(err)
	}
	javaOut := filepath.Join(dir, "java.out")
	java := exec.Command("java", "-cp", classpath+string(os.PathListSeparator)+dir, "DaemonEncode", tsv, javaOut)
	if out, err := java.CombinedOutput(); err != nil {
		t.Fatalf("java: %v\n%s", err, out)
	}
	want, err := os.ReadFile(javaOut)
	if err != nil {
		t.Fatal(err)
	}
	zero := int64(0)
	trim := SentinelTrimHorizon
	var got []byte
	got = AppendInitialize(got, "shardId-000000000003", &trim, &zero)
	got = AppendInitialize(got, "shardId-000000000004", nil, nil)
	got = AppendProcessRecords(got, recs, &zero)
	got = AppendProcessRecords(got, nil, nil)
	seq := "123"
	five := int64(5)
	got = appendCheckpointReply(got, &seq, nil, "")
	got = appendCheckpointReply(got, nil, &five, ErrIllegalArgument)
	got = appendBare(got, ActionLeaseLost)
	got = appendBare(got, ActionShardEnded)
	got = appendBare(got, ActionShutdownRequested)
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("line %d differs from the daemon's bytes:\n got %.300q\nwant %.300q", i, firstDiff(gl[i], wl[i]), firstDiff(wl[i], gl[i]))
			}
		}
		t.Fatalf("got %d lines, the daemon wrote %d", len(gl), len(wl))
	}
}

func encodeTestRecords(t *testing.T) []Record {
	t.Helper()
	recs, err := Generator{Seed: 5, Size: 300, SubRecords: 2}.Records(300)
	if err != nil {
		t.Fatal(err)
	}
	ts := int64(1700000000999)
	tricky := []string{"äöü-\"quoted\"\n", "ctl\x00\x01\x1f\x7f/<>&", "sep\u2028\u2029 emoji 😀 \\ back", "tab\tcr\r", ""}
	for i, k := range tricky {
		r := Record{Data: []byte{byte(i), 0xff}, PartitionKey: k, SequenceNumber: "49590338271490256608559692538361571095921575989136599999", SubSequenceNumber: int64(i)}
		if i%2 == 0 {
			r.ApproximateArrivalTimestamp = &ts
		}
		recs = append(recs, r)
	}
	return append(recs, Record{Data: nil, PartitionKey: "empty-data", SequenceNumber: "1"})
}

func recordsTSV(recs []Record) []byte {
	var b bytes.Buffer
	enc := base64.StdEncoding
	for _, r := range recs {
		ts := "-"
		if r.ApproximateArrivalTimestamp != nil {
			ts = fmt.Sprint(*r.ApproximateArrivalTimestamp)
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%d\n", enc.EncodeToString(r.Data), enc.EncodeToString([]byte(r.PartitionKey)), r.SequenceNumber, ts, r.SubSequenceNumber)
	}
	return b.Bytes()
}

// firstDiff trims a to start a little before its first difference from b.
func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return a[max(0, i-40):]
}
