package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client is a connection to the Redis server that holds one pipeline's streams.
type Client struct {
	rdb    *redis.Client
	addr   string
	keys   Keys
	maxLen int64
}

// Options configures Dial.
type Options struct {
	// Addr is host:port of the Redis server.
	Addr string
	// Password is optional.
	Password string
	// Keys names the streams; zero means KeysFor(DefaultPrefix).
	Keys Keys
	// DialTimeout bounds the first connection and PING (default 5 s).
	DialTimeout time.Duration
	// PoolSize overrides go-redis' default pool size when > 0.
	PoolSize int
	// MaxLen, when > 0, trims the task stream to about that many entries on
	// every XADD (MAXLEN ~), as a length-mode scaler needs.
	MaxLen int64
}

// Dial connects to Redis and checks it answers within the dial timeout.
// The error names the address so an unreachable server is obvious.
func Dial(ctx context.Context, o Options) (*Client, error) {
	if o.Addr == "" {
		return nil, errors.New("redis address is empty: pass host:port (e.g. 127.0.0.1:6379)")
	}
	if o.Keys == (Keys{}) {
		o.Keys = KeysFor(DefaultPrefix)
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	rdb := redis.NewClient(&redis.Options{
		Addr:        o.Addr,
		Password:    o.Password,
		DialTimeout: o.DialTimeout,
		// Blocking reads wait longer than ReadTimeout; go-redis extends the
		// deadline by the BLOCK duration itself.
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 10 * time.Second,
		PoolSize:     o.PoolSize,
		// One attempt only on dial so an unreachable server fails fast.
		MaxRetries: 2,
	})
	pctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("connect to redis at %s: %w", o.Addr, err)
	}
	return &Client{rdb: rdb, addr: o.Addr, keys: o.Keys, maxLen: o.MaxLen}, nil
}

// Close releases the connections.
func (c *Client) Close() error { return c.rdb.Close() }

// Addr returns the server address.
func (c *Client) Addr() string { return c.addr }

// Keys returns the stream names in use.
func (c *Client) Keys() Keys { return c.keys }

// ServerVersion returns the redis_version of the server.
func (c *Client) ServerVersion(ctx context.Context) (string, error) {
	info, err := c.rdb.Info(ctx, "server").Result()
	if err != nil {
		return "", fmt.Errorf("redis INFO server: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v, nil
		}
	}
	return "", errors.New("redis INFO server has no redis_version")
}

// EnsureGroup creates the task stream and the consumer group (reading from the
// start of the stream) unless they exist.
func (c *Client) EnsureGroup(ctx context.Context) error {
	err := c.rdb.XGroupCreateMkStream(ctx, c.keys.Stream, c.keys.Group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("create consumer group %s on %s: %w", c.keys.Group, c.keys.Stream, err)
	}
	return nil
}

// Reset deletes the task, results and dead-letter streams and recreates the
// empty stream with its consumer group: the state every run starts from.
func (c *Client) Reset(ctx context.Context) error {
	if err := c.rdb.Del(ctx, c.keys.Stream, c.keys.Results, c.keys.DeadLetter).Err(); err != nil {
		return fmt.Errorf("reset streams %s: %w", c.keys.Stream, err)
	}
	return c.EnsureGroup(ctx)
}

// Enqueue adds tasks to the task stream in one pipelined round trip and returns
// their entry ids in order. On error, ids holds those known to be added.
func (c *Client) Enqueue(ctx context.Context, tasks []Task) ([]string, error) {
	pipe := c.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(tasks))
	// Each XADD's arguments in one exactly sized slice (Do keeps it as the
	// command's args): a 100,000-task burst is CPU-bound on the client.
	head := []any{"XADD", c.keys.Stream}
	if c.maxLen > 0 {
		head = append(head, "MAXLEN", "~", c.maxLen)
	}
	head = append(head, "*")
	for i, t := range tasks {
		args := make([]any, len(head), len(head)+taskFields)
		copy(args, head)
		cmds[i] = pipe.Do(ctx, t.appendValues(args)...)
	}
	_, err := pipe.Exec(ctx)
	ids := make([]string, 0, len(tasks))
	for _, cmd := range cmds {
		id, cerr := cmd.Text()
		if cerr != nil {
			break
		}
		ids = append(ids, id)
	}
	if err != nil {
		return ids, fmt.Errorf("enqueue %d tasks on %s: %w", len(tasks), c.keys.Stream, err)
	}
	return ids, nil
}

