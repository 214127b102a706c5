package logtext

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

var clock = time.Date(2026, 11, 30, 1, 2, 3, 456789000, time.Local)

func fixed(out *bytes.Buffer) *Writer {
	w := New(out)
	w.now = func() time.Time { return clock }
	return w
}

func TestWriteFormatsEvents(t *testing.T) {
	const ts = "2026-11-30 01:02:03.456 "
	tests := []struct {
		name, in, want string
	}{
		{"progress line as the child logs it",
			`{"level":"info","pid":10078,"shard":"shardId-000000000001","records":500,"bytes":512000,"ms":12,"time":"2026-11-29T21:06:59Z","message":"stored batch"}`,
			`INFO  shardId-000000000001 stored batch records=500 bytes=512000 ms=12 pid=10078`},
		{"no shard", `{"level":"warn","message":"using SINK_DATABASE_URL"}`,
			`WARN  - using SINK_DATABASE_URL`},
		{"levels are five wide", `{"level":"error","message":"m"}`, `ERROR - m`},
		{"debug", `{"level":"debug","message":"m"}`, `DEBUG - m`},
		{"no level", `{"message":"m"}`, `-     - m`},
		{"unknown level", `{"level":"loud","message":"m"}`, `loud - m`},
		{"no message", `{"level":"info","n":1}`, `INFO  - n=1`},
		{"empty message", `{"level":"info","message":"","n":1}`, `INFO  - n=1`},
		{"error text with quotes and lines (SQL, a stack) stays on one line",
			`{"level":"error","shard":"s","error":"ERROR: relation \"doc.t\" does not exist\nLINE 1: INSERT INTO doc.t\n\tat x","message":"write failed"}`,
			`ERROR s write failed error="ERROR: relation \"doc.t\" does not exist\nLINE 1: INSERT INTO doc.t\n\tat x"`},
		{"message with = is quoted", `{"level":"info","message":"a=b"}`, `INFO  - "a=b"`},
		{"message with a line break is quoted", `{"level":"info","message":"panic: x\ngoroutine 1"}`, `INFO  - "panic: x\ngoroutine 1"`},
		{"message with a quote is quoted", `{"level":"info","message":"say \"hi\""}`, `INFO  - "say \"hi\""`},
		{"message with an outer space is quoted", `{"level":"info","message":" x"}`, `INFO  - " x"`},
		{"value with a space", `{"level":"info","message":"m","table":"doc.my table"}`, `INFO  - m table="doc.my table"`},
		{"empty value", `{"level":"info","message":"m","v":""}`, `INFO  - m v=""`},
		{"value with =", `{"level":"info","message":"m","v":"a=b"}`, `INFO  - m v="a=b"`},
		{"bare value with a backslash", `{"level":"info","message":"m","path":"C:\\x"}`, `INFO  - m path=C:\x`},
		{"numbers, booleans, null", `{"level":"info","message":"m","a":-1.5e3,"b":true,"c":null}`, `INFO  - m a=-1.5e3 b=true c=null`},
		{"objects and arrays as quoted JSON", `{"level":"info","message":"m","o":{"k":[1,"x y"]},"a":[1,2]}`,
			`INFO  - m o="{\"k\":[1,\"x y\"]}" a=[1,2]`},
		{"unicode stays readable", `{"level":"info","message":"caf\u00e9 ok","k":"\ud83d\ude00"}`, `INFO  - café ok k=😀`},
		{"control and unprintable characters are escaped", `{"level":"info","message":"m","k":"a\u0000b\u200bc"}`, `INFO  - m k="a\x00b\u200bc"`},
		{"lone surrogate", `{"level":"info","message":"m","k":"\ud800"}`, `INFO  - m k=` + "\uFFFD"},
		{"invalid UTF-8 is escaped", "{\"level\":\"info\",\"message\":\"m\",\"k\":\"a\xffb\"}", `INFO  - m k="a\xffb"`},
		{"odd keys keep the line splittable", `{"level":"info","message":"m","a b=\"c":1}`, `INFO  - m a_b__c=1`},
		{"a second shard field is a field", `{"level":"info","shard":"s1","shard":"s2","message":"m"}`, `INFO  s1 m shard=s2`},
		{"white space around tokens", " { \"level\" : \"info\" , \"message\" : \"m\" } \n", `INFO  - m`},
		{"not JSON", "plain text\n", `-     - "plain text"`},
		{"trailing garbage", `{"level":"info","message":"m"} x`, `-     - "{\"level\":\"info\",\"message\":\"m\"} x"`},
		{"truncated", `{"level":"info","message":"m`, `-     - "{\"level\":\"info\",\"message\":\"m"`},
		{"empty object", `{}`, `-     -`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			n, err := fixed(&out).Write([]byte(tt.in))
			if err != nil || n != len(tt.in) {
				t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(tt.in))
			}
			if got, want := out.String(), ts+tt.want+"\n"; got != want {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	var out bytes.Buffer
	if w := Select(FormatJSON, &out); w != &out {
		t.Errorf("json: got %T, want the writer itself", w)
	}
	if _, ok := Select(FormatText, &out).(*Writer); !ok {
		t.Errorf("text: got %T", Select(FormatText, &out))
	}
}

// TestZerologLines runs events through a logger set up as the child's
// (timestamp and pid in the context, the shard on the shard's logger).
func TestZerologLines(t *testing.T) {
	var out bytes.Buffer
	log := zerolog.New(fixed(&out)).With().Timestamp().Int("pid", 4711).Logger()
	shard := log.With().Str("shard", "shardId-000000000001").Logger()
	shard.Info().Int("records", 500).Int("bytes", 512000).Dur("took", 12*time.Millisecond).Msg("batch stored")
	log.Error().Err(errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")).Msg("cannot open the database sink")
	want := "2026-11-30 01:02:03.456 INFO  shardId-000000000001 batch stored records=500 bytes=512000 took=12 pid=4711\n" +
		"2026-11-30 01:02:03.456 ERROR - cannot open the database sink error=\"dial tcp 127.0.0.1:5432: connect: connection refused\" pid=4711\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// parsed is a text line read back the way a log parser would.
type parsed struct {
	date, clock, level, shard, message string
	fields                             [][2]string
}

// parseLine splits a line by the package's rules: four columns, then a
// message that is quoted or holds no =, then key=value pairs.
func parseLine(t *testing.T, line string) parsed {
	t.Helper()
	var p parsed
	cols := strings.SplitN(line, " ", 4)
	if len(cols) < 3 {
		t.Fatalf("too few columns: %q", line)
	}
	p.date, p.clock = cols[0], cols[1]
	rest := strings.Join(cols[2:], " ")
	p.level, rest = strings.TrimSpace(rest[:5]), rest[6:]
	p.shard, rest, _ = strings.Cut(rest, " ")
	p.shard = unquoteIf(t, p.shard)
	// The message: quoted, or the words before the first key=.
	if strings.HasPrefix(rest, `"`) {
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			t.Fatalf("message: %v in %q", err, line)
		}
		p.message = unquoteIf(t, q)
		rest = strings.TrimPrefix(rest[len(q):], " ")
	} else if eq := strings.IndexByte(rest, '='); eq < 0 {
		p.message, rest = rest, ""
	} else if sp := strings.LastIndexByte(rest[:eq], ' '); sp >= 0 {
		p.message, rest = rest[:sp], rest[sp+1:]
	}
	for rest != "" {
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			t.Fatalf("no key=value in %q of %q", rest, line)
		}
		value := after
		if strings.HasPrefix(after, `"`) {
			q, err := strconv.QuotedPrefix(after)
			if err != nil {
				t.Fatalf("value of %s: %v in %q", key, err, line)
			}
			value = q
		} else if sp := strings.IndexByte(after, ' '); sp >= 0 {
			value = after[:sp]
		}
		p.fields = append(p.fields, [2]string{key, unquoteIf(t, value)})
		rest = strings.TrimPrefix(after[len(value):], " ")
	}
	return p
}

func unquoteIf(t *testing.T, s string) string {
	if !strings.HasPrefix(s, `"`) {
		return s
	}
	u, err := strconv.Unquote(s)
	if err != nil {
		t.Fatalf("unquote %q: %v", s, err)
	}
	return u
}

// FuzzOneLineRoundTrip: whatever strings an event carries, it becomes
// exactly one line, and that line splits back into the same message and
// values.
func FuzzOneLineRoundTrip(f *testing.F) {
	for _, s := range []string{"", "x", "a b", `"`, "a=b", "line\nbreak", "\x00", "\xff", "é", "\u2028", " lead", "k=\"v w\""} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, msg, value string) {
		var out, js bytes.Buffer
		log := zerolog.New(zerolog.MultiLevelWriter(fixed(&out), &js)).With().Str("shard", "shardId-1").Logger()
		log.Info().Str("v", value).Int("n", 7).Msg(msg)
		line := out.String()
		// What zerolog wrote (it replaces each byte of invalid UTF-8).
		var want struct{ Message, V string }
		if err := json.Unmarshal(js.Bytes(), &want); err != nil {
			t.Fatal(err)
		}
		if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
			t.Fatalf("not one line: %q", line)
		}
		p := parseLine(t, strings.TrimSuffix(line, "\n"))
		wantMsg, wantValue := want.Message, want.V
		if p.level != "INFO" || p.shard != "shardId-1" || p.message != wantMsg {
			t.Fatalf("line %q read back as %+v; want message %q", line, p, wantMsg)
		}
		if len(p.fields) != 2 || p.fields[0] != [2]string{"v", wantValue} || p.fields[1] != [2]string{"n", "7"} {
			t.Fatalf("line %q: fields %q; want v=%q n=7", line, p.fields, wantValue)
		}
	})
}

