/*
 * Logging for every Steep process.
 *
 * One line per event on stderr: time, level, process name, message.
 * The level comes from STEEP_LOG (error, warn, info, debug; default info).
 * Never log secrets, passwords, tokens or payloads.
 */
#ifndef STEEP_CORE_LOG_H
#define STEEP_CORE_LOG_H

enum steep_log_level { STEEP_LOG_ERROR, STEEP_LOG_WARN, STEEP_LOG_INFO, STEEP_LOG_DEBUG };

/* Sets the process name shown in every line and reads STEEP_LOG. */
void steep_log_init(const char *process_name);
void steep_log_set_level(enum steep_log_level level);
int steep_log_enabled(enum steep_log_level level);
void steep_log(enum steep_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) steep_log(STEEP_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  steep_log(STEEP_LOG_WARN, __VA_ARGS__)
#define log_info(...)  steep_log(STEEP_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (steep_log_enabled(STEEP_LOG_DEBUG))                                                    \
            steep_log(STEEP_LOG_DEBUG, __VA_ARGS__);                                               \
    } while (0)

#endif
