/*
** Lua 5.4's pattern matching, string.rep and string.format, ported from lstrlib.c (Lua 5.4.4)
** with one change: they count their steps and pass a checkpoint every SANDMAN_CHECK_INTERVAL
** steps, so a deadline or an instruction budget stops them like any Lua loop. Plain searches
** use memmem (linear) instead of Lua's memchr/memcmp loop (quadratic at worst).
**
** Copyright (C) 1994-2022 Lua.org, PUC-Rio.
** Permission is hereby granted, free of charge, to any person obtaining a copy of this software
** and associated documentation files (the "Software"), to deal in the Software without
** restriction, including without limitation the rights to use, copy, modify, merge, publish,
** distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
** Software is furnished to do so, subject to the following conditions:
** The above copyright notice and this permission notice shall be included in all copies or
** substantial portions of the Software.
** THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
** BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
** NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
** DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
** OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
*/
#define _GNU_SOURCE
#define LUA_LIB

#include <ctype.h>
#include <float.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "bounded.h"

#define uchar(c) ((unsigned char)(c))
#define MAXSIZE (sizeof(size_t) < sizeof(int) ? (~(size_t)0) : (size_t)(INT_MAX))


static size_t posrelatI(lua_Integer pos, size_t len) {
    if (pos > 0)
        return (size_t)pos;
    else if (pos == 0)
        return 1;
    else if (pos < -(lua_Integer)len)
        return 1;
    else
        return len + (size_t)pos + 1;
}

// MARK: - string.rep

/// Like Lua's, but it writes one copy of the string and its separator, then doubles what it
/// wrote (a few large copies rather than n small ones, so that string.rep("x", 1e7) costs its
/// bytes, not ten million steps), and an empty result is returned at once (Lua's own loops n
/// times copying nothing).
static int str_rep(lua_State *L) {
    size_t l, lsep;
    const char *s = luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    const char *sep = luaL_optlstring(L, 3, "", &lsep);
    if (n <= 0 || l + lsep == 0) {
        lua_pushliteral(L, "");
    } else if (l_unlikely(l + lsep < l || l + lsep > MAXSIZE / n)) {
        return luaL_error(L, "resulting string too large");
    } else {
        size_t unit = l + lsep;
        size_t totallen = (size_t)n * l + (size_t)(n - 1) * lsep;
        size_t body = (size_t)(n - 1) * unit;  // the first n-1 copies, each followed by the separator
        Steps steps = {L, 0};
        luaL_Buffer b;
        char *p = luaL_buffinitsize(L, &b, totallen);
        if (body > 0) {
            memcpy(p, s, l);
            memcpy(p + l, sep, lsep);
            size_t written = unit;
            while (written < body) {
                size_t chunk = written < body - written ? written : body - written;
                memcpy(p + written, p, chunk);
                written += chunk;
                step(&steps, bytes_cost(chunk));
            }
        }
        memcpy(p + body, s, l);
        luaL_pushresultsize(&b, totallen);
    }
    return 1;
}

// MARK: - Pattern matching

#define LUA_MAXCAPTURES 32
#define CAP_UNFINISHED (-1)
#define CAP_POSITION (-2)
#define MAXCCALLS 200
#define L_ESC '%'
#define SPECIALS "^$*+?.([%-"

typedef struct MatchState {
    const char *src_init;
    const char *src_end;
    const char *p_end;
    lua_State *L;
    Steps steps;
    int matchdepth;
    unsigned char level;
    struct {
        const char *init;
        ptrdiff_t len;
    } capture[LUA_MAXCAPTURES];
} MatchState;

static const char *match(MatchState *ms, const char *s, const char *p);

static int check_capture(MatchState *ms, int l) {
    l -= '1';
    if (l_unlikely(l < 0 || l >= ms->level || ms->capture[l].len == CAP_UNFINISHED))
        return luaL_error(ms->L, "invalid capture index %%%d", l + 1);
    return l;
}

