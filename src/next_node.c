/*-------------------------------------------------------------------------
 *
 * next_node.c
 *	  sequence_next_node: ClickHouse's sequenceNextNode as a parallel-safe
 *	  aggregate.
 *
 * Unlike sequence_match, every row (with a time and a value) is a node: the
 * node returned after a chain need not satisfy any condition.  Each node is
 * one record of the shared event buffer: the time, the bits of e1..eN, and
 * in aux the base_condition flag (top bit) and the offset of its value in a
 * byte arena (uint32 length + bytes) owned by the state; no per-row palloc.
 *
 * Nodes are ordered by (time, lowest condition index, condition bits, value
 * bytes, base flag): the event buffer's tie rule, made total by the value so
 * that the answer never depends on the order rows arrived in.  (ClickHouse
 * orders ties by value and then input order.)
 *
 * For base "head" only the first N + 1 nodes can matter, for "tail" only the
 * last N + 1: the state prunes itself to those whenever it grows past a small
 * bound, so memory stays O(N) per group.  first_match and last_match keep
 * every node.
 *
 * src/next_node.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "event_buffer.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(apivalue_next_node_accum);
PG_FUNCTION_INFO_V1(apivalue_next_node_combine);
PG_FUNCTION_INFO_V1(apivalue_next_node_serialize);
PG_FUNCTION_INFO_V1(apivalue_next_node_deserialize);
PG_FUNCTION_INFO_V1(apivalue_next_node_final);

#define NN_STATE_VERSION 1
#define NN_FIXED_ARGS 6			/* state, direction, base, ts, value, base_cond */
#define NN_BASE_FLAG ((uint32) 1 << 31)
#define NN_OFFSET_MASK (NN_BASE_FLAG - 1)
#define NN_PRUNE_MIN 64

typedef enum NnDirection
{
	NN_FORWARD,
	NN_BACKWARD
} NnDirection;

typedef enum NnBase
{
	NN_HEAD,
	NN_TAIL,
	NN_FIRST_MATCH,
	NN_LAST_MATCH
} NnBase;

typedef struct NnState
{
	AvEventBuffer buf;
	char	   *arena;			/* values: uint32 length, then the bytes */
	int64		arena_len;
	int64		arena_cap;
	int			nconds;
	uint8		direction;
	uint8		base;
} NnState;

typedef struct NnCache
{
	int			nconds;
	bool		options_stable;	/* direction and base are Consts/Params */
	bool		have_options;
	uint8		direction;
	uint8		base;
} NnCache;

static const char *const nn_directions[] = {"forward", "backward"};
static const char *const nn_bases[] = {"head", "tail", "first_match", "last_match"};

/*
 * Parse direction and base, reporting unknown words with the valid ones and
 * the two combinations ClickHouse rejects.
 */
static void
nn_parse_options(text *dir_t, text *base_t, uint8 *direction, uint8 *base)
{
	char	   *dir = text_to_cstring(dir_t);
	char	   *b = text_to_cstring(base_t);
	int			i;
	int			d = -1;
	int			k = -1;

	for (i = 0; i < (int) lengthof(nn_directions); i++)
		if (strcmp(dir, nn_directions[i]) == 0)
			d = i;
	if (d < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown sequence_next_node direction \"%s\"", dir),
				 errhint("Use \"forward\" or \"backward\".")));
	for (i = 0; i < (int) lengthof(nn_bases); i++)
		if (strcmp(b, nn_bases[i]) == 0)
			k = i;
	if (k < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown sequence_next_node base \"%s\"", b),
				 errhint("Use \"head\", \"tail\", \"first_match\" or \"last_match\".")));
	if ((k == NN_HEAD && d == NN_BACKWARD) || (k == NN_TAIL && d == NN_FORWARD))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sequence_next_node base \"%s\" cannot be used with direction \"%s\"",
						b, dir),
				 errhint("Use \"head\" with \"forward\" and \"tail\" with \"backward\".")));
	*direction = (uint8) d;
	*base = (uint8) k;
}

