/*-------------------------------------------------------------------------
 *
 * stats.c
 *	  Statistics shared by value drivers and experiment reports, and their
 *	  SQL-callable wrappers.
 *
 * The numerical core (first half of the file) is plain C on doubles and
 * 64-bit counts:
 *
 *	 - normal tails from libm's erfc, which keeps full relative precision far
 *	   into the tail (1 - erf(x) would not); the quantile is Acklam's rational
 *	   approximation polished with two Halley steps against erfc;
 *	 - the chi-square upper tail as the regularized incomplete gamma
 *	   Q(df/2, x/2): the power series for P when x < a + 1, otherwise the
 *	   continued fraction for Q evaluated with the modified Lentz method (as in
 *	   Numerical Recipes' gser/gcf and Cephes' igam/igamc);
 *	 - Fisher's exact test by walking the hypergeometric distribution outward
 *	   from its mode with the ratio of successive probabilities, so no
 *	   factorial is ever formed and the walk stops where terms underflow;
 *	 - Wilson and Newcombe score intervals, the pooled two-proportion z-test,
 *	   phi, and Benjamini-Hochberg q-values.
 *
 * The SQL wrappers (second half) validate arguments with proper SQLSTATEs
 * and map undefined results to NULL, so NaN never reaches a query.
 *
 * src/stats.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "stats.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#define AV_SQRT2		1.41421356237309504880
#define AV_SQRT2PI		2.50662827463100050242

/* Largest count accepted by the SQL wrappers: sums stay exact in a double. */
#define AV_MAX_COUNT	((int64) 1 << 50)

/* ------------------------------------------------------------------------
 * Normal distribution
 * ------------------------------------------------------------------------
 */

double
av_normal_cdf(double z)
{
	return 0.5 * erfc(-z / AV_SQRT2);
}

double
av_normal_sf(double z)
{
	return 0.5 * erfc(z / AV_SQRT2);
}

/*
 * Inverse of the standard normal CDF.  Acklam's rational approximation has a
 * relative error below 1.15e-9; two Halley steps on f(x) = cdf(x) - p, with
 * the residual taken from the tail that keeps precision, bring it to the
 * precision of erfc itself.
 */
