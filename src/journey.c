/*-------------------------------------------------------------------------
 *
 * journey.c
 *	  journey_path aggregates: the steps a group took, in time order; and
 *	  _journey_flow_edges, the edges of journey_flows counted from those
 *	  paths (its own comment, at the end of the file, describes it).
 *
 * State: the group's events as 16-byte records (event_buffer.h's AvEvent:
 * timestamp, and the step's id in the "aux" field).  Step labels are
 * interned once per query, not once per group: each support function keeps
 * a label pool in its fn_extra (query lifetime, so it outlives every group
 * state), and a state points to the pool its ids belong to.  The state is
 * one 256-byte allocation with room for ten records inline -- what most
 * users need once records that cannot matter are dropped -- and moves its
 * records to a geometrically grown array of their own only when they
 * outgrow that.  The transition function does no per-row palloc: the step is
 * compared with the previous row's step (the common case), else looked up
 * in the pool's hash table, and a record is appended.
 *
 * Order: (ts, step text under the aggregate's collation, step bytes).  It is
 * a total order on distinct records, so the path does not depend on the order
 * rows arrive in, nor on the plan.  Text comparisons happen only for records
 * with equal timestamps: records are sorted by (ts, id) with an inlined
 * comparison, and only groups of equal timestamps holding different steps
 * are re-sorted by text.
 *
 * Result: the sorted records, consecutive repeats collapsed into runs, cut
 * to max_steps runs.  Anchored variants first restrict the records:
 *	 FROM: from the first record whose step is the anchor, onwards;
 *	 TO:   up to and including the last record whose step is the anchor,
 *		   keeping the LAST max_steps runs.
 *
 * Memory: when the records fill their array (or have doubled since the last
 * time) the state is compacted: records are sorted, exact duplicates (same ts
 * and step) dropped, and records that can no longer affect the result
 * dropped.  A state whose records arrived in order needs none of that (see
 * journey_append: it is cut, and rid of duplicates, as records arrive),
 * except for TO.  Inserting a record anywhere in a sequence never lowers the number
 * of runs before a given record, so once the records before some record C
 * form max_steps runs (counted from the anchor, if any), C and everything
 * after it are irrelevant for PLAIN and FROM, whatever arrives later (a
 * later-arriving earlier anchor only adds runs in front).  TO is the mirror
 * image, counted backwards from the last anchor; records after that anchor
 * must be kept because a later anchor may still arrive.  A user with 10M
 * events in time order therefore needs O(max_steps) records, except for long
 * stretches of one repeated step (which cannot be collapsed early: records
 * arriving later may split the stretch).  Compaction is amortized O(log n)
 * per row.
 *
 * The pool is not in the aggregate context: hash aggregation's memory
 * accounting does not see it, and it is freed only when the query ends.  It
 * holds each distinct label once, so this matters only for steps with
 * millions of distinct values (raw URLs with ids: normalize_step first).
 *
 * Parallel plans: a state read by the deserialize function lives in the
 * aggregate context, so the combine function takes it over as it is when it
 * is the group's first partial state, instead of copying it.
 *
 * src/journey.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "common/hashfn.h"
#include "event_buffer.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

PG_FUNCTION_INFO_V1(apivalue_journey_path_accum);
PG_FUNCTION_INFO_V1(apivalue_journey_path_from_accum);
PG_FUNCTION_INFO_V1(apivalue_journey_path_to_accum);
PG_FUNCTION_INFO_V1(apivalue_journey_path_combine);
PG_FUNCTION_INFO_V1(apivalue_journey_path_serialize);
PG_FUNCTION_INFO_V1(apivalue_journey_path_deserialize);
PG_FUNCTION_INFO_V1(apivalue_journey_path_final);
PG_FUNCTION_INFO_V1(apivalue_journey_path_times_final);
PG_FUNCTION_INFO_V1(apivalue_path_transitions);

#define JOURNEY_PLAIN	0
#define JOURNEY_FROM	1
#define JOURNEY_TO		2

#define JOURNEY_DEFAULT_STEPS	20
#define JOURNEY_MAX_STEPS		10000

#define JOURNEY_SERIAL_VERSION	1

/* no such step id */
#define JOURNEY_NONE			PG_UINT32_MAX

/* Records stored inside the state itself, before any array of their own. */
#define JOURNEY_INLINE_EVENTS	10

/* Most distinct labels in one pool (its hash table holds twice as many). */
#define JOURNEY_MAX_LABELS		(PG_INT32_MAX / 4)

typedef struct JourneyStep
{
	uint64		off;			/* offset of the label's bytes in the arena */
	uint32		len;			/* length in bytes */
	uint32		hash;			/* hash_bytes of the bytes */
} JourneyStep;

/*
 * Step labels of one query's calls of one support function: each distinct
 * label once, with a dense id.  Lives in the function's fn_mcxt.
 */
typedef struct JourneyPool
{
	MemoryContext cxt;
	JourneyStep *steps;			/* id -> label */
	char	   *arena;			/* label bytes, not terminated */
	uint32	   *slots;			/* hash table: 0 = empty, else id + 1 */
	uint32		nsteps;
	uint32		stepcap;
	uint32		nslots;			/* power of two, at least twice nsteps */
	uint64		used;
	uint64		arenacap;
} JourneyPool;

typedef struct JourneyState
{
	JourneyPool *pool;			/* the pool the step ids belong to */
	AvEvent    *ev;				/* records: inline_ev, or an array of their own */
	int64		nev;
	int64		evcap;
	int64		compact_at;		/* compact when nev reaches this */
	int64		cut_ts;			/* records after this cannot matter (have_cut) */
	int64		nsorted;		/* !inorder: ev[0..nsorted) are in path order */
	const void *anchor_ptr;		/* last anchor argument seen (fast check) */
	uint32		anchor;			/* anchor's step id, or JOURNEY_NONE */
	uint32		last_id;		/* step id of the last appended record */
	int32		max_steps;
	int32		nruns;			/* runs counted so far (valid while inorder) */
	Oid			collid;			/* collation for ties */
	uint8		mode;			/* JOURNEY_PLAIN / _FROM / _TO */
	bool		inorder;		/* records are known to be in path order */
	bool		have_cut;
	bool		anchor_seen;	/* FROM: nruns counts from the first anchor */
	bool		adoptable;		/* read by deserialize, not yet combined */
	AvEvent		inline_ev[JOURNEY_INLINE_EVENTS];
} JourneyState;

/* One power-of-two allocator chunk (aset.c) for the whole small state. */
StaticAssertDecl(sizeof(JourneyState) <= 256, "JourneyState should fit a 256-byte chunk");

static const char *const mode_anchor_name[] = {"", "start_step", "end_step"};

/* The label pool of a support function, made on first use. */
static JourneyPool *
journey_pool(FunctionCallInfo fcinfo)
{
	JourneyPool *pool;

	if (fcinfo->flinfo == NULL)
		elog(ERROR, "journey_path support function called without function info");
	pool = (JourneyPool *) fcinfo->flinfo->fn_extra;
	if (pool == NULL)
	{
		pool = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(JourneyPool));
		pool->cxt = fcinfo->flinfo->fn_mcxt;
		fcinfo->flinfo->fn_extra = pool;
	}
	return pool;
}

/* Bytes and length of a step id. */
static inline const char *
journey_label(const JourneyPool *pool, uint32 id, uint32 *len)
{
	*len = pool->steps[id].len;
	return pool->arena + pool->steps[id].off;
}

static inline bool
journey_label_is(const JourneyPool *pool, uint32 id, const char *s, uint32 len)
{
	return pool->steps[id].len == len &&
		memcmp(pool->arena + pool->steps[id].off, s, len) == 0;
}

static void
journey_too_many_labels(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("too many distinct steps in one query")));
}