static NnCache *
nn_cache(FunctionCallInfo fcinfo)
{
	NnCache    *cache = (NnCache *) fcinfo->flinfo->fn_extra;
	int			nconds = PG_NARGS() - NN_FIXED_ARGS;
	Oid			t;
	int			i;

	if (cache != NULL)
		return cache;
	if (get_fn_expr_variadic(fcinfo->flinfo))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("conditions cannot be passed as a VARIADIC array"),
				 errhint("Pass each event condition as a separate boolean argument.")));
	if (nconds < 1 || nconds > AV_MAX_CONDITIONS)
		ereport(ERROR,
				(errcode(ERRCODE_TOO_MANY_ARGUMENTS),
				 errmsg("sequence_next_node takes 1 to %d event conditions, got %d",
						AV_MAX_CONDITIONS, nconds)));
	t = get_fn_expr_argtype(fcinfo->flinfo, 5);
	if (t != BOOLOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("base_condition must be of type boolean, not %s",
						OidIsValid(t) ? format_type_be(t) : "unknown")));
	for (i = 0; i < nconds; i++)
	{
		t = get_fn_expr_argtype(fcinfo->flinfo, NN_FIXED_ARGS + i);
		if (t != BOOLOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("event condition %d must be of type boolean, not %s",
							i + 1, OidIsValid(t) ? format_type_be(t) : "unknown"),
					 errhint("Pass conditions such as event = 'signup'.")));
	}
	cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(NnCache));
	cache->nconds = nconds;
	cache->options_stable = get_fn_expr_arg_stable(fcinfo->flinfo, 1) &&
		get_fn_expr_arg_stable(fcinfo->flinfo, 2);
	fcinfo->flinfo->fn_extra = cache;
	return cache;
}

static inline const char *
nn_value(const NnState *st, uint32 aux, uint32 *len)
{
	const char *p = st->arena + (aux & NN_OFFSET_MASK);

	memcpy(len, p, sizeof(uint32));
	return p + sizeof(uint32);
}

/* The node order: time, lowest condition, bits, value bytes, base flag. */
static int
nn_cmp(const void *pa, const void *pb, void *arg)
{
	const AvEvent *a = (const AvEvent *) pa;
	const AvEvent *b = (const AvEvent *) pb;
	const NnState *st = (const NnState *) arg;
	const char *va;
	const char *vb;
	uint32		la;
	uint32		lb;
	int			c;

	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	if (a->bits != b->bits)
	{
		int			xa = av_lowest_bit(a->bits);
		int			xb = av_lowest_bit(b->bits);

		if (xa != xb)
			return xa < xb ? -1 : 1;
		return a->bits < b->bits ? -1 : 1;
	}
	va = nn_value(st, a->aux, &la);
	vb = nn_value(st, b->aux, &lb);
	c = memcmp(va, vb, Min(la, lb));
	if (c != 0)
		return c;
	if (la != lb)
		return la < lb ? -1 : 1;
	if ((a->aux & NN_BASE_FLAG) != (b->aux & NN_BASE_FLAG))
		return (a->aux & NN_BASE_FLAG) ? 1 : -1;
	return 0;
}

static void
nn_sort(NnState *st)
{
	int64		i;

	for (i = 1; i < st->buf.nevents; i++)
		if (nn_cmp(&st->buf.events[i - 1], &st->buf.events[i], st) > 0)
			break;
	if (i < st->buf.nevents)
		av_events_sort_by(&st->buf, nn_cmp, st);
}

