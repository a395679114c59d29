/*
 * The pages plugins add. A plugin's web_gui/menu.lua gives a nav entry
 * (floe_web_menu_extra) and its page scripts describe pages as blocks;
 * the plugin engine runs a script in the plugin's sandbox and hands its
 * blocks over as nodes (plugins.h, floe_plugins_page), which this file
 * turns into markup through floe_html_tpl, one template per node type, so
 * every string a script gave is escaped and no script ever writes HTML.
 * Tables, key/value lists and charts at the top level get a card of their
 * own; a section is a card around the blocks it holds. Charts are the
 * same <div class="chart" data-schema ...> slots the built-in pages use.
 */
#include "engine/engine.h"
#include "www/www.h"

#include <stdio.h>

#define PLUGIN_MENU_MAX 32

size_t floe_web_menu_extra(floe_engine *e, floe_web_menu_item *out, size_t max)
{
    floe_plugin_menu m[PLUGIN_MENU_MAX];
    size_t n = e->plugins
                   ? floe_plugins_menu(e->plugins, m, max < PLUGIN_MENU_MAX ? max : PLUGIN_MENU_MAX)
                   : 0;
    for (size_t i = 0; i < n; i++) {
        snprintf(out[i].title, sizeof(out[i].title), "%.15s%s%.47s", m[i].icon,
                 m[i].icon[0] ? " " : "", m[i].title);
        snprintf(out[i].href, sizeof(out[i].href), "/plugins/%.31s/%.47s", m[i].plugin,
                 m[i].first_page);
    }
    return n;
}

/* ---- nodes into markup ------------------------------------------------------------ */

typedef struct render_ctx {
    floe_buf *b;
    int in_head;     /* a table's head is open: the first row closes it */
    size_t columns;  /* of the open table */
    char empty[128]; /* what the open table says without rows */
    int card;        /* the open table or list has a card of its own */
} render_ctx;

static const char *tone_class(const char *tone)
{
    static const struct {
        const char *tone, *cls;
    } tones[] = {{"ok", "tone-ok"}, {"warn", "tone-warn"}, {"bad", "tone-bad"}, {"muted", "muted"}};
    for (size_t i = 0; tone && i < FLOE_ARRAY_LEN(tones); i++)
        if (strcmp(tone, tones[i].tone) == 0)
            return tones[i].cls;
    return "";
}

/* A block of its own at the top level is a card; inside a section, only
 * its title. */
static void block_open(render_ctx *r, const floe_page_node *n)
{
    r->card = n->depth == 0;
    if (r->card)
        floe_buf_puts(r->b, "<section class=\"card wide pblock\">");
    if (n->title)
        floe_html_tpl(r->b, r->card ? "<h2>{}</h2>" : "<h3>{}</h3>", n->title);
}

static void block_close(render_ctx *r)
{
    if (r->card)
        floe_buf_puts(r->b, "</section>");
    r->card = 0;
}

static void n_heading(render_ctx *r, const floe_page_node *n)
{
    floe_html_tpl(r->b, n->depth ? "<h3>{}</h3>" : "<h2 class=\"pblock plugin-heading\">{}</h2>",
                  n->text);
}

static void n_text(render_ctx *r, const floe_page_node *n)
{
    const char *tone = tone_class(n->tone);
    floe_html_tpl(r->b, "<p class=\"pblock{!}{}\">{}</p>", tone[0] ? " " : "", tone,
                  n->text ? n->text : "");
}

static void n_section(render_ctx *r, const floe_page_node *n)
{
    floe_buf_puts(r->b,
                  n->depth ? "<div class=\"subsection\">" : "<section class=\"card wide pblock\">");
    if (n->title)
        floe_html_tpl(r->b, n->depth ? "<h3>{}</h3>" : "<h2>{}</h2>", n->title);
}

static void n_section_end(render_ctx *r, const floe_page_node *n)
{
    floe_buf_puts(r->b, n->depth ? "</div>" : "</section>");
}

static void n_table(render_ctx *r, const floe_page_node *n)
{
    block_open(r, n);
    snprintf(r->empty, sizeof(r->empty), "%s", n->text ? n->text : "nothing yet");
    r->in_head = 1;
    r->columns = 0;
    floe_buf_puts(r->b, "<div class=\"table-wrap\"><table class=\"data\"><thead><tr>");
}

/* ' class="num tone-bad"', or nothing when neither applies. */
static const char *cell_class(const floe_page_node *n, char *out, size_t len)
{
    const char *tone = tone_class(n->tone);
    if (!n->numeric && !tone[0])
        return "";
    snprintf(out, len, " class=\"%s%s%s\"", n->numeric ? "num" : "",
             n->numeric && tone[0] ? " " : "", tone);
    return out;
}

static void n_column(render_ctx *r, const floe_page_node *n)
{
    char cls[64];
    r->columns++;
    floe_html_tpl(r->b, "<th{!}>{}</th>", cell_class(n, cls, sizeof(cls)), n->text);
}

static void close_head(render_ctx *r)
{
    if (r->in_head)
        floe_buf_puts(r->b, "</tr></thead><tbody>");
    r->in_head = 0;
}

static void n_row(render_ctx *r, const floe_page_node *n)
{
    (void)n;
    close_head(r);
    floe_buf_puts(r->b, "<tr>");
}

/* A cell's or a value's content: a link, the text, or a dash. */
static void value(render_ctx *r, const floe_page_node *n)
{
    if (n->href)
        floe_html_tpl(r->b, "<a href=\"{}\">{}</a>", n->href, n->text ? n->text : n->href);
    else
        floe_html_escape(r->b, n->text ? n->text : "\xe2\x80\x93");
}