/* (Re)build the hash table of a pool, at most half full. */
static void
journey_rehash(JourneyPool *pool)
{
	uint32		nslots = 64;
	uint32		mask;
	uint32		id;

	while ((uint64) pool->nsteps * 2 >= nslots)
		nslots *= 2;
	if (pool->slots != NULL)
		pfree(pool->slots);
	pool->slots = MemoryContextAllocExtended(pool->cxt,
											 (Size) nslots * sizeof(uint32),
											 MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	pool->nslots = nslots;
	mask = nslots - 1;
	for (id = 0; id < pool->nsteps; id++)
	{
		uint32		i;

		for (i = pool->steps[id].hash & mask; pool->slots[i] != 0; i = (i + 1) & mask)
			;
		pool->slots[i] = id + 1;
	}
}

/*
 * The id of label s[0..len) in the pool.  When it is new, it is added if
 * "add", else JOURNEY_NONE is returned.
 */
static uint32
journey_find_label(JourneyPool *pool, const char *s, uint32 len, bool add)
{
	uint32		h = hash_bytes((const unsigned char *) s, (int) len);
	uint32		mask;
	uint32		i;
	uint32		id;
	JourneyStep *e;

	if (pool->nslots != 0)
	{
		mask = pool->nslots - 1;
		for (i = h & mask; pool->slots[i] != 0; i = (i + 1) & mask)
		{
			id = pool->slots[i] - 1;
			if (pool->steps[id].hash == h && journey_label_is(pool, id, s, len))
				return id;
		}
	}
	if (!add)
		return JOURNEY_NONE;

	/* new label: append it to the arena and the label array */
	id = pool->nsteps;
	if (id >= JOURNEY_MAX_LABELS)
		journey_too_many_labels();
	if (id == pool->stepcap)
	{
		uint32		cap = pool->stepcap ? pool->stepcap * 2 : 16;
		Size		bytes = (Size) cap * sizeof(JourneyStep);

		pool->steps = pool->steps ? repalloc_huge(pool->steps, bytes)
			: MemoryContextAllocHuge(pool->cxt, bytes);
		pool->stepcap = cap;
	}
	if (pool->used + len > pool->arenacap)
	{
		uint64		cap = pool->arenacap ? pool->arenacap * 2 : 256;

		while (cap < pool->used + len)
			cap *= 2;
		if (cap > MaxAllocHugeSize)
			journey_too_many_labels();
		pool->arena = pool->arena ? repalloc_huge(pool->arena, (Size) cap)
			: MemoryContextAllocHuge(pool->cxt, (Size) cap);
		pool->arenacap = cap;
	}
	if (len > 0)
		memcpy(pool->arena + pool->used, s, len);
	e = &pool->steps[id];
	e->off = pool->used;
	e->len = len;
	e->hash = h;
	pool->used += len;
	pool->nsteps++;
	if ((uint64) pool->nsteps * 2 >= pool->nslots)
		journey_rehash(pool);
	else
	{
		mask = pool->nslots - 1;
		for (i = h & mask; pool->slots[i] != 0; i = (i + 1) & mask)
			;
		pool->slots[i] = id + 1;
	}
	return id;
}

/* Room for at least "needed" records, doubling the capacity. */
static void
journey_reserve(JourneyState *st, int64 needed)
{
	int64		newcap;
	Size		bytes;

	if (needed <= st->evcap)
		return;
	newcap = Max(st->evcap * 2, 32);
	while (newcap < needed)
		newcap *= 2;
	if ((Size) newcap > MaxAllocHugeSize / sizeof(AvEvent))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many events in one group: %lld",
						(long long) needed)));
	bytes = (Size) newcap * sizeof(AvEvent);
	if (st->ev != st->inline_ev)
		st->ev = repalloc_huge(st->ev, bytes);
	else
	{
		/* first growth: out of the state, into its memory context */
		AvEvent    *ev = MemoryContextAllocHuge(GetMemoryChunkContext(st), bytes);

		memcpy(ev, st->ev, st->nev * sizeof(AvEvent));
		st->ev = ev;
	}
	st->evcap = newcap;
}

static inline void
journey_push(JourneyState *st, int64 ts, uint32 id)
{
	AvEvent    *e;

	if (st->nev >= st->evcap)
		journey_reserve(st, st->nev + 1);
	e = &st->ev[st->nev++];
	e->ts = ts;
	e->bits = 0;
	e->aux = id;
}

/*
 * Compare two step ids: under the collation, then by bytes so that strings
 * a nondeterministic collation calls equal still have a fixed order.
 */
static int
journey_step_cmp(const JourneyState *st, uint32 a, uint32 b)
{
	uint32		la,
				lb;
	const char *sa = journey_label(st->pool, a, &la);
	const char *sb = journey_label(st->pool, b, &lb);
	int			c;

	c = varstr_cmp(sa, (int) la, sb, (int) lb, st->collid);
	if (c != 0)
		return c;
	c = memcmp(sa, sb, Min(la, lb));
	if (c != 0)
		return c;
	return la < lb ? -1 : (la > lb ? 1 : 0);
}

/* The path order of two records (qsort_arg comparator). */
static int
journey_record_cmp(const void *pa, const void *pb, void *arg)
{
	const AvEvent *a = (const AvEvent *) pa;
	const AvEvent *b = (const AvEvent *) pb;

	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	if (a->aux == b->aux)
		return 0;
	return journey_step_cmp((const JourneyState *) arg, a->aux, b->aux);
}

/* (ts, step id): the path order except among equal timestamps. */
static inline int
journey_ts_id_cmp(const AvEvent *a, const AvEvent *b)
{
	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	if (a->aux != b->aux)
		return a->aux < b->aux ? -1 : 1;
	return 0;
}

/*
 * A sort specialized for (ts, id) by PostgreSQL's sort template: the
 * comparison is inlined, and already sorted input is detected early.
 */
#define ST_SORT journey_qsort
#define ST_ELEMENT_TYPE AvEvent
#define ST_COMPARE(a, b) journey_ts_id_cmp(a, b)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * Sort the records into path order.  Records arrive mostly in order, so
 * only those after the sorted prefix are sorted (by (ts, id), inlined), then
 * merged with the prefix in one linear pass.  The result is in timestamp
 * order; each group of equal timestamps holding different steps is then
 * sorted by step text (rare, so text comparisons stay off the common path),
 * which also makes exact duplicates adjacent.
 */
static void
journey_sort(JourneyState *st)
{
	AvEvent    *ev = st->ev;
	int64		n = st->nev;
	int64		k = Min(Max(st->nsorted, 0), n);
	int64		i,
				j;

	if (st->inorder)
		return;
	if (n - k > 1)
		journey_qsort(ev + k, (size_t) (n - k));
	if (k > 0 && k < n && journey_ts_id_cmp(&ev[k - 1], &ev[k]) > 0)
	{
		/* merge from the back, the sorted tail copied aside */
		AvEvent		tmpbuf[32];
		AvEvent    *tmp = tmpbuf;
		int64		m = n - k;
		int64		d = n - 1;

		if ((Size) m > lengthof(tmpbuf))
			tmp = palloc_extended((Size) m * sizeof(AvEvent), MCXT_ALLOC_HUGE);
		memcpy(tmp, ev + k, (Size) m * sizeof(AvEvent));
		i = k - 1;
		j = m - 1;
		while (j >= 0)
		{
			if (i >= 0 && journey_ts_id_cmp(&ev[i], &tmp[j]) > 0)
				ev[d--] = ev[i--];
			else
				ev[d--] = tmp[j--];
		}
		if (tmp != tmpbuf)
			pfree(tmp);
	}
	for (i = 0; i < n; i = j)
	{
		bool		mixed = false;

		for (j = i + 1; j < n && ev[j].ts == ev[i].ts; j++)
			mixed |= (ev[j].aux != ev[i].aux);
		if (mixed)
			qsort_arg(ev + i, (size_t) (j - i), sizeof(AvEvent),
					  journey_record_cmp, st);
	}
	st->inorder = true;
}

static inline int32
journey_max_steps_arg(FunctionCallInfo fcinfo, int argno)
{
	int32		n;

	if (PG_NARGS() <= argno)
		return JOURNEY_DEFAULT_STEPS;
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("max_steps must not be NULL")));
	n = PG_GETARG_INT32(argno);
	if (n < 1 || n > JOURNEY_MAX_STEPS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_steps must be between 1 and %d, not %d",
						JOURNEY_MAX_STEPS, n)));
	return n;
}

/*
 * Records kept before the first compaction: the inline array.  Compacting
 * that few records is cheap, and the threshold doubles with what survives.
 */
#define JOURNEY_COMPACT_MIN		JOURNEY_INLINE_EVENTS

static JourneyState *
journey_state_new(MemoryContext cxt, JourneyPool *pool, uint8 mode,
				  int32 max_steps, Oid collid)
{
	JourneyState *st = MemoryContextAlloc(cxt, sizeof(JourneyState));

	/* the inline records need no zeroing */
	memset(st, 0, offsetof(JourneyState, inline_ev));
	st->pool = pool;
	st->ev = st->inline_ev;
	st->evcap = JOURNEY_INLINE_EVENTS;
	st->mode = mode;
	st->max_steps = max_steps;
	st->inorder = true;
	st->anchor = JOURNEY_NONE;
	st->collid = OidIsValid(collid) ? collid : DEFAULT_COLLATION_OID;
	st->last_id = JOURNEY_NONE;
	st->compact_at = JOURNEY_COMPACT_MIN;
	st->anchor_seen = (mode == JOURNEY_PLAIN);
	return st;
}

/*
 * Index just past the records that can matter for a forward walk starting at
 * "start": the record that begins run max_steps + 1, or n.
 */
static int64
journey_forward_cut(const AvEvent *ev, int64 n, int64 start, int32 max_steps)
{
	int32		runs = 1;
	int64		i;

	for (i = start + 1; i < n; i++)
		if (ev[i].aux != ev[i - 1].aux && ++runs > max_steps)
			return i;
	return n;
}

/*
 * Index of the first record that can matter for a backward walk from "end":
 * one past the record that ends run max_steps + 1 counted backwards, or 0.
 */
static int64
journey_backward_cut(const AvEvent *ev, int64 end, int32 max_steps)
{
	int32		runs = 1;
	int64		i;

	for (i = end - 1; i >= 0; i--)
		if (ev[i].aux != ev[i + 1].aux && ++runs > max_steps)
			return i + 1;
	return 0;
}

