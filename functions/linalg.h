/*
 * Linear algebra shared by the ML built-ins, reproducing rulinalg's
 * floating-point evaluation order exactly (outputs must match Teaclave's
 * fixtures byte for byte, so the summation order is part of the contract).
 */
#ifndef STEEP_FUNCTIONS_LINALG_H
#define STEEP_FUNCTIONS_LINALG_H

#include <stddef.h>

/* rulinalg utils::dot: eight partial sums folded into s as ((s + p0) + p4) +
 * ..., then the tail. */
double steep_fn_dot(const double *u, const double *v, size_t n);

#endif