static int capture_to_close(MatchState *ms) {
    int level = ms->level;
    for (level--; level >= 0; level--)
        if (ms->capture[level].len == CAP_UNFINISHED) return level;
    return luaL_error(ms->L, "invalid pattern capture");
}

static const char *classend(MatchState *ms, const char *p) {
    switch (*p++) {
    case L_ESC:
        if (l_unlikely(p == ms->p_end))
            luaL_error(ms->L, "malformed pattern (ends with '%%')");
        return p + 1;
    case '[':
        if (*p == '^') p++;
        do {
            if (l_unlikely(p == ms->p_end))
                luaL_error(ms->L, "malformed pattern (missing ']')");
            if (*(p++) == L_ESC && p < ms->p_end)
                p++;
        } while (*p != ']');
        return p + 1;
    default:
        return p;
    }
}

static int match_class(int c, int cl) {
    int res;
    switch (tolower(cl)) {
    case 'a': res = isalpha(c); break;
    case 'c': res = iscntrl(c); break;
    case 'd': res = isdigit(c); break;
    case 'g': res = isgraph(c); break;
    case 'l': res = islower(c); break;
    case 'p': res = ispunct(c); break;
    case 's': res = isspace(c); break;
    case 'u': res = isupper(c); break;
    case 'w': res = isalnum(c); break;
    case 'x': res = isxdigit(c); break;
    case 'z': res = (c == 0); break;
    default: return (cl == c);
    }
    return (islower(cl) ? res : !res);
}

static int matchbracketclass(int c, const char *p, const char *ec) {
    int sig = 1;
    if (*(p + 1) == '^') {
        sig = 0;
        p++;
    }
    while (++p < ec) {
        if (*p == L_ESC) {
            p++;
            if (match_class(c, uchar(*p)))
                return sig;
        } else if ((*(p + 1) == '-') && (p + 2 < ec)) {
            p += 2;
            if (uchar(*(p - 2)) <= c && c <= uchar(*p))
                return sig;
        } else if (uchar(*p) == c) {
            return sig;
        }
    }
    return !sig;
}

static int singlematch(MatchState *ms, const char *s, const char *p, const char *ep) {
    if (s >= ms->src_end)
        return 0;
    int c = uchar(*s);
    switch (*p) {
    case '.': return 1;
    case L_ESC: return match_class(c, uchar(*(p + 1)));
    case '[': return matchbracketclass(c, p, ep - 1);
    default: return (uchar(*p) == c);
    }
}

static const char *matchbalance(MatchState *ms, const char *s, const char *p) {
    if (l_unlikely(p >= ms->p_end - 1))
        luaL_error(ms->L, "malformed pattern (missing arguments to '%%b')");
    if (*s != *p) return NULL;
    int b = *p;
    int e = *(p + 1);
    int cont = 1;
    while (++s < ms->src_end) {
        step(&ms->steps, 1);
        if (*s == e) {
            if (--cont == 0) return s + 1;
        } else if (*s == b) {
            cont++;
        }
    }
    return NULL;
}

static const char *max_expand(MatchState *ms, const char *s, const char *p, const char *ep) {
    ptrdiff_t i = 0;
    while (singlematch(ms, s + i, p, ep)) {
        step(&ms->steps, 1);
        i++;
    }
    while (i >= 0) {
        const char *res = match(ms, (s + i), ep + 1);
        if (res) return res;
        i--;
    }
    return NULL;
}

static const char *min_expand(MatchState *ms, const char *s, const char *p, const char *ep) {
    for (;;) {
        const char *res = match(ms, s, ep + 1);
        if (res != NULL)
            return res;
        else if (singlematch(ms, s, p, ep))
            s++;
        else
            return NULL;
    }
}

static const char *start_capture(MatchState *ms, const char *s, const char *p, int what) {
    const char *res;
    int level = ms->level;
    if (level >= LUA_MAXCAPTURES) luaL_error(ms->L, "too many captures");
    ms->capture[level].init = s;
    ms->capture[level].len = what;
    ms->level = level + 1;
    if ((res = match(ms, s, p)) == NULL)
        ms->level--;
    return res;
}