/* Index of the first record of the anchor, or -1. */
static int64
journey_first_anchor(const JourneyState *st)
{
	int64		i;

	for (i = 0; i < st->nev; i++)
		if (st->ev[i].aux == st->anchor)
			return i;
	return -1;
}

/* Index of the last record of the anchor, or -1. */
static int64
journey_last_anchor(const JourneyState *st)
{
	int64		i;

	for (i = st->nev - 1; i >= 0; i--)
		if (st->ev[i].aux == st->anchor)
			return i;
	return -1;
}

/*
 * Remember that records with a timestamp after ts can be dropped on arrival:
 * a record after a valid cut point never matters (see the file header).
 */
static inline void
journey_set_cut(JourneyState *st, int64 ts)
{
	if (!st->have_cut || ts < st->cut_ts)
		st->cut_ts = ts;
	st->have_cut = true;
}

/* Recount the runs of a sorted buffer for the online cut of journey_append. */
static void
journey_recount(JourneyState *st)
{
	const AvEvent *ev = st->ev;
	int64		i,
				start = 0;

	st->nruns = 0;
	st->anchor_seen = (st->mode == JOURNEY_PLAIN);
	if (st->mode == JOURNEY_FROM)
	{
		start = journey_first_anchor(st);
		st->anchor_seen = (start >= 0);
	}
	if (!st->anchor_seen)
		return;
	for (i = start; i < st->nev; i++)
		if (i == start || ev[i].aux != ev[i - 1].aux)
			st->nruns++;
}

/*
 * Sort, drop exact duplicates and drop records that cannot affect the result
 * (see the file header for why this is safe).
 */
static void
journey_compact(JourneyState *st)
{
	AvEvent    *ev = st->ev;
	int64		n = st->nev;
	int64		i,
				k;

	journey_sort(st);
	if (n > 1)
	{
		for (i = 1, k = 1; i < n; i++)
			if (ev[i].ts != ev[k - 1].ts || ev[i].aux != ev[k - 1].aux)
				ev[k++] = ev[i];
		n = k;
	}
	st->nev = n;

	if (st->mode == JOURNEY_PLAIN && n > 0)
	{
		k = journey_forward_cut(ev, n, 0, st->max_steps);
		if (k < n)
			journey_set_cut(st, ev[k].ts);
		n = k;
	}
	else if (st->mode == JOURNEY_FROM)
	{
		i = journey_first_anchor(st);
		if (i >= 0)
		{
			k = journey_forward_cut(ev, n, i, st->max_steps);
			if (k < n)
				journey_set_cut(st, ev[k].ts);
			n = k;
		}
	}
	else if (st->mode == JOURNEY_TO)
	{
		i = journey_last_anchor(st);
		if (i >= 0)
		{
			int64		lo = journey_backward_cut(ev, i, st->max_steps);

			/*
			 * Keep one record before the cut: the last record of the run
			 * that falls off.  It separates a later-arriving earlier record
			 * of the first kept run's step from that run, so the run's start
			 * time (the _times variants) stays right; the final function
			 * cuts it off again.
			 */
			if (lo > 1)
			{
				memmove(ev, ev + lo - 1, (n - lo + 1) * sizeof(AvEvent));
				n -= lo - 1;
			}
		}
	}
	st->nev = n;
	if (n > 0)
		st->last_id = ev[n - 1].aux;
	journey_recount(st);
	st->compact_at = Max(JOURNEY_COMPACT_MIN, 2 * n);
}

/*
 * Add one record.  While records arrive in order, runs are counted as they
 * come: the record that would start run max_steps + 1 (counted from the
 * first anchor for FROM) is a cut point, so it and every later-arriving
 * record after its timestamp are dropped without being stored.  An exact
 * duplicate of the last record is dropped too (in order, that is the only
 * record it can duplicate).  So a state that is in order holds nothing that
 * compaction could remove (except for TO), and is not compacted.
 */
static inline void
journey_append(JourneyState *st, int64 ts, uint32 id)
{
	if (st->have_cut && ts > st->cut_ts)
		return;
	if (st->inorder && st->nev > 0)
	{
		const AvEvent *last = &st->ev[st->nev - 1];

		if (ts < last->ts || (ts == last->ts && id != last->aux))
		{
			/* earlier, or equal timestamps that need the text order */
			st->inorder = false;
			st->nsorted = st->nev;
		}
		else if (ts == last->ts)
			return;				/* exact duplicate of the last record */
	}
	if (st->inorder && st->mode != JOURNEY_TO)
	{
		if (!st->anchor_seen)
		{
			if (id == st->anchor)
			{
				st->anchor_seen = true;
				st->nruns = 1;
			}
		}
		else if (st->nev == 0 || id != st->ev[st->nev - 1].aux)
		{
			if (st->nruns >= st->max_steps)
			{
				journey_set_cut(st, ts);
				return;
			}
			st->nruns++;
		}
	}
	journey_push(st, ts, id);
	st->last_id = id;
	if (st->nev >= st->compact_at)
	{
		if (st->inorder && st->mode != JOURNEY_TO)
			st->compact_at = 2 * st->nev;
		else
			journey_compact(st);
	}
}

/*
 * Transition function shared by all variants:
 *	 (state, ts, step [, anchor] [, max_steps])
 * Inlined into each variant's entry point, so "mode" is a constant there.
 * Rows after a known cut point cost a few comparisons and no call.
 */
static pg_attribute_always_inline Datum
journey_accum(FunctionCallInfo fcinfo, uint8 mode)
{
	MemoryContext aggcxt;
	JourneyState *st;
	int			maxarg = (mode == JOURNEY_PLAIN) ? 3 : 4;
	int32		max_steps;
	struct varlena *step;
	text	   *anchor = NULL;
	const char *s;
	uint32		len;
	uint32		id;
	int64		ts;

	/* AggCheckCallContext's test, inline: a state pointer is trusted only there */
	if (fcinfo->context == NULL ||
		!(IsA(fcinfo->context, AggState) || IsA(fcinfo->context, WindowAggState)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("journey_path transition function called in non-aggregate context")));

	st = PG_ARGISNULL(0) ? NULL : (JourneyState *) PG_GETARG_POINTER(0);

	/* parameters are checked on every row, so bad ones never pass silently */
	max_steps = journey_max_steps_arg(fcinfo, maxarg);
	if (mode != JOURNEY_PLAIN && PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", mode_anchor_name[mode])));

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}

	ts = PG_GETARG_TIMESTAMP(1);
	if (unlikely(TIMESTAMP_NOT_FINITE(ts)))
		(void) av_timestamp_arg(ts);	/* raises the error */
	/* past a known cut point: nothing to look up or store */
	if (st != NULL && st->have_cut && ts > st->cut_ts && st->max_steps == max_steps &&
		(mode == JOURNEY_PLAIN ||
		 DatumGetPointer(PG_GETARG_DATUM(3)) == st->anchor_ptr))
		PG_RETURN_POINTER(st);

	/*
	 * The step's bytes; a value stored in line (the usual case) is read in
	 * place, anything else is detoasted in the per-row context.
	 */
	step = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(2));
	if (VARATT_IS_COMPRESSED(step) || VARATT_IS_EXTERNAL(step))
		step = pg_detoast_datum_packed(step);
	s = VARDATA_ANY(step);
	len = VARSIZE_ANY_EXHDR(step);
	if (mode != JOURNEY_PLAIN &&
		(st == NULL || DatumGetPointer(PG_GETARG_DATUM(3)) != st->anchor_ptr))
		anchor = PG_GETARG_TEXT_PP(3);

	if (st == NULL)
	{
		if (!AggCheckCallContext(fcinfo, &aggcxt))
			elog(ERROR, "journey_path transition function called in non-aggregate context");
		st = journey_state_new(aggcxt, journey_pool(fcinfo), mode, max_steps,
							   PG_GET_COLLATION());
		if (mode != JOURNEY_PLAIN)
		{
			st->anchor = journey_find_label(st->pool, VARDATA_ANY(anchor),
											VARSIZE_ANY_EXHDR(anchor), true);
			st->anchor_ptr = DatumGetPointer(PG_GETARG_DATUM(3));
		}
	}
	else
	{
		if (max_steps != st->max_steps)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_steps must be the same for all rows of a group"),
					 errdetail("Got %d after %d.", max_steps, st->max_steps)));
		if (anchor != NULL)
		{
			if (journey_find_label(st->pool, VARDATA_ANY(anchor),
								   VARSIZE_ANY_EXHDR(anchor), false) != st->anchor)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s must be the same for all rows of a group",
								mode_anchor_name[mode])));
			st->anchor_ptr = DatumGetPointer(PG_GETARG_DATUM(3));
		}
	}

	/* the previous row's step is the most likely match */
	id = st->last_id;
	if (id == JOURNEY_NONE || !journey_label_is(st->pool, id, s, len))
		id = journey_find_label(st->pool, s, len, true);

	journey_append(st, ts, id);
	PG_RETURN_POINTER(st);
}