// AddRaw adds an entry with arbitrary fields; tests use it to plant a poison
// message that no worker can decode.
func (c *Client) AddRaw(ctx context.Context, values ...any) (string, error) {
	id, err := c.rdb.XAdd(ctx, &redis.XAddArgs{Stream: c.keys.Stream, Values: values}).Result()
	if err != nil {
		return "", fmt.Errorf("add entry to %s: %w", c.keys.Stream, err)
	}
	return id, nil
}

// Delivery is one stream entry handed to a consumer.
type Delivery struct {
	EntryID string
	Values  map[string]any
	// Count is how many times Redis has delivered the entry, this one included.
	Count int64
	// Read is when the consumer received it (harness clock).
	Read time.Time
	// Reclaimed is true when the entry was taken over from another consumer.
	Reclaimed bool
}

// Read delivers up to count new entries to consumer, blocking up to block.
// It returns no entries and no error when the block times out.
func (c *Client) Read(ctx context.Context, consumer string, count int, block time.Duration) ([]Delivery, error) {
	if count < 1 {
		return nil, nil
	}
	res, err := c.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group:    c.keys.Group,
		Consumer: consumer,
		Streams:  []string{c.keys.Stream, ">"},
		Count:    int64(count),
		Block:    block,
	}).Result()
	now := time.Now()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("XREADGROUP %s/%s as %s: %w", c.keys.Stream, c.keys.Group, consumer, err)
	}
	var out []Delivery
	for _, s := range res {
		for _, m := range s.Messages {
			out = append(out, Delivery{EntryID: m.ID, Values: m.Values, Count: 1, Read: now})
		}
	}
	return out, nil
}

// Reclaim takes over up to count entries that have been pending longer than
// minIdle (their consumer died or gave up), following XAUTOCLAIM's cursor
// through the whole pending list, and reports each entry's delivery count.
func (c *Client) Reclaim(ctx context.Context, consumer string, minIdle time.Duration, count int) ([]Delivery, error) {
	if count < 1 {
		return nil, nil
	}
	var out []Delivery
	start := "0-0"
	for len(out) < count {
		msgs, next, err := c.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: c.keys.Stream, Group: c.keys.Group, Consumer: consumer,
			MinIdle: minIdle, Start: start, Count: int64(count - len(out)),
		}).Result()
		if err != nil {
			return out, fmt.Errorf("XAUTOCLAIM %s/%s as %s: %w", c.keys.Stream, c.keys.Group, consumer, err)
		}
		now := time.Now()
		for _, m := range msgs {
			out = append(out, Delivery{EntryID: m.ID, Values: m.Values, Read: now, Reclaimed: true})
		}
		if next == "0-0" || next == "" {
			break
		}
		start = next
	}
	if len(out) == 0 {
		return nil, nil
	}
	// XAUTOCLAIM does not return delivery counts; read them for the claimed range.
	counts, err := c.deliveryCounts(ctx, consumer, out[0].EntryID, out[len(out)-1].EntryID, len(out))
	if err != nil {
		return out, err
	}
	for i := range out {
		out[i].Count = counts[out[i].EntryID]
		if out[i].Count == 0 {
			out[i].Count = 1
		}
	}
	return out, nil
}

func (c *Client) deliveryCounts(ctx context.Context, consumer, lo, hi string, n int) (map[string]int64, error) {
	counts := make(map[string]int64, n)
	start := lo
	for {
		p, err := c.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
			Stream: c.keys.Stream, Group: c.keys.Group, Consumer: consumer,
			Start: start, End: hi, Count: 1000,
		}).Result()
		if err != nil {
			return counts, fmt.Errorf("XPENDING %s/%s for %s: %w", c.keys.Stream, c.keys.Group, consumer, err)
		}
		for _, e := range p {
			counts[e.ID] = e.RetryCount
		}
		if len(p) < 1000 {
			return counts, nil
		}
		start = "(" + p[len(p)-1].ID
	}
}