static const char *end_capture(MatchState *ms, const char *s, const char *p) {
    int l = capture_to_close(ms);
    const char *res;
    ms->capture[l].len = s - ms->capture[l].init;
    if ((res = match(ms, s, p)) == NULL)
        ms->capture[l].len = CAP_UNFINISHED;
    return res;
}

static const char *match_capture(MatchState *ms, const char *s, int l) {
    size_t len;
    l = check_capture(ms, l);
    len = ms->capture[l].len;
    step(&ms->steps, bytes_cost(len));
    if ((size_t)(ms->src_end - s) >= len && memcmp(ms->capture[l].init, s, len) == 0)
        return s + len;
    return NULL;
}

static const char *match(MatchState *ms, const char *s, const char *p) {
    if (l_unlikely(ms->matchdepth-- == 0))
        luaL_error(ms->L, "pattern too complex");
init:
    step(&ms->steps, 1);
    if (p != ms->p_end) {
        switch (*p) {
        case '(':
            if (*(p + 1) == ')')
                s = start_capture(ms, s, p + 2, CAP_POSITION);
            else
                s = start_capture(ms, s, p + 1, CAP_UNFINISHED);
            break;
        case ')':
            s = end_capture(ms, s, p + 1);
            break;
        case '$':
            if ((p + 1) != ms->p_end)
                goto dflt;
            s = (s == ms->src_end) ? s : NULL;
            break;
        case L_ESC:
            switch (*(p + 1)) {
            case 'b':
                s = matchbalance(ms, s, p + 2);
                if (s != NULL) {
                    p += 4;
                    goto init;
                }
                break;
            case 'f': {
                const char *ep;
                char previous;
                p += 2;
                if (l_unlikely(*p != '['))
                    luaL_error(ms->L, "missing '[' after '%%f' in pattern");
                ep = classend(ms, p);
                previous = (s == ms->src_init) ? '\0' : *(s - 1);
                if (!matchbracketclass(uchar(previous), p, ep - 1) && matchbracketclass(uchar(*s), p, ep - 1)) {
                    p = ep;
                    goto init;
                }
                s = NULL;
                break;
            }
            case '0': case '1': case '2': case '3': case '4':
            case '5': case '6': case '7': case '8': case '9':
                s = match_capture(ms, s, uchar(*(p + 1)));
                if (s != NULL) {
                    p += 2;
                    goto init;
                }
                break;
            default:
                goto dflt;
            }
            break;
        default:
        dflt: {
            const char *ep = classend(ms, p);
            if (!singlematch(ms, s, p, ep)) {
                if (*ep == '*' || *ep == '?' || *ep == '-') {
                    p = ep + 1;
                    goto init;
                } else {
                    s = NULL;
                }
            } else {
                switch (*ep) {
                case '?': {
                    const char *res;
                    if ((res = match(ms, s + 1, ep + 1)) != NULL) {
                        s = res;
                    } else {
                        p = ep + 1;
                        goto init;
                    }
                    break;
                }
                case '+':
                    s++;
                    /* FALLTHROUGH */
                case '*':
                    s = max_expand(ms, s, p, ep);
                    break;
                case '-':
                    s = min_expand(ms, s, p, ep);
                    break;
                default:
                    s++;
                    p = ep;
                    goto init;
                }
            }
            break;
        }
        }
    }
    ms->matchdepth++;
    return s;
}

static size_t get_onecapture(MatchState *ms, int i, const char *s, const char *e, const char **cap) {
    if (i >= ms->level) {
        if (l_unlikely(i != 0))
            luaL_error(ms->L, "invalid capture index %%%d", i + 1);
        *cap = s;
        return e - s;
    }
    ptrdiff_t capl = ms->capture[i].len;
    *cap = ms->capture[i].init;
    if (l_unlikely(capl == CAP_UNFINISHED))
        luaL_error(ms->L, "unfinished capture");
    else if (capl == CAP_POSITION)
        lua_pushinteger(ms->L, (ms->capture[i].init - ms->src_init) + 1);
    return capl;
}