double
av_normal_quantile(double p)
{
	static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
		-2.759285104469687e+02, 1.383577518672690e+02,
	-3.066479806614716e+01, 2.506628277459239e+00};
	static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
		-1.556989798598866e+02, 6.680131188771972e+01,
	-1.328068155288572e+01};
	static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
		-2.400758277161838e+00, -2.549732539343734e+00,
	4.374664141464968e+00, 2.938163982698783e+00};
	static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
	2.445134137142996e+00, 3.754408661907416e+00};
	const double plow = 0.02425;
	double		x,
				q,
				r;
	int			i;

	if (p <= 0.0)
		return -INFINITY;
	if (p >= 1.0)
		return INFINITY;

	if (p < plow)
	{
		q = sqrt(-2.0 * log(p));
		x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
			((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
	}
	else if (p <= 1.0 - plow)
	{
		q = p - 0.5;
		r = q * q;
		x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
			(((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
	}
	else
	{
		q = sqrt(-2.0 * log1p(-p));
		x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
			((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
	}

	for (i = 0; i < 2; i++)
	{
		double		e,
					u;

		/* residual cdf(x) - p, computed in the upper tail when p > 1/2 */
		if (p > 0.5)
			e = (1.0 - p) - av_normal_sf(x);
		else
			e = av_normal_cdf(x) - p;
		u = e * AV_SQRT2PI * exp(x * x / 2.0);
		x = x - u / (1.0 + x * u / 2.0);
	}
	return x;
}

double
av_confidence_z(double confidence)
{
	/* upper (1 - confidence)/2 point, from the upper tail for precision */
	return -av_normal_quantile((1.0 - confidence) / 2.0);
}

/* ------------------------------------------------------------------------
 * Regularized incomplete gamma and chi-square
 * ------------------------------------------------------------------------
 */

#define GAMMA_EPS		1e-16
#define GAMMA_FPMIN		1e-300
#define GAMMA_MAXITER	10000000

/* log of x^a e^-x / Gamma(a), the common prefactor of both expansions */
static double
gamma_log_prefactor(double a, double x)
{
	return a * log(x) - x - lgamma(a);
}

/* P(a, x) by its power series; converges quickly for x < a + 1 */
static double
gamma_p_series(double a, double x)
{
	double		ap = a;
	double		del = 1.0 / a;
	double		sum = del;
	int			n;

	for (n = 0; n < GAMMA_MAXITER; n++)
	{
		ap += 1.0;
		del *= x / ap;
		sum += del;
		if (fabs(del) < fabs(sum) * GAMMA_EPS)
			return sum * exp(gamma_log_prefactor(a, x));
		if ((n & 0xffff) == 0xffff)
			CHECK_FOR_INTERRUPTS();
	}
	return -1.0;
}

/* Q(a, x) by its continued fraction (modified Lentz); for x >= a + 1 */
static double
gamma_q_fraction(double a, double x)
{
	double		bb = x + 1.0 - a;
	double		cc = 1.0 / GAMMA_FPMIN;
	double		dd = 1.0 / bb;
	double		h = dd;
	int			i;

	for (i = 1; i < GAMMA_MAXITER; i++)
	{
		double		an = -i * (i - a);
		double		del;

		bb += 2.0;
		dd = an * dd + bb;
		if (fabs(dd) < GAMMA_FPMIN)
			dd = GAMMA_FPMIN;
		cc = bb + an / cc;
		if (fabs(cc) < GAMMA_FPMIN)
			cc = GAMMA_FPMIN;
		dd = 1.0 / dd;
		del = dd * cc;
		h *= del;
		if (fabs(del - 1.0) < GAMMA_EPS)
			return exp(gamma_log_prefactor(a, x)) * h;
		if ((i & 0xffff) == 0xffff)
			CHECK_FOR_INTERRUPTS();
	}
	return -1.0;
}

double
av_gamma_q(double a, double x)
{
	double		p;

	if (x <= 0.0)
		return 1.0;
	if (isinf(x))
		return 0.0;
	if (x < a + 1.0)
	{
		p = gamma_p_series(a, x);
		if (p < 0.0)
			return -1.0;
		p = 1.0 - p;
		return p < 0.0 ? 0.0 : p;
	}
	p = gamma_q_fraction(a, x);
	if (p < 0.0)
		return -1.0;
	return p > 1.0 ? 1.0 : p;
}

double
av_chisq_sf(double x, double df)
{
	return av_gamma_q(df / 2.0, x / 2.0);
}

/* ------------------------------------------------------------------------
 * Fisher's exact test
 * ------------------------------------------------------------------------
 */

/*
 * With row sums r1 = a + b, r2 = c + d and first column sum c1 = a + c, the
 * top-left cell X is hypergeometric on [max(0, c1 - r2), min(r1, c1)] with
 *		P(x + 1) / P(x) = (r1 - x)(c1 - x) / ((x + 1)(r2 - c1 + x + 1)).
 * We give the mode weight 1 and walk down and up from it; the distribution
 * is unimodal, so weights only shrink, and a walk stops once they fall below
 * 1e-300 (they no longer change either sum).  The p-value is the weight of
 * the tables no more likely than the observed one over the total weight.
 */
double
av_fisher_exact_p(int64 a, int64 b, int64 c, int64 d)
{
	double		r1 = (double) a + b;
	double		r2 = (double) c + d;
	double		c1 = (double) a + c;
	double		n = r1 + r2;
	double		lo = Max(0.0, c1 - r2);
	double		hi = Min(r1, c1);
	double		obs = (double) a;
	double		mode;
	double		w,
				wobs = 0.0,
				total = 0.0,
				tail = 0.0,
				limit;
	double		x;
	bool		have_obs = false;
	const double tiny = 1e-300;
	int64		steps = 0;

	if (hi <= lo)
		return 1.0;				/* a zero margin: only one table is possible */

	mode = floor((r1 + 1.0) * (c1 + 1.0) / (n + 2.0));
	if (mode < lo)
		mode = lo;
	if (mode > hi)
		mode = hi;

	/*
	 * First pass: find the observed weight (walking toward it from the mode).
	 * If it underflows on the way, the p-value is below 1e-300: report 0.
	 */
	w = 1.0;
	if (obs == mode)
	{
		wobs = 1.0;
		have_obs = true;
	}
	else if (obs < mode)
	{
		for (x = mode; x > obs && w >= tiny; x -= 1.0)
		{
			w *= x * (r2 - c1 + x) / ((r1 - x + 1.0) * (c1 - x + 1.0));
			if ((++steps & 0xffff) == 0)
				CHECK_FOR_INTERRUPTS();
		}
		if (x == obs && w >= tiny)
		{
			wobs = w;
			have_obs = true;
		}
	}
	else
	{
		for (x = mode; x < obs && w >= tiny; x += 1.0)
		{
			w *= (r1 - x) * (c1 - x) / ((x + 1.0) * (r2 - c1 + x + 1.0));
			if ((++steps & 0xffff) == 0)
				CHECK_FOR_INTERRUPTS();
		}
		if (x == obs && w >= tiny)
		{
			wobs = w;
			have_obs = true;
		}
	}
	if (!have_obs)
		return 0.0;
	limit = wobs * (1.0 + 1e-7);

	/* Second pass: all weights, summing those no larger than the observed. */
	w = 1.0;
	for (x = mode; x >= lo && w >= tiny; x -= 1.0)
	{
		total += w;
		if (w <= limit)
			tail += w;
		if (x > lo)
			w *= x * (r2 - c1 + x) / ((r1 - x + 1.0) * (c1 - x + 1.0));
		if ((++steps & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	w = 1.0;
	for (x = mode; x < hi; x += 1.0)
	{
		w *= (r1 - x) * (c1 - x) / ((x + 1.0) * (r2 - c1 + x + 1.0));
		if (w < tiny)
			break;
		total += w;
		if (w <= limit)
			tail += w;
		if ((++steps & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	w = tail / total;
	return w > 1.0 ? 1.0 : w;
}

/* ------------------------------------------------------------------------
 * Intervals, z-test, phi, q-values
 * ------------------------------------------------------------------------
 */

/*
 * Wilson score interval:
 *		(p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n).
 * The bounds at x = 0 and x = n are exactly 0 and 1.
 */
bool
av_wilson_interval(int64 x, int64 n, double z, double *low, double *high)
{
	double		nn = (double) n;
	double		p,
				z2,
				denom,
				center,
				half;

	if (n <= 0)
		return false;
	p = (double) x / nn;
	z2 = z * z;
	denom = 1.0 + z2 / nn;
	center = (p + z2 / (2.0 * nn)) / denom;
	half = z * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn)) / denom;
	*low = (x == 0) ? 0.0 : Max(0.0, center - half);
	*high = (x == n) ? 1.0 : Min(1.0, center + half);
	return true;
}

/*
 * Newcombe (1998), method 10: with Wilson intervals (l1, u1) and (l2, u2)
 * for the two rates,
 *		low  = (p1 - p2) - sqrt((p1 - l1)^2 + (u2 - p2)^2)
 *		high = (p1 - p2) + sqrt((u1 - p1)^2 + (p2 - l2)^2)
 * It stays inside [-1, 1] and behaves well at zero cells, where the Wald
 * interval collapses to a point.
 */
bool
av_newcombe_interval(int64 x1, int64 n1, int64 x2, int64 n2, double z,
					 double *low, double *high)
{
	double		l1,
				u1,
				l2,
				u2,
				p1,
				p2,
				diff;

	if (!av_wilson_interval(x1, n1, z, &l1, &u1) ||
		!av_wilson_interval(x2, n2, z, &l2, &u2))
		return false;
	p1 = (double) x1 / (double) n1;
	p2 = (double) x2 / (double) n2;
	diff = p1 - p2;
	*low = diff - sqrt((p1 - l1) * (p1 - l1) + (u2 - p2) * (u2 - p2));
	*high = diff + sqrt((u1 - p1) * (u1 - p1) + (p2 - l2) * (p2 - l2));
	if (*low < -1.0)
		*low = -1.0;
	if (*high > 1.0)
		*high = 1.0;
	return true;
}

/*
 * z = (p1 - p2) / sqrt(p (1 - p) (1/n1 + 1/n2)) with the pooled rate p; the
 * two-sided p-value is erfc(|z| / sqrt 2).  Counts are converted to double
 * before any product, so large tables do not overflow.
 */
bool
av_two_proportion_z(int64 x1, int64 n1, int64 x2, int64 n2,
					double *z, bool *z_defined, double *p)
{
	double		p1,
				p2,
				pooled,
				se;

	if (n1 <= 0 || n2 <= 0)
		return false;
	p1 = (double) x1 / (double) n1;
	p2 = (double) x2 / (double) n2;
	if (x1 + x2 == 0 || x1 + x2 == n1 + n2)
	{
		*z = 0.0;
		*z_defined = false;
		*p = 1.0;
		return true;
	}
	pooled = ((double) x1 + (double) x2) / ((double) n1 + (double) n2);
	se = sqrt(pooled * (1.0 - pooled) * (1.0 / (double) n1 + 1.0 / (double) n2));
	*z = (p1 - p2) / se;
	*z_defined = true;
	*p = erfc(fabs(*z) / AV_SQRT2);
	return true;
}

bool
av_phi(int64 a, int64 b, int64 c, int64 d, double *phi)
{
	double		da = (double) a,
				db = (double) b,
				dc = (double) c,
				dd = (double) d;
	double		r1 = da + db,
				r2 = dc + dd,
				c1 = da + dc,
				c2 = db + dd;
	double		v;

	if (r1 == 0.0 || r2 == 0.0 || c1 == 0.0 || c2 == 0.0)
		return false;
	/* sqrt of each pair keeps the product of four margins from overflowing */
	v = (da * dd - db * dc) / (sqrt(r1 * r2) * sqrt(c1 * c2));
	if (v > 1.0)
		v = 1.0;
	if (v < -1.0)
		v = -1.0;
	*phi = v;
	return true;
}

typedef struct BhItem
{
	double		p;
	int			index;
} BhItem;

static int
bh_item_cmp(const void *a, const void *b)
{
	const BhItem *x = (const BhItem *) a;
	const BhItem *y = (const BhItem *) b;

	if (x->p != y->p)
		return x->p < y->p ? -1 : 1;
	return x->index - y->index;
}

/*
 * q_(i) = min over j >= i of m p_(j) / j, capped at 1, for the p-values
 * sorted ascending (i, j are ranks 1..m).  Tied p-values get the same q.
 */
void
av_bh_qvalues(const double *p, const bool *skip, int n, double *q)
{
	BhItem	   *items;
	int			m = 0;
	int			i;
	double		running = 1.0;

	items = palloc(sizeof(BhItem) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		if (skip && skip[i])
			continue;
		items[m].p = p[i];
		items[m].index = i;
		m++;
	}
	qsort(items, m, sizeof(BhItem), bh_item_cmp);
	for (i = m - 1; i >= 0; i--)
	{
		double		v = items[i].p * (double) m / (double) (i + 1);

		if (v < running)
			running = v;
		q[items[i].index] = running;
	}
	pfree(items);
}

/* ------------------------------------------------------------------------
 * SQL wrappers
 * ------------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(apivalue_normal_cdf);
PG_FUNCTION_INFO_V1(apivalue_normal_quantile);
PG_FUNCTION_INFO_V1(apivalue_chisq_p);
PG_FUNCTION_INFO_V1(apivalue_chisq_gof_p);
PG_FUNCTION_INFO_V1(apivalue_fisher_exact_p);
PG_FUNCTION_INFO_V1(apivalue_phi_coefficient);
PG_FUNCTION_INFO_V1(apivalue_wilson_interval);
PG_FUNCTION_INFO_V1(apivalue_newcombe_interval);
PG_FUNCTION_INFO_V1(apivalue_two_proportion_test);
PG_FUNCTION_INFO_V1(apivalue_bh_qvalues);

static void
check_not_nan(double v, const char *what)
{
	if (isnan(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be NaN", what)));
}

/* a count argument: 0 <= v <= 2^50 */
static int64
count_arg(int64 v, const char *what)
{
	if (v < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative: %lld", what, (long long) v)));
	if (v > AV_MAX_COUNT)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s is too large: %lld", what, (long long) v),
				 errhint("Counts up to 2^50 are supported.")));
	return v;
}

/* successes x out of n trials */
static void
proportion_args(int64 x, int64 n, const char *xname, const char *nname)
{
	count_arg(x, xname);
	count_arg(n, nname);
	if (x > n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not exceed %s: %lld > %lld",
						xname, nname, (long long) x, (long long) n)));
}

static double
confidence_arg(double confidence)
{
	if (isnan(confidence) || confidence <= 0.0 || confidence >= 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("confidence must be between 0 and 1 (exclusive): %g", confidence),
				 errhint("Use 0.95 for a 95 %% interval.")));
	return av_confidence_z(confidence);
}

/*
 * apivalue.normal_cdf(z float8) -> float8: P(Z <= z) for a standard normal Z.
 */
Datum
apivalue_normal_cdf(PG_FUNCTION_ARGS)
{
	double		z = PG_GETARG_FLOAT8(0);

	check_not_nan(z, "z");
	PG_RETURN_FLOAT8(av_normal_cdf(z));
}

/*
 * apivalue.normal_quantile(p float8) -> float8: the z with P(Z <= z) = p;
 * -Infinity at 0 and Infinity at 1.
 */
Datum
apivalue_normal_quantile(PG_FUNCTION_ARGS)
{
	double		p = PG_GETARG_FLOAT8(0);

	if (isnan(p) || p < 0.0 || p > 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("probability must be between 0 and 1: %g", p)));
	PG_RETURN_FLOAT8(av_normal_quantile(p));
}

static double
chisq_tail_or_error(double x, double df)
{
	double		q = av_chisq_sf(x, df);

	if (q < 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("chi-square tail did not converge for x = %g, df = %g", x, df)));
	return q;
}

/*
 * apivalue.chisq_p(x float8, df float8) -> float8: P(X > x) for X
 * chi-square with df degrees of freedom (df may be fractional).
 */
Datum
apivalue_chisq_p(PG_FUNCTION_ARGS)
{
	double		x = PG_GETARG_FLOAT8(0);
	double		df = PG_GETARG_FLOAT8(1);

	check_not_nan(x, "chi-square statistic");
	if (x < 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("chi-square statistic must not be negative: %g", x)));
	if (isnan(df) || df <= 0.0 || isinf(df))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("degrees of freedom must be positive and finite: %g", df)));
	PG_RETURN_FLOAT8(chisq_tail_or_error(x, df));
}

/*
 * Read a one-dimensional array without NULLs into a palloc'd C array of
 * int64 (observed counts) or float8 (shares).
 */
static int
array_arg(ArrayType *arr, Oid elemtype, const char *what, Datum **values)
{
	bool	   *nulls;
	int			n;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			i;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what)));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(arr, elemtype, typlen, typbyval, typalign,
					  values, &nulls, &n);
	for (i = 0; i < n; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL (element %d)", what, i + 1)));
	return n;
}

