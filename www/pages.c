/*
 * The web UI's pages. The server renders each page's frame and structure
 * (headings, forms, table heads, chart slots), escaping every value; the
 * data comes from the same JSON API scripts use, fetched and refreshed by
 * app.js without a reload, and written into the page with textContent
 * only. Keeping one source of truth (the API, with its sliced table scans
 * that never hold the loop) costs a second request per page and gives
 * live refresh for nothing.
 *
 * Chart slots are <div class="chart" data-schema data-tags data-unit>,
 * which app.js turns into uPlot charts fed by /api/v1/timeseries; the
 * schema names below are where the timeseries module's names go.
 */
#include "engine/engine.h"
#include "www/internal.h"

#include <stdio.h>
#include <stdlib.h>

#define STATIC_MAX_AGE (365u * 86400)

typedef struct page_ctx {
    floe_engine *e;
    floe_auth *auth;
} page_ctx;

/* ---- bodies ------------------------------------------------------------ */

/* A chart slot; tags are the schema's tag values, comma-separated. */
static void chart_slot(floe_buf *b, const char *title, const char *schema, const char *tags,
                       const char *unit)
{
    floe_html_tpl(b,
                  "<section class=\"card wide\"><h2>{}</h2><div class=\"chart\" "
                  "data-schema=\"{}\" data-tags=\"{}\" data-unit=\"{}\" data-title=\"{}\">"
                  "</div></section>",
                  title, schema, tags, unit, title);
}

/* A table filled by app.js: id, then column headings; a heading that
 * starts with '#' is numeric (right-aligned), with '^' sortable by the
 * API key after it ("^bytes:Traffic"). */
static void data_table(floe_buf *b, const char *id, const char *const *cols, size_t n)
{
    floe_html_tpl(b, "<div class=\"table-wrap\"><table class=\"data\" id=\"{}\"><thead><tr>", id);
    for (size_t i = 0; i < n; i++) {
        const char *c = cols[i];
        int num = c[0] == '#';
        c += num;
        if (c[0] == '^') {
            const char *colon = strchr(c, ':');
            char key[32];
            snprintf(key, sizeof(key), "%.*s", (int)(colon - c - 1), c + 1);
            floe_html_tpl(b,
                          "<th class=\"{}\" data-sort=\"{}\"><button type=\"button\" "
                          "class=\"sort\">{}</button></th>",
                          num ? "num" : "", key, colon + 1);
        } else {
            floe_html_tpl(b, "<th class=\"{}\">{}</th>", num ? "num" : "", c);
        }
    }
    char span[16];
    snprintf(span, sizeof(span), "%zu", n);
    floe_html_tpl(b,
                  "</tr></thead><tbody><tr class=\"empty\"><td colspan=\"{}\">loading"
                  "&hellip;</td></tr></tbody></table></div>",
                  span);
}

static void card_table(floe_buf *b, const char *title, const char *id, const char *const *cols,
                       size_t n)
{
    floe_html_tpl(b, "<section class=\"card\"><h2>{}</h2>", title);
    data_table(b, id, cols, n);
    floe_buf_puts(b, "</section>");
}

static void figure(floe_buf *b, const char *title, const char *id)
{
    floe_html_tpl(b,
                  "<div class=\"card figure\"><h2>{}</h2><p class=\"big\" id=\"{}\">&ndash;</p>"
                  "<p class=\"sub\" id=\"{}-sub\"></p></div>",
                  title, id, id);
}

