/* Shortest round-trip formatting; see float_format.h. */
#include "functions/float_format.h"

#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shortest digits (no dot) and decimal exponent: x = d1.d2d3... * 10^exponent; for
 * single precision the digits must read back (strtof) to the same float. */
static void shortest(double x, int single, char *digits, int *exponent)
{
    char buf[64];
    for (int precision = 0; precision < 17; precision++) {
        snprintf(buf, sizeof(buf), "%.*e", precision, x);
        if (single ? (strtof(buf, NULL) == (float)x) : (strtod(buf, NULL) == x))
            break;
    }
    /* buf: d[.ddd]e[+-]XX */
    char *e = strchr(buf, 'e');
    *exponent = atoi(e + 1);
    size_t n = 0;
    for (char *p = buf; p < e; p++)
        if (*p >= '0' && *p <= '9')
            digits[n++] = *p;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = 0;
}

static int format_finite(struct steep_buf *out, double x, double low, int single)
{
    if (signbit(x))
        GUARD(steep_buf_append_u8(out, '-'));
    x = fabs(x);
    if (x == 0.0)
        return steep_buf_printf(out, "0.0");
    char digits[32];
    int exponent;
    shortest(x, single, digits, &exponent);
    int count = (int)strlen(digits);
    if (x < low || x >= 1e16) {
        GUARD(steep_buf_append_u8(out, (uint8_t)digits[0]));
        if (count > 1) {
            GUARD(steep_buf_append_u8(out, '.'));
            GUARD(steep_buf_append(out, digits + 1, (size_t)count - 1));
        }
        return steep_buf_printf(out, "e%d", exponent);
    }
    if (exponent < 0) {
        GUARD(steep_buf_append(out, "0.", 2));
        for (int i = 0; i < -exponent - 1; i++)
            GUARD(steep_buf_append_u8(out, '0'));
        return steep_buf_append(out, digits, (size_t)count);
    }
    int integer_digits = exponent + 1;
    for (int i = 0; i < integer_digits; i++)
        GUARD(steep_buf_append_u8(out, (uint8_t)(i < count ? digits[i] : '0')));
    GUARD(steep_buf_append_u8(out, '.'));
    if (count > integer_digits)
        return steep_buf_append(out, digits + integer_digits, (size_t)(count - integer_digits));
    return steep_buf_append_u8(out, '0');
}

int steep_format_f64_debug(struct steep_buf *out, double x)
{
    if (isnan(x))
        return steep_buf_printf(out, "NaN");
    if (isinf(x))
        return steep_buf_printf(out, x < 0 ? "-inf" : "inf");
    return format_finite(out, x, 1e-4, 0);
}

int steep_format_f64_json(struct steep_buf *out, double x)
{
    if (!isfinite(x))
        return steep_buf_printf(out, "null");
    return format_finite(out, x, 1e-5, 0);
}

int steep_format_f32_json(struct steep_buf *out, float x)
{
    if (!isfinite(x))
        return steep_buf_printf(out, "null");
    return format_finite(out, (double)x, 1e-5, 1);
}
