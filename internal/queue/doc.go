// Package queue owns the Redis side of burst: the names of the task, results and
// dead-letter streams and the consumer group, the encoding of task and result
// records, and every Redis command the generator, the worker and the observer
// send. It is the only package that imports go-redis.
package queue