static void body_dashboard(floe_buf *b, const char *arg)
{
    static const char *const hosts[] = {"Host", "#Traffic", "#Flows", "Last seen"};
    static const char *const apps[] = {"Application", "#Traffic", "#Flows", "Share"};
    static const char *const ifaces[] = {"Exporter", "#Interface", "#In", "#Out", "Last seen"};
    static const char *const health[] = {"Exporter", "Last seen", "#Lost", "#Malformed",
                                         "#Missing templates"};
    (void)arg;
    floe_buf_puts(b, "<h1>Dashboard</h1><section class=\"figures\">");
    figure(b, "Traffic now", "traffic-now");
    figure(b, "Active flows", "flows-now");
    figure(b, "Exporters", "exporters-now");
    figure(b, "Engaged alerts", "alerts-now");
    floe_buf_puts(b, "</section>");
    chart_slot(b, "Traffic over the last day", "system:traffic", "", "bytes");
    floe_buf_puts(b, "<div class=\"grid\">");
    card_table(b, "Top hosts", "top-hosts", hosts, FLOE_ARRAY_LEN(hosts));
    card_table(b, "Top applications", "top-apps", apps, FLOE_ARRAY_LEN(apps));
    card_table(b, "Top interfaces", "top-ifaces", ifaces, FLOE_ARRAY_LEN(ifaces));
    card_table(b, "Exporter health", "exporter-health", health, FLOE_ARRAY_LEN(health));
    floe_buf_puts(b, "<section class=\"card\"><h2>Engaged alerts</h2>"
                     "<div class=\"slot\" id=\"alerts-slot\">loading&hellip;</div></section>"
                     "</div>");
}

/* The filter form of a table page; without JavaScript it still works as a
 * plain GET form. */
static void filters(floe_buf *b, const char *action, int exporter)
{
    floe_html_tpl(b,
                  "<form class=\"filters\" id=\"filters\" method=\"get\" action=\"{}\">"
                  "<label>Host <input name=\"host\" placeholder=\"address or CIDR\" "
                  "autocomplete=\"off\" spellcheck=\"false\"></label>"
                  "<label>Application <input name=\"app\" placeholder=\"HTTP, TLS, Google\" "
                  "autocomplete=\"off\" spellcheck=\"false\"></label>{!}"
                  "<button type=\"submit\">Filter</button>"
                  "<button type=\"reset\" class=\"secondary\" id=\"filters-clear\">Clear</button>"
                  "</form>",
                  action,
                  exporter ? "<label>Exporter <input name=\"exporter\" placeholder=\"address\" "
                             "autocomplete=\"off\" spellcheck=\"false\"></label>"
                           : "");
}

static void pager(floe_buf *b)
{
    floe_buf_puts(b, "<nav class=\"pager\" id=\"pager\" aria-label=\"Pages\">"
                     "<button type=\"button\" id=\"prev\">&larr; Previous</button>"
                     "<span id=\"page-info\"></span>"
                     "<button type=\"button\" id=\"next\">Next &rarr;</button></nav>");
}

static void body_hosts(floe_buf *b, const char *arg)
{
    static const char *const cols[] = {"Host",
                                       "Network",
                                       "#^bytes:Traffic",
                                       "#Sent",
                                       "#Received",
                                       "#^packets:Packets",
                                       "#^flows:Active flows",
                                       "#^score:Score",
                                       "^last_seen:Last seen"};
    (void)arg;
    floe_buf_puts(b, "<h1>Hosts</h1>");
    filters(b, "/hosts", 0);
    data_table(b, "hosts", cols, FLOE_ARRAY_LEN(cols));
    pager(b);
}

static void body_host(floe_buf *b, const char *ip)
{
    static const char *const alert_cols[] = {"Severity", "Alert", "Entity",
                                             "Raised",   "State", "#Count"};
    static const char *const apps[] = {"Application", "#Traffic", "Share"};
    static const char *const flows[] = {"Peer",   "Role",   "Application", "#Traffic",
                                        "#Score", "Status", "Last seen"};
    floe_html_tpl(b,
                  "<h1>Host <span class=\"mono\">{}</span></h1>"
                  "<p class=\"notice\" id=\"host-missing\" hidden>This host is not in the table "
                  "(it may have been idle and evicted).</p><div class=\"grid\">"
                  "<section class=\"card\"><h2>Counters</h2><dl class=\"kv\" id=\"host-counters\">"
                  "</dl></section>",
                  ip);
    card_table(b, "Applications", "host-apps", apps, FLOE_ARRAY_LEN(apps));
    floe_buf_puts(b, "</div>");
    chart_slot(b, "Traffic", "host:traffic", ip, "bytes");
    chart_slot(b, "Applications over time", "host:ndpi", ip, "bytes");
    chart_slot(b, "Flows and score", "host:activity", ip, "count");
    /* app.js adds a chart for each plugin schema tagged by host alone. */
    floe_buf_puts(b, "<div id=\"plugin-charts\"></div>");
    floe_html_tpl(b, "<section class=\"card wide\"><h2>Alerts</h2>");
    data_table(b, "host-alerts", alert_cols, FLOE_ARRAY_LEN(alert_cols));
    floe_buf_puts(b, "</section>");
    floe_html_tpl(b, "<section class=\"card wide\"><h2>Active flows</h2>");
    data_table(b, "host-flows", flows, FLOE_ARRAY_LEN(flows));
    floe_buf_puts(b, "</section>");
}