// Complete writes the result record and then acks the entry, atomically
// (MULTI/EXEC): an ack never exists without its record.
func (c *Client) Complete(ctx context.Context, entryID string, r Result) error {
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAdd(ctx, &redis.XAddArgs{Stream: c.keys.Results, Values: r.Values()})
		p.XAck(ctx, c.keys.Stream, c.keys.Group, entryID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record and ack %s (task %s): %w", entryID, r.TaskID, err)
	}
	return nil
}

// DeadLetter moves an entry to the dead-letter stream: the original fields plus
// the reason go to the dead-letter stream, a dead_lettered record to the results
// stream, then the entry is acked, all in one transaction.
func (c *Client) DeadLetter(ctx context.Context, d Delivery, r Result, reason string) error {
	vals := make([]any, 0, 2*len(d.Values)+8)
	for k, v := range d.Values {
		vals = append(vals, "orig_"+k, v)
	}
	vals = append(vals, "entry_id", d.EntryID, "deliveries", d.Count, "reason", reason, "consumer", r.Consumer)
	r.Status = StatusDeadLettered
	if r.Error == "" {
		r.Error = reason
	}
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAdd(ctx, &redis.XAddArgs{Stream: c.keys.DeadLetter, Values: vals})
		p.XAdd(ctx, &redis.XAddArgs{Stream: c.keys.Results, Values: r.Values()})
		p.XAck(ctx, c.keys.Stream, c.keys.Group, d.EntryID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("dead-letter %s: %w", d.EntryID, err)
	}
	return nil
}

// Stats is one sample of the queue state, the figures KEDA's redis-streams
// scaler reads.
type Stats struct {
	At time.Time
	// Length is XLEN of the task stream (acked entries stay until trimmed).
	Length int64
	// Pending is the XPENDING count: delivered and not acked.
	Pending int64
	// Lag is the group's lag (entries not yet delivered); -1 when Redis reports
	// it as null (after XDEL or trimming of undelivered entries): KEDA then
	// reads the trigger as inactive.
	Lag int64
	// EntriesRead is the group's entries-read counter.
	EntriesRead int64
	// Consumers is the number of consumers known to the group.
	Consumers int64
	// LastDeliveredID is the group's last-delivered-id: entries after it
	// were never delivered.
	LastDeliveredID string
	// PendingByConsumer is the XPENDING count per consumer.
	PendingByConsumer map[string]int64
	// Results and DeadLetters are the lengths of the results and dead-letter streams.
	Results     int64
	DeadLetters int64
	// GroupExists is false when the stream or group is missing.
	GroupExists bool
}

// LagNull reports whether Redis returned a null lag.
func (s Stats) LagNull() bool { return s.GroupExists && s.Lag < 0 }

// Sample reads the queue state in one pipelined round trip.
func (c *Client) Sample(ctx context.Context) (Stats, error) {
	pipe := c.rdb.Pipeline()
	xlen := pipe.XLen(ctx, c.keys.Stream)
	rlen := pipe.XLen(ctx, c.keys.Results)
	dlen := pipe.XLen(ctx, c.keys.DeadLetter)
	pend := pipe.XPending(ctx, c.keys.Stream, c.keys.Group)
	groups := pipe.XInfoGroups(ctx, c.keys.Stream)
	_, _ = pipe.Exec(ctx)
	s := Stats{At: time.Now(), PendingByConsumer: map[string]int64{}}
	var err error
	if s.Length, err = xlen.Result(); err != nil {
		return s, fmt.Errorf("XLEN %s: %w", c.keys.Stream, err)
	}
	s.Results, _ = rlen.Result()
	s.DeadLetters, _ = dlen.Result()
	gs, gerr := groups.Result()
	if gerr != nil {
		if isNoGroup(gerr) {
			return s, nil
		}
		return s, fmt.Errorf("XINFO GROUPS %s: %w", c.keys.Stream, gerr)
	}
	for _, g := range gs {
		if g.Name != c.keys.Group {
			continue
		}
		s.GroupExists = true
		s.Lag = g.Lag
		s.EntriesRead = g.EntriesRead
		s.Consumers = g.Consumers
		s.LastDeliveredID = g.LastDeliveredID
	}
	if !s.GroupExists {
		return s, nil
	}
	p, perr := pend.Result()
	if perr != nil && !errors.Is(perr, redis.Nil) {
		return s, fmt.Errorf("XPENDING %s/%s: %w", c.keys.Stream, c.keys.Group, perr)
	}
	if p != nil {
		s.Pending = p.Count
		for k, v := range p.Consumers {
			s.PendingByConsumer[k] = v
		}
	}
	return s, nil
}

