/*-------------------------------------------------------------------------
 *
 * funnel.h
 *	  ClickHouse's windowFunnel chain search over sorted event records.
 *
 * The search is ClickHouse's slot algorithm (clickhouse-semantics.md): slot
 * k holds the start time and the latest step time of the most recent chain
 * that reached level k+1.  An event of condition 1 overwrites slot 0 with a
 * fresh start; an event of condition k+1 extends slot k-1 into slot k when
 * it lies inside that chain's window.  The answer is the highest filled
 * slot.  Slots only ever fill from the one below, so the filled slots are
 * always a prefix and one integer ("level") describes them.
 *
 * ClickHouse stores one (ts, condition) entry per matching condition and
 * sorts them by (ts, condition), rows matching no condition (kept only in
 * strict_order mode) sorting first as condition 0.  Our records carry a
 * bitmask instead, so records with equal timestamps are handled as one run:
 * first the non-matching ones, then each condition in ascending order, as
 * many times as records of the run have it (repetitions matter for
 * strict_deduplication).  The order of records inside a run therefore does
 * not matter; the records only need to be sorted by timestamp.
 *
 * Time: O(n) over the records (O(n * c) for runs of equal timestamps with c
 * distinct conditions), no allocation.  With a times[] output the chain's
 * step times are tracked too (O(level) per extension); the chain reported is
 * the first one that reached the final level, which is also the
 * earliest-starting one among the chains the slots produced for that level.
 *
 * The search is a static inline function so that av_funnel_run can stamp
 * out one copy per mode combination (constant modes, NULL or real times[]),
 * and so that the stand-alone micro-benchmark (test/bench/funnel_bench.c)
 * measures exactly this code.
 *
 * src/funnel.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APIVALUE_FUNNEL_H
#define APIVALUE_FUNNEL_H

#include "event_buffer.h"

/* window_funnel modes, as bits */
#define AV_FUNNEL_STRICT_DEDUPLICATION	0x01
#define AV_FUNNEL_STRICT_ORDER			0x02
#define AV_FUNNEL_STRICT_INCREASE		0x04
#define AV_FUNNEL_ALLOW_REENTRY			0x08
#define AV_FUNNEL_ALL_MODES				0x0F

/*
 * Search state, kept in a struct so that one entry at a time can be fed by
 * the run loop below.  "result" is set (>= 0) once the search has decided.
 */
typedef struct AvFunnelSearch
{
	int64		first[AV_MAX_CONDITIONS];	/* slot k: chain start */
	int64		last[AV_MAX_CONDITIONS];	/* slot k: time of step k+1 */
	int			level;			/* slots 0..level-1 are filled */
	int			nsteps;
	uint64		window;
	uint32		modes;
	bool		started;		/* a condition-1 event has been seen */
	int64	   *times;			/* NULL, or the best chain's step times */
	int64		(*paths)[AV_MAX_CONDITIONS];	/* per slot chain, with times */
} AvFunnelSearch;

/*
 * Feed one ClickHouse entry: condition index idx (0-based), or -1 for a row
 * that matched no condition (strict_order only).  Returns true when the
 * search has decided its answer (s->level is then final).
 */
static inline bool
av_funnel_step(AvFunnelSearch *s, int64 ts, int idx)
{
	uint32		modes = s->modes;

	if (idx < 0)
	{
		/* strict_order: an unrelated event after the start stops the search */
		return s->started;
	}
	if (idx == 0)
	{
		s->first[0] = ts;
		s->last[0] = ts;
		s->started = true;
		if (s->times)
			s->paths[0][0] = ts;
		if (s->level == 0)
		{
			s->level = 1;
			if (s->times)
				s->times[0] = ts;
		}
		return s->level == s->nsteps;
	}
	if ((modes & AV_FUNNEL_STRICT_DEDUPLICATION) && idx < s->level)
		return true;			/* repetition of a reached step */
	if (idx - 1 >= s->level)
	{
		/* previous step never reached */
		if ((modes & AV_FUNNEL_STRICT_ORDER) && s->started &&
			!(modes & AV_FUNNEL_ALLOW_REENTRY))
			return true;
		return false;
	}
	/* unsigned difference: ts >= first, and it cannot overflow */
	if ((uint64) ts - (uint64) s->first[idx - 1] <= s->window &&
		(!(modes & AV_FUNNEL_STRICT_INCREASE) || s->last[idx - 1] < ts))
	{
		s->first[idx] = s->first[idx - 1];
		s->last[idx] = ts;
		if (s->times)
		{
			memcpy(s->paths[idx], s->paths[idx - 1], idx * sizeof(int64));
			s->paths[idx][idx] = ts;
		}
		if (idx == s->level)
		{
			s->level = idx + 1;
			if (s->times)
				memcpy(s->times, s->paths[idx], (idx + 1) * sizeof(int64));
			return s->level == s->nsteps;
		}
	}
	return false;
}