static void push_onecapture(MatchState *ms, int i, const char *s, const char *e) {
    const char *cap;
    ptrdiff_t l = get_onecapture(ms, i, s, e, &cap);
    if (l != CAP_POSITION)
        lua_pushlstring(ms->L, cap, l);
}

static int push_captures(MatchState *ms, const char *s, const char *e) {
    int i;
    int nlevels = (ms->level == 0 && s) ? 1 : ms->level;
    luaL_checkstack(ms->L, nlevels, "too many captures");
    for (i = 0; i < nlevels; i++)
        push_onecapture(ms, i, s, e);
    return nlevels;
}

static int nospecials(const char *p, size_t l) {
    size_t upto = 0;
    do {
        if (strpbrk(p + upto, SPECIALS))
            return 0;
        upto += strlen(p + upto) + 1;
    } while (upto <= l);
    return 1;
}

static void prepstate(MatchState *ms, lua_State *L, const char *s, size_t ls, const char *p, size_t lp) {
    ms->L = L;
    ms->steps.L = L;
    ms->steps.pending = 0;
    ms->matchdepth = MAXCCALLS;
    ms->src_init = s;
    ms->src_end = s + ls;
    ms->p_end = p + lp;
}

static void reprepstate(MatchState *ms) {
    ms->level = 0;
}

static int str_find_aux(lua_State *L, int find) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = posrelatI(luaL_optinteger(L, 3, 1), ls) - 1;
    if (init > ls) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || nospecials(p, lp))) {
        sandman_lua_checkpoint(L, search_cost(ls - init));
        const char *s2 = memmem(s + init, ls - init, p, lp);
        if (s2) {
            lua_pushinteger(L, (s2 - s) + 1);
            lua_pushinteger(L, (s2 - s) + lp);
            return 2;
        }
    } else {
        MatchState ms;
        const char *s1 = s + init;
        int anchor = (*p == '^');
        if (anchor) {
            p++;
            lp--;
        }
        prepstate(&ms, L, s, ls, p, lp);
        do {
            const char *res;
            reprepstate(&ms);
            if ((res = match(&ms, s1, p)) != NULL) {
                if (find) {
                    lua_pushinteger(L, (s1 - s) + 1);
                    lua_pushinteger(L, res - s);
                    return push_captures(&ms, NULL, 0) + 2;
                }
                return push_captures(&ms, s1, res);
            }
        } while (s1++ < ms.src_end && !anchor);
    }
    luaL_pushfail(L);
    return 1;
}

static int str_find(lua_State *L) {
    return str_find_aux(L, 1);
}

static int str_match(lua_State *L) {
    return str_find_aux(L, 0);
}

typedef struct GMatchState {
    const char *src;
    const char *p;
    const char *lastmatch;
    MatchState ms;
} GMatchState;

static int gmatch_aux(lua_State *L) {
    GMatchState *gm = (GMatchState *)lua_touserdata(L, lua_upvalueindex(3));
    const char *src;
    gm->ms.L = L;
    gm->ms.steps.L = L;
    for (src = gm->src; src <= gm->ms.src_end; src++) {
        const char *e;
        reprepstate(&gm->ms);
        if ((e = match(&gm->ms, src, gm->p)) != NULL && e != gm->lastmatch) {
            gm->src = gm->lastmatch = e;
            return push_captures(&gm->ms, src, e);
        }
    }
    return 0;
}

static int gmatch(lua_State *L) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = posrelatI(luaL_optinteger(L, 3, 1), ls) - 1;
    GMatchState *gm;
    lua_settop(L, 2);
    gm = (GMatchState *)lua_newuserdatauv(L, sizeof(GMatchState), 0);
    if (init > ls)
        init = ls + 1;
    prepstate(&gm->ms, L, s, ls, p, lp);
    gm->src = s + init;
    gm->p = p;
    gm->lastmatch = NULL;
    lua_pushcclosure(L, gmatch_aux, 3);
    return 1;
}

