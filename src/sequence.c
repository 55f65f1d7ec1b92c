/*-------------------------------------------------------------------------
 *
 * sequence.c
 *	  sequence_match and sequence_count: ClickHouse's sequenceMatch and
 *	  sequenceCount as parallel-safe aggregates.
 *
 * State: the group's events as compact records in the shared event buffer
 * (rows matching no condition are not stored), the compiled pattern (parsed
 * once per query, cached in fn_extra, and carried as text in the serialized
 * state so that deserialize can re-parse it), and the OR of all condition
 * bits seen.  Events are sorted once, in the final function, in the buffer's
 * default order: (timestamp, lowest condition index, bits) — so tied
 * timestamps are ordered by their lowest condition, whatever order rows
 * arrived in.
 *
 * Matching reproduces ClickHouse's answers without its cost model:
 *
 * - sequence_match without time conditions runs the pattern as an NFA over
 *   the events, O(events x pattern), as ClickHouse's DFA path does.
 *
 * - sequence_count, and sequence_match with time conditions, are defined by
 *   ClickHouse's backtracking matcher: a depth-first search that prefers, at
 *   each ".*" or time condition, to move on rather than skip an event, stops
 *   at the first accepting path, and gives a verdict (without backtracking)
 *   as soon as an event or "." consumes the last event.  We run the same
 *   search in the same order, but memoize the states (action, event) whose
 *   whole subtree failed, and skip failed targets of a time condition with a
 *   union-find "next live event" array.  The register ClickHouse carries
 *   (the base event of a time condition) only matters inside a time
 *   condition, so it is not part of the memoized state.  Every state is
 *   expanded at most once over all the searches of one group (a count runs
 *   one search per match), so a group costs O(events x pattern) plus
 *   a binary search per time condition entered: no exponential blow-up and
 *   no iteration limit.
 *
 * Time conditions compare whole seconds (each timestamp truncated toward
 * minus infinity to a second) for timestamp arguments, and the caller's raw
 * units for bigint time.
 *
 * src/sequence.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "event_buffer.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "sequence_pattern.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(apivalue_sequence_accum);
PG_FUNCTION_INFO_V1(apivalue_sequence_combine);
PG_FUNCTION_INFO_V1(apivalue_sequence_serialize);
PG_FUNCTION_INFO_V1(apivalue_sequence_deserialize);
PG_FUNCTION_INFO_V1(apivalue_sequence_match_final);
PG_FUNCTION_INFO_V1(apivalue_sequence_count_final);

#define SEQ_STATE_VERSION 1

/* the fixed arguments of the transition function before the conditions */
#define SEQ_FIXED_ARGS 3

typedef struct SeqState
{
	AvEventBuffer buf;
	const SeqPattern *pattern;
	int64		unit;			/* time units per second: 1000000 or 1 */
	uint32		conds_met;		/* OR of the bits of every stored event */
} SeqState;

/* Per-call-site cache of the transition and deserialize functions. */
typedef struct SeqCache
{
	int			nconds;
	int64		unit;
	bool		pattern_stable;	/* pattern argument is a Const or Param */
	SeqPattern *pattern;		/* last pattern parsed, in fn_mcxt */
} SeqCache;

/*
 * Check the argument types of the transition function once per call site:
 * the time type decides the unit, and every condition must be boolean.
 */
static SeqCache *
seq_accum_cache(FunctionCallInfo fcinfo)
{
	SeqCache   *cache = (SeqCache *) fcinfo->flinfo->fn_extra;
	Oid			timetype;
	int			nconds = PG_NARGS() - SEQ_FIXED_ARGS;
	int			i;

	if (cache != NULL)
		return cache;

	if (get_fn_expr_variadic(fcinfo->flinfo))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("conditions cannot be passed as a VARIADIC array"),
				 errhint("Pass each condition as a separate boolean argument.")));
	if (nconds < 1 || nconds > AV_MAX_CONDITIONS)
		ereport(ERROR,
				(errcode(ERRCODE_TOO_MANY_ARGUMENTS),
				 errmsg("sequence functions take 1 to %d conditions, got %d",
						AV_MAX_CONDITIONS, nconds)));
	timetype = get_fn_expr_argtype(fcinfo->flinfo, 2);
	for (i = 0; i < nconds; i++)
	{
		Oid			t = get_fn_expr_argtype(fcinfo->flinfo, SEQ_FIXED_ARGS + i);

		if (t != BOOLOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("condition %d must be of type boolean, not %s",
							i + 1, OidIsValid(t) ? format_type_be(t) : "unknown"),
					 errhint("Pass conditions such as event = 'signup'.")));
	}

	cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(SeqCache));
	cache->nconds = nconds;
	if (timetype == INT8OID)
		cache->unit = 1;
	else if (timetype == TIMESTAMPTZOID || timetype == TIMESTAMPOID)
		cache->unit = USECS_PER_SEC;
	else
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("time argument must be timestamptz, timestamp or bigint")));
	cache->pattern_stable = get_fn_expr_arg_stable(fcinfo->flinfo, 1);
	fcinfo->flinfo->fn_extra = cache;
	return cache;
}