func TestNoAllocations(t *testing.T) {
	w := New(discard{})
	event := []byte(`{"level":"info","pid":10078,"shard":"shardId-000000000001","records":500,"bytes":512000,"error":"a \"quoted\"\nvalue","time":"2026-11-29T21:06:59Z","message":"stored batch"}` + "\n")
	if n := testing.AllocsPerRun(1000, func() { w.Write(event) }); n != 0 {
		t.Errorf("%v allocations per line, want 0", n)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func BenchmarkWrite(b *testing.B) {
	w := New(discard{})
	event := []byte(`{"level":"info","pid":10078,"shard":"shardId-000000000001","records_per_s":812.5,"bytes_per_s":831488,"records":8125,"batches":5,"dead_lettered":0,"millis_behind_latest":0,"checkpoint":"49680686665166333098857289998468317656819119701687795714/0","time":"2026-11-29T21:06:59Z","message":"progress"}` + "\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(event)))
	for b.Loop() {
		w.Write(event)
	}
}

func ExampleWriter() {
	w := New(writerFunc(func(p []byte) (int, error) {
		_, line, _ := strings.Cut(string(p), " ") // the clock's date
		_, line, _ = strings.Cut(line, " ")       // and time
		fmt.Print(line)
		return len(p), nil
	}))
	log := zerolog.New(w).With().Str("shard", "shardId-000000000001").Logger()
	log.Info().Int("records", 500).Str("table", "doc.kinesis_events").Msg("batch stored")
	// Output: INFO  shardId-000000000001 batch stored records=500 table=doc.kinesis_events
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