static void add_s(MatchState *ms, luaL_Buffer *b, const char *s, const char *e) {
    size_t l;
    lua_State *L = ms->L;
    const char *news = lua_tolstring(L, 3, &l);
    const char *p;
    while ((p = (char *)memchr(news, L_ESC, l)) != NULL) {
        step(&ms->steps, bytes_cost(p - news));
        luaL_addlstring(b, news, p - news);
        p++;
        if (*p == L_ESC) {
            luaL_addchar(b, *p);
        } else if (*p == '0') {
            luaL_addlstring(b, s, e - s);
        } else if (isdigit(uchar(*p))) {
            const char *cap;
            ptrdiff_t resl = get_onecapture(ms, *p - '1', s, e, &cap);
            if (resl == CAP_POSITION)
                luaL_addvalue(b);
            else
                luaL_addlstring(b, cap, resl);
        } else {
            luaL_error(L, "invalid use of '%c' in replacement string", L_ESC);
        }
        l -= p + 1 - news;
        news = p + 1;
    }
    luaL_addlstring(b, news, l);
}

static int add_value(MatchState *ms, luaL_Buffer *b, const char *s, const char *e, int tr) {
    lua_State *L = ms->L;
    switch (tr) {
    case LUA_TFUNCTION: {
        int n;
        lua_pushvalue(L, 3);
        n = push_captures(ms, s, e);
        lua_call(L, n, 1);
        break;
    }
    case LUA_TTABLE:
        push_onecapture(ms, 0, s, e);
        lua_gettable(L, 3);
        break;
    default:
        add_s(ms, b, s, e);
        return 1;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, e - s);
        return 0;
    } else if (l_unlikely(!lua_isstring(L, -1))) {
        return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    }
    luaL_addvalue(b);
    return 1;
}

static int str_gsub(lua_State *L) {
    size_t srcl, lp;
    const char *src = luaL_checklstring(L, 1, &srcl);
    const char *p = luaL_checklstring(L, 2, &lp);
    const char *lastmatch = NULL;
    int tr = lua_type(L, 3);
    lua_Integer max_s = luaL_optinteger(L, 4, srcl + 1);
    int anchor = (*p == '^');
    lua_Integer n = 0;
    int changed = 0;
    MatchState ms;
    luaL_Buffer b;
    luaL_argexpected(L, tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION || tr == LUA_TTABLE, 3,
                     "string/function/table");
    luaL_buffinit(L, &b);
    if (anchor) {
        p++;
        lp--;
    }
    prepstate(&ms, L, src, srcl, p, lp);
    while (n < max_s) {
        const char *e;
        reprepstate(&ms);
        if ((e = match(&ms, src, p)) != NULL && e != lastmatch) {
            n++;
            changed = add_value(&ms, &b, src, e, tr) | changed;
            src = lastmatch = e;
        } else if (src < ms.src_end) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchor) break;
    }
    if (!changed) {
        lua_pushvalue(L, 1);
    } else {
        luaL_addlstring(&b, src, ms.src_end - src);
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, n);
    return 2;
}

// MARK: - string.format

#define MAX_ITEMF (110 + l_floatatt(MAX_10_EXP))
#define MAX_ITEM 120
#define L_FMTFLAGSF "-+#0 "
#define L_FMTFLAGSX "-#0"
#define L_FMTFLAGSI "-+0 "
#define L_FMTFLAGSU "-0"
#define L_FMTFLAGSC "-"
#define MAX_FORMAT 32

static void addquoted(Steps *steps, luaL_Buffer *b, const char *s, size_t len) {
    luaL_addchar(b, '"');
    while (len--) {
        if (*s == '"' || *s == '\\' || *s == '\n') {
            step(steps, 1);
            luaL_addchar(b, '\\');
            luaL_addchar(b, *s);
        } else if (iscntrl(uchar(*s))) {
            char buff[10];
            step(steps, 16);
            if (!isdigit(uchar(*(s + 1))))
                l_sprintf(buff, sizeof(buff), "\\%d", (int)uchar(*s));
            else
                l_sprintf(buff, sizeof(buff), "\\%03d", (int)uchar(*s));
            luaL_addstring(b, buff);
        } else {
            step(steps, 1);
            luaL_addchar(b, *s);
        }
        s++;
    }
    luaL_addchar(b, '"');
}