static void body_flows(floe_buf *b, const char *arg)
{
    static const char *const cols[] = {"Client",        "Server",          "Protocol",
                                       "Application",   "#^bytes:Traffic", "#^packets:Packets",
                                       "#^score:Score", "Status",          "^last_seen:Last seen",
                                       "Exporter"};
    (void)arg;
    floe_buf_puts(b, "<h1>Flows</h1>");
    filters(b, "/flows", 1);
    floe_buf_puts(b, "<p class=\"hint\">Status and score come from the plugins' flow checks; "
                     "a flow without a status shows &ldquo;&ndash;&rdquo;.</p>");
    data_table(b, "flows", cols, FLOE_ARRAY_LEN(cols));
    pager(b);
}

static void body_exporters(floe_buf *b, const char *arg)
{
    static const char *const ex[] = {"Exporter",  "Protocol",   "#Domain",           "Last seen",
                                     "#Sampling", "#Templates", "#Records",          "#Lost",
                                     "#Gaps",     "#Malformed", "#Missing templates"};
    static const char *const ifs[] = {"Exporter", "#Interface", "#Traffic in", "#Traffic out",
                                      "#Rate in", "#Rate out",  "Last seen"};
    (void)arg;
    floe_buf_puts(b, "<h1>Exporters</h1>");
    card_table(b, "Exporters", "exporters", ex, FLOE_ARRAY_LEN(ex));
    floe_buf_puts(b, "<section class=\"card wide\"><h2>Templates</h2>"
                     "<div id=\"templates\" class=\"slot\">loading&hellip;</div></section>");
    floe_buf_puts(b, "<section class=\"card wide\"><h2>Interfaces</h2><p class=\"hint\">Select "
                     "an interface for its chart.</p>");
    data_table(b, "interfaces", ifs, FLOE_ARRAY_LEN(ifs));
    floe_buf_puts(b, "<div class=\"chart\" id=\"iface-chart\" data-schema=\"iface:traffic\" "
                     "data-tags=\"\" data-unit=\"bytes\" hidden></div></section>");
    chart_slot(b, "Records and drops", "system:ingest", "", "count");
    chart_slot(b, "Collector loop: busy share and longest turn", "system:loop", "", "count");
}

/* The alerts page: app.js fills the table from GET /api/v1/alerts with the
 * form's filters, pages it, and acknowledges, excludes and deletes through
 * the API; the exclusion rules are listed below it. */
