"""Statistics helpers for the sampler tests."""

import numpy as np
from scipy import stats


def float32_ks_pvalue(samples, alpha: float) -> float:
    """Kolmogorov-Smirnov p-value of float32 `samples` against Beta(alpha, alpha).

    float32 cannot represent values within ~3e-8 of 1: a correct sampler returns
    exactly 1.0 for all of them (1.9 % of the mass for alpha = 0.2), a tie that
    the continuous KS test would count as a misfit. So the theoretical CDF is
    taken for the *rounded* variable: at each distinct sample value v, the CDF
    just below v is F(midpoint(previous float32, v)) and at v it is
    F(midpoint(v, next float32)). The statistic is the largest gap between the
    empirical and that CDF on both sides of every distinct value; the p-value
    uses the exact one-sample KS distribution (conservative for discrete data).
    """
    values = np.sort(np.asarray(samples, dtype=np.float32))
    n = values.size
    unique, counts = np.unique(values, return_counts=True)
    empirical_at = np.cumsum(counts) / n
    empirical_below = empirical_at - counts / n
    up = np.nextafter(unique, np.float32(2), dtype=np.float32).astype(np.float64)
    down = np.nextafter(unique, np.float32(-1), dtype=np.float32).astype(np.float64)
    unique64 = unique.astype(np.float64)
    cdf = stats.beta(alpha, alpha).cdf
    cdf_at = np.where(unique64 >= 1.0, 1.0, cdf((unique64 + up) / 2))
    cdf_below = np.where(unique64 <= 0.0, 0.0, cdf((unique64 + down) / 2))
    statistic = max(
        np.max(np.abs(empirical_at - cdf_at)), np.max(np.abs(empirical_below - cdf_below))
    )
    return float(stats.kstwo.sf(statistic, n))
