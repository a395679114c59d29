/*
 * Internal to www/: what the server, the authentication routes, the pages
 * and the embedded assets share. Nothing outside www/ includes this file.
 */
#ifndef FLOE_WWW_INTERNAL_H
#define FLOE_WWW_INTERNAL_H

#include "www/www.h"

/* One file of www/static/, embedded at build time by tools/embed.sh into
 * the generated www/assets.c. hash is a short hex digest of the bytes: the
 * pages ask for /static/NAME?v=HASH, so a browser may cache an asset for a
 * year and still never serve a stale one after an upgrade. */
typedef struct www__asset {
    const char *name; /* "app.js", no directories */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
    const char *hash;
} www__asset;

extern const www__asset www__assets[];
extern const size_t www__n_assets;

/* The asset called name (an exact match in the table: nothing on disk is
 * ever opened, so no path can escape), or NULL. */
const www__asset *www__asset_find(const char *name);

/* Pages that the authentication routes answer with (www/pages.c). message
 * is plain text (escaped here); next is where a login goes afterwards. */
void www__login_page(floe_www_req *r, unsigned status, const char *message, const char *next);
void www__account_page(floe_www_req *r, unsigned status, const char *message, int ok);

/* next if it is a path on this server ("/hosts?sort=bytes"), else "/":
 * never "//host" or "http://...", so a login cannot redirect elsewhere. */
const char *www__safe_next(const char *next);

/* The frame around a page (www/html.c). */
struct floe_engine;
typedef struct www__page {
    const char *id;    /* body data-page: which part of app.js runs */
    const char *title; /* plain text */
    const char *arg;   /* body data-arg (a host's address), or NULL */
    const char *nav;   /* the nav entry to mark as current, or NULL */
} www__page;
/* Opens the document: head, nav bar (when e is not NULL: the login page
 * has none), user menu, <main>. */
void www__frame_begin(floe_buf *b, floe_www_req *r, struct floe_engine *e, const www__page *p);
void www__frame_end(floe_buf *b);

/* 1 for a request that must not change state: GET, HEAD, OPTIONS. */
int www__safe_method(const char *method);

#endif
