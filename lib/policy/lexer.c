/*
 * Lexer of the policy language. It reads the file only through a bounded
 * steep_cursor, tracks line and column (1-based, columns count bytes) for
 * every token, skips spaces and `#` comments, and reports newlines as
 * tokens except inside parentheses, so a long matcher may span lines
 * within (...). Names are [A-Za-z_][A-Za-z0-9_]*; strings are "..." with
 * the escapes \" and \\ and no line breaks.
 */
#include "policy/policy_internal.h"

#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int steep_policy_error_at(const struct steep_policy_pos *pos, const char *fmt, ...)
{
    char message[STEEP_ERROR_MAX];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    return steep_error_set("%s:%d:%d: %s", pos->file, pos->line, pos->column, message);
}

void steep_policy_lexer_init(struct steep_policy_lexer *lexer, const char *file, const char *text,
                             size_t len)
{
    lexer->cursor = steep_cursor_make(text, len);
    lexer->file = file;
    lexer->line = 1;
    lexer->column = 1;
    lexer->paren_depth = 0;
}

/* The byte `ahead` positions from the cursor, or -1 past the end. */
static int peek(const struct steep_policy_lexer *lexer, size_t ahead)
{
    const struct steep_cursor *c = &lexer->cursor;
    if (ahead >= steep_cursor_remaining(c))
        return -1;
    struct steep_cursor copy = *c;
    uint8_t byte = 0;
    if (steep_cursor_skip(&copy, ahead) < 0 || steep_cursor_read_u8(&copy, &byte) < 0)
        return -1;
    return byte;
}

static int advance(struct steep_policy_lexer *lexer)
{
    uint8_t byte;
    if (steep_cursor_read_u8(&lexer->cursor, &byte) < 0)
        return -1;
    if (byte == '\n') {
        lexer->line++;
        lexer->column = 1;
    } else {
        lexer->column++;
    }
    return byte;
}

static bool is_name_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(int c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static void skip_blanks(struct steep_policy_lexer *lexer)
{
    for (;;) {
        int c = peek(lexer, 0);
        if (c == ' ' || c == '\t' || c == '\r' || (c == '\n' && lexer->paren_depth > 0)) {
            advance(lexer);
        } else if (c == '#') {
            while (peek(lexer, 0) >= 0 && peek(lexer, 0) != '\n')
                advance(lexer);
        } else {
            return;
        }
    }
}

static int lex_name(struct steep_policy_lexer *lexer, struct steep_policy_token *token)
{
    token->kind = TOKEN_NAME;
    while (is_name_char(peek(lexer, 0))) {
        if (token->len >= STEEP_POLICY_MAX_NAME)
            return steep_policy_error_at(&token->pos, "name longer than %d bytes",
                                         STEEP_POLICY_MAX_NAME);
        token->text[token->len++] = (char)advance(lexer);
    }
    token->text[token->len] = '\0';
    return 0;
}

static int lex_string(struct steep_policy_lexer *lexer, struct steep_policy_token *token)
{
    token->kind = TOKEN_STRING;
    advance(lexer); /* opening quote */
    for (;;) {
        struct steep_policy_pos here = {lexer->file, lexer->line, lexer->column};
        int c = peek(lexer, 0);
        if (c < 0 || c == '\n')
            return steep_policy_error_at(&token->pos, "unterminated string");
        advance(lexer);
        if (c == '"')
            break;
        if (c == '\\') {
            c = peek(lexer, 0);
            if (c != '"' && c != '\\')
                return steep_policy_error_at(&here,
                                             "unknown escape in string (only \\\" and \\\\)");
            advance(lexer);
        } else if (c < 0x20 || c == 0x7f) {
            return steep_policy_error_at(&here, "control character in string");
        }
        if (token->len >= STEEP_POLICY_MAX_STRING)
            return steep_policy_error_at(&token->pos, "string longer than %d bytes",
                                         STEEP_POLICY_MAX_STRING);
        token->text[token->len++] = (char)c;
    }
    token->text[token->len] = '\0';
    return 0;
}

struct punctuation {
    const char *text;
    enum steep_policy_token_kind kind;
};

static const struct punctuation punctuations[] = {
    {"==", TOKEN_EQ},      {"!=", TOKEN_NE},      {"<=", TOKEN_LE},    {">=", TOKEN_GE},
    {"[", TOKEN_LBRACKET}, {"]", TOKEN_RBRACKET}, {"(", TOKEN_LPAREN}, {")", TOKEN_RPAREN},
    {"=", TOKEN_ASSIGN},   {",", TOKEN_COMMA},    {".", TOKEN_DOT},
};

static int lex_punctuation(struct steep_policy_lexer *lexer, struct steep_policy_token *token)
{
    for (size_t i = 0; i < sizeof punctuations / sizeof punctuations[0]; i++) {
        const char *p = punctuations[i].text;
        size_t n = strlen(p);
        bool match = true;
        for (size_t k = 0; k < n && match; k++)
            match = peek(lexer, k) == (unsigned char)p[k];
        if (!match)
            continue;
        for (size_t k = 0; k < n; k++)
            advance(lexer);
        token->kind = punctuations[i].kind;
        memcpy(token->text, p, n + 1);
        token->len = n;
        if (token->kind == TOKEN_LPAREN)
            lexer->paren_depth++;
        else if (token->kind == TOKEN_RPAREN && lexer->paren_depth > 0)
            lexer->paren_depth--;
        return 0;
    }
    int c = peek(lexer, 0);
    if (c >= 0x21 && c < 0x7f)
        return steep_policy_error_at(&token->pos, "unexpected character '%c'", c);
    return steep_policy_error_at(&token->pos, "unexpected byte 0x%02x", (unsigned)c);
}

int steep_policy_lexer_next(struct steep_policy_lexer *lexer, struct steep_policy_token *token)
{
    skip_blanks(lexer);
    token->pos = (struct steep_policy_pos){lexer->file, lexer->line, lexer->column};
    token->len = 0;
    token->text[0] = '\0';
    int c = peek(lexer, 0);
    if (c < 0) {
        token->kind = TOKEN_EOF;
        return 0;
    }
    if (c == '\n') {
        advance(lexer);
        token->kind = TOKEN_NEWLINE;
        return 0;
    }
    if (is_name_start(c))
        return lex_name(lexer, token);
    if (c == '"')
        return lex_string(lexer, token);
    return lex_punctuation(lexer, token);
}

const char *steep_policy_token_describe(const struct steep_policy_token *token)
{
    switch (token->kind) {
    case TOKEN_EOF:
        return "end of file";
    case TOKEN_NEWLINE:
        return "end of line";
    case TOKEN_NAME:
        return "a name";
    case TOKEN_STRING:
        return "a string";
    default:
        return token->text;
    }
}