/*
 * The compiled pattern for this row's pattern text: parsed once when the
 * pattern is a constant, otherwise re-parsed only when the text changes.
 */
static const SeqPattern *
seq_row_pattern(FunctionCallInfo fcinfo, SeqCache *cache)
{
	text	   *t;
	int			len;

	if (cache->pattern != NULL && cache->pattern_stable)
		return cache->pattern;
	t = PG_GETARG_TEXT_PP(1);
	len = VARSIZE_ANY_EXHDR(t);
	if (cache->pattern == NULL || cache->pattern->textlen != len ||
		memcmp(cache->pattern->text, VARDATA_ANY(t), len) != 0)
		cache->pattern = seq_pattern_parse(VARDATA_ANY(t), len, cache->nconds,
										   fcinfo->flinfo->fn_mcxt);
	return cache->pattern;
}

static void
seq_check_same(const SeqState *a, const SeqPattern *p, int64 unit)
{
	if (!seq_pattern_equal(a->pattern, p))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sequence pattern must be the same for all rows of a group: \"%s\" and \"%s\"",
						a->pattern->text, p->text)));
	if (a->unit != unit)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine sequence states of different time types")));
}

static SeqState *
seq_new_state(MemoryContext aggcxt, const SeqPattern *p, int64 unit)
{
	SeqState   *st = MemoryContextAllocZero(aggcxt, sizeof(SeqState));

	av_events_init(&st->buf);
	st->pattern = p;
	st->unit = unit;
	return st;
}

/*
 * Transition: (state, pattern, ts, c1, ..., cN).  Rows with a NULL time, or
 * whose conditions are all false or NULL, are not stored.
 */
Datum
apivalue_sequence_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	SeqCache   *cache;
	SeqState   *st;
	const SeqPattern *pat;
	int64		ts;
	uint32		bits = 0;
	int			i;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("apivalue_sequence_accum called in non-aggregate context")));
	cache = seq_accum_cache(fcinfo);

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("sequence pattern must not be NULL")));
	pat = seq_row_pattern(fcinfo, cache);

	if (PG_ARGISNULL(0))
		st = seq_new_state(aggcxt, pat, cache->unit);
	else
	{
		st = (SeqState *) PG_GETARG_POINTER(0);
		if (st->pattern != pat)
			seq_check_same(st, pat, cache->unit);
	}

	if (PG_ARGISNULL(2))
		PG_RETURN_POINTER(st);
	if (cache->unit == 1)
		ts = PG_GETARG_INT64(2);
	else
		ts = av_timestamp_arg(PG_GETARG_TIMESTAMP(2));

	for (i = 0; i < cache->nconds; i++)
		if (!PG_ARGISNULL(SEQ_FIXED_ARGS + i) &&
			PG_GETARG_BOOL(SEQ_FIXED_ARGS + i))
			bits |= (uint32) 1 << i;
	if (bits == 0)
		PG_RETURN_POINTER(st);

	old = MemoryContextSwitchTo(aggcxt);
	av_events_append(&st->buf, ts, bits, 0);
	MemoryContextSwitchTo(old);
	st->conds_met |= bits;
	PG_RETURN_POINTER(st);
}