func isNoGroup(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "no such key") || strings.HasPrefix(msg, "NOGROUP") || strings.Contains(msg, "ERR no such")
}

// PendingEntry is one entry delivered and not yet acked.
type PendingEntry struct {
	ID         string
	Consumer   string
	Idle       time.Duration
	Deliveries int64
}

// Pending lists the entries still pending in the group, with their consumer and
// delivery count.
func (c *Client) Pending(ctx context.Context) ([]PendingEntry, error) {
	var out []PendingEntry
	start := "-"
	for {
		p, err := c.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
			Stream: c.keys.Stream, Group: c.keys.Group, Start: start, End: "+", Count: 1000,
		}).Result()
		if err != nil {
			if isNoGroup(err) {
				return out, nil
			}
			return out, fmt.Errorf("XPENDING %s/%s: %w", c.keys.Stream, c.keys.Group, err)
		}
		for _, e := range p {
			out = append(out, PendingEntry{ID: e.ID, Consumer: e.Consumer, Idle: e.Idle, Deliveries: e.RetryCount})
		}
		if len(p) < 1000 {
			return out, nil
		}
		start = "(" + p[len(p)-1].ID
	}
}

// Entry is one raw stream entry.
type Entry struct {
	ID     string
	Values map[string]any
}

// ReadAll returns every entry of stream in id order, paging with XRANGE.
func (c *Client) ReadAll(ctx context.Context, stream string) ([]Entry, error) {
	var out []Entry
	start := "-"
	for {
		msgs, err := c.rdb.XRangeN(ctx, stream, start, "+", 5000).Result()
		if err != nil {
			return out, fmt.Errorf("XRANGE %s: %w", stream, err)
		}
		for _, m := range msgs {
			out = append(out, Entry{ID: m.ID, Values: m.Values})
		}
		if len(msgs) < 5000 {
			return out, nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// Results returns every result record of run (all runs when run is empty).
// Records that cannot be decoded are returned as errors in bad, not dropped.
func (c *Client) Results(ctx context.Context, run string) (rs []Result, bad []error, err error) {
	msgs, err := c.ReadAll(ctx, c.keys.Results)
	if err != nil {
		return nil, nil, err
	}
	for _, m := range msgs {
		r, perr := ParseResult(m.Values)
		if perr != nil {
			bad = append(bad, fmt.Errorf("results entry %s: %w", m.ID, perr))
			continue
		}
		if run == "" || r.Run == run {
			rs = append(rs, r)
		}
	}
	return rs, bad, nil
}

// Delete removes entries from the task stream (XDEL). Deleting an undelivered
// entry makes the group's lag null, which KEDA reads as inactive.
func (c *Client) Delete(ctx context.Context, ids ...string) error {
	if err := c.rdb.XDel(ctx, c.keys.Stream, ids...).Err(); err != nil {
		return fmt.Errorf("XDEL %s: %w", c.keys.Stream, err)
	}
	return nil
}

// CompareIDs orders two stream entry ids ("ms-seq"): -1, 0 or 1.
func CompareIDs(a, b string) int {
	am, as := splitID(a)
	bm, bs := splitID(b)
	switch {
	case am < bm:
		return -1
	case am > bm:
		return 1
	case as < bs:
		return -1
	case as > bs:
		return 1
	}
	return 0
}

func splitID(id string) (ms, seq uint64) {
	a, b, _ := strings.Cut(id, "-")
	ms, _ = strconv.ParseUint(a, 10, 64)
	seq, _ = strconv.ParseUint(b, 10, 64)
	return ms, seq
}

// Warm opens n pooled connections (concurrent PINGs) so the first pipelined
// sends do not pay for a connection dial.
func (c *Client) Warm(ctx context.Context, n int) error {
	errs := make(chan error, n)
	for range n {
		go func() { errs <- c.rdb.Ping(ctx).Err() }()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = fmt.Errorf("warm redis connections to %s: %w", c.addr, err)
		}
	}
	return first
}

// quietLogger drops go-redis's own log lines ("failed to dial"): every
// failure reaches the caller as an error that names the address.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quietLogger{}) }
