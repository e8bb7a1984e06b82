# Reference values of RiskControl.studentizedPValue for RiskControlTests, computed independently
# by brute force with SciPy (run offline; the printed Swift literals are pasted into the test).
#   python3 make_studentized_reference.py
# The same definition, another computation: the statistic's monotone closure by 2-D running
# maxima over a grid (Swift scans a boundary), every cell's probability as a full sum of
# trinomial probabilities (Swift: binomial weights times conditional tails by recurrence), the
# Clopper-Pearson bound from SciPy's beta quantile (Swift: bisection on the binomial CDF).
import numpy as np
from scipy.stats import beta, multinomial


def studentized_p(W, B, n, alpha, gamma, cells=100):
    upper = min(beta.ppf(1 - gamma, B + 1, n - B), (1 - alpha) / 2)
    M = min(n, int(n * (alpha + upper) + 16 * np.sqrt(n * (alpha + upper) + 1) + 40))
    w = np.arange(M + 1)[:, None]
    b = np.arange(M + 1)[None, :]
    z = (alpha * n - (w - b)) / np.sqrt(w + b + 1.0)
    t = np.maximum.accumulate(z[::-1, :], axis=0)[::-1, :]  # max over w' >= w
    t = np.maximum.accumulate(t, axis=1)                     # max over b' <= b
    observed = t[W, B]
    if observed <= 0:
        return 1.0
    region = (t >= observed) & (w + b <= n)
    ws, bs = np.nonzero(region)
    largest = 0.0
    for cell in range(cells):
        pw = alpha + upper * cell / cells
        pb = upper * (cell + 1) / cells
        counts = np.stack([ws, bs, n - ws - bs], axis=1)
        probability = multinomial.pmf(counts, n, [pw, pb, 1 - pw - pb]).sum()
        largest = max(largest, probability)
    return min(1.0, gamma + largest)


print("// studentizedPValue: (worse, better, n, alpha, gamma, p)")
for W, B, n, a, g in [(5, 2, 2500, 0.003, 0.001), (3, 0, 2500, 0.003, 0.001), (0, 0, 2500, 0.003, 0.001),
                      (10, 5, 5000, 0.003, 0.001), (15, 8, 5000, 0.003, 0.001), (20, 15, 5000, 0.003, 0.001),
                      (60, 75, 3500, 0.003, 0.001), (6, 1, 2500, 0.003, 0.01), (2, 9, 1000, 0.005, 0.001),
                      (12, 3, 2500, 0.003, 0.001)]:
    print(f"({W}, {B}, {n}, {a}, {g}, {float(studentized_p(W, B, n, a, g))!r}),")