/* Combine: merge the sorted runs of two partial states. */
Datum
apivalue_sequence_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	SeqState   *a = PG_ARGISNULL(0) ? NULL : (SeqState *) PG_GETARG_POINTER(0);
	SeqState   *b = PG_ARGISNULL(1) ? NULL : (SeqState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("apivalue_sequence_combine called in non-aggregate context")));
	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
		a = seq_new_state(aggcxt, b->pattern, b->unit);
	else if (a->pattern != b->pattern || a->unit != b->unit)
		seq_check_same(a, b->pattern, b->unit);

	old = MemoryContextSwitchTo(aggcxt);
	av_events_merge(&a->buf, &b->buf);
	MemoryContextSwitchTo(old);
	a->conds_met |= b->conds_met;
	PG_RETURN_POINTER(a);
}

/*
 * Serialized form: version byte, unit kind (0 = microseconds, 1 = caller's
 * units), condition count, a reserved byte, pattern length (uint32), pattern
 * text, then the event records as event_buffer.c writes them.
 */
Datum
apivalue_sequence_serialize(PG_FUNCTION_ARGS)
{
	SeqState   *st = (SeqState *) PG_GETARG_POINTER(0);
	uint32		plen = st->pattern->textlen;
	Size		size = VARHDRSZ + 4 + sizeof(uint32) + plen +
		av_events_serialized_size(&st->buf);
	bytea	   *out = palloc(size);
	char	   *p = VARDATA(out);
	char	   *end PG_USED_FOR_ASSERTS_ONLY = (char *) out + size;

	SET_VARSIZE(out, size);
	*p++ = SEQ_STATE_VERSION;
	*p++ = st->unit == 1 ? 1 : 0;
	*p++ = (char) st->pattern->nconds;
	*p++ = 0;
	memcpy(p, &plen, sizeof(uint32));
	p += sizeof(uint32);
	memcpy(p, st->pattern->text, plen);
	p += plen;
	p = av_events_serialize(&st->buf, p);
	Assert(p == end);
	PG_RETURN_BYTEA_P(out);
}

static void
seq_bad_state(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid apivalue sequence state: %s", what)));
}

/*
 * Deserialize, checking every length against the bytes present and every
 * record's condition bits against the condition count; the pattern is
 * re-parsed (once per distinct text, cached in fn_extra).
 */
Datum
apivalue_sequence_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(in);
	const char *end = p + VARSIZE_ANY_EXHDR(in);
	SeqCache   *cache = (SeqCache *) fcinfo->flinfo->fn_extra;
	SeqState   *st;
	int			nconds;
	int64		unit;
	uint32		plen;
	uint32		allowed;
	int64		i;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("apivalue_sequence_deserialize called in non-aggregate context")));
	if (end - p < 4 + (ptrdiff_t) sizeof(uint32))
		seq_bad_state("truncated header");
	if ((uint8) p[0] != SEQ_STATE_VERSION)
		seq_bad_state("unknown version");
	if ((uint8) p[1] > 1)
		seq_bad_state("unknown time unit");
	unit = p[1] == 1 ? 1 : USECS_PER_SEC;
	nconds = (uint8) p[2];
	if (nconds < 1 || nconds > AV_MAX_CONDITIONS)
		seq_bad_state("condition count out of range");
	p += 4;
	memcpy(&plen, p, sizeof(uint32));
	p += sizeof(uint32);
	if (plen > (uint64) (end - p))
		seq_bad_state("pattern longer than the state");

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(SeqCache));
		fcinfo->flinfo->fn_extra = cache;
	}
	if (cache->pattern == NULL || cache->pattern->nconds != nconds ||
		cache->pattern->textlen != (int) plen ||
		memcmp(cache->pattern->text, p, plen) != 0)
		cache->pattern = seq_pattern_parse(p, plen, nconds, fcinfo->flinfo->fn_mcxt);
	p += plen;

	st = seq_new_state(aggcxt, cache->pattern, unit);
	old = MemoryContextSwitchTo(aggcxt);
	p = av_events_deserialize(&st->buf, p, end);
	MemoryContextSwitchTo(old);
	if (p != end)
		seq_bad_state("trailing bytes");

	allowed = nconds == 32 ? PG_UINT32_MAX : (((uint32) 1 << nconds) - 1);
	for (i = 0; i < st->buf.nevents; i++)
	{
		uint32		bits = st->buf.events[i].bits;

		if (bits == 0 || (bits & ~allowed) != 0)
			seq_bad_state("event with invalid condition bits");
		st->conds_met |= bits;
	}
	PG_RETURN_POINTER(st);
}

/* ---------------------------------------------------------------------
 * Matching
 * ---------------------------------------------------------------------
 */