/*
 * The funnel level of n records sorted by timestamp (ClickHouse's
 * windowFunnel result).  Records with bits == 0 are taken as rows that
 * matched no condition; pass them only in strict_order mode.  When times is
 * not NULL it receives the step times of the reported chain (level entries).
 */
static inline int
av_funnel_search(const AvEvent *ev, int64 n, int nsteps, int64 window,
				 uint32 modes, int64 *times)
{
	AvFunnelSearch s;
	int64		pathbuf[AV_MAX_CONDITIONS][AV_MAX_CONDITIONS];
	int64		i = 0;

	s.level = 0;
	s.nsteps = nsteps;
	s.window = (uint64) window;
	s.modes = modes;
	s.started = false;
	s.times = times;
	s.paths = times ? pathbuf : NULL;

	while (i < n)
	{
		int64		ts = ev[i].ts;
		uint32		bits = ev[i].bits;

		if (i + 1 == n || ev[i + 1].ts != ts)
		{
			/* a lone record: its conditions in ascending order */
			i++;
			if (bits == 0)
			{
				if (av_funnel_step(&s, ts, -1))
					return s.level;
				continue;
			}
			do
			{
				if (av_funnel_step(&s, ts, __builtin_ctz(bits)))
					return s.level;
				bits &= bits - 1;
			} while (bits);
		}
		else
		{
			/* a run of equal timestamps: ClickHouse's (ts, condition) order */
			int64		j;
			int64		end = i;
			uint32		all = 0;
			bool		unmatched = false;

			while (end < n && ev[end].ts == ts)
			{
				all |= ev[end].bits;
				unmatched |= (ev[end].bits == 0);
				end++;
			}
			if (unmatched && av_funnel_step(&s, ts, -1))
				return s.level;
			while (all)
			{
				int			idx = __builtin_ctz(all);
				uint32		bit = (uint32) 1 << idx;

				for (j = i; j < end; j++)
					if ((ev[j].bits & bit) && av_funnel_step(&s, ts, idx))
						return s.level;
				all &= all - 1;
			}
			i = end;
		}
	}
	return s.level;
}

/*
 * av_funnel_search with the modes turned into a compile-time constant: one
 * specialized copy of the search per mode combination (and with or without
 * step times), so the per-event mode tests disappear from the hot loop.
 * This is the entry point callers should use.
 */
#define AV_FUNNEL_CASE(m) \
	case (m): \
		return times ? av_funnel_search(ev, n, nsteps, window, (m), times) \
			: av_funnel_search(ev, n, nsteps, window, (m), NULL)

static inline int
av_funnel_run(const AvEvent *ev, int64 n, int nsteps, int64 window,
			  uint32 modes, int64 *times)
{
	switch (modes & AV_FUNNEL_ALL_MODES)
	{
			AV_FUNNEL_CASE(0);
			AV_FUNNEL_CASE(1);
			AV_FUNNEL_CASE(2);
			AV_FUNNEL_CASE(3);
			AV_FUNNEL_CASE(4);
			AV_FUNNEL_CASE(5);
			AV_FUNNEL_CASE(6);
			AV_FUNNEL_CASE(7);
			AV_FUNNEL_CASE(8);
			AV_FUNNEL_CASE(9);
			AV_FUNNEL_CASE(10);
			AV_FUNNEL_CASE(11);
			AV_FUNNEL_CASE(12);
			AV_FUNNEL_CASE(13);
			AV_FUNNEL_CASE(14);
			AV_FUNNEL_CASE(15);
	}
	return 0;					/* not reached */
}

/* Parse a comma-separated modes string into AV_FUNNEL_* bits (errors out). */
extern uint32 av_funnel_parse_modes(const char *modes, int len);

#endif							/* APIVALUE_FUNNEL_H */