static void body_alerts(floe_buf *b, const char *arg)
{
    static const char *const cols[] = {"Severity", "Alert",  "Entity",       "Raised",
                                       "State",    "#Count", "Acknowledged", ""};
    static const char *const rules[] = {"Type",      "Plugin",    "Hosts", "Applications",
                                        "Exporters", "#Excluded", ""};
    (void)arg;
    floe_buf_puts(
        b,
        "<h1>Alerts</h1><section class=\"figures\" id=\"alert-figures\"></section>"
        "<form class=\"filters\" id=\"filters\" method=\"get\" action=\"/alerts\">"
        "<label>State <select name=\"state\"><option value=\"engaged\">engaged</option>"
        "<option value=\"past\">past</option><option value=\"all\">all</option></select></label>"
        "<label>Severity at least <select name=\"severity\"><option value=\"\">any</option>"
        "<option value=\"info;gte\">info</option><option value=\"notice;gte\">notice</option>"
        "<option value=\"warning;gte\">warning</option><option value=\"error;gte\">error</option>"
        "<option value=\"critical;gte\">critical</option></select></label>"
        "<label>Entity <select name=\"entity\"><option value=\"\">any</option>"
        "<option>flow</option><option>host</option><option>interface</option>"
        "<option>network</option><option>exporter</option><option>system</option></select>"
        "</label><label>Host or network <input name=\"value\" placeholder=\"address or CIDR\" "
        "autocomplete=\"off\" spellcheck=\"false\"></label>"
        "<label>Type <input name=\"type\" placeholder=\"plugin.key\" autocomplete=\"off\" "
        "spellcheck=\"false\"></label>"
        "<label>Acknowledged <select name=\"ack\"><option value=\"\">either</option>"
        "<option value=\"no\">no</option><option value=\"yes\">yes</option></select></label>"
        "<button type=\"submit\">Filter</button>"
        "<button type=\"reset\" class=\"secondary\" id=\"filters-clear\">Clear</button>"
        "</form><div class=\"toolbar\"><button type=\"button\" class=\"secondary\" "
        "id=\"alerts-delete-all\">Delete every alert these filters match</button>"
        "<span class=\"hint\" id=\"alerts-result\" role=\"status\"></span></div>");
    data_table(b, "alerts", cols, FLOE_ARRAY_LEN(cols));
    pager(b);
    floe_buf_puts(b, "<section class=\"card wide\"><h2>Exclusions</h2><p class=\"hint\">"
                     "An alert a rule matches is counted, not stored. &ldquo;Exclude&rdquo; on an "
                     "alert adds a rule for its type and host.</p>");
    data_table(b, "exclusions", rules, FLOE_ARRAY_LEN(rules));
    floe_buf_puts(b, "</section>");
}

/* The plugins page: app.js builds a card per plugin from
 * GET /api/v1/plugins (checks with their counters, a switch, an editor made
 * from each check's declared settings) and keeps its counters live. */
static void body_plugins(floe_buf *b, const char *arg)
{
    static const char *const statuses[] = {"Status", "Title", "#Score", "#Flows", "Alert"};
    (void)arg;
    floe_buf_puts(b, "<h1>Plugins</h1><div class=\"toolbar\">"
                     "<button type=\"button\" id=\"plugins-reload\">Reload plugins</button>"
                     "<span id=\"reload-result\" class=\"hint\" role=\"status\"></span></div>"
                     "<section class=\"figures\">");
    figure(b, "Plugins", "plugins-loaded");
    figure(b, "Checks", "checks-count");
    figure(b, "Lua time", "lua-time");
    figure(b, "Alerts engaged", "plugin-alerts");
    floe_buf_puts(b, "</section><div id=\"plugins-list\" class=\"plugins\">"
                     "<p class=\"hint\">loading&hellip;</p></div>");
    card_table(b, "Flow statuses", "statuses", statuses, FLOE_ARRAY_LEN(statuses));
}

/* The history's filter form: the arguments of /api/v1/history/top as
 * they are, so that the page's address is the query (and works as a
 * plain GET form without JavaScript). */
static void history_form(floe_buf *b)
{
    static const char *const inputs[][3] = {
        {"Host", "host", "address"},
        {"Network", "net", "ADDR/BITS"},
        {"Port", "port", "443"},
        {"Application", "app", "TLS, DNS"},
        {"Exporter", "exporter", "address"},
        {"Instance", "instance", "floe name"},
        {"Status", "status", "plugin.status"},
    };
    floe_buf_puts(b, "<form class=\"filters\" id=\"history-form\" method=\"get\" "
                     "action=\"/history\"><label>Range <select name=\"range\">"
                     "<option value=\"3600\">last hour</option>"
                     "<option value=\"21600\">6 hours</option>"
                     "<option value=\"86400\">day</option>"
                     "<option value=\"604800\">week</option>"
                     "<option value=\"2592000\">30 days</option></select></label>");
    for (size_t i = 0; i < FLOE_ARRAY_LEN(inputs); i++)
        floe_html_tpl(b,
                      "<label>{} <input name=\"{}\" placeholder=\"{}\" autocomplete=\"off\" "
                      "spellcheck=\"false\"></label>",
                      inputs[i][0], inputs[i][1], inputs[i][2]);
    floe_buf_puts(b, "<label>Group by <select name=\"group\"><option>host</option>"
                     "<option>app</option><option>category</option><option>port</option>"
                     "<option>proto</option><option>exporter</option><option>as</option>"
                     "<option>instance</option></select></label>"
                     "<label>Top by <select name=\"by\"><option>bytes</option>"
                     "<option>packets</option><option>flows</option></select></label>"
                     "<button type=\"submit\">Search</button>"
                     "<a class=\"button secondary\" href=\"/history\">Clear</a></form>");
}