/* NFA simulation, for patterns without time conditions (sequence_match). */
static bool
seq_nfa_match(const SeqPattern *pat, const AvEvent *ev, int64 n)
{
	int			ns = pat->nstates;
	int			nwords = (ns + 63) / 64;
	uint64	   *cur = palloc0(sizeof(uint64) * nwords * 2);
	uint64	   *next = cur + nwords;
	int			last = ns - 1;
	bool		result;
	int64		i;

	cur[0] = 1;
	for (i = 0; i < n && !(cur[last / 64] & ((uint64) 1 << (last % 64))); i++)
	{
		uint32		bits = ev[i].bits;
		bool		any = false;
		int			w;

		memset(next, 0, sizeof(uint64) * nwords);
		for (w = 0; w < nwords; w++)
		{
			uint64		word = cur[w];

			while (word)
			{
				int			s = w * 64 + __builtin_ctzll(word);
				const SeqNfaState *st = &pat->states[s];

				word &= word - 1;
				if (st->has_next && (st->any || (bits & st->mask)))
				{
					next[(s + 1) / 64] |= (uint64) 1 << ((s + 1) % 64);
					any = true;
				}
				if (st->kleene)
				{
					next[s / 64] |= (uint64) 1 << (s % 64);
					any = true;
				}
			}
		}
		memcpy(cur, next, sizeof(uint64) * nwords);
		if (!any)
			break;
	}
	result = (cur[last / 64] & ((uint64) 1 << (last % 64))) != 0;
	pfree(cur);
	return result;
}

/* One frame of the depth-first search: a state and its remaining children. */
typedef struct SeqFrame
{
	int32		a;				/* action (never a time condition) */
	int32		e;				/* event */
	int32		ta;				/* action of the pending children */
	int32		cur;			/* next child event to try */
	int32		hi;				/* last child event */
	bool		self_done;		/* .*: the "skip this event" child was tried */
} SeqFrame;

typedef struct SeqMatcher
{
	const SeqPattern *pat;
	const AvEvent *ev;
	int32		n;
	int32		m;				/* number of actions */
	int64		unit;
	bool	   *trailing;		/* [a]: actions a..m-1 may all stay unmatched */
	uint8	   *failed;			/* [a * n + e]: subtree of (a, e) failed */
	int32	  **next_live;		/* [a]: union-find over failed events, or NULL */
	SeqFrame   *stack;
} SeqMatcher;

/* outcome of entering a state or a continuation */
#define SEQ_R_CHILDREN	0		/* children pending (maybe none) */
#define SEQ_R_ACCEPT	1
#define SEQ_R_REJECT	2		/* verdict "no": the whole search stops */

static inline int64
seq_seconds(const SeqMatcher *m, int32 i)
{
	int64		t = m->ev[i].ts;
	int64		q = t / m->unit;

	if (t % m->unit < 0)
		q--;
	return q;
}

/* elapsed time from event b to event c >= b, as an unsigned difference */
static inline uint64
seq_elapsed(const SeqMatcher *m, int32 b, int32 c)
{
	return (uint64) seq_seconds(m, c) - (uint64) seq_seconds(m, b);
}