/* Append a value to the arena (current context: the aggregate's); its offset. */
static uint32
nn_arena_add(NnState *st, const char *data, uint32 len)
{
	int64		need = st->arena_len + sizeof(uint32) + len;
	int64		off = st->arena_len;

	if (need > (int64) NN_OFFSET_MASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("sequence_next_node values of one group exceed %u bytes",
						NN_OFFSET_MASK)));
	if (need > st->arena_cap)
	{
		int64		cap = Max(st->arena_cap, 256);

		while (cap < need)
			cap *= 2;
		if (st->arena == NULL)
			st->arena = MemoryContextAllocHuge(CurrentMemoryContext, cap);
		else
			st->arena = repalloc_huge(st->arena, cap);
		st->arena_cap = cap;
	}
	memcpy(st->arena + off, &len, sizeof(uint32));
	memcpy(st->arena + off + sizeof(uint32), data, len);
	st->arena_len = need;
	return (uint32) off;
}

/*
 * head/tail: keep only the first (last) N + 1 nodes, in a fresh arena.
 * Runs when the buffer reaches a bound of a few times N + 1, so appending
 * stays amortized O(log N) per row.
 */
static void
nn_prune(NnState *st)
{
	int64		keep = st->nconds + 1;
	int64		limit = Max(NN_PRUNE_MIN, 4 * keep);
	int64		from;
	int64		i;
	char	   *old_arena;
	NnState		src;

	if (st->base != NN_HEAD && st->base != NN_TAIL)
		return;
	if (st->buf.nevents < limit)
		return;
	nn_sort(st);
	from = (st->base == NN_HEAD) ? 0 : st->buf.nevents - keep;
	src = *st;
	old_arena = st->arena;
	st->arena = NULL;
	st->arena_len = 0;
	st->arena_cap = 0;
	for (i = 0; i < keep; i++)
	{
		AvEvent		e = src.buf.events[from + i];
		uint32		len;
		const char *v = nn_value(&src, e.aux, &len);

		e.aux = (e.aux & NN_BASE_FLAG) | nn_arena_add(st, v, len);
		st->buf.events[i] = e;
	}
	st->buf.nevents = keep;
	st->buf.sorted = false;
	pfree(old_arena);
}

static NnState *
nn_new_state(MemoryContext cxt, int nconds, uint8 direction, uint8 base)
{
	NnState    *st = MemoryContextAllocZero(cxt, sizeof(NnState));

	av_events_init(&st->buf);
	st->nconds = nconds;
	st->direction = direction;
	st->base = base;
	return st;
}

static void
nn_check_same(const NnState *a, int nconds, uint8 direction, uint8 base)
{
	if (a->nconds != nconds || a->direction != direction || a->base != base)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sequence_next_node direction and base must be the same for all rows of a group")));
}

/*
 * Transition: (state, direction, base, ts, value, base_condition, e1, ...).
 * Rows with a NULL time or value are skipped; NULL conditions are false.
 */
Datum
apivalue_next_node_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	NnCache    *cache;
	NnState    *st;
	uint8		direction;
	uint8		base;
	int64		ts;
	uint32		bits = 0;
	uint32		off;
	text	   *value;
	int			i;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("apivalue_next_node_accum called in non-aggregate context")));
	cache = nn_cache(fcinfo);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("sequence_next_node direction and base must not be NULL")));
	if (cache->have_options && cache->options_stable)
	{
		direction = cache->direction;
		base = cache->base;
	}
	else
	{
		nn_parse_options(PG_GETARG_TEXT_PP(1), PG_GETARG_TEXT_PP(2), &direction, &base);
		cache->direction = direction;
		cache->base = base;
		cache->have_options = true;
	}

	if (PG_ARGISNULL(0))
		st = nn_new_state(aggcxt, cache->nconds, direction, base);
	else
	{
		st = (NnState *) PG_GETARG_POINTER(0);
		nn_check_same(st, cache->nconds, direction, base);
	}

	if (PG_ARGISNULL(3) || PG_ARGISNULL(4))
		PG_RETURN_POINTER(st);
	if (get_fn_expr_argtype(fcinfo->flinfo, 3) == INT8OID)
		ts = PG_GETARG_INT64(3);
	else
		ts = av_timestamp_arg(PG_GETARG_TIMESTAMP(3));
	for (i = 0; i < cache->nconds; i++)
		if (!PG_ARGISNULL(NN_FIXED_ARGS + i) && PG_GETARG_BOOL(NN_FIXED_ARGS + i))
			bits |= (uint32) 1 << i;

	value = PG_GETARG_TEXT_PP(4);
	old = MemoryContextSwitchTo(aggcxt);
	off = nn_arena_add(st, VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
	if (!PG_ARGISNULL(5) && PG_GETARG_BOOL(5))
		off |= NN_BASE_FLAG;
	av_events_append(&st->buf, ts, bits, off);
	nn_prune(st);
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(st);
}

