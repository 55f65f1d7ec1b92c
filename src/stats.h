/*-------------------------------------------------------------------------
 *
 * stats.h
 *	  Small-sample-safe statistics shared by value drivers and experiments.
 *
 * Pure functions on doubles and counts, no PostgreSQL state: the normal
 * distribution (through libm's erfc), the chi-square upper tail (regularized
 * incomplete gamma), Fisher's exact test for 2x2 tables, Wilson and Newcombe
 * score intervals, the two-proportion z-test, the phi coefficient and
 * Benjamini-Hochberg q-values.  Callers validate their inputs (counts
 * non-negative, successes at most trials); the functions report undefined
 * results by returning false rather than NaN, so no NaN reaches SQL.
 *
 * src/stats.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APIVALUE_STATS_H
#define APIVALUE_STATS_H

/* Standard normal distribution: P(Z <= z), P(Z > z), and the inverse of P(Z <= z). */
extern double av_normal_cdf(double z);
extern double av_normal_sf(double z);
extern double av_normal_quantile(double p);

/* z such that P(|Z| <= z) = confidence, for 0 < confidence < 1. */
extern double av_confidence_z(double confidence);

/*
 * Regularized upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a), for
 * a > 0 and x >= 0, and the chi-square upper tail P(X > x) with df degrees
 * of freedom, which is Q(df/2, x/2).  Return -1 if the iteration did not
 * converge (does not happen for df below about 1e10).
 */
extern double av_gamma_q(double a, double x);
extern double av_chisq_sf(double x, double df);

/*
 * Two-sided p-value of Fisher's exact test for the 2x2 table
 *		| a  b |
 *		| c  d |
 * conditional on its margins: the probability of all tables with those
 * margins no more likely than the observed one (with a relative tolerance of
 * 1e-7, as R's fisher.test).  Tables with a zero margin have p = 1.
 */
extern double av_fisher_exact_p(int64 a, int64 b, int64 c, int64 d);

/* Wilson score interval for x successes in n trials; false when n = 0. */
extern bool av_wilson_interval(int64 x, int64 n, double z,
							   double *low, double *high);

/*
 * Newcombe's hybrid score interval (method 10 of Newcombe 1998) for
 * x1/n1 - x2/n2, built from the two Wilson intervals; false when n1 or n2
 * is 0.
 */
extern bool av_newcombe_interval(int64 x1, int64 n1, int64 x2, int64 n2,
								 double z, double *low, double *high);

/*
 * Two-proportion z-test (pooled variance, no continuity correction) of
 * x1/n1 against x2/n2.  Returns false when n1 or n2 is 0 (nothing to
 * compare).  When the pooled rate is 0 or 1 the groups are identical and the
 * statistic is 0/0: *z_defined is set false and *p is 1.
 */
extern bool av_two_proportion_z(int64 x1, int64 n1, int64 x2, int64 n2,
								double *z, bool *z_defined, double *p);

/*
 * Phi coefficient (ad - bc) / sqrt((a+b)(c+d)(a+c)(b+d)); false when a
 * margin is zero.
 */
extern bool av_phi(int64 a, int64 b, int64 c, int64 d, double *phi);

/*
 * Benjamini-Hochberg q-values of n p-values, in the same order, into q
 * (which may be p itself).  Entries flagged in "skip" (may be NULL) are not
 * counted and left untouched.
 */
extern void av_bh_qvalues(const double *p, const bool *skip, int n, double *q);

#endif							/* APIVALUE_STATS_H */