/* First event c in [lo, n) with elapsed(b, c) >= s (strict: > s), else n. */
static int32
seq_first_at_least(const SeqMatcher *m, int32 b, int32 lo, uint64 s, bool strict)
{
	int32		hi = m->n;

	while (lo < hi)
	{
		int32		mid = lo + (hi - lo) / 2;
		uint64		d = seq_elapsed(m, b, mid);

		if (strict ? d > s : d >= s)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Union-find lookup: the first event >= e whose state (a, e) has not failed. */
static int32
seq_live(SeqMatcher *m, int32 a, int32 e)
{
	int32	   *p = m->next_live[a];
	int32		root = e;

	while (p[root] != root)
		root = p[root];
	while (p[e] != root)
	{
		int32		nx = p[e];

		p[e] = root;
		e = nx;
	}
	return root;
}

static void
seq_mark_failed(SeqMatcher *m, int32 a, int32 e)
{
	m->failed[(int64) a * m->n + e] = 1;
	if (m->next_live[a] != NULL)
		m->next_live[a][e] = e + 1;
}

/*
 * The continuation after an action: the next action is a2, the last matched
 * event (the base of a following time condition) is b, and the next event to
 * look at is es.  Sets *accept, or the children (ta, [lo, hi]) to try in
 * order.
 */
static int
seq_continue(SeqMatcher *m, int32 a2, int32 b, int32 es,
			 int32 *ta, int32 *lo, int32 *hi, int32 *accept)
{
	const SeqAction *act;
	int32		first;
	int32		last;

	if (a2 == m->m)
	{
		*accept = es;
		return SEQ_R_ACCEPT;
	}
	if (es == m->n)
	{
		/* events ran out: ClickHouse's verdict, no backtracking */
		*accept = es;
		return m->trailing[a2] ? SEQ_R_ACCEPT : SEQ_R_REJECT;
	}
	act = &m->pat->actions[a2];
	if (!SEQ_IS_TIME(act->type))
	{
		*ta = a2;
		*lo = *hi = es;
		return SEQ_R_CHILDREN;
	}

	/* a time condition: the events c >= es it lets the next action start at */
	switch (act->type)
	{
		case SEQ_TIME_LE:
			first = es;
			last = seq_first_at_least(m, b, es, act->arg, true) - 1;
			break;
		case SEQ_TIME_LT:
			first = es;
			last = seq_first_at_least(m, b, es, act->arg, false) - 1;
			break;
		case SEQ_TIME_GE:
			first = seq_first_at_least(m, b, es, act->arg, false);
			last = m->n - 1;
			break;
		case SEQ_TIME_GT:
			first = seq_first_at_least(m, b, es, act->arg, true);
			last = m->n - 1;
			break;
		default:				/* SEQ_TIME_EQ */
			first = seq_first_at_least(m, b, es, act->arg, false);
			last = seq_first_at_least(m, b, first, act->arg, true) - 1;
			break;
	}
	if (a2 + 1 == m->m && first <= last)
	{
		/* the pattern ends with the time condition */
		*accept = first;
		return SEQ_R_ACCEPT;
	}
	*ta = a2 + 1;
	*lo = first;
	*hi = last;
	return SEQ_R_CHILDREN;
}

/*
 * Enter state (a, e) (a is not a time condition, e < n, not failed): push
 * its frame, or return a verdict.  An event that does not satisfy its
 * condition fails at once.
 */
static int
seq_enter(SeqMatcher *m, int *depth, int32 a, int32 e, int32 *accept)
{
	const SeqAction *act = &m->pat->actions[a];
	SeqFrame   *f;
	int32		ta = 0,
				lo = 0,
				hi = -1;
	int			r;

	if (act->type == SEQ_EVENT && !(m->ev[e].bits & ((uint32) 1 << act->arg)))
	{
		seq_mark_failed(m, a, e);
		return SEQ_R_CHILDREN;
	}
	if (act->type == SEQ_STAR)
		r = seq_continue(m, a + 1, e, e, &ta, &lo, &hi, accept);
	else
		r = seq_continue(m, a + 1, e, e + 1, &ta, &lo, &hi, accept);
	if (r != SEQ_R_CHILDREN)
		return r;
	f = &m->stack[(*depth)++];
	f->a = a;
	f->e = e;
	f->ta = ta;
	f->cur = lo;
	f->hi = hi;
	f->self_done = (act->type != SEQ_STAR);
	return SEQ_R_CHILDREN;
}

/*
 * One backtracking search from event "start", in ClickHouse's order.
 * Returns the event position where the accepting path ended, or -1.
 */
static int32
seq_search(SeqMatcher *m, int32 start)
{
	int			depth = 0;
	int32		accept = -1;
	int			r;

	r = seq_enter(m, &depth, 0, start, &accept);
	if (r == SEQ_R_ACCEPT)
		return accept;
	if (r == SEQ_R_REJECT)
		return -1;

	while (depth > 0)
	{
		SeqFrame   *f = &m->stack[depth - 1];
		int32		c = -1;
		int32		ca = 0;

		CHECK_FOR_INTERRUPTS();
		if (f->cur <= f->hi)
		{
			ca = f->ta;
			c = m->next_live[ca] ? seq_live(m, ca, f->cur) : f->cur;
			if (c > f->hi)
			{
				f->cur = f->hi + 1;
				c = -1;
			}
			else
			{
				f->cur = c + 1;
				if (m->failed[(int64) ca * m->n + c])
					continue;
			}
		}
		if (c < 0 && !f->self_done)
		{
			/* .* consumes one more event, unless it is the last */
			f->self_done = true;
			if (f->e + 1 < m->n &&
				!m->failed[(int64) f->a * m->n + f->e + 1])
			{
				c = f->e + 1;
				ca = f->a;
			}
		}
		if (c < 0)
		{
			seq_mark_failed(m, f->a, f->e);
			depth--;
			continue;
		}
		r = seq_enter(m, &depth, ca, c, &accept);
		if (r == SEQ_R_ACCEPT)
			return accept;
		if (r == SEQ_R_REJECT)
			return -1;
	}
	/* every path failed: ClickHouse then judges the pattern from its start */
	return m->trailing[0] ? m->n : -1;
}

static void
seq_matcher_init(SeqMatcher *m, const SeqState *st)
{
	const SeqPattern *pat = st->pattern;
	int			a;

	if (st->buf.nevents >= PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many events in one group for sequence matching: %lld",
						(long long) st->buf.nevents)));
	m->pat = pat;
	m->ev = st->buf.events;
	m->n = (int32) st->buf.nevents;
	m->m = pat->nactions;
	m->unit = st->unit;
	m->trailing = palloc(sizeof(bool) * (m->m + 1));
	m->trailing[m->m] = true;
	for (a = m->m - 1; a >= 0; a--)
		m->trailing[a] = m->trailing[a + 1] && pat->actions[a].trailing_ok;
	m->failed = palloc_extended((Size) m->m * m->n + 1, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	m->next_live = palloc0(sizeof(int32 *) * (m->m + 1));
	for (a = 1; a < m->m; a++)
		if (SEQ_IS_TIME(pat->actions[a - 1].type))
		{
			int32		i;

			m->next_live[a] = palloc_extended(sizeof(int32) * ((Size) m->n + 1),
											  MCXT_ALLOC_HUGE);
			for (i = 0; i <= m->n; i++)
				m->next_live[a][i] = i;
		}
	m->stack = palloc_extended(sizeof(SeqFrame) * ((Size) m->n + m->m + 2),
							   MCXT_ALLOC_HUGE);
}

/*
 * The final functions work in a private memory context (the scratch arrays
 * are proportional to the group) and delete it before returning.
 */
static bool
seq_prepare(SeqState *st)
{
	const SeqPattern *pat = st->pattern;

	/* a condition the pattern names never happened: no match (ClickHouse) */
	if ((pat->conds_used & st->conds_met) != pat->conds_used)
		return false;
	av_events_sort(&st->buf);
	return true;
}

Datum
apivalue_sequence_match_final(PG_FUNCTION_ARGS)
{
	SeqState   *st;
	MemoryContext work;
	MemoryContext old;
	bool		result;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	st = (SeqState *) PG_GETARG_POINTER(0);
	if (!seq_prepare(st))
		PG_RETURN_BOOL(false);

	work = AllocSetContextCreate(CurrentMemoryContext, "apivalue sequence_match",
								 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);
	if (!st->pattern->has_time)
		result = seq_nfa_match(st->pattern, st->buf.events, st->buf.nevents);
	else
	{
		SeqMatcher	m;

		seq_matcher_init(&m, st);
		if (m.n == 0)
			result = m.trailing[0];
		else
			result = seq_search(&m, 0) >= 0;
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
	PG_RETURN_BOOL(result);
}

/*
 * sequence_count: ClickHouse repeats the search from where the previous
 * match ended (one event further when a match consumed nothing) until a
 * search fails.  Failed states stay failed across the searches.
 */
Datum
apivalue_sequence_count_final(PG_FUNCTION_ARGS)
{
	SeqState   *st;
	MemoryContext work;
	MemoryContext old;
	SeqMatcher	m;
	int64		count = 0;
	int32		pos = 0;

	if (PG_ARGISNULL(0))
		PG_RETURN_INT64(0);
	st = (SeqState *) PG_GETARG_POINTER(0);
	if (!seq_prepare(st))
		PG_RETURN_INT64(0);

	work = AllocSetContextCreate(CurrentMemoryContext, "apivalue sequence_count",
								 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);
	seq_matcher_init(&m, st);
	while (pos < m.n)
	{
		int32		end = seq_search(&m, pos);

		if (end < 0)
			break;
		count++;
		pos = (end == pos) ? pos + 1 : end;
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
	PG_RETURN_INT64(count);
}
