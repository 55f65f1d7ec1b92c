/*-------------------------------------------------------------------------
 *
 * event_buffer.h
 *	  Compact per-group event records shared by funnels, sequences,
 *	  next-node and journeys.
 *
 * Each aggregate keeps the events of one group as 16-byte records
 * (timestamp, condition bits, caller's payload).  Rows that match no
 * condition are never stored.  Appending is amortized O(1) (geometric
 * growth, no per-row palloc); the buffer remembers whether records arrived in
 * order so that the common case (input already sorted) skips the sort;
 * combining two sorted buffers merges them in O(n + m) instead of
 * re-sorting.
 *
 * The default order is (ts, lowest condition index, bits, aux): a total order
 * on the records, so the sorted result does not depend on the order rows
 * arrived in, and serial and parallel plans see the same sequence.
 *
 * src/event_buffer.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APIVALUE_EVENT_BUFFER_H
#define APIVALUE_EVENT_BUFFER_H

#include "datatype/timestamp.h"

typedef struct AvEvent
{
	int64		ts;				/* microseconds (timestamps) or caller units */
	uint32		bits;			/* bit k-1 set: condition k holds */
	uint32		aux;			/* caller's payload (value id, ...) */
} AvEvent;

StaticAssertDecl(sizeof(AvEvent) == 16, "AvEvent must stay 16 bytes");

typedef struct AvEventBuffer
{
	AvEvent    *events;
	int64		nevents;
	int64		capacity;
	bool		sorted;			/* events are in av_event_cmp order */
} AvEventBuffer;

/* At most this many conditions (like ClickHouse). */
#define AV_MAX_CONDITIONS 32

/* Lowest condition index of a bitmask, 0-based; 32 for an empty mask. */
static inline int
av_lowest_bit(uint32 bits)
{
	return bits ? __builtin_ctz(bits) : 32;
}

/* The default record order: ts, lowest condition, bits, aux. */
static inline int
av_event_cmp(const AvEvent *a, const AvEvent *b)
{
	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	if (a->bits != b->bits)
	{
		int			la = av_lowest_bit(a->bits);
		int			lb = av_lowest_bit(b->bits);

		if (la != lb)
			return la < lb ? -1 : 1;
		return a->bits < b->bits ? -1 : 1;
	}
	if (a->aux != b->aux)
		return a->aux < b->aux ? -1 : 1;
	return 0;
}

extern void av_events_init(AvEventBuffer *buf);
extern void av_events_grow(AvEventBuffer *buf, int64 needed);

/*
 * Append one record.  The buffer's memory is allocated in the memory
 * context that is current at the call, which must be the aggregate context.
 */
static inline void
av_events_append(AvEventBuffer *buf, int64 ts, uint32 bits, uint32 aux)
{
	AvEvent    *e;

	if (buf->nevents >= buf->capacity)
		av_events_grow(buf, buf->nevents + 1);
	e = &buf->events[buf->nevents];
	e->ts = ts;
	e->bits = bits;
	e->aux = aux;
	if (buf->sorted && buf->nevents > 0 && av_event_cmp(e - 1, e) > 0)
		buf->sorted = false;
	buf->nevents++;
}

/* Sort into the default order (no-op when already sorted). */
extern void av_events_sort(AvEventBuffer *buf);

/* Sort with a caller's comparator; leaves buf->sorted false. */
extern void av_events_sort_by(AvEventBuffer *buf,
							  int (*cmp) (const void *, const void *, void *),
							  void *arg);

/*
 * Add all records of src to dst (in dst's memory context, which must be
 * current).  Two sorted buffers are merged; otherwise concatenated.
 */
extern void av_events_merge(AvEventBuffer *dst, const AvEventBuffer *src);

/* Serialized form: int64 count, then count raw records. */
extern Size av_events_serialized_size(const AvEventBuffer *buf);
extern char *av_events_serialize(const AvEventBuffer *buf, char *p);

/*
 * Read records serialized by av_events_serialize from [p, end) into an
 * initialized buffer, checking the count against the bytes available first.
 * Returns the position after them.  Records are re-checked for order, so a
 * forged "sorted" input cannot make a merge wrong.
 */
extern const char *av_events_deserialize(AvEventBuffer *buf,
										 const char *p, const char *end);

/* Argument conversions shared by the event aggregates. */
extern int64 av_timestamp_arg(Timestamp ts);
extern int64 av_window_usec(const Interval *window, const char *what);

#endif							/* APIVALUE_EVENT_BUFFER_H */