/* Append src's nodes to dst (current context: the aggregate's). */
static void
nn_add_all(NnState *dst, const NnState *src)
{
	int64		i;

	for (i = 0; i < src->buf.nevents; i++)
	{
		const AvEvent *e = &src->buf.events[i];
		uint32		len;
		const char *v = nn_value(src, e->aux, &len);
		uint32		off = nn_arena_add(dst, v, len);

		av_events_append(&dst->buf, e->ts, e->bits, (e->aux & NN_BASE_FLAG) | off);
		nn_prune(dst);
	}
}

Datum
apivalue_next_node_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	NnState    *a = PG_ARGISNULL(0) ? NULL : (NnState *) PG_GETARG_POINTER(0);
	NnState    *b = PG_ARGISNULL(1) ? NULL : (NnState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("apivalue_next_node_combine called in non-aggregate context")));
	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
		a = nn_new_state(aggcxt, b->nconds, b->direction, b->base);
	else
		nn_check_same(a, b->nconds, b->direction, b->base);
	old = MemoryContextSwitchTo(aggcxt);
	nn_add_all(a, b);
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(a);
}

/*
 * Serialized form: version, direction, base, condition count (one byte
 * each), the records as event_buffer.c writes them, then the arena length
 * (int64) and bytes.
 */
Datum
apivalue_next_node_serialize(PG_FUNCTION_ARGS)
{
	NnState    *st = (NnState *) PG_GETARG_POINTER(0);
	Size		size = VARHDRSZ + 4 + av_events_serialized_size(&st->buf) +
		sizeof(int64) + st->arena_len;
	bytea	   *out = palloc(size);
	char	   *p = VARDATA(out);
	char	   *end PG_USED_FOR_ASSERTS_ONLY = (char *) out + size;

	SET_VARSIZE(out, size);
	*p++ = NN_STATE_VERSION;
	*p++ = (char) st->direction;
	*p++ = (char) st->base;
	*p++ = (char) st->nconds;
	p = av_events_serialize(&st->buf, p);
	memcpy(p, &st->arena_len, sizeof(int64));
	p += sizeof(int64);
	if (st->arena_len > 0)
		memcpy(p, st->arena, st->arena_len);
	p += st->arena_len;
	Assert(p == end);
	PG_RETURN_BYTEA_P(out);
}

static void
nn_bad_state(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid apivalue sequence_next_node state: %s", what)));
}

/*
 * Deserialize, checking every length against the bytes present and every
 * record's value reference against the arena.
 */
