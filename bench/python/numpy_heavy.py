# A numpy-heavy function: sorting, FFT, element-wise transcendental
# functions, reductions and a matrix product. Returns its own run time in
# seconds, measured around the work, so the sandbox and plain
# /usr/bin/python3 are timed the same way.
import time

import numpy


def work():
    rng = numpy.random.default_rng(7)
    a = rng.random(2_000_000)
    total = 0.0
    for _ in range(3):
        s = numpy.sort(a)
        f = numpy.fft.rfft(a)
        e = numpy.log1p(numpy.exp(a) * 0.5)
        m = rng.random((300, 300))
        total += float(s[1000] + abs(f[3]) + e.sum() + (m @ m).trace())
    return total


def entrypoint(argv):
    start = time.perf_counter()
    work()
    return "%.6f" % (time.perf_counter() - start)


if __name__ == "__main__":
    print(entrypoint([]))
