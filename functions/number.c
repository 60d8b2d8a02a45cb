/* Rust float grammar check, then glibc's correctly rounded strtod/strtof. */
#include "functions/number.h"

#include "core/error.h"
#include "functions/line_reader.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool valid_float(const char *s, size_t len)
{
    size_t i = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    const char *rest = s + i;
    size_t rest_len = len - i;
    if ((rest_len == 3 && (strncasecmp(rest, "inf", 3) == 0 || strncasecmp(rest, "nan", 3) == 0)) ||
        (rest_len == 8 && strncasecmp(rest, "infinity", 8) == 0))
        return true;
    size_t digits = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++, digits++;
    }
    if (digits == 0)
        return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t exp_digits = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++, exp_digits++;
        if (exp_digits == 0)
            return false;
    }
    return i == len;
}

static int copy_checked(const char *s, size_t len, char *buf, size_t cap)
{
    ENSURE(len > 0, "cannot parse float from empty string");
    ENSURE(len < cap && valid_float(s, len), "invalid float literal");
    memcpy(buf, s, len);
    buf[len] = 0;
    return 0;
}

int steep_parse_f64(const char *s, size_t len, double *out)
{
    char buf[512];
    GUARD(copy_checked(s, len, buf, sizeof(buf)));
    *out = strtod(buf, NULL);
    return 0;
}

int steep_parse_f32(const char *s, size_t len, float *out)
{
    char buf[512];
    GUARD(copy_checked(s, len, buf, sizeof(buf)));
    *out = strtof(buf, NULL);
    return 0;
}

int steep_check_finite(double value, size_t column)
{
    ENSURE(isfinite(value), "NaN or infinite value in column %zu", column);
    return 0;
}

/* The two row parsers differ only in the element type. */
#define DEFINE_PARSE_ROW(name, type, parse)                                                        \
    int name(const char *line, size_t len, type *row, size_t expected)                             \
    {                                                                                              \
        steep_trim(&line, &len);                                                                   \
        ENSURE(len > 0, "Empty line");                                                             \
        size_t column = 0;                                                                         \
        for (const char *p = line, *end = line + len;;) {                                          \
            const char *comma = memchr(p, ',', (size_t)(end - p));                                 \
            const char *field_end = comma ? comma : end;                                           \
            type value;                                                                            \
            GUARD(parse(p, (size_t)(field_end - p), &value));                                      \
            GUARD(steep_check_finite((double)value, column + 1));                                  \
            if (column < expected)                                                                 \
                row[column] = value;                                                               \
            column++;                                                                              \
            if (!comma)                                                                            \
                break;                                                                             \
            p = comma + 1;                                                                         \
        }                                                                                          \
        ENSURE(column == expected, "Data format error: column len = %zu, expected = %zu", column,  \
               expected);                                                                          \
        return 0;                                                                                  \
    }

DEFINE_PARSE_ROW(steep_parse_row_f64, double, steep_parse_f64)
DEFINE_PARSE_ROW(steep_parse_row_f32, float, steep_parse_f32)
