/*-------------------------------------------------------------------------
 *
 * funnel_bench.c
 *	  Micro-benchmark of the window_funnel chain search (src/funnel.h) over
 *	  presorted events, on one core.
 *
 * Builds N events (16-byte AvEvent records, the aggregate's own state
 * format) for groups of about 50 events, sorted by timestamp inside each
 * group, then times av_funnel_search over every group and prints events per
 * second.  Two data sets: "mixed" (4 conditions, random steps, many groups
 * finish early when they reach the last step) and "no early exit" (the last
 * step never happens, so every event of every group is examined).  The
 * figure counts every event handed to the search.
 *
 * Usage: funnel_bench [million events, default 20]
 *
 * test/bench/funnel_bench.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "funnel.h"

/* postgres.h maps printf to pg_printf, which lives in the server */
#undef printf

static uint64 rng = 0x9E3779B97F4A7C15ULL;

/* xorshift64*: fast, deterministic */
static inline uint64
next_rand(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/*
 * Fill ev with groups of 1..99 events; timestamps advance by 0..599 s (ties
 * included) from a per-group start.  Event k in 0..4 sets condition bit k
 * (k == 4: no condition; dropped as the aggregate does outside strict_order).
 * With no_last, condition 4 never occurs.
 */
static int64
fill(AvEvent *ev, int64 n, int64 *starts, int64 *ngroups, bool no_last)
{
	int64		i = 0;
	int64		g = 0;

	while (i < n)
	{
		int64		len = 1 + (int64) (next_rand() % 99);
		int64		ts = (int64) (next_rand() % 1000000000) * 1000000;
		int64		j;

		starts[g++] = i;
		for (j = 0; j < len && i < n; j++)
		{
			int			k = (int) (next_rand() % (no_last ? 4 : 5));

			if (no_last && k == 3)
				k = 4;
			ts += (int64) (next_rand() % 600) * 1000000;
			if (k == 4)
				continue;
			ev[i].ts = ts;
			ev[i].bits = (uint32) 1 << k;
			ev[i].aux = 0;
			i++;
		}
	}
	starts[g] = i;
	*ngroups = g;
	return i;
}

static void
run(const char *name, const AvEvent *ev, int64 n, const int64 *starts,
	int64 ngroups, uint32 modes, bool times)
{
	int			rep;
	double		best = 1e30;
	int64		levels = 0;
	int64		out[AV_MAX_CONDITIONS];

	for (rep = 0; rep < 3; rep++)
	{
		double		t0 = now_sec();
		int64		g;

		levels = 0;
		for (g = 0; g < ngroups; g++)
		{
			const AvEvent *e = ev + starts[g];
			int64		len = starts[g + 1] - starts[g];

			levels += av_funnel_run(e, len, 4, (int64) 3600 * 1000000,
									modes, times ? out : NULL);
		}
		best = Min(best, now_sec() - t0);
	}
	printf("%-40s %8.1f M events/s  (%lld events, %lld groups, %.3f s, sum of levels %lld)\n",
		   name, n / best / 1e6, (long long) n, (long long) ngroups, best,
		   (long long) levels);
}

int
main(int argc, char **argv)
{
	int64		n = (argc > 1 ? atoll(argv[1]) : 20) * 1000000;
	AvEvent    *ev = malloc(n * sizeof(AvEvent));
	int64	   *starts = malloc((n + 1) * sizeof(int64));
	int64		ngroups;
	int64		m;

	if (ev == NULL || starts == NULL)
		return 1;

	m = fill(ev, n, starts, &ngroups, false);
	run("mixed, default mode", ev, m, starts, ngroups, 0, false);
	run("mixed, strict_order+strict_deduplication", ev, m, starts, ngroups,
		AV_FUNNEL_STRICT_ORDER | AV_FUNNEL_STRICT_DEDUPLICATION, false);
	run("mixed, strict_increase", ev, m, starts, ngroups,
		AV_FUNNEL_STRICT_INCREASE, false);
	run("mixed, with step times", ev, m, starts, ngroups, 0, true);

	m = fill(ev, n, starts, &ngroups, true);
	run("no early exit, default mode", ev, m, starts, ngroups, 0, false);
	run("no early exit, strict_increase", ev, m, starts, ngroups,
		AV_FUNNEL_STRICT_INCREASE, false);
	run("no early exit, with step times", ev, m, starts, ngroups, 0, true);

	free(ev);
	free(starts);
	return 0;
}
