"""Generated test data with known truth: scenes (MNIST test digits written on many kinds of paper)
and hand-held camera videos of such pages. Used by tests, benchmarks, samples/ and the web tests.
"""