/*
 * apivalue.chisq_gof_p(observed bigint[], expected_share float8[] DEFAULT NULL)
 *		-> float8
 *
 * Pearson's chi-square goodness-of-fit test of observed counts against
 * expected shares (normalized to sum 1; NULL means equal shares), with
 * k - 1 degrees of freedom over the k categories whose share is positive.
 * A category with share 0 and a positive count makes the observation
 * impossible under the hypothesis: p = 0.  Otherwise, nothing to test (no
 * observations, or fewer than two categories with a positive share): NULL.
 */
Datum
apivalue_chisq_gof_p(PG_FUNCTION_ARGS)
{
	ArrayType  *obs_arr;
	Datum	   *obs;
	Datum	   *shares = NULL;
	int			k,
				i,
				kpos = 0;
	double		share_sum = 0.0,
				total = 0.0,
				stat = 0.0;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	obs_arr = PG_GETARG_ARRAYTYPE_P(0);
	k = array_arg(obs_arr, INT8OID, "observed", &obs);

	if (!PG_ARGISNULL(1))
	{
		int			ks = array_arg(PG_GETARG_ARRAYTYPE_P(1), FLOAT8OID,
								   "expected_share", &shares);

		if (ks != k)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("expected_share has %d elements but observed has %d", ks, k),
					 errhint("Give one expected share per observed count, in the same order.")));
	}

	for (i = 0; i < k; i++)
	{
		int64		o = DatumGetInt64(obs[i]);
		double		s = shares ? DatumGetFloat8(shares[i]) : 1.0;

		count_arg(o, "observed count");
		if (isnan(s) || s < 0.0 || isinf(s))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("expected share must be a finite non-negative number: %g", s)));
		total += (double) o;
		share_sum += s;
		if (s > 0.0)
			kpos++;
	}
	/* an observation in a category the hypothesis rules out refutes it */
	for (i = 0; i < k; i++)
		if (shares && DatumGetFloat8(shares[i]) == 0.0 && DatumGetInt64(obs[i]) > 0)
			PG_RETURN_FLOAT8(0.0);
	if (total == 0.0 || kpos < 2)
		PG_RETURN_NULL();

	for (i = 0; i < k; i++)
	{
		double		o = (double) DatumGetInt64(obs[i]);
		double		s = shares ? DatumGetFloat8(shares[i]) : 1.0;
		double		e;

		if (s == 0.0)
			continue;
		e = total * (s / share_sum);
		stat += (o - e) * (o - e) / e;
	}
	PG_RETURN_FLOAT8(chisq_tail_or_error(stat, (double) (kpos - 1)));
}

