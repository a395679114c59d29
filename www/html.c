/*
 * HTML: escaping, the small template that escapes by default, and the
 * frame around every page (head with the assets, the nav bar with the
 * entries plugins add, the user menu, the theme switch). Everything a page
 * shows from the outside world (addresses, plugin titles, messages) goes
 * through floe_html_escape; the scripts fill data in with textContent.
 */
#include "engine/engine.h"
#include "www/internal.h"

#include <stdarg.h>
#include <stdio.h>

#define MENU_EXTRA_MAX 32

void floe_html_escape(floe_buf *b, const char *s)
{
    if (!s)
        return;
    const char *run = s;
    for (; *s; s++) {
        const char *rep;
        switch (*s) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            continue;
        }
        floe_buf_append(b, run, (size_t)(s - run));
        floe_buf_puts(b, rep);
        run = s + 1;
    }
    floe_buf_append(b, run, (size_t)(s - run));
}

void floe_html_tpl(floe_buf *b, const char *tpl, ...)
{
    va_list ap;
    va_start(ap, tpl);
    const char *run = tpl;
    for (const char *p = tpl; *p; p++) {
        if (p[0] != '{')
            continue;
        int raw = p[1] == '!' && p[2] == '}';
        if (!raw && p[1] != '}')
            continue;
        floe_buf_append(b, run, (size_t)(p - run));
        const char *arg = va_arg(ap, const char *);
        if (raw)
            floe_buf_puts(b, arg ? arg : "");
        else
            floe_html_escape(b, arg);
        p += raw ? 2 : 1;
        run = p + 1;
    }
    floe_buf_puts(b, run);
    va_end(ap);
}

const char *www__safe_next(const char *next)
{
    if (!next || next[0] != '/' || next[1] == '/' || next[1] == '\\' || strlen(next) > 200)
        return "/";
    for (const char *p = next; *p; p++)
        if ((unsigned char)*p < 0x21 || *p == '\\' || *p == '"' || *p == '<' || *p == '>')
            return "/";
    return next;
}

/* "/static/NAME?v=HASH", the versioned address of an embedded asset. */
static void asset_url(floe_buf *b, const char *name)
{
    const www__asset *a = www__asset_find(name);
    floe_html_tpl(b, "/static/{}?v={}", name, a ? a->hash : "0");
}

/* The built-in pages in nav order; plugins' entries follow. */
static const struct {
    const char *href, *title;
} nav_pages[] = {
    {"/", "Dashboard"},          {"/hosts", "Hosts"},   {"/flows", "Flows"},
    {"/exporters", "Exporters"}, {"/alerts", "Alerts"}, {"/plugins", "Plugins"},
    {"/history", "History"},
};

static void nav_link(floe_buf *b, const char *href, const char *title, const char *current)
{
    int here = current && strcmp(current, href) == 0;
    floe_html_tpl(b, "<a href=\"{}\"{!}>{}</a>", href, here ? " aria-current=\"page\"" : "", title);
}

static void frame_nav(floe_buf *b, floe_engine *e, const www__page *p)
{
    floe_web_menu_item extra[MENU_EXTRA_MAX];
    size_t n = e ? floe_web_menu_extra(e, extra, MENU_EXTRA_MAX) : 0;
    floe_buf_puts(b, "<nav id=\"nav\" class=\"nav\">");
    for (size_t i = 0; i < FLOE_ARRAY_LEN(nav_pages); i++)
        nav_link(b, nav_pages[i].href, nav_pages[i].title, p->nav);
    for (size_t i = 0; i < n && i < MENU_EXTRA_MAX; i++) {
        extra[i].title[sizeof(extra[i].title) - 1] = '\0';
        extra[i].href[sizeof(extra[i].href) - 1] = '\0';
        nav_link(b, www__safe_next(extra[i].href), extra[i].title, p->nav);
    }
    floe_buf_puts(b, "</nav>");
}

static void frame_tools(floe_buf *b, floe_www_req *r)
{
    const char *user = floe_www_user(r);
    floe_buf_puts(b, "<div class=\"tools\">"
                     "<span class=\"updated\" id=\"updated\" aria-live=\"polite\"></span>"
                     "<button type=\"button\" id=\"theme-toggle\" class=\"icon-button\" "
                     "title=\"Switch between light and dark\" aria-label=\"Switch theme\">"
                     "&#9680;</button>");
    if (user) {
        floe_html_tpl(b,
                      "<details class=\"user-menu\"><summary>{}</summary><div class=\"menu\">"
                      "<a href=\"/account\">Change password</a>"
                      "<form method=\"post\" action=\"/logout\">"
                      "<input type=\"hidden\" name=\"csrf\" value=\"{}\">"
                      "<button type=\"submit\" id=\"logout\">Log out</button></form>"
                      "</div></details>",
                      user, floe_auth_csrf(r));
    }
    floe_buf_puts(b, "</div>");
}

void www__frame_begin(floe_buf *b, floe_www_req *r, floe_engine *e, const www__page *p)
{
    floe_buf_puts(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                     "<meta name=\"color-scheme\" content=\"light dark\">");
    floe_html_tpl(b, "<meta name=\"csrf-token\" content=\"{}\"><title>{} &middot; floe</title>",
                  floe_auth_csrf(r), p->title);
    static const char *const css[] = {"uPlot.min.css", "app.css"};
    static const char *const js[] = {"uPlot.iife.min.js", "app.js"};
    floe_buf_puts(b, "<link rel=\"icon\" type=\"image/svg+xml\" href=\"");
    asset_url(b, "favicon.svg");
    floe_buf_puts(b, "\">");
    for (size_t i = 0; i < FLOE_ARRAY_LEN(css); i++) {
        floe_buf_puts(b, "<link rel=\"stylesheet\" href=\"");
        asset_url(b, css[i]);
        floe_buf_puts(b, "\">");
    }
    for (size_t i = 0; i < FLOE_ARRAY_LEN(js); i++) {
        floe_buf_puts(b, "<script src=\"");
        asset_url(b, js[i]);
        floe_buf_puts(b, "\"></script>");
    }
    floe_html_tpl(b, "</head><body data-page=\"{}\" data-arg=\"{}\"><header class=\"top\">", p->id,
                  p->arg ? p->arg : "");
    floe_buf_puts(b, "<a class=\"brand\" href=\"/\">floe</a>");
    if (e) {
        floe_buf_puts(b, "<button type=\"button\" class=\"nav-toggle icon-button\" "
                         "aria-controls=\"nav\" aria-expanded=\"false\" "
                         "aria-label=\"Menu\">&#9776;</button>");
        frame_nav(b, e, p);
    }
    frame_tools(b, r);
    floe_buf_puts(b, "</header><main id=\"main\">");
}

void www__frame_end(floe_buf *b)
{
    floe_html_tpl(b, "</main><footer class=\"foot\">floe {}</footer></body></html>\n",
                  PACKAGE_VERSION);
}