Datum
apivalue_journey_path_accum(PG_FUNCTION_ARGS)
{
	return journey_accum(fcinfo, JOURNEY_PLAIN);
}

Datum
apivalue_journey_path_from_accum(PG_FUNCTION_ARGS)
{
	return journey_accum(fcinfo, JOURNEY_FROM);
}

Datum
apivalue_journey_path_to_accum(PG_FUNCTION_ARGS)
{
	return journey_accum(fcinfo, JOURNEY_TO);
}

/*
 * Add src's records to dst.  Step ids are translated when the two states'
 * ids belong to different pools (one label lookup per change of step).
 */
static void
journey_merge_into(JourneyState *dst, const JourneyState *src)
{
	uint32		from = JOURNEY_NONE;
	uint32		to = JOURNEY_NONE;
	int64		j;

	for (j = 0; j < src->nev; j++)
	{
		uint32		id = src->ev[j].aux;

		if (dst->pool != src->pool)
		{
			if (id != from)
			{
				uint32		len;
				const char *s = journey_label(src->pool, id, &len);

				from = id;
				to = journey_find_label(dst->pool, s, len, true);
			}
			id = to;
		}
		journey_append(dst, src->ev[j].ts, id);
	}
}

static void
journey_check_compatible(const JourneyState *a, const JourneyState *b)
{
	if (a->mode != b->mode)
		elog(ERROR, "journey_path states of different kinds cannot be combined");
	if (a->max_steps != b->max_steps)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_steps must be the same for all rows of a group"),
				 errdetail("Got %d and %d.", a->max_steps, b->max_steps)));
	if (a->mode != JOURNEY_PLAIN)
	{
		uint32		la,
					lb;
		const char *sa = journey_label(a->pool, a->anchor, &la);
		const char *sb = journey_label(b->pool, b->anchor, &lb);

		if (la != lb || memcmp(sa, sb, la) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be the same for all rows of a group",
							mode_anchor_name[a->mode])));
	}
}

Datum
apivalue_journey_path_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext oldcxt;
	JourneyState *a;
	JourneyState *b;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("journey_path combine function called in non-aggregate context")));
	a = PG_ARGISNULL(0) ? NULL : (JourneyState *) PG_GETARG_POINTER(0);
	b = PG_ARGISNULL(1) ? NULL : (JourneyState *) PG_GETARG_POINTER(1);
	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}

	/*
	 * The group's first partial state: when it was read by our deserialize
	 * function into this very aggregate context, nothing else refers to it,
	 * so it becomes the group's state as it is.  Anything else is copied.
	 */
	if (a == NULL && b->adoptable && GetMemoryChunkContext(b) == aggcxt)
	{
		b->adoptable = false;
		PG_RETURN_POINTER(b);
	}

	oldcxt = MemoryContextSwitchTo(aggcxt);
	if (a == NULL)
	{
		/* b's pool lives as long as the query: share it */
		a = journey_state_new(aggcxt, b->pool, b->mode, b->max_steps, b->collid);
		a->anchor = b->anchor;
	}
	else
		journey_check_compatible(a, b);
	journey_merge_into(a, b);
	MemoryContextSwitchTo(oldcxt);
	PG_RETURN_POINTER(a);
}

/* uint32 comparator for the serializer's id list */
static int
journey_id_cmp(const void *pa, const void *pb)
{
	uint32		a = *(const uint32 *) pa;
	uint32		b = *(const uint32 *) pb;

	return a < b ? -1 : (a > b ? 1 : 0);
}

/* Position of id in the sorted, duplicate-free ids[0..n). */
static uint32
journey_id_index(const uint32 *ids, uint32 n, uint32 id)
{
	uint32		lo = 0,
				hi = n;

	while (hi - lo > 1)
	{
		uint32		mid = lo + (hi - lo) / 2;

		if (ids[mid] <= id)
			lo = mid;
		else
			hi = mid;
	}
	Assert(n > 0 && ids[lo] == id);
	return lo;
}

/*
 * Serialized form (version 1):
 *	 uint8 version, uint8 mode, int32 max_steps, Oid collid, uint32 anchor,
 *	 uint32 nstrings, then per string uint32 len + bytes,
 *	 then int64 nrecords and the records (event_buffer.h's AvEvent layout).
 * Only the labels that records or the anchor use are written, numbered
 * densely (the pool's ids mean nothing in another process).
 */
Datum
apivalue_journey_path_serialize(PG_FUNCTION_ARGS)
{
	JourneyState *st = (JourneyState *) PG_GETARG_POINTER(0);
	JourneyPool *pool = st->pool;
	uint32		idbuf[JOURNEY_INLINE_EVENTS + 1];
	uint32	   *ids = idbuf;
	uint32		nids = 0;
	uint32		i;
	int64		j;
	Size		size;
	bytea	   *out;
	char	   *p;
	uint8		version = JOURNEY_SERIAL_VERSION;
	uint32		anchor;
	uint32		newid = 0;

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("journey_path serialize function called in non-aggregate context")));

	journey_compact(st);

	/* the ids in use, sorted and unique: a label's new number is its index */
	if ((Size) st->nev + 1 > lengthof(idbuf))
		ids = palloc_extended(((Size) st->nev + 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
	if (st->anchor != JOURNEY_NONE)
		ids[nids++] = st->anchor;
	for (j = 0; j < st->nev; j++)
		if (j == 0 || st->ev[j].aux != st->ev[j - 1].aux)
			ids[nids++] = st->ev[j].aux;
	if (nids > 1)
	{
		uint32		k = 1;

		qsort(ids, nids, sizeof(uint32), journey_id_cmp);
		for (i = 1; i < nids; i++)
			if (ids[i] != ids[k - 1])
				ids[k++] = ids[i];
		nids = k;
	}

	size = VARHDRSZ + 1 + 1 + 4 + sizeof(Oid) + 4 + 4;
	for (i = 0; i < nids; i++)
		size += 4 + (Size) pool->steps[ids[i]].len;
	size += sizeof(int64) + (Size) st->nev * sizeof(AvEvent);

	out = (bytea *) palloc_extended(size, MCXT_ALLOC_HUGE);
	SET_VARSIZE(out, size);
	p = VARDATA(out);
	memcpy(p, &version, 1);
	p += 1;
	memcpy(p, &st->mode, 1);
	p += 1;
	memcpy(p, &st->max_steps, 4);
	p += 4;
	memcpy(p, &st->collid, sizeof(Oid));
	p += sizeof(Oid);
	anchor = st->anchor == JOURNEY_NONE ? JOURNEY_NONE
		: journey_id_index(ids, nids, st->anchor);
	memcpy(p, &anchor, 4);
	p += 4;
	memcpy(p, &nids, 4);
	p += 4;
	for (i = 0; i < nids; i++)
	{
		uint32		len;
		const char *s = journey_label(pool, ids[i], &len);

		memcpy(p, &len, 4);
		p += 4;
		memcpy(p, s, len);
		p += len;
	}
	memcpy(p, &st->nev, sizeof(int64));
	p += sizeof(int64);
	for (j = 0; j < st->nev; j++)
	{
		AvEvent		e;

		if (j == 0 || st->ev[j].aux != st->ev[j - 1].aux)
			newid = journey_id_index(ids, nids, st->ev[j].aux);
		e.ts = st->ev[j].ts;
		e.bits = 0;
		e.aux = newid;
		memcpy(p, &e, sizeof(AvEvent));
		p += sizeof(AvEvent);
	}
	Assert(p == (char *) out + size);
	if (ids != idbuf)
		pfree(ids);
	PG_RETURN_BYTEA_P(out);
}

static void
journey_bad_state(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid journey_path state: %s", what)));
}

/*
 * Read a serialized state.  Every count is checked against the bytes left
 * before anything is copied, and all fields are read with memcpy (the bytea
 * may sit at any address).
 */
Datum
apivalue_journey_path_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(in);
	const char *end = p + VARSIZE_ANY_EXHDR(in);
	MemoryContext aggcxt;
	JourneyState *st;
	JourneyPool *pool;
	uint32		mapbuf[32];
	uint32	   *map = mapbuf;
	uint8		version,
				mode;
	int32		max_steps;
	Oid			collid;
	uint32		anchor,
				nstrings,
				i;
	int64		n,
				j;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("journey_path deserialize function called in non-aggregate context")));

	if (end - p < 1 + 1 + 4 + (ptrdiff_t) sizeof(Oid) + 4 + 4)
		journey_bad_state("truncated header");
	memcpy(&version, p, 1);
	p += 1;
	if (version != JOURNEY_SERIAL_VERSION)
		journey_bad_state("unknown version");
	memcpy(&mode, p, 1);
	p += 1;
	memcpy(&max_steps, p, 4);
	p += 4;
	memcpy(&collid, p, sizeof(Oid));
	p += sizeof(Oid);
	memcpy(&anchor, p, 4);
	p += 4;
	memcpy(&nstrings, p, 4);
	p += 4;
	if (mode > JOURNEY_TO || max_steps < 1 || max_steps > JOURNEY_MAX_STEPS)
		journey_bad_state("bad parameters");
	if ((mode == JOURNEY_PLAIN) != (anchor == JOURNEY_NONE) ||
		(anchor != JOURNEY_NONE && anchor >= nstrings))
		journey_bad_state("bad anchor");
	/* every string takes at least its 4-byte length */
	if ((uint64) nstrings > (uint64) (end - p) / 4)
		journey_bad_state("string count exceeds the data");

	/* labels into this function's pool; map: serialized number -> id */
	pool = journey_pool(fcinfo);
	if (nstrings > lengthof(mapbuf))
		map = palloc_extended((Size) nstrings * sizeof(uint32), MCXT_ALLOC_HUGE);
	for (i = 0; i < nstrings; i++)
	{
		uint32		len;

		if (end - p < 4)
			journey_bad_state("truncated string");
		memcpy(&len, p, 4);
		p += 4;
		if ((uint64) len > (uint64) (end - p))
			journey_bad_state("truncated string");
		map[i] = journey_find_label(pool, p, len, true);
		p += len;
	}
	st = journey_state_new(aggcxt, pool, mode, max_steps, collid);
	if (anchor != JOURNEY_NONE)
		st->anchor = map[anchor];

	if (end - p < (ptrdiff_t) sizeof(int64))
		journey_bad_state("truncated record count");
	memcpy(&n, p, sizeof(int64));
	p += sizeof(int64);
	if (n < 0 || (uint64) n != (uint64) (end - p) / sizeof(AvEvent) ||
		(uint64) (end - p) % sizeof(AvEvent) != 0)
		journey_bad_state("record count does not match the data");
	journey_reserve(st, n);
	if (n > 0)
		memcpy(st->ev, p, (Size) n * sizeof(AvEvent));
	st->nev = n;
	for (j = 0; j < n; j++)
	{
		if (st->ev[j].aux >= nstrings)
			journey_bad_state("step id out of range");
		st->ev[j].aux = map[st->ev[j].aux];
		st->ev[j].bits = 0;
	}
	if (map != mapbuf)
		pfree(map);
	/* the serialized records were sorted, but verify rather than trust */
	st->inorder = true;
	for (j = 1; j < n; j++)
		if (journey_record_cmp(&st->ev[j - 1], &st->ev[j], st) > 0)
		{
			st->inorder = false;
			st->nsorted = j;
			break;
		}
	if (n > 0)
		st->last_id = st->ev[n - 1].aux;
	if (st->inorder)
		journey_recount(st);
	st->compact_at = Max(st->compact_at, 2 * n);
	st->adoptable = true;
	PG_RETURN_POINTER(st);
}