/*
 * apivalue.fisher_exact_p(a bigint, b bigint, c bigint, d bigint) -> float8
 */
Datum
apivalue_fisher_exact_p(PG_FUNCTION_ARGS)
{
	int64		a = count_arg(PG_GETARG_INT64(0), "a");
	int64		b = count_arg(PG_GETARG_INT64(1), "b");
	int64		c = count_arg(PG_GETARG_INT64(2), "c");
	int64		d = count_arg(PG_GETARG_INT64(3), "d");

	PG_RETURN_FLOAT8(av_fisher_exact_p(a, b, c, d));
}

/*
 * apivalue.phi_coefficient(a bigint, b bigint, c bigint, d bigint) -> float8;
 * NULL when a row or column of the table sums to zero.
 */
Datum
apivalue_phi_coefficient(PG_FUNCTION_ARGS)
{
	int64		a = count_arg(PG_GETARG_INT64(0), "a");
	int64		b = count_arg(PG_GETARG_INT64(1), "b");
	int64		c = count_arg(PG_GETARG_INT64(2), "c");
	int64		d = count_arg(PG_GETARG_INT64(3), "d");
	double		phi;

	if (!av_phi(a, b, c, d, &phi))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(phi);
}

/* Build a row of float8 columns, NULL where isnull says so. */
static Datum
float8_row(FunctionCallInfo fcinfo, const double *values, const bool *isnull, int n)
{
	TupleDesc	tupdesc;
	Datum	   *datums;
	bool	   *nulls;
	int			i;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("function returning record called in context that cannot accept type record")));
	tupdesc = BlessTupleDesc(tupdesc);
	Assert(tupdesc->natts == n);
	datums = palloc(sizeof(Datum) * n);
	nulls = palloc(sizeof(bool) * n);
	for (i = 0; i < n; i++)
	{
		nulls[i] = isnull[i];
		datums[i] = isnull[i] ? (Datum) 0 : Float8GetDatum(values[i]);
	}
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, datums, nulls));
}