static int quotefloat(lua_State *L, char *buff, lua_Number n) {
    const char *s;
    if (n == (lua_Number)HUGE_VAL) {
        s = "1e9999";
    } else if (n == -(lua_Number)HUGE_VAL) {
        s = "-1e9999";
    } else if (n != n) {
        s = "(0/0)";
    } else {
        int nb = lua_number2strx(L, buff, MAX_ITEM, "%" LUA_NUMBER_FRMLEN "a", n);
        if (memchr(buff, '.', nb) == NULL) {
            char point = lua_getlocaledecpoint();
            char *ppoint = (char *)memchr(buff, point, nb);
            if (ppoint) *ppoint = '.';
        }
        return nb;
    }
    return l_sprintf(buff, MAX_ITEM, "%s", s);
}

static void addliteral(Steps *steps, lua_State *L, luaL_Buffer *b, int arg) {
    switch (lua_type(L, arg)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, arg, &len);
        addquoted(steps, b, s, len);
        break;
    }
    case LUA_TNUMBER: {
        char *buff = luaL_prepbuffsize(b, MAX_ITEM);
        int nb;
        if (!lua_isinteger(L, arg)) {
            nb = quotefloat(L, buff, lua_tonumber(L, arg));
        } else {
            lua_Integer n = lua_tointeger(L, arg);
            const char *format = (n == LUA_MININTEGER) ? "0x%" LUA_INTEGER_FRMLEN "x" : LUA_INTEGER_FMT;
            nb = l_sprintf(buff, MAX_ITEM, format, (LUAI_UACINT)n);
        }
        luaL_addsize(b, nb);
        break;
    }
    case LUA_TNIL:
    case LUA_TBOOLEAN:
        luaL_tolstring(L, arg, NULL);
        luaL_addvalue(b);
        break;
    default:
        luaL_argerror(L, arg, "value has no literal form");
    }
}

static const char *get2digits(const char *s) {
    if (isdigit(uchar(*s))) {
        s++;
        if (isdigit(uchar(*s))) s++;
    }
    return s;
}

static void checkformat(lua_State *L, const char *form, const char *flags, int precision) {
    const char *spec = form + 1;
    spec += strspn(spec, flags);
    if (*spec != '0') {
        spec = get2digits(spec);
        if (*spec == '.' && precision) {
            spec++;
            spec = get2digits(spec);
        }
    }
    if (!isalpha(uchar(*spec)))
        luaL_error(L, "invalid conversion specification: '%s'", form);
}

static const char *getformat(lua_State *L, const char *strfrmt, char *form) {
    size_t len = strspn(strfrmt, L_FMTFLAGSF "123456789.");
    len++;
    if (len >= MAX_FORMAT - 10)
        luaL_error(L, "invalid format (too long)");
    *(form++) = '%';
    memcpy(form, strfrmt, len * sizeof(char));
    *(form + len) = '\0';
    return strfrmt + len - 1;
}

static void addlenmod(char *form, const char *lenmod) {
    size_t l = strlen(form);
    size_t lm = strlen(lenmod);
    char spec = form[l - 1];
    strcpy(form + l - 1, lenmod);
    form[l + lm - 1] = spec;
    form[l + lm] = '\0';
}