/*
 * The path: indexes of the first record of each of its runs, in order.
 * Returns the number of runs (0 when an anchor never occurs).  Sorts the
 * records in place; that does not change the state's meaning.
 */
static int
journey_runs(JourneyState *st, int64 *first)
{
	const AvEvent *ev;
	int64		n;
	int64		lo,
				hi,
				i;
	int			k = 0;

	journey_sort(st);
	ev = st->ev;
	n = st->nev;
	if (n == 0)
		return 0;

	if (st->mode == JOURNEY_TO)
	{
		int			total = 0;

		hi = journey_last_anchor(st);
		if (hi < 0)
			return 0;
		lo = journey_backward_cut(ev, hi, st->max_steps);
		/* runs in [lo, hi]; start of each */
		for (i = lo; i <= hi; i++)
			if (i == lo || ev[i].aux != ev[i - 1].aux)
				first[total++] = i;
		/* the first run may continue before lo only if lo == 0: fine */
		return total;
	}

	lo = 0;
	if (st->mode == JOURNEY_FROM)
	{
		lo = journey_first_anchor(st);
		if (lo < 0)
			return 0;
	}
	for (i = lo; i < n && k <= st->max_steps; i++)
		if (i == lo || ev[i].aux != ev[i - 1].aux)
		{
			if (k == st->max_steps)
				break;
			first[k++] = i;
		}
	return k;
}

/*
 * The text[] path, built in one allocation straight from the labels (no
 * per-element text datums).
 */
Datum
apivalue_journey_path_final(PG_FUNCTION_ARGS)
{
	JourneyState *st;
	int64		firstbuf[64];
	int64	   *first = firstbuf;
	int			k,
				i;
	Size		nbytes;
	ArrayType  *arr;
	char	   *p;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (JourneyState *) PG_GETARG_POINTER(0);
	if ((Size) st->max_steps + 1 > lengthof(firstbuf))
		first = palloc(sizeof(int64) * (st->max_steps + 1));
	k = journey_runs(st, first);
	if (k == 0)
		PG_RETURN_NULL();

	nbytes = ARR_OVERHEAD_NONULLS(1);
	for (i = 0; i < k; i++)
	{
		nbytes += INTALIGN(VARHDRSZ + (Size) st->pool->steps[st->ev[first[i]].aux].len);
		if (!AllocSizeIsValid(nbytes))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("array size exceeds the maximum allowed (%d)",
							(int) MaxAllocSize)));
	}
	arr = (ArrayType *) palloc0(nbytes);
	SET_VARSIZE(arr, nbytes);
	arr->ndim = 1;
	arr->dataoffset = 0;
	arr->elemtype = TEXTOID;
	ARR_DIMS(arr)[0] = k;
	ARR_LBOUND(arr)[0] = 1;
	p = ARR_DATA_PTR(arr);
	for (i = 0; i < k; i++)
	{
		uint32		len;
		const char *s = journey_label(st->pool, st->ev[first[i]].aux, &len);

		SET_VARSIZE(p, VARHDRSZ + len);
		memcpy(VARDATA(p), s, len);
		p += INTALIGN(VARHDRSZ + (Size) len);
	}
	Assert(p == (char *) arr + nbytes);
	PG_RETURN_ARRAYTYPE_P(arr);
}

/*
 * The time each step of the path started (its run's first record), as
 * timestamptz[] or timestamp[] -- whatever the aggregate is declared to
 * return; the element type is looked up once per query.
 */
Datum
apivalue_journey_path_times_final(PG_FUNCTION_ARGS)
{
	JourneyState *st;
	int64		firstbuf[64];
	int64	   *first = firstbuf;
	int			k,
				i;
	Datum	   *elems;
	Oid			elemtype;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (fcinfo->flinfo->fn_extra == NULL)
	{
		Oid			rettype = get_fn_expr_rettype(fcinfo->flinfo);
		Oid			et = OidIsValid(rettype) ? get_element_type(rettype) : InvalidOid;

		if (et != TIMESTAMPTZOID && et != TIMESTAMPOID)
			elog(ERROR, "journey_path_times must return timestamptz[] or timestamp[]");
		fcinfo->flinfo->fn_extra =
			MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(Oid));
		*(Oid *) fcinfo->flinfo->fn_extra = et;
	}
	elemtype = *(Oid *) fcinfo->flinfo->fn_extra;

	st = (JourneyState *) PG_GETARG_POINTER(0);
	if ((Size) st->max_steps + 1 > lengthof(firstbuf))
		first = palloc(sizeof(int64) * (st->max_steps + 1));
	k = journey_runs(st, first);
	if (k == 0)
		PG_RETURN_NULL();
	elems = palloc(sizeof(Datum) * k);
	for (i = 0; i < k; i++)
		elems[i] = Int64GetDatum(st->ev[first[i]].ts);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, k, elemtype, 8,
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * path_transitions(path text[]) -> setof (depth int, from_step text,
 * to_step text): one row per pair of neighbouring elements, depth counting
 * from 1 at the first pair.  NULL elements are passed through.
 */
typedef struct TransitionsCtx
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
} TransitionsCtx;

Datum
apivalue_path_transitions(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	TransitionsCtx *ctx;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext oldcxt;
		ArrayType  *arr;
		TupleDesc	tupdesc;

		funcctx = SRF_FIRSTCALL_INIT();
		oldcxt = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "path_transitions must return a composite type");
		funcctx->tuple_desc = BlessTupleDesc(tupdesc);
		arr = PG_GETARG_ARRAYTYPE_P_COPY(0);
		if (ARR_NDIM(arr) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("path must be a one-dimensional array, not %d-dimensional",
							ARR_NDIM(arr))));
		ctx = palloc0(sizeof(TransitionsCtx));
		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT,
						  &ctx->elems, &ctx->nulls, &ctx->n);
		funcctx->user_fctx = ctx;
		funcctx->max_calls = ctx->n > 1 ? ctx->n - 1 : 0;
		MemoryContextSwitchTo(oldcxt);
	}
	funcctx = SRF_PERCALL_SETUP();
	ctx = (TransitionsCtx *) funcctx->user_fctx;
	if (funcctx->call_cntr < funcctx->max_calls)
	{
		int			i = (int) funcctx->call_cntr;
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = Int32GetDatum(i + 1);
		values[1] = ctx->elems[i];
		nulls[1] = ctx->nulls[i];
		values[2] = ctx->elems[i + 1];
		nulls[2] = ctx->nulls[i + 1];
		SRF_RETURN_NEXT(funcctx,
						HeapTupleGetDatum(heap_form_tuple(funcctx->tuple_desc,
														  values, nulls)));
	}
	SRF_RETURN_DONE(funcctx);
}