static void body_history(floe_buf *b, const char *arg)
{
    static const char *const top[] = {"Key", "#Traffic", "#Packets", "#Flows ended", "Share"};
    static const char *const flows[] = {"Time",        "Client",   "Server",   "Protocol",
                                        "Application", "#Traffic", "Instance", "Exporter"};
    (void)arg;
    floe_buf_puts(b, "<h1>Historical flows</h1>");
    history_form(b);
    floe_buf_puts(b, "<p class=\"notice\" id=\"history-notice\" hidden></p>"
                     "<section class=\"card wide\"><h2>Traffic over the range</h2>"
                     "<div class=\"chart\" id=\"history-chart\" data-state=\"none\">"
                     "<div class=\"chart-msg\">loading&hellip;</div></div></section>"
                     "<div class=\"grid\">");
    card_table(b, "Top", "history-top", top, FLOE_ARRAY_LEN(top));
    floe_buf_puts(b, "</div><section class=\"card wide\"><h2>Flows, newest first</h2>");
    data_table(b, "history-flows", flows, FLOE_ARRAY_LEN(flows));
    floe_buf_puts(b, "</section>");
}

/* ---- routes ------------------------------------------------------------ */

static void page_reply(floe_www_req *r, floe_engine *e, unsigned status, const www__page *p,
                       void (*body)(floe_buf *b, const char *arg))
{
    floe_buf b;
    floe_buf_init(&b);
    www__frame_begin(&b, r, e, p);
    body(&b, p->arg);
    www__frame_end(&b);
    floe_www_reply_html(r, status, &b);
    floe_buf_close(&b);
}

/* The pages with no argument, one row each: path, data-page, title and
 * body. Their paths are also their nav entries. */
static const struct page_row {
    const char *path, *id, *title;
    void (*body)(floe_buf *b, const char *arg);
} page_rows[] = {
    {"/", "dashboard", "Dashboard", body_dashboard},
    {"/hosts", "hosts", "Hosts", body_hosts},
    {"/flows", "flows", "Flows", body_flows},
    {"/exporters", "exporters", "Exporters", body_exporters},
    {"/alerts", "alerts", "Alerts", body_alerts},
    {"/plugins", "plugins", "Plugins", body_plugins},
    {"/history", "history", "Historical flows", body_history},
};

static void on_page(floe_www_req *r, void *ud)
{
    page_ctx *c = ud;
    for (size_t i = 0; i < FLOE_ARRAY_LEN(page_rows); i++) {
        const struct page_row *row = &page_rows[i];
        if (strcmp(floe_www_path(r), row->path) != 0)
            continue;
        www__page p = {row->id, row->title, NULL, row->path};
        page_reply(r, c->e, 200, &p, row->body);
        return;
    }
    floe_www_reply_error(r, 404, "not found");
}

static void body_not_found(floe_buf *b, const char *what)
{
    floe_html_tpl(b, "<h1>Not found</h1><p class=\"notice\">{}</p>", what);
}

static void on_host_page(floe_www_req *r, void *ud)
{
    page_ctx *c = ud;
    floe_addr a;
    char ip[FLOE_ADDR_STRLEN];
    if (floe_addr_parse(&a, floe_www_path_rest(r)) != 0) {
        www__page p = {"none", "Not found", "There is no host with that address.", "/hosts"};
        page_reply(r, c->e, 404, &p, body_not_found);
        return;
    }
    floe_addr_format(&a, ip); /* the canonical form */
    www__page p = {"host", ip, ip, "/hosts"};
    page_reply(r, c->e, 200, &p, body_host);
}

