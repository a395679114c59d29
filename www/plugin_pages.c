/*
 * The seam for the pages plugins add (web_gui/menu.lua and page scripts).
 * The plugin engine is not built yet: no plugin adds a menu entry and no
 * plugin page exists. When it lands, these two functions ask it; the
 * routes (/plugins/{plugin}/{page}), the nav bar and the frame around a
 * page are already in place (www/pages.c, www/html.c).
 */
#include "engine/engine.h"
#include "www/www.h"

size_t floe_web_menu_extra(floe_engine *e, floe_web_menu_item *out, size_t max)
{
    (void)e;
    (void)out;
    (void)max;
    return 0;
}

int floe_web_plugin_page(floe_engine *e, const char *plugin, const char *page, floe_buf *out,
                         char *title, size_t titlelen)
{
    (void)e;
    (void)plugin;
    (void)page;
    (void)out;
    if (titlelen)
        title[0] = '\0';
    return FLOE_ENOTFOUND;
}
