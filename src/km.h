/*-------------------------------------------------------------------------
 *
 * km.h
 *	  Kaplan-Meier survival curves with Greenwood log(-log) intervals,
 *	  shared by ttfv_survival, ttfv_report's km_median and
 *	  adoption_velocity.
 *
 * The input is a histogram of whole time units: for t = 0..horizon, how
 * many subjects had their event (reached[t]) and how many were censored
 * (censored[t]) at t, plus how many are still at risk after the horizon
 * (beyond).  A subject censored at t is at risk at t.
 *
 * src/km.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APIVALUE_KM_H
#define APIVALUE_KM_H

/* One row of a curve. */
typedef struct AvKmPoint
{
	int64		at_risk;
	int64		reached;
	int64		censored;
	double		survival;
	double		ci_low;
	double		ci_high;
} AvKmPoint;

/*
 * Fill out[0..horizon] from the histogram.  reached/censored have
 * horizon + 1 entries.  z is the normal quantile of the interval (1.96 for
 * 95 %).
 */
extern void av_km_curve(const int64 *reached, const int64 *censored,
						int64 beyond, int horizon, double z, AvKmPoint *out);

/* First t with survival <= 0.5, or -1 when the curve stays above it. */
extern int	av_km_median(const int64 *reached, const int64 *censored,
						 int64 beyond, int horizon);

#endif							/* APIVALUE_KM_H */