Datum
apivalue_next_node_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(in);
	const char *end = p + VARSIZE_ANY_EXHDR(in);
	NnState    *st;
	int			nconds;
	int64		alen;
	uint32		allowed;
	int64		i;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("apivalue_next_node_deserialize called in non-aggregate context")));
	if (end - p < 4)
		nn_bad_state("truncated header");
	if ((uint8) p[0] != NN_STATE_VERSION)
		nn_bad_state("unknown version");
	if ((uint8) p[1] > NN_BACKWARD || (uint8) p[2] > NN_LAST_MATCH)
		nn_bad_state("unknown direction or base");
	nconds = (uint8) p[3];
	if (nconds < 1 || nconds > AV_MAX_CONDITIONS)
		nn_bad_state("condition count out of range");
	st = nn_new_state(aggcxt, nconds, (uint8) p[1], (uint8) p[2]);
	p += 4;
	old = MemoryContextSwitchTo(aggcxt);
	p = av_events_deserialize(&st->buf, p, end);
	if (end - p < (ptrdiff_t) sizeof(int64))
		nn_bad_state("truncated value arena");
	memcpy(&alen, p, sizeof(int64));
	p += sizeof(int64);
	if (alen < 0 || alen != end - p || alen > (int64) NN_OFFSET_MASK)
		nn_bad_state("value arena length does not match the state");
	if (alen > 0)
	{
		st->arena = MemoryContextAllocHuge(aggcxt, alen);
		memcpy(st->arena, p, alen);
	}
	st->arena_len = st->arena_cap = alen;
	MemoryContextSwitchTo(old);

	allowed = nconds == 32 ? PG_UINT32_MAX : (((uint32) 1 << nconds) - 1);
	for (i = 0; i < st->buf.nevents; i++)
	{
		const AvEvent *e = &st->buf.events[i];
		int64		off = e->aux & NN_OFFSET_MASK;
		uint32		len;

		if ((e->bits & ~allowed) != 0)
			nn_bad_state("node with invalid condition bits");
		if (off + (int64) sizeof(uint32) > alen)
			nn_bad_state("value reference outside the arena");
		memcpy(&len, st->arena + off, sizeof(uint32));
		if (len > alen - off - sizeof(uint32))
			nn_bad_state("value reference outside the arena");
	}
	PG_RETURN_POINTER(st);
}

/*
 * The node after (forward) or before (backward) the chain e1, e2, ... eN of
 * consecutive nodes that starts at the base node, as ClickHouse finds it;
 * NULL when there is none.
 */
Datum
apivalue_next_node_final(PG_FUNCTION_ARGS)
{
	NnState    *st;
	const AvEvent *ev;
	int64		n;
	int64		nconds;
	int64		base = -1;
	int64		idx = -1;
	int64		i;
	uint32		len;
	const char *v;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (NnState *) PG_GETARG_POINTER(0);
	nconds = st->nconds;
	if (st->buf.nevents <= nconds)
		PG_RETURN_NULL();
	nn_sort(st);
	ev = st->buf.events;
	n = st->buf.nevents;

	switch (st->base)
	{
		case NN_HEAD:
			if (ev[0].aux & NN_BASE_FLAG)
				base = 0;
			break;
		case NN_TAIL:
			if (ev[n - 1].aux & NN_BASE_FLAG)
				base = n - 1;
			break;
		case NN_FIRST_MATCH:
			for (i = 0; i < n && base < 0; i++)
				if ((ev[i].bits & 1) && (ev[i].aux & NN_BASE_FLAG))
					base = i;
			break;
		case NN_LAST_MATCH:
			for (i = n - 1; i >= 0 && base < 0; i--)
				if ((ev[i].bits & 1) && (ev[i].aux & NN_BASE_FLAG))
					base = i;
			break;
	}
	if (base < 0)
		PG_RETURN_NULL();

	if (st->direction == NN_FORWARD)
	{
		for (i = 0; i < nconds && base + i < n; i++)
			if (!(ev[base + i].bits & ((uint32) 1 << i)))
				break;
		if (i == nconds)
			idx = base + i;
	}
	else
	{
		for (i = 0; i < nconds && i < base; i++)
			if (!(ev[base - i].bits & ((uint32) 1 << i)))
				break;
		if (i == nconds)
			idx = base - i;
	}
	if (idx < 0 || idx >= n)
		PG_RETURN_NULL();
	v = nn_value(st, ev[idx].aux, &len);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(v, len));
}