/*
 * _journey_flow_edges(steps text[], times timestamp[] / timestamptz[],
 * max_depth, min_users): the edges of journey_flows, from one path per row.
 *
 * State: every path (its first max_depth + 1 steps as label ids of a pool of
 * the state's own, and their start times), in flat arrays with one slot per
 * possible step, grown geometrically.  A path costs one label lookup per
 * step and no allocation.
 *
 * Final: rare edges are folded depth by depth, as journey_flows documents:
 * at depth d (path position d -> d + 1), the paths that go on are counted
 * per (label at d, step at d + 1); where fewer than min_users take one, the
 * label at d + 1 becomes 'other' (which the next depth then counts from).
 * Then the edges (depth, from, to or NULL for a path ending there) are
 * counted by hashing, and the median time of each edge (percentile_cont
 * semantics on the interval start(d + 1) - start(d)) is found by selection.
 * The result is one row of arrays, edges ordered by depth and label bytes.
 */
PG_FUNCTION_INFO_V1(apivalue_journey_flow_edges_accum);
PG_FUNCTION_INFO_V1(apivalue_journey_flow_edges_combine);
PG_FUNCTION_INFO_V1(apivalue_journey_flow_edges_serialize);
PG_FUNCTION_INFO_V1(apivalue_journey_flow_edges_deserialize);
PG_FUNCTION_INFO_V1(apivalue_journey_flow_edges_final);

#define FLOW_SERIAL_VERSION		1
#define FLOW_MAX_DEPTH			50
/* edge keys: depth in bits 58..63, from id in bits 29..57, to id in 0..28 */
#define FLOW_ID_BITS			29
#define FLOW_NO_STEP			((UINT64CONST(1) << FLOW_ID_BITS) - 1)

StaticAssertDecl(JOURNEY_MAX_LABELS <= FLOW_NO_STEP, "step ids must fit an edge key");

typedef struct FlowState
{
	JourneyPool pool;			/* labels of the paths, in the state's context */
	int32		max_depth;
	int32		min_users;
	int32		width;			/* max_depth + 1 slots per path */
	int64		npaths;
	int64		cap;			/* paths room is allocated for */
	uint32	   *ids;			/* npaths * width step ids */
	int64	   *ts;				/* npaths * width step start times */
	uint8	   *len;			/* steps of each path, 1 .. width */
} FlowState;

/* Open-addressing hash table: 64-bit key -> dense index. */
typedef struct FlowHash
{
	uint64	   *keys;
	uint32	   *slots;			/* 0 = empty, else index + 1 */
	uint32		mask;
	uint32		n;
} FlowHash;

static void
flow_hash_init(FlowHash *h, uint32 expected)
{
	uint32		size = 64;

	while (size < (uint64) expected * 2 && size < ((uint32) 1 << 30))
		size *= 2;
	h->keys = palloc_extended((Size) size * sizeof(uint64), MCXT_ALLOC_HUGE);
	h->slots = palloc_extended((Size) size * sizeof(uint32), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	h->mask = size - 1;
	h->n = 0;
}

static inline uint32
flow_hash_key(uint64 k)
{
	return (uint32) hash_bytes_uint32_extended((uint32) k, k >> 32);
}

/*
 * The index of key k; a new key gets the next index (*found = false).
 */
static uint32
flow_hash_lookup(FlowHash *h, uint64 k, bool *found)
{
	uint32		i;

	for (i = flow_hash_key(k) & h->mask; h->slots[i] != 0; i = (i + 1) & h->mask)
		if (h->keys[i] == k)
		{
			*found = true;
			return h->slots[i] - 1;
		}
	*found = false;
	h->keys[i] = k;
	h->slots[i] = ++h->n;
	if ((uint64) h->n * 2 > h->mask)
	{
		/* grow: reinsert every key into a table twice the size */
		uint64	   *oldkeys = h->keys;
		uint32	   *oldslots = h->slots;
		uint32		oldsize = h->mask + 1;
		uint32		j;

		h->keys = palloc_extended((Size) oldsize * 2 * sizeof(uint64), MCXT_ALLOC_HUGE);
		h->slots = palloc_extended((Size) oldsize * 2 * sizeof(uint32),
								   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		h->mask = oldsize * 2 - 1;
		for (j = 0; j < oldsize; j++)
			if (oldslots[j] != 0)
			{
				for (i = flow_hash_key(oldkeys[j]) & h->mask; h->slots[i] != 0;
					 i = (i + 1) & h->mask)
					;
				h->keys[i] = oldkeys[j];
				h->slots[i] = oldslots[j];
			}
		pfree(oldkeys);
		pfree(oldslots);
	}
	return h->n - 1;
}

static int32
flow_int_arg(FunctionCallInfo fcinfo, int argno, const char *name, int32 lo, int32 hi)
{
	int32		v;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
	v = PG_GETARG_INT32(argno);
	if (v < lo || v > hi)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between %d and %d, not %d", name, lo, hi, v)));
	return v;
}

static FlowState *
flow_state_new(MemoryContext cxt, int32 max_depth, int32 min_users)
{
	FlowState  *st = MemoryContextAllocZero(cxt, sizeof(FlowState));

	st->pool.cxt = cxt;
	st->max_depth = max_depth;
	st->min_users = min_users;
	st->width = max_depth + 1;
	return st;
}

/* Room for one more path, doubling the arrays. */
static inline void
flow_reserve(FlowState *st)
{
	MemoryContext cxt = st->pool.cxt;
	int64		cap;

	if (st->npaths < st->cap)
		return;
	cap = st->cap ? st->cap * 2 : 64;
	if ((Size) cap * st->width > MaxAllocHugeSize / sizeof(int64))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many paths: %lld", (long long) st->npaths)));
	if (st->cap == 0)
	{
		st->ids = MemoryContextAllocHuge(cxt, (Size) cap * st->width * sizeof(uint32));
		st->ts = MemoryContextAllocHuge(cxt, (Size) cap * st->width * sizeof(int64));
		st->len = MemoryContextAllocHuge(cxt, (Size) cap);
	}
	else
	{
		st->ids = repalloc_huge(st->ids, (Size) cap * st->width * sizeof(uint32));
		st->ts = repalloc_huge(st->ts, (Size) cap * st->width * sizeof(int64));
		st->len = repalloc_huge(st->len, (Size) cap);
	}
	st->cap = cap;
}

static void
flow_check_compatible(const FlowState *a, const FlowState *b)
{
	if (a->max_depth != b->max_depth || a->min_users != b->min_users)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_depth and min_users must be the same for all rows")));
}

/*
 * Transition function: (state, steps text[], times anyarray, max_depth,
 * min_users).  A row whose steps or times are NULL or empty is skipped.
 */
Datum
apivalue_journey_flow_edges_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	FlowState  *st;
	int32		max_depth;
	int32		min_users;
	ArrayType  *steps;
	ArrayType  *times;
	int			n,
				i;
	const char *p;
	uint32	   *ids;
	uint32		last = JOURNEY_NONE;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("_journey_flow_edges transition function called in non-aggregate context")));
	st = PG_ARGISNULL(0) ? NULL : (FlowState *) PG_GETARG_POINTER(0);
	max_depth = flow_int_arg(fcinfo, 3, "max_depth", 1, FLOW_MAX_DEPTH);
	min_users = flow_int_arg(fcinfo, 4, "min_users", 1, PG_INT32_MAX);
	if (st != NULL && (st->max_depth != max_depth || st->min_users != min_users))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_depth and min_users must be the same for all rows")));
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}
	steps = PG_GETARG_ARRAYTYPE_P(1);
	times = PG_GETARG_ARRAYTYPE_P(2);
	if (ARR_ELEMTYPE(times) != TIMESTAMPOID && ARR_ELEMTYPE(times) != TIMESTAMPTZOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("times must be timestamp[] or timestamptz[], not %s",
						format_type_be(get_array_type(ARR_ELEMTYPE(times))))));
	if (ARR_ELEMTYPE(steps) != TEXTOID)
		elog(ERROR, "_journey_flow_edges steps must be text[]");
	if (ARR_NDIM(steps) > 1 || ARR_NDIM(times) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("steps and times must be one-dimensional arrays")));
	n = ARR_NDIM(steps) == 0 ? 0 : ARR_DIMS(steps)[0];
	if (n != (ARR_NDIM(times) == 0 ? 0 : ARR_DIMS(times)[0]))
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("steps and times must have the same length, not %d and %d",
						n, ARR_NDIM(times) == 0 ? 0 : ARR_DIMS(times)[0])));
	if (ARR_HASNULL(steps) || ARR_HASNULL(times))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("steps and times must not contain NULL")));
	if (n == 0)
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}

	if (st == NULL)
		st = flow_state_new(aggcxt, max_depth, min_users);
	flow_reserve(st);
	n = Min(n, st->width);
	ids = st->ids + st->npaths * st->width;
	p = ARR_DATA_PTR(steps);
	for (i = 0; i < n; i++)
	{
		const char *s = VARDATA_ANY(p);
		uint32		len = VARSIZE_ANY_EXHDR(p);

		if (last != JOURNEY_NONE && journey_label_is(&st->pool, last, s, len))
			ids[i] = last;
		else
			ids[i] = last = journey_find_label(&st->pool, s, len, true);
		p = att_addlength_pointer(p, -1, p);
		p = (const char *) att_align_nominal(p, TYPALIGN_INT);
	}
	memcpy(st->ts + st->npaths * st->width, ARR_DATA_PTR(times), (Size) n * sizeof(int64));
	for (i = 0; i < n; i++)
		if (unlikely(TIMESTAMP_NOT_FINITE(st->ts[st->npaths * st->width + i])))
			(void) av_timestamp_arg(st->ts[st->npaths * st->width + i]);	/* raises the error */
	st->len[st->npaths++] = (uint8) n;
	PG_RETURN_POINTER(st);
}

