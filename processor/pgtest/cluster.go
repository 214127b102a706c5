package pgtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// clusterHeap is each node's heap: three nodes share the test machine with
// the daemon, the emulators and the other databases.
const clusterHeap = "448m"

// Cluster is a CrateDB cluster of the test's own on loopback: nodes from
// the same CRATEDB_HOME, each with its data directory and ports.
type Cluster struct {
	Nodes []*Server
}

// StartCluster starts n CrateDB nodes at once (a node answers only once a
// master is elected, which needs a majority of them), waits until all n
// are in sys.nodes, and stops them all when the test ends. Gated like
// StartServer.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{}
	var seeds, names []string
	for i := range n {
		s := newServer(t, CrateDB)
		c.Nodes = append(c.Nodes, s)
		seeds = append(seeds, fmt.Sprintf("127.0.0.1:%d", s.tr))
		names = append(names, fmt.Sprintf("node%d-%d", i+1, s.port))
	}
	for i, s := range c.Nodes {
		s.env = append(s.env, "CRATE_HEAP_SIZE="+clusterHeap,
			"CRATE_CLUSTER_NAME=pgtest-"+names[0], "CRATE_NODE_NAME="+names[i],
			"CRATE_CLUSTER_SEEDS="+strings.Join(seeds, ","), "CRATE_CLUSTER_MASTERS="+strings.Join(names, ","))
	}
	var wg sync.WaitGroup
	for _, s := range c.Nodes {
		wg.Go(s.Restart)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	c.WaitNodes(t, n, 2*time.Minute)
	return c
}

// URL lists every node's address, as a user of a cluster would write it:
// pgx tries the hosts in order and connects to the first that answers.
func (c *Cluster) URL() string {
	hosts := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		hosts[i] = fmt.Sprintf("127.0.0.1:%d", s.port)
	}
	return "postgres://crate@" + strings.Join(hosts, ",") + "/doc?sslmode=disable"
}

// DB is the cluster as a DB, with the URL of every node.
func (c *Cluster) DB() DB { return DB{Name: CrateDB, URL: c.URL()} }

// WaitNodes waits until the cluster, asked through any node that answers,
// has n nodes.
func (c *Cluster) WaitNodes(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		got, err := c.queryInt(`SELECT count(*) FROM sys.nodes`)
		if err == nil && got == n {
			return
		}
		last = fmt.Sprintf("%d nodes (%v)", got, err)
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("CrateDB cluster: want %d nodes within %s, last saw %s", n, timeout, last)
}

func (c *Cluster) queryInt(sql string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, sql).Scan(&n)
	return n, err
}