static int str_format(lua_State *L) {
    int top = lua_gettop(L);
    int arg = 1;
    size_t sfl;
    const char *strfrmt = luaL_checklstring(L, arg, &sfl);
    const char *strfrmt_end = strfrmt + sfl;
    const char *flags;
    Steps steps = {L, 0};
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    while (strfrmt < strfrmt_end) {
        step(&steps, 1);
        if (*strfrmt != L_ESC) {
            luaL_addchar(&b, *strfrmt++);
        } else if (*++strfrmt == L_ESC) {
            luaL_addchar(&b, *strfrmt++);
        } else {
            char form[MAX_FORMAT];
            int maxitem = MAX_ITEM;
            char *buff = luaL_prepbuffsize(&b, maxitem);
            int nb = 0;
            step(&steps, 16);
            if (++arg > top)
                return luaL_argerror(L, arg, "no value");
            strfrmt = getformat(L, strfrmt, form);
            switch (*strfrmt++) {
            case 'c':
                checkformat(L, form, L_FMTFLAGSC, 0);
                nb = l_sprintf(buff, maxitem, form, (int)luaL_checkinteger(L, arg));
                break;
            case 'd':
            case 'i':
                flags = L_FMTFLAGSI;
                goto intcase;
            case 'u':
                flags = L_FMTFLAGSU;
                goto intcase;
            case 'o':
            case 'x':
            case 'X':
                flags = L_FMTFLAGSX;
            intcase: {
                lua_Integer n = luaL_checkinteger(L, arg);
                checkformat(L, form, flags, 1);
                addlenmod(form, LUA_INTEGER_FRMLEN);
                nb = l_sprintf(buff, maxitem, form, (LUAI_UACINT)n);
                break;
            }
            case 'a':
            case 'A':
                checkformat(L, form, L_FMTFLAGSF, 1);
                addlenmod(form, LUA_NUMBER_FRMLEN);
                nb = lua_number2strx(L, buff, maxitem, form, luaL_checknumber(L, arg));
                break;
            case 'f':
                maxitem = MAX_ITEMF;
                buff = luaL_prepbuffsize(&b, maxitem);
                /* FALLTHROUGH */
            case 'e':
            case 'E':
            case 'g':
            case 'G': {
                lua_Number n = luaL_checknumber(L, arg);
                checkformat(L, form, L_FMTFLAGSF, 1);
                addlenmod(form, LUA_NUMBER_FRMLEN);
                nb = l_sprintf(buff, maxitem, form, (LUAI_UACNUMBER)n);
                break;
            }
            case 'p': {
                const void *p = lua_topointer(L, arg);
                checkformat(L, form, L_FMTFLAGSC, 0);
                if (p == NULL) {
                    p = "(null)";
                    form[strlen(form) - 1] = 's';
                }
                nb = l_sprintf(buff, maxitem, form, p);
                break;
            }
            case 'q':
                if (form[2] != '\0')
                    return luaL_error(L, "specifier '%%q' cannot have modifiers");
                addliteral(&steps, L, &b, arg);
                break;
            case 's': {
                size_t l;
                const char *s = luaL_tolstring(L, arg, &l);
                step(&steps, bytes_cost(l));
                if (form[2] == '\0') {
                    luaL_addvalue(&b);
                } else {
                    luaL_argcheck(L, l == strlen(s), arg, "string contains zeros");
                    checkformat(L, form, L_FMTFLAGSC, 1);
                    if (strchr(form, '.') == NULL && l >= 100) {
                        luaL_addvalue(&b);
                    } else {
                        nb = l_sprintf(buff, maxitem, form, s);
                        lua_pop(L, 1);
                    }
                }
                break;
            }
            default:
                return luaL_error(L, "invalid conversion '%s' to 'format'", form);
            }
            luaL_addsize(&b, nb);
        }
    }
    luaL_pushresult(&b);
    return 1;
}

void sandman_bound_string_library(lua_State *L) {
    static const luaL_Reg functions[] = {
        {"find", str_find},
        {"match", str_match},
        {"gmatch", gmatch},
        {"gsub", str_gsub},
        {"rep", str_rep},
        {"format", str_format},
        {NULL, NULL},
    };
    luaL_setfuncs(L, functions, 0);
    sandman_limit_format_length(L, "pack");
    sandman_limit_format_length(L, "unpack");
    sandman_limit_format_length(L, "packsize");
}
