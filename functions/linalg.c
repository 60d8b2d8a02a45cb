/* rulinalg-compatible linear algebra; see linalg.h. */
#include "linalg.h"

double steep_fn_dot(const double *u, const double *v, size_t n)
{
    double p[8] = {0};
    size_t i = 0;
    for (; n - i >= 8; i += 8)
        for (int k = 0; k < 8; k++)
            p[k] = p[k] + u[i + k] * v[i + k];
    double s = 0.0;
    /* (s + p0) + p4, not s + (p0 + p4): rulinalg writes `s = s + p0 + p4`. */
    s = s + p[0] + p[4];
    s = s + p[1] + p[5];
    s = s + p[2] + p[6];
    s = s + p[3] + p[7];
    for (; i < n; i++)
        s = s + u[i] * v[i];
    return s;
}