static void n_cell(render_ctx *r, const floe_page_node *n)
{
    char cls[64];
    floe_html_tpl(r->b, "<td{!}>", cell_class(n, cls, sizeof(cls)));
    value(r, n);
    floe_buf_puts(r->b, "</td>");
}

static void n_row_end(render_ctx *r, const floe_page_node *n)
{
    (void)n;
    floe_buf_puts(r->b, "</tr>");
}

static void n_table_end(render_ctx *r, const floe_page_node *n)
{
    char span[24];
    close_head(r);
    snprintf(span, sizeof(span), "%zu", r->columns ? r->columns : 1);
    if (!n->rows)
        floe_html_tpl(r->b, "<tr class=\"empty\"><td colspan=\"{}\">{}</td></tr>", span, r->empty);
    floe_buf_puts(r->b, "</tbody></table></div>");
    block_close(r);
}

static void n_kv(render_ctx *r, const floe_page_node *n)
{
    block_open(r, n);
    floe_buf_puts(r->b, "<dl class=\"kv\">");
}

static void n_kv_item(render_ctx *r, const floe_page_node *n)
{
    char cls[64];
    floe_html_tpl(r->b, "<dt>{}</dt><dd{!}>", n->key, cell_class(n, cls, sizeof(cls)));
    value(r, n);
    floe_buf_puts(r->b, "</dd>");
}

static void n_kv_end(render_ctx *r, const floe_page_node *n)
{
    (void)n;
    floe_buf_puts(r->b, "</dl>");
    block_close(r);
}

static void n_chart(render_ctx *r, const floe_page_node *n)
{
    block_open(r, n);
    floe_html_tpl(r->b,
                  "<div class=\"chart\" data-schema=\"{}\" data-tags=\"{}\" data-unit=\"{}\" "
                  "data-range=\"{}\" data-title=\"{}\"></div>",
                  n->schema, n->tags ? n->tags : "", n->unit ? n->unit : "",
                  n->range ? n->range : "1d", n->title ? n->title : n->schema);
    block_close(r);
}

typedef void (*node_fn)(render_ctx *r, const floe_page_node *n);

/* One template per node type (plugins.h, FLOE_PAGE_NODES). */
static const node_fn renderers[FLOE_PAGE_NODE_COUNT] = {
    [FLOE_PAGE_HEADING] = n_heading, [FLOE_PAGE_TEXT] = n_text,
    [FLOE_PAGE_SECTION] = n_section, [FLOE_PAGE_SECTION_END] = n_section_end,
    [FLOE_PAGE_TABLE] = n_table,     [FLOE_PAGE_COLUMN] = n_column,
    [FLOE_PAGE_ROW] = n_row,         [FLOE_PAGE_CELL] = n_cell,
    [FLOE_PAGE_ROW_END] = n_row_end, [FLOE_PAGE_TABLE_END] = n_table_end,
    [FLOE_PAGE_KV] = n_kv,           [FLOE_PAGE_KV_ITEM] = n_kv_item,
    [FLOE_PAGE_KV_END] = n_kv_end,   [FLOE_PAGE_CHART] = n_chart,
};

static void on_node(void *ud, const floe_page_node *n)
{
    if (n->type >= 0 && n->type < FLOE_PAGE_NODE_COUNT && renderers[n->type])
        renderers[n->type](ud, n);
}

/* Tabs between a plugin's pages, when it has more than one. */
static void tabs(floe_buf *b, floe_engine *e, const char *plugin, const char *page)
{
    floe_plugin_page_info pages[16];
    size_t n = floe_plugins_pages(e->plugins, plugin, pages, FLOE_ARRAY_LEN(pages));
    if (n < 2)
        return;
    floe_buf_puts(b, "<nav class=\"tabs\" aria-label=\"Pages\">");
    for (size_t i = 0; i < n; i++) {
        char href[128];
        snprintf(href, sizeof(href), "/plugins/%.31s/%.47s", plugin, pages[i].key);
        floe_html_tpl(b, "<a href=\"{}\"{!}>{}</a>", href,
                      strcmp(pages[i].key, page) == 0 ? " aria-current=\"page\"" : "",
                      pages[i].title);
    }
    floe_buf_puts(b, "</nav>");
}

int floe_web_plugin_page(floe_engine *e, const char *plugin, const char *page, floe_buf *out,
                         char *title, size_t titlelen)
{
    char err[512];
    floe_buf body;
    if (titlelen)
        title[0] = '\0';
    if (!e->plugins)
        return FLOE_ENOTFOUND;
    floe_buf_init(&body);
    render_ctx r = {&body, 0, 0, "", 0};
    floe_page_sink sink = {on_node, &r};
    int rc = floe_plugins_page(e->plugins, plugin, page, &sink, title, titlelen, err, sizeof(err));
    if (rc == 0 && !floe_buf_ok(&body))
        rc = FLOE_ENOMEM;
    if (rc == 0) {
        floe_html_tpl(out, "<h1>{}</h1>", title);
        tabs(out, e, plugin, page);
        floe_html_tpl(out, "<div id=\"plugin-page\" data-plugin=\"{}\" data-key=\"{}\">", plugin,
                      page);
        floe_buf_append(out, body.data ? body.data : "", body.len);
        floe_buf_puts(out, "</div>");
    } else if (rc != FLOE_ENOTFOUND && titlelen) {
        snprintf(title, titlelen, "%s", rc == FLOE_ENOMEM ? "out of memory" : err);
    }
    floe_buf_close(&body);
    return rc;
}