static int plugin_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
            return 0;
    return 1;
}

/* The nav entry of a plugin's pages: its menu entry links to its first
 * page, and stays marked on the others. */
static void plugin_nav(floe_engine *e, const char *plugin, char *nav, size_t len)
{
    floe_web_menu_item items[32];
    char prefix[80];
    size_t n = floe_web_menu_extra(e, items, FLOE_ARRAY_LEN(items));
    snprintf(prefix, sizeof(prefix), "/plugins/%s/", plugin);
    nav[0] = '\0';
    for (size_t i = 0; i < n; i++)
        if (strncmp(items[i].href, prefix, strlen(prefix)) == 0)
            snprintf(nav, len, "%s", items[i].href);
}

/* /plugins/{plugin}/{page}: the frame around what the plugin renders; a
 * page whose script fails shows why, and nothing else is affected. */
static void on_plugin_page(floe_www_req *r, void *ud)
{
    page_ctx *c = ud;
    const char *rest = floe_www_path_rest(r), *slash = strchr(rest, '/');
    char plugin[65], nav[160], title[512] = "";
    if (!slash || !plugin_name_ok(rest, (size_t)(slash - rest)) ||
        !plugin_name_ok(slash + 1, strlen(slash + 1))) {
        www__page p = {"none", "Not found", "No such plugin page.", "/plugins"};
        page_reply(r, c->e, 404, &p, body_not_found);
        return;
    }
    snprintf(plugin, sizeof(plugin), "%.*s", (int)(slash - rest), rest);
    plugin_nav(c->e, plugin, nav, sizeof(nav));
    floe_buf frag;
    floe_buf_init(&frag);
    int rc = floe_web_plugin_page(c->e, plugin, slash + 1, &frag, title, sizeof(title));
    if (rc != 0) {
        int nf = rc == FLOE_ENOTFOUND;
        www__page p = {"none", nf ? "Not found" : "Plugin page error",
                       nf ? "No such plugin page." : title, nav[0] ? nav : "/plugins"};
        page_reply(r, c->e, nf ? 404 : 500, &p, body_not_found);
    } else {
        floe_buf b;
        floe_buf_init(&b);
        www__page p = {"plugin", title[0] ? title : slash + 1, plugin, nav};
        www__frame_begin(&b, r, c->e, &p);
        floe_buf_append(&b, frag.data ? frag.data : "", frag.len);
        www__frame_end(&b);
        floe_www_reply_html(r, 200, &b);
        floe_buf_close(&b);
    }
    floe_buf_close(&frag);
}

static void on_account(floe_www_req *r, void *ud)
{
    (void)ud;
    www__account_page(r, 200, NULL, 0);
}

static void on_login_page(floe_www_req *r, void *ud)
{
    (void)ud;
    www__login_page(r, 200, NULL, floe_www_query(r, "next"));
}

/* ---- static assets ----------------------------------------------------- */

const www__asset *www__asset_find(const char *name)
{
    for (size_t i = 0; i < www__n_assets; i++)
        if (strcmp(www__assets[i].name, name) == 0)
            return &www__assets[i];
    return NULL;
}

/* /static/NAME: only names in the embedded table exist; there is no file
 * system behind this route, so "../" can only miss. */
static void on_static(floe_www_req *r, void *ud)
{
    (void)ud;
    const char *name = floe_www_path_rest(r);
    if (strcmp(floe_www_path(r), "/favicon.ico") == 0)
        name = "favicon.svg";
    const www__asset *a = www__asset_find(name);
    if (!a) {
        floe_www_reply_error(r, 404, "no such asset");
        return;
    }
    const char *v = floe_www_query(r, "v");
    floe_www_reply_static(r, a->type, a->data, a->len,
                          v && strcmp(v, a->hash) == 0 ? STATIC_MAX_AGE : 0);
}

/* ---- registration ------------------------------------------------------ */