/*
 * apivalue.wilson_interval(x bigint, n bigint, confidence float8 DEFAULT 0.95,
 *		OUT low float8, OUT high float8); both NULL when n = 0.
 */
Datum
apivalue_wilson_interval(PG_FUNCTION_ARGS)
{
	int64		x = PG_GETARG_INT64(0);
	int64		n = PG_GETARG_INT64(1);
	double		z;
	double		v[2];
	bool		isnull[2] = {true, true};

	proportion_args(x, n, "x", "n");
	z = confidence_arg(PG_GETARG_FLOAT8(2));
	if (av_wilson_interval(x, n, z, &v[0], &v[1]))
		isnull[0] = isnull[1] = false;
	PG_RETURN_DATUM(float8_row(fcinfo, v, isnull, 2));
}

/*
 * apivalue.newcombe_interval(x1, n1, x2, n2 bigint, confidence float8
 *		DEFAULT 0.95, OUT low float8, OUT high float8): interval of
 *		x1/n1 - x2/n2; both NULL when n1 or n2 is 0.
 */
Datum
apivalue_newcombe_interval(PG_FUNCTION_ARGS)
{
	int64		x1 = PG_GETARG_INT64(0);
	int64		n1 = PG_GETARG_INT64(1);
	int64		x2 = PG_GETARG_INT64(2);
	int64		n2 = PG_GETARG_INT64(3);
	double		z;
	double		v[2];
	bool		isnull[2] = {true, true};

	proportion_args(x1, n1, "x1", "n1");
	proportion_args(x2, n2, "x2", "n2");
	z = confidence_arg(PG_GETARG_FLOAT8(4));
	if (av_newcombe_interval(x1, n1, x2, n2, z, &v[0], &v[1]))
		isnull[0] = isnull[1] = false;
	PG_RETURN_DATUM(float8_row(fcinfo, v, isnull, 2));
}