/* Append src's paths to dst, translating step ids between their pools. */
static void
flow_merge_into(FlowState *dst, const FlowState *src)
{
	uint32		from = JOURNEY_NONE;
	uint32		to = JOURNEY_NONE;
	int64		j;
	int			i;

	for (j = 0; j < src->npaths; j++)
	{
		const uint32 *sids = src->ids + j * src->width;
		uint32	   *dids;

		flow_reserve(dst);
		dids = dst->ids + dst->npaths * dst->width;
		for (i = 0; i < src->len[j]; i++)
		{
			if (sids[i] != from)
			{
				uint32		len;
				const char *s = journey_label(&src->pool, sids[i], &len);

				from = sids[i];
				to = journey_find_label(&dst->pool, s, len, true);
			}
			dids[i] = to;
		}
		memcpy(dst->ts + dst->npaths * dst->width, src->ts + j * src->width,
			   (Size) src->len[j] * sizeof(int64));
		dst->len[dst->npaths++] = src->len[j];
	}
}

Datum
apivalue_journey_flow_edges_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	FlowState  *a;
	FlowState  *b;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("_journey_flow_edges combine function called in non-aggregate context")));
	a = PG_ARGISNULL(0) ? NULL : (FlowState *) PG_GETARG_POINTER(0);
	b = PG_ARGISNULL(1) ? NULL : (FlowState *) PG_GETARG_POINTER(1);
	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
		a = flow_state_new(aggcxt, b->max_depth, b->min_users);
	else
		flow_check_compatible(a, b);
	flow_merge_into(a, b);
	PG_RETURN_POINTER(a);
}

/*
 * Serialized form (version 1):
 *	 uint8 version, int32 max_depth, int32 min_users, uint32 nlabels, then
 *	 per label uint32 len + bytes, then int64 npaths, then per path uint8 len,
 *	 len uint32 label numbers and len int64 times.
 */
Datum
apivalue_journey_flow_edges_serialize(PG_FUNCTION_ARGS)
{
	FlowState  *st = (FlowState *) PG_GETARG_POINTER(0);
	Size		size;
	bytea	   *out;
	char	   *p;
	uint8		version = FLOW_SERIAL_VERSION;
	uint32		i;
	int64		j;

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("_journey_flow_edges serialize function called in non-aggregate context")));
	size = VARHDRSZ + 1 + 4 + 4 + 4 + sizeof(int64);
	for (i = 0; i < st->pool.nsteps; i++)
		size += 4 + (Size) st->pool.steps[i].len;
	for (j = 0; j < st->npaths; j++)
		size += 1 + (Size) st->len[j] * (sizeof(uint32) + sizeof(int64));
	if (!AllocSizeIsValid(size))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("_journey_flow_edges state too large to serialize")));
	out = (bytea *) palloc(size);
	SET_VARSIZE(out, size);
	p = VARDATA(out);
	memcpy(p, &version, 1);
	p += 1;
	memcpy(p, &st->max_depth, 4);
	p += 4;
	memcpy(p, &st->min_users, 4);
	p += 4;
	memcpy(p, &st->pool.nsteps, 4);
	p += 4;
	for (i = 0; i < st->pool.nsteps; i++)
	{
		uint32		len;
		const char *s = journey_label(&st->pool, i, &len);

		memcpy(p, &len, 4);
		p += 4;
		memcpy(p, s, len);
		p += len;
	}
	memcpy(p, &st->npaths, sizeof(int64));
	p += sizeof(int64);
	for (j = 0; j < st->npaths; j++)
	{
		uint8		len = st->len[j];

		memcpy(p, &len, 1);
		p += 1;
		memcpy(p, st->ids + j * st->width, (Size) len * sizeof(uint32));
		p += (Size) len * sizeof(uint32);
		memcpy(p, st->ts + j * st->width, (Size) len * sizeof(int64));
		p += (Size) len * sizeof(int64);
	}
	Assert(p == (char *) out + size);
	PG_RETURN_BYTEA_P(out);
}

static void
flow_bad_state(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid _journey_flow_edges state: %s", what)));
}

/*
 * Read a serialized state, checking every count against the bytes left
 * before copying; fields are read with memcpy (the bytea is only 4-byte
 * aligned at best).
 */
Datum
apivalue_journey_flow_edges_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(in);
	const char *end = p + VARSIZE_ANY_EXHDR(in);
	MemoryContext aggcxt;
	FlowState  *st;
	uint8		version;
	int32		max_depth,
				min_users;
	uint32		nlabels,
				i;
	int64		npaths,
				j;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("_journey_flow_edges deserialize function called in non-aggregate context")));
	if (end - p < 1 + 4 + 4 + 4)
		flow_bad_state("truncated header");
	memcpy(&version, p, 1);
	p += 1;
	if (version != FLOW_SERIAL_VERSION)
		flow_bad_state("unknown version");
	memcpy(&max_depth, p, 4);
	p += 4;
	memcpy(&min_users, p, 4);
	p += 4;
	memcpy(&nlabels, p, 4);
	p += 4;
	if (max_depth < 1 || max_depth > FLOW_MAX_DEPTH || min_users < 1)
		flow_bad_state("bad parameters");
	if ((uint64) nlabels > (uint64) (end - p) / 4)
		flow_bad_state("label count exceeds the data");
	st = flow_state_new(aggcxt, max_depth, min_users);
	for (i = 0; i < nlabels; i++)
	{
		uint32		len;

		if (end - p < 4)
			flow_bad_state("truncated label");
		memcpy(&len, p, 4);
		p += 4;
		if ((uint64) len > (uint64) (end - p))
			flow_bad_state("truncated label");
		/* labels were distinct: each gets the next id */
		if (journey_find_label(&st->pool, p, len, true) != i)
			flow_bad_state("duplicate label");
		p += len;
	}
	if (end - p < (ptrdiff_t) sizeof(int64))
		flow_bad_state("truncated path count");
	memcpy(&npaths, p, sizeof(int64));
	p += sizeof(int64);
	/* every path takes at least 13 bytes */
	if (npaths < 0 || (uint64) npaths > (uint64) (end - p) / 13)
		flow_bad_state("path count exceeds the data");
	for (j = 0; j < npaths; j++)
	{
		uint8		len;
		uint32	   *ids;

		if (end - p < 1)
			flow_bad_state("truncated path");
		memcpy(&len, p, 1);
		p += 1;
		if (len < 1 || len > st->width)
			flow_bad_state("bad path length");
		if ((uint64) (end - p) < (uint64) len * (sizeof(uint32) + sizeof(int64)))
			flow_bad_state("truncated path");
		flow_reserve(st);
		ids = st->ids + st->npaths * st->width;
		memcpy(ids, p, (Size) len * sizeof(uint32));
		p += (Size) len * sizeof(uint32);
		for (i = 0; i < len; i++)
			if (ids[i] >= nlabels)
				flow_bad_state("step id out of range");
		memcpy(st->ts + st->npaths * st->width, p, (Size) len * sizeof(int64));
		p += (Size) len * sizeof(int64);
		st->len[st->npaths++] = len;
	}
	if (p != end)
		flow_bad_state("trailing bytes");
	PG_RETURN_POINTER(st);
}