int floe_web_register(floe_www *w, floe_engine *e, floe_auth *a)
{
    static const struct {
        const char *method, *path;
        unsigned flags;
        floe_www_handler handler;
    } routes[] = {
        {"GET", "/static/", FLOE_WWW_PREFIX | FLOE_WWW_PUBLIC, on_static},
        {"GET", "/favicon.ico", FLOE_WWW_PUBLIC, on_static},
        {"GET", "/login", FLOE_WWW_PUBLIC, on_login_page},
        {"GET", "/account", 0, on_account},
        {"GET", "/hosts/", FLOE_WWW_PREFIX, on_host_page},
        {"GET", "/plugins/", FLOE_WWW_PREFIX, on_plugin_page},
    };
    page_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return FLOE_ENOMEM;
    c->e = e;
    c->auth = a;
    int rc = floe_www_set_data(w, c, free);
    if (rc != 0) {
        free(c);
        return rc;
    }
    for (size_t i = 0; rc == 0 && i < FLOE_ARRAY_LEN(page_rows); i++)
        rc = floe_www_route(w, "GET", page_rows[i].path, 0, on_page, c);
    for (size_t i = 0; rc == 0 && i < FLOE_ARRAY_LEN(routes); i++)
        rc = floe_www_route(w, routes[i].method, routes[i].path, routes[i].flags, routes[i].handler,
                            c);
    if (rc == 0)
        rc = floe_auth_register(a, w);
    if (rc == 0)
        rc = floe_api_register(w, e);
    return rc;
}

/* ---- login and account ------------------------------------------------- */

void www__login_page(floe_www_req *r, unsigned status, const char *message, const char *next)
{
    floe_buf b;
    floe_buf_init(&b);
    www__page p = {"login", "Log in", NULL, NULL};
    www__frame_begin(&b, r, NULL, &p);
    floe_html_tpl(&b,
                  "<form class=\"login card\" method=\"post\" action=\"/login\">"
                  "<h1>floe</h1>{!}{}{!}"
                  "<input type=\"hidden\" name=\"next\" value=\"{}\">"
                  "<label>User <input name=\"username\" value=\"admin\" "
                  "autocomplete=\"username\" required></label>"
                  "<label>Password <input type=\"password\" name=\"password\" "
                  "autocomplete=\"current-password\" required autofocus></label>"
                  "<button type=\"submit\">Log in</button></form>",
                  message ? "<p class=\"error\" role=\"alert\">" : "", message,
                  message ? "</p>" : "", www__safe_next(next));
    www__frame_end(&b);
    floe_www_reply_html(r, status, &b);
    floe_buf_close(&b);
}

void www__account_page(floe_www_req *r, unsigned status, const char *message, int ok)
{
    floe_buf b;
    floe_buf_init(&b);
    page_ctx *c = floe_www_data(floe_www_server(r));
    www__page p = {"account", "Account", NULL, NULL};
    www__frame_begin(&b, r, c ? c->e : NULL, &p);
    floe_html_tpl(
        &b,
        "<h1>Account</h1>{!}{}{!}"
        "<form class=\"card narrow\" method=\"post\" action=\"/account/password\">"
        "<h2>Change the admin password</h2>"
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">"
        "<input type=\"text\" name=\"username\" value=\"admin\" "
        "autocomplete=\"username\" hidden>"
        "<label>Current password <input type=\"password\" name=\"old\" "
        "autocomplete=\"current-password\" required></label>"
        "<label>New password <input type=\"password\" name=\"new\" minlength=\"8\" "
        "autocomplete=\"new-password\" required></label>"
        "<label>New password again <input type=\"password\" name=\"confirm\" "
        "minlength=\"8\" autocomplete=\"new-password\" required></label>"
        "<button type=\"submit\">Change password</button></form>",
        message ? (ok ? "<p class=\"ok\" role=\"status\">" : "<p class=\"error\" role=\"alert\">")
                : "",
        message, message ? "</p>" : "", floe_auth_csrf(r));
    www__frame_end(&b);
    floe_www_reply_html(r, status, &b);
    floe_buf_close(&b);
}
