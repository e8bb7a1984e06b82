# Reference values for RiskControlTests, computed independently with SciPy (run offline; the
# printed Swift literals are pasted into Tests/EarlyExitToolsTests/RiskControlTests.swift).
#   python3 make_risk_reference.py
from scipy.stats import binom, beta

print("// binomialCDF: (k, n, p, P(X <= k))")
for k, n, p in [(0, 10, 0.3), (3, 10, 0.3), (9, 10, 0.3), (5, 3500, 0.003), (10, 3500, 0.003),
                (93, 185, 0.5347), (40, 100, 0.5), (120, 250, 0.55), (1, 4, 0.93)]:
    print(f"({k}, {n}, {p}, {float(binom.cdf(k, n, p))!r}),")

print("// upperBound: (k, n, gamma, Clopper-Pearson upper bound)")
for k, n, g in [(0, 3500, 0.01), (4, 3500, 0.01), (185, 5000, 0.01), (60, 2500, 0.05), (10, 20, 0.1)]:
    print(f"({k}, {n}, {g}, {float(beta.ppf(1 - g, k + 1, n - k))!r}),")

print("// pValue: (worse, better, n, alpha, gamma, p)")
for w, b, n, a, g in [(93, 92, 5000, 0.003, 0.01), (60, 75, 3500, 0.003, 0.01), (11, 6, 3500, 0.003, 0.01),
                      (30, 45, 2500, 0.005, 0.02), (0, 0, 3500, 0.003, 0.01)]:
    d = w + b
    u = beta.ppf(1 - g, d + 1, n - d)
    if u <= a:
        p = g
    else:
        q0 = 0.5 + a / (2 * u)
        p = g if q0 >= 1 else min(1.0, g + binom.cdf(w, d, q0))
    print(f"({w}, {b}, {n}, {a}, {g}, {float(p)!r}),")

print("// worseOnlyPValue: (worse, n, alpha, p)")
for w, n, a in [(1, 3500, 0.003), (4, 3500, 0.003), (20, 5000, 0.003)]:
    print(f"({w}, {n}, {a}, {float(binom.cdf(w, n, a))!r}),")