/*
 * apivalue.two_proportion_test(x1, n1, x2, n2 bigint, confidence float8
 *		DEFAULT 0.95) -> (rate1, rate2, diff, z, p_value, ci_low, ci_high, phi)
 *
 * Group 1 (x1 of n1) against group 2 (x2 of n2): rates, their difference,
 * the pooled z statistic and two-sided p-value, Newcombe's interval of the
 * difference and phi of the 2x2 table (group x outcome), which equals
 * z / sqrt(n1 + n2).  A rate is NULL when its group is empty; everything
 * comparative is NULL when either group is.  When both groups have the same
 * all-or-nothing rate (0 % or 100 %) z and phi are NULL and p_value is 1.
 */
Datum
apivalue_two_proportion_test(PG_FUNCTION_ARGS)
{
	int64		x1 = PG_GETARG_INT64(0);
	int64		n1 = PG_GETARG_INT64(1);
	int64		x2 = PG_GETARG_INT64(2);
	int64		n2 = PG_GETARG_INT64(3);
	double		zc;
	double		v[8];
	bool		isnull[8];
	bool		z_defined;
	int			i;

	proportion_args(x1, n1, "x1", "n1");
	proportion_args(x2, n2, "x2", "n2");
	zc = confidence_arg(PG_GETARG_FLOAT8(4));
	for (i = 0; i < 8; i++)
		isnull[i] = true;

	if (n1 > 0)
	{
		v[0] = (double) x1 / (double) n1;
		isnull[0] = false;
	}
	if (n2 > 0)
	{
		v[1] = (double) x2 / (double) n2;
		isnull[1] = false;
	}
	if (n1 > 0 && n2 > 0)
	{
		v[2] = v[0] - v[1];
		isnull[2] = false;
		(void) av_two_proportion_z(x1, n1, x2, n2, &v[3], &z_defined, &v[4]);
		isnull[3] = !z_defined;
		isnull[4] = false;
		(void) av_newcombe_interval(x1, n1, x2, n2, zc, &v[5], &v[6]);
		isnull[5] = isnull[6] = false;
		isnull[7] = !av_phi(x1, n1 - x1, x2, n2 - x2, &v[7]);
	}
	PG_RETURN_DATUM(float8_row(fcinfo, v, isnull, 8));
}