/* The k-th smallest of v[0..n) (0-based), partially reordering v. */
static int64
flow_select(int64 *v, int64 n, int64 k)
{
	int64		lo = 0,
				hi = n - 1;

	while (hi > lo)
	{
		int64		pivot = v[lo + (hi - lo) / 2];
		int64		i = lo,
					j = hi;

		while (i <= j)
		{
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j)
			{
				int64		t = v[i];

				v[i++] = v[j];
				v[j--] = t;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return v[k];
	}
	return v[k];
}

/* start(d + 1) - start(d) as the interval timestamp subtraction gives. */
static Datum
flow_interval(int64 usecs)
{
	Interval	iv;

	iv.time = usecs;
	iv.day = 0;
	iv.month = 0;
	return DirectFunctionCall1(interval_justify_hours, IntervalPGetDatum(&iv));
}

typedef struct FlowEdge
{
	uint64		key;			/* depth, from id, to id (FLOW_NO_STEP: dropped) */
	int64		users;
	int64		ndt;			/* times (edges that go on) */
	int64		off;			/* first time in the times array */
} FlowEdge;

/* Edge order of the result: depth, from label bytes, to label bytes (NULL last). */
static int
flow_edge_cmp(const void *pa, const void *pb, void *arg)
{
	const FlowEdge *a = (const FlowEdge *) pa;
	const FlowEdge *b = (const FlowEdge *) pb;
	const JourneyPool *pool = (const JourneyPool *) arg;
	int			part;

	if ((a->key >> 58) != (b->key >> 58))
		return (a->key >> 58) < (b->key >> 58) ? -1 : 1;
	for (part = 1; part >= 0; part--)
	{
		uint32		ia = (uint32) ((a->key >> (part * FLOW_ID_BITS)) & FLOW_NO_STEP);
		uint32		ib = (uint32) ((b->key >> (part * FLOW_ID_BITS)) & FLOW_NO_STEP);
		uint32		la,
					lb;
		const char *sa,
				   *sb;
		int			c;

		if (ia == ib)
			continue;
		if (ia == FLOW_NO_STEP || ib == FLOW_NO_STEP)
			return ia == FLOW_NO_STEP ? 1 : -1;
		sa = journey_label(pool, ia, &la);
		sb = journey_label(pool, ib, &lb);
		c = memcmp(sa, sb, Min(la, lb));
		if (c != 0)
			return c;
		return la < lb ? -1 : (la > lb ? 1 : 0);
	}
	return 0;
}

Datum
apivalue_journey_flow_edges_final(PG_FUNCTION_ARGS)
{
	FlowState  *st;
	int			w;
	int64		np;
	const uint32 *labs;
	FlowHash	h;
	FlowEdge   *edges;
	uint32		edgecap;
	uint32	   *eidx;
	int64		nedge = 0;
	int64	   *dts;
	int64		j,
				total;
	int			d;
	uint32		g,
				ng;
	TupleDesc	tupdesc;
	Datum	   *vdepth,
			   *vfrom,
			   *vto,
			   *vusers,
			   *vmed;
	bool	   *nto,
			   *nmed;
	int			dims[1];
	int			lbs[1] = {1};
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (FlowState *) PG_GETARG_POINTER(0);
	w = st->width;
	np = st->npaths;
	labs = st->ids;

	/* fold rare edges into 'other', depth by depth, on a copy of the labels */
	if (st->min_users > 1)
	{
		uint32	   *fl = palloc_extended((Size) np * w * sizeof(uint32), MCXT_ALLOC_HUGE);
		uint32		other = journey_find_label(&st->pool, "other", 5, true);
		int64	   *cnt = palloc_extended((Size) Max(np, 1) * sizeof(int64), MCXT_ALLOC_HUGE);
		uint32	   *slot = palloc_extended((Size) Max(np, 1) * sizeof(uint32), MCXT_ALLOC_HUGE);

		memcpy(fl, st->ids, (Size) np * w * sizeof(uint32));
		for (d = 1; d <= st->max_depth; d++)
		{
			flow_hash_init(&h, 64);
			for (j = 0; j < np; j++)
				if (st->len[j] > d)
				{
					uint64		k = ((uint64) fl[j * w + d - 1] << FLOW_ID_BITS) | fl[j * w + d];
					bool		found;

					slot[j] = flow_hash_lookup(&h, k, &found);
					if (!found)
						cnt[slot[j]] = 0;
					cnt[slot[j]]++;
				}
			for (j = 0; j < np; j++)
				if (st->len[j] > d && cnt[slot[j]] < st->min_users)
					fl[j * w + d] = other;
			pfree(h.keys);
			pfree(h.slots);
		}
		pfree(cnt);
		pfree(slot);
		labs = fl;
	}

	/* count the edges; eidx: each continuing edge's group, in path order */
	flow_hash_init(&h, 256);
	edgecap = 256;
	edges = palloc(edgecap * sizeof(FlowEdge));
	eidx = palloc_extended((Size) Max(np, 1) * st->max_depth * sizeof(uint32), MCXT_ALLOC_HUGE);
	for (j = 0; j < np; j++)
	{
		int			len = st->len[j];
		int			last = Min(len, st->max_depth);

		for (d = 1; d <= last; d++)
		{
			uint64		to = d < len ? labs[j * w + d] : FLOW_NO_STEP;
			uint64		k = ((uint64) d << 58) |
				((uint64) labs[j * w + d - 1] << FLOW_ID_BITS) | to;
			bool		found;

			g = flow_hash_lookup(&h, k, &found);
			if (!found)
			{
				if (g == edgecap)
				{
					edgecap *= 2;
					edges = repalloc_huge(edges, (Size) edgecap * sizeof(FlowEdge));
				}
				edges[g].key = k;
				edges[g].users = 0;
				edges[g].ndt = 0;
			}
			edges[g].users++;
			if (d < len)
			{
				edges[g].ndt++;
				eidx[nedge++] = g;
			}
		}
	}
	ng = h.n;

	/* the times of each edge, contiguous */
	total = 0;
	for (g = 0; g < ng; g++)
	{
		edges[g].off = total;
		total += edges[g].ndt;
		edges[g].ndt = 0;
	}
	dts = palloc_extended((Size) Max(total, 1) * sizeof(int64), MCXT_ALLOC_HUGE);
	nedge = 0;
	for (j = 0; j < np; j++)
	{
		int			last = Min(st->len[j] - 1, st->max_depth);

		for (d = 1; d <= last; d++)
		{
			FlowEdge   *e = &edges[eidx[nedge++]];

			if (pg_sub_s64_overflow(st->ts[j * w + d], st->ts[j * w + d - 1],
									&dts[e->off + e->ndt]))
				ereport(ERROR,
						(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
						 errmsg("interval out of range")));
			e->ndt++;
		}
	}

	qsort_arg(edges, ng, sizeof(FlowEdge), flow_edge_cmp, &st->pool);

	vdepth = palloc(sizeof(Datum) * Max(ng, 1));
	vfrom = palloc(sizeof(Datum) * Max(ng, 1));
	vto = palloc(sizeof(Datum) * Max(ng, 1));
	vusers = palloc(sizeof(Datum) * Max(ng, 1));
	vmed = palloc(sizeof(Datum) * Max(ng, 1));
	nto = palloc0(sizeof(bool) * Max(ng, 1));
	nmed = palloc0(sizeof(bool) * Max(ng, 1));
	for (g = 0; g < ng; g++)
	{
		FlowEdge   *e = &edges[g];
		uint32		from = (uint32) ((e->key >> FLOW_ID_BITS) & FLOW_NO_STEP);
		uint32		to = (uint32) (e->key & FLOW_NO_STEP);
		uint32		len;
		const char *s;

		vdepth[g] = Int32GetDatum((int32) (e->key >> 58));
		s = journey_label(&st->pool, from, &len);
		vfrom[g] = PointerGetDatum(cstring_to_text_with_len(s, (int) len));
		if (to == FLOW_NO_STEP)
			nto[g] = true;
		else
		{
			s = journey_label(&st->pool, to, &len);
			vto[g] = PointerGetDatum(cstring_to_text_with_len(s, (int) len));
		}
		vusers[g] = Int64GetDatum(e->users);
		if (e->ndt == 0)
			nmed[g] = true;
		else
		{
			/* percentile_cont(0.5): the middle time, or halfway between two */
			int64	   *v = dts + e->off;
			int64		lo = (e->ndt - 1) / 2;
			int64		a = flow_select(v, e->ndt, lo);

			if (e->ndt % 2 == 1)
				vmed[g] = flow_interval(a);
			else
			{
				int64		b = v[lo + 1];
				int64		i;
				Datum		ia,
							diff;

				/* after selection, v[lo + 1 ..] are all >= a: their minimum */
				for (i = lo + 2; i < e->ndt; i++)
					if (v[i] < b)
						b = v[i];
				ia = flow_interval(a);
				diff = DirectFunctionCall2(interval_mi, flow_interval(b), ia);
				diff = DirectFunctionCall2(interval_mul, diff, Float8GetDatum(0.5));
				vmed[g] = DirectFunctionCall2(interval_pl, diff, ia);
			}
		}
	}

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "_journey_flow_edges must return a composite type");
	tupdesc = BlessTupleDesc(tupdesc);
	dims[0] = (int) ng;
	values[0] = PointerGetDatum(construct_md_array(vdepth, NULL, 1, dims, lbs,
												   INT4OID, 4, true, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_md_array(vfrom, NULL, 1, dims, lbs,
												   TEXTOID, -1, false, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_md_array(vto, nto, 1, dims, lbs,
												   TEXTOID, -1, false, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_md_array(vusers, NULL, 1, dims, lbs,
												   INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[4] = PointerGetDatum(construct_md_array(vmed, nmed, 1, dims, lbs,
												   INTERVALOID, sizeof(Interval), false,
												   TYPALIGN_DOUBLE));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
