/*
 * Logging for every Steep process.
 *
 * One line per event on stderr: time, level, process name, message.
 * The level comes from STEEP_LOG (error, warn, info, debug; default info).
 * Never log secrets, passwords, tokens or payloads.
 *
 * Two formats: text (the default) and JSON ([log] format = "json"), one
 * object per line with the stable fields time, level, service, message and,
 * when the thread has them, request_id and task_id. The request and task
 * ids are per thread: the RPC server sets them around each handler from the
 * call's x-request-id metadata and its request's task_id field, so every
 * line a handler logs carries them.
 */
#ifndef STEEP_CORE_LOG_H
#define STEEP_CORE_LOG_H

enum steep_log_level { STEEP_LOG_ERROR, STEEP_LOG_WARN, STEEP_LOG_INFO, STEEP_LOG_DEBUG };

/* Sets the process name shown in every line and reads STEEP_LOG. */
void steep_log_init(const char *process_name);
void steep_log_set_level(enum steep_log_level level);
int steep_log_enabled(enum steep_log_level level);
enum steep_log_format { STEEP_LOG_TEXT, STEEP_LOG_JSON };
void steep_log_set_format(enum steep_log_format format);
/* The calling thread's request and task ids (NULL or "" clears; longer
 * than 64 bytes is cut). Returned strings are "" when unset. */
void steep_log_set_request_id(const char *id);
const char *steep_log_request_id(void);
void steep_log_set_task_id(const char *id);
const char *steep_log_task_id(void);
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