/*
 * apivalue.bh_qvalues(p float8[]) -> float8[]: Benjamini-Hochberg q-values
 * in the order of the input; NULL elements stay NULL and do not count
 * toward the number of tests.
 */
Datum
apivalue_bh_qvalues(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	Datum	   *values;
	bool	   *nulls;
	double	   *p;
	int			n,
				i;
	int			lbs[1];
	int			dims[1];
	ArrayType  *result;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("p-values must be a one-dimensional array")));
	deconstruct_array(arr, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &values, &nulls, &n);
	if (n == 0)
		PG_RETURN_ARRAYTYPE_P(arr);
	p = palloc(sizeof(double) * n);
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			continue;
		p[i] = DatumGetFloat8(values[i]);
		if (isnan(p[i]) || p[i] < 0.0 || p[i] > 1.0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("p-value must be between 0 and 1: %g (element %d)", p[i], i + 1)));
	}
	av_bh_qvalues(p, nulls, n, p);
	for (i = 0; i < n; i++)
		values[i] = nulls[i] ? (Datum) 0 : Float8GetDatum(p[i]);
	dims[0] = n;
	lbs[0] = ARR_LBOUND(arr)[0];
	result = construct_md_array(values, nulls, 1, dims, lbs, FLOAT8OID,
								sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	PG_RETURN_ARRAYTYPE_P(result);
}
