package queue

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// touchScript resets the idle time of entries that are still pending for the
// given consumer (XCLAIM … JUSTID, which does not count as a delivery) and
// returns the ids that no longer are: acked by someone, or claimed by another
// consumer. Checking the owner first keeps a slow worker from stealing back an
// entry that another worker has already reclaimed.
//
// KEYS[1] stream; ARGV[1] group; ARGV[2] consumer; ARGV[3..] entry ids.
var touchScript = redis.NewScript(`
local lost = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  if p[1] ~= nil and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'JUSTID')
  else
    table.insert(lost, id)
  end
end
return lost
`)

// Touch resets the idle time of consumer's in-flight entries so that
// XAUTOCLAIM (Reclaim) by other workers does not take over a task that is
// merely long, not abandoned. It does not change delivery counts. It returns
// the ids that are no longer pending for consumer (acked, or reclaimed by
// another consumer after this one stalled); their results may be duplicated.
func (c *Client) Touch(ctx context.Context, consumer string, ids []string) (lost []string, err error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(ids)+2)
	args = append(args, c.keys.Group, consumer)
	for _, id := range ids {
		args = append(args, id)
	}
	res, err := touchScript.Run(ctx, c.rdb, []string{c.keys.Stream}, args...).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("touch %d in-flight entries of %s on %s/%s: %w", len(ids), consumer, c.keys.Stream, c.keys.Group, err)
	}
	return res, nil
}

// removeConsumerScript deletes a consumer from the group only when it has no
// pending entries: XGROUP DELCONSUMER drops a consumer's pending entries, which
// would lose them, so the check and the delete must be atomic.
//
// KEYS[1] stream; ARGV[1] group; ARGV[2] consumer. Returns 1 when deleted, 0
// when the consumer still has pending entries.
var removeConsumerScript = redis.NewScript(`
local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #p > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
`)

// RemoveConsumerIfIdle deletes consumer from the group when it holds no pending
// entries, so that a worker which shut down cleanly does not linger in
// XINFO GROUPS' consumer count. A consumer that still holds entries is kept:
// deleting it would drop its entries from the pending list and lose them.
// It reports whether the consumer was deleted.
func (c *Client) RemoveConsumerIfIdle(ctx context.Context, consumer string) (bool, error) {
	n, err := removeConsumerScript.Run(ctx, c.rdb, []string{c.keys.Stream}, c.keys.Group, consumer).Int()
	if err != nil {
		if isNoGroup(err) {
			return false, nil
		}
		return false, fmt.Errorf("remove idle consumer %s from %s/%s: %w", consumer, c.keys.Stream, c.keys.Group, err)
	}
	return n == 1, nil
}
