/*
 * nDPI behind a small interface, so nDPI's headers and types stay in this
 * file. One detection module, used from the loop thread only (it holds
 * per-packet state). Three ways to a label, cheapest first:
 *   - floe_dpi_guess: protocol, ports and nDPI's IP lists (about 240 ns);
 *   - floe_dpi_packet: dissection of an sFlow sampled header, with per-flow
 *     state kept across samples, bounded by max_states;
 *   - floe_dpi_by_name: an exporter's application name to an nDPI id.
 */
#include "tables/tables.h"

#include <malloc.h>
#include <ndpi/ndpi_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/* nDPI's guess from a server port, computed once per (protocol, port). */
typedef struct port_label {
    uint16_t app, master, category;
    uint16_t filled;
} port_label;

/*
 * The dissection states (ndpi_flow_struct, about 700 bytes each) come from
 * a pool of max_states rather than from malloc: a cold start at 50,000
 * dissections a second had malloc carve fresh heap for each, and on a VM
 * whose host backs memory lazily its first touch of every page spent most
 * of the loop's time (70,000 sFlow samples a second read, at full CPU, for
 * the first second). The pool is backed ahead of need, like the tables'.
 */
struct floe_dpi {
    struct ndpi_detection_module_struct *mod;
    port_label *ports; /* [0] TCP, [1] UDP: 65536 each; [2] other protocols by number */
    floe_pool states;  /* live ndpi_flow_struct objects, at most max_states */
    uint64_t state_refusals;
};

floe_dpi *floe_dpi_new(size_t max_states)
{
    floe_dpi *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->mod = ndpi_init_detection_module(ndpi_no_prefs);
    if (!d->mod) {
        free(d);
        return NULL;
    }
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(d->mod, &all);
    /* Required: without it hostname and IP-list matching do not work. */
    ndpi_finalize_initialization(d->mod);
    d->ports = calloc(2 * 65536 + 256, sizeof(*d->ports));
    /* Items 16 bytes apart keep malloc's alignment. */
    size_t size = (ndpi_detection_get_sizeof_ndpi_flow_struct() + 15) & ~(size_t)15;
    if (!d->ports || floe_pool_init(&d->states, size, 2048, max_states) != 0) {
        floe_dpi_free(d);
        return NULL;
    }
    return d;
}

void floe_dpi_free(floe_dpi *d)
{
    if (!d)
        return;
    ndpi_exit_detection_module(d->mod);
    free(d->ports);
    floe_pool_close(&d->states);
    free(d);
}

floe_pool *floe_dpi_state_pool(floe_dpi *d)
{
    return &d->states;
}

/*
 * nDPI also allocates for itself while it dissects: a TLS flow's
 * reassembly buffer is a malloc of 2 KiB and more. On a cold heap, every
 * page those buffers reach is touched for the first time on the loop, and
 * on a VM whose host backs memory lazily that is slow: a cold floe at 700k
 * sFlow samples a second spent 30% of its time in malloc and its page
 * faults while the states filled. So the heap is grown and touched here,
 * 3 KiB per state (at most 512 MiB: with the states full, nDPI had grown
 * the heap by about that much), freed back to malloc and kept
 * (M_TRIM_THRESHOLD), for nDPI to carve. Returns the bytes warmed.
 */
size_t floe_dpi_warm_heap(floe_dpi *d)
{
#if defined(__GLIBC__) && defined(M_TRIM_THRESHOLD)
    enum { CHUNK = 64 * 1024 - 64 }; /* under malloc's mmap threshold: from the heap */
    size_t bytes = d->states.max * 3072;
    if (bytes > ((size_t)512 << 20))
        bytes = (size_t)512 << 20;
    size_t n = bytes / CHUNK, got = 0;
    void **chunk = calloc(n ? n : 1, sizeof(*chunk));
    if (!chunk)
        return 0;
    mallopt(M_TRIM_THRESHOLD, (int)(bytes + ((size_t)16 << 20)));
    for (; got < n && (chunk[got] = malloc(CHUNK)); got++)
        memset(chunk[got], 0, CHUNK);
    size_t warmed = got * CHUNK;
    while (got) /* newest first: each joins the free top of the heap */
        free(chunk[--got]);
    free(chunk);
    return warmed;
#else
    (void)d;
    return 0;
#endif
}

static void set_label(floe_dpi *d, ndpi_protocol p, floe_app_label *out)
{
    out->app = p.app_protocol;
    out->master = p.master_protocol;
    if (out->app == NDPI_PROTOCOL_UNKNOWN) {
        out->app = p.master_protocol;
        out->master = NDPI_PROTOCOL_UNKNOWN;
    }
    out->category = (uint16_t)ndpi_get_proto_category(d->mod, p);
}

void floe_dpi_guess(floe_dpi *d, uint8_t ipproto, const floe_addr *src, uint16_t sport,
                    const floe_addr *dst, uint16_t dport, floe_app_label *out)
{
    /* nDPI's guess takes IPv4 addresses only (host order); IPv6 flows are
     * guessed from protocol and ports alone. */
    uint32_t s = floe_addr_is_v4(src) ? floe_addr_v4(src) : 0;
    uint32_t t = floe_addr_is_v4(dst) ? floe_addr_v4(dst) : 0;
    ndpi_protocol p = ndpi_guess_undetected_protocol(d->mod, NULL, ipproto, s, sport, t, dport);
    set_label(d, p, out);
}

uint16_t floe_dpi_ip_app(floe_dpi *d, const floe_addr *a)
{
    /* nDPI 4.2's IP lists are IPv4 only. */
    if (!floe_addr_is_v4(a))
        return 0;
    struct in_addr in;
    memcpy(&in.s_addr, a->b + 12, 4);
    return ndpi_network_ptree_match(d->mod, &in);
}

void floe_dpi_port_label(floe_dpi *d, uint8_t ipproto, uint16_t port, floe_app_label *out)
{
    port_label *pl = ipproto == 6    ? &d->ports[port]
                     : ipproto == 17 ? &d->ports[65536 + port]
                                     : &d->ports[2 * 65536 + ipproto];
    if (!pl->filled) {
        floe_app_label l;
        /* The port on both sides, so nDPI looks up only that port (it
         * ignores zero ports). */
        uint16_t pp = ipproto == 6 || ipproto == 17 ? port : 0;
        ndpi_protocol p = ndpi_guess_undetected_protocol(d->mod, NULL, ipproto, 0, pp, 0, pp);
        set_label(d, p, &l);
        pl->app = l.app, pl->master = l.master, pl->category = l.category;
        pl->filled = 1;
    }
    out->app = pl->app;
    out->master = pl->master;
    out->category = pl->category;
}

void floe_dpi_compose(floe_dpi *d, const floe_app_label *port, uint16_t ip_app, floe_app_label *out)
{
    if (!ip_app) {
        *out = *port;
        return;
    }
    /* As nDPI names it: the service from the IP list over the protocol the
     * port gives, e.g. TLS.Google. */
    ndpi_protocol p = {port->app, ip_app, NDPI_PROTOCOL_CATEGORY_UNSPECIFIED};
    if (port->app == ip_app)
        p.master_protocol = NDPI_PROTOCOL_UNKNOWN;
    set_label(d, p, out);
}

/* The L3 header inside an sFlow sampled header, copied so its length field
 * can be patched down to what was captured (nDPI otherwise gives up). */
static size_t l3_copy(const uint8_t *p, size_t n, uint32_t proto, uint8_t *out, size_t cap)
{
    size_t off = 0;
    if (proto == 1) { /* Ethernet, with any VLAN tags */
        if (n < 14)
            return 0;
        uint16_t type = floe_be16(p + 12);
        off = 14;
        while ((type == 0x8100 || type == 0x88a8) && off + 4 <= n) {
            type = floe_be16(p + off + 2);
            off += 4;
        }
        if (type != 0x0800 && type != 0x86dd)
            return 0;
    } else if (proto != 11 && proto != 12) {
        return 0;
    }
    size_t len = n - off;
    if (len > cap)
        len = cap;
    memcpy(out, p + off, len);
    size_t l4 = 0;
    uint8_t ipproto = 0;
    if (len >= 20 && (out[0] >> 4) == 4) {
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        l4 = (size_t)(out[0] & 15) * 4;
        ipproto = out[9];
    } else if (len >= 40 && (out[0] >> 4) == 6) {
        out[4] = (uint8_t)((len - 40) >> 8);
        out[5] = (uint8_t)(len - 40);
        l4 = 40;
        ipproto = out[6];
    } else {
        return 0;
    }
    /* Headers alone give nDPI nothing its guess does not: a TCP or UDP
     * segment with no payload bytes is not dissected. */
    size_t l4_hdr = ipproto == 6 && l4 + 13 < len ? (size_t)(out[l4 + 12] >> 4) * 4
                    : ipproto == 17               ? 8
                                                  : 0;
    if (l4_hdr && l4 + l4_hdr >= len)
        return 0;
    return len;
}

enum floe_dpi_result floe_dpi_packet(floe_dpi *d, void **state, const uint8_t *hdr, size_t n,
                                     uint32_t proto, uint64_t ts_ms, int give_up,
                                     floe_app_label *out, uint64_t *risk)
{
    uint8_t l3[1600];
    size_t len = l3_copy(hdr, n, proto, l3, sizeof(l3));
    if (!len && !give_up)
        return FLOE_DPI_NO_PAYLOAD;
    if (!*state && !(*state = floe_pool_alloc(&d->states))) {
        d->state_refusals++;
        return FLOE_DPI_NO_STATE;
    }
    struct ndpi_flow_struct *f = *state;
    ndpi_protocol p = NDPI_PROTOCOL_NULL;
    if (len) {
        p = ndpi_detection_process_packet(d->mod, f, l3, (unsigned short)len, ts_ms);
        *risk |= f->risk;
    }
    int done =
        p.app_protocol != NDPI_PROTOCOL_UNKNOWN || p.master_protocol != NDPI_PROTOCOL_UNKNOWN;
    if (!done && give_up) {
        uint8_t guessed = 0;
        p = ndpi_detection_giveup(d->mod, f, 1, &guessed);
        done =
            p.app_protocol != NDPI_PROTOCOL_UNKNOWN || p.master_protocol != NDPI_PROTOCOL_UNKNOWN;
        if (done)
            set_label(d, p, out);
        floe_dpi_release(d, state);
        return done ? FLOE_DPI_GAVE_UP : FLOE_DPI_PENDING;
    }
    if (!done)
        return FLOE_DPI_PENDING;
    set_label(d, p, out);
    return FLOE_DPI_DETECTED;
}

void floe_dpi_release(floe_dpi *d, void **state)
{
    if (!*state)
        return;
    ndpi_free_flow_data(*state);
    floe_pool_free(&d->states, *state);
    *state = NULL;
}

int floe_dpi_by_id(floe_dpi *d, uint32_t id, floe_app_label *out)
{
    if (id == NDPI_PROTOCOL_UNKNOWN || id >= ndpi_get_num_supported_protocols(d->mod))
        return FLOE_ENOTFOUND;
    ndpi_protocol p = {(uint16_t)NDPI_PROTOCOL_UNKNOWN, (uint16_t)id,
                       NDPI_PROTOCOL_CATEGORY_UNSPECIFIED};
    set_label(d, p, out);
    return 0;
}

/* Exporters' application names that differ from nDPI's (Cisco NBAR2 names
 * first). nDPI matches its own names without regard to case. */
static const struct {
    const char *exporter;
    const char *ndpi;
} name_aliases[] = {
    {"ssl", "TLS"},
    {"secure-http", "TLS"},
    {"https", "TLS"},
    {"http-alt", "HTTP"},
    {"www-http", "HTTP"},
    {"domain", "DNS"},
    {"google-services", "Google"},
    {"google-accounts", "Google"},
    {"youtube", "YouTube"},
    {"facebook", "Facebook"},
    {"netflix", "NetFlix"},
    {"ms-office-365", "Microsoft365"},
    {"ms-teams", "Skype_Teams"},
    {"skype", "Skype_Teams"},
    {"ms-update", "WindowsUpdate"},
    {"secure-imap", "IMAPS"},
    {"secure-pop3", "POP3S"},
    {"secure-smtp", "SMTPS"},
    {"icloud", "AppleiCloud"},
    {"whatsapp", "WhatsApp"},
    {"spotify", "Spotify"},
    {"telegram", "Telegram"},
    {"dropbox", "Dropbox"},
    {"amazon-web-services", "AmazonAWS"},
    {"ms-lync", "Skype_Teams"},
    {"bittorrent", "BitTorrent"},
};

int floe_dpi_by_name(floe_dpi *d, const char *name, floe_app_label *out)
{
    int id = ndpi_get_protocol_id(d->mod, (char *)name);
    for (size_t i = 0; id <= 0 && i < FLOE_ARRAY_LEN(name_aliases); i++)
        if (strcasecmp(name, name_aliases[i].exporter) == 0)
            id = ndpi_get_protocol_id(d->mod, (char *)name_aliases[i].ndpi);
    if (id <= 0)
        return FLOE_ENOTFOUND;
    return floe_dpi_by_id(d, (uint32_t)id, out);
}

const char *floe_dpi_app_name(floe_dpi *d, uint16_t id)
{
    const char *name = ndpi_get_proto_name(d->mod, id);
    return name ? name : "Unknown";
}

const char *floe_dpi_category_name(floe_dpi *d, uint16_t category)
{
    const char *name = ndpi_category_get_name(d->mod, (ndpi_protocol_category_t)category);
    return name ? name : "Unspecified";
}

char *floe_dpi_label_name(floe_dpi *d, const floe_app_label *l, char *out, size_t outlen)
{
    if (l->master && l->master != l->app)
        snprintf(out, outlen, "%s.%s", floe_dpi_app_name(d, l->master),
                 floe_dpi_app_name(d, l->app));
    else
        snprintf(out, outlen, "%s", floe_dpi_app_name(d, l->app));
    return out;
}

/* Each risk's key: its ndpi_risk_enum name, lower case, without NDPI_. */
static const char *const risk_keys[NDPI_MAX_RISK] = {
    [NDPI_URL_POSSIBLE_XSS] = "url_possible_xss",
    [NDPI_URL_POSSIBLE_SQL_INJECTION] = "url_possible_sql_injection",
    [NDPI_URL_POSSIBLE_RCE_INJECTION] = "url_possible_rce_injection",
    [NDPI_BINARY_APPLICATION_TRANSFER] = "binary_application_transfer",
    [NDPI_KNOWN_PROTOCOL_ON_NON_STANDARD_PORT] = "known_protocol_on_non_standard_port",
    [NDPI_TLS_SELFSIGNED_CERTIFICATE] = "tls_selfsigned_certificate",
    [NDPI_TLS_OBSOLETE_VERSION] = "tls_obsolete_version",
    [NDPI_TLS_WEAK_CIPHER] = "tls_weak_cipher",
    [NDPI_TLS_CERTIFICATE_EXPIRED] = "tls_certificate_expired",
    [NDPI_TLS_CERTIFICATE_MISMATCH] = "tls_certificate_mismatch",
    [NDPI_HTTP_SUSPICIOUS_USER_AGENT] = "http_suspicious_user_agent",
    [NDPI_HTTP_NUMERIC_IP_HOST] = "http_numeric_ip_host",
    [NDPI_HTTP_SUSPICIOUS_URL] = "http_suspicious_url",
    [NDPI_HTTP_SUSPICIOUS_HEADER] = "http_suspicious_header",
    [NDPI_TLS_NOT_CARRYING_HTTPS] = "tls_not_carrying_https",
    [NDPI_SUSPICIOUS_DGA_DOMAIN] = "suspicious_dga_domain",
    [NDPI_MALFORMED_PACKET] = "malformed_packet",
    [NDPI_SSH_OBSOLETE_CLIENT_VERSION_OR_CIPHER] = "ssh_obsolete_client_version_or_cipher",
    [NDPI_SSH_OBSOLETE_SERVER_VERSION_OR_CIPHER] = "ssh_obsolete_server_version_or_cipher",
    [NDPI_SMB_INSECURE_VERSION] = "smb_insecure_version",
    [NDPI_TLS_SUSPICIOUS_ESNI_USAGE] = "tls_suspicious_esni_usage",
    [NDPI_UNSAFE_PROTOCOL] = "unsafe_protocol",
    [NDPI_DNS_SUSPICIOUS_TRAFFIC] = "dns_suspicious_traffic",
    [NDPI_TLS_MISSING_SNI] = "tls_missing_sni",
    [NDPI_HTTP_SUSPICIOUS_CONTENT] = "http_suspicious_content",
    [NDPI_RISKY_ASN] = "risky_asn",
    [NDPI_RISKY_DOMAIN] = "risky_domain",
    [NDPI_MALICIOUS_JA3] = "malicious_ja3",
    [NDPI_MALICIOUS_SHA1_CERTIFICATE] = "malicious_sha1_certificate",
    [NDPI_DESKTOP_OR_FILE_SHARING_SESSION] = "desktop_or_file_sharing_session",
    [NDPI_TLS_UNCOMMON_ALPN] = "tls_uncommon_alpn",
    [NDPI_TLS_CERT_VALIDITY_TOO_LONG] = "tls_cert_validity_too_long",
    [NDPI_TLS_SUSPICIOUS_EXTENSION] = "tls_suspicious_extension",
    [NDPI_TLS_FATAL_ALERT] = "tls_fatal_alert",
    [NDPI_SUSPICIOUS_ENTROPY] = "suspicious_entropy",
    [NDPI_CLEAR_TEXT_CREDENTIALS] = "clear_text_credentials",
    [NDPI_DNS_LARGE_PACKET] = "dns_large_packet",
    [NDPI_DNS_FRAGMENTED] = "dns_fragmented",
    [NDPI_INVALID_CHARACTERS] = "invalid_characters",
    [NDPI_POSSIBLE_EXPLOIT] = "possible_exploit",
    [NDPI_TLS_CERTIFICATE_ABOUT_TO_EXPIRE] = "tls_certificate_about_to_expire",
};

const char *floe_dpi_risk_name(int n)
{
    return n > 0 && n < NDPI_MAX_RISK ? risk_keys[n] : NULL;
}

const char *floe_dpi_risk_title(int n)
{
    return n > 0 && n < NDPI_MAX_RISK ? ndpi_risk2str((ndpi_risk_enum)n) : NULL;
}

uint16_t floe_dpi_risk_score(int n)
{
    u_int16_t cli, srv;
    if (n <= 0 || n >= NDPI_MAX_RISK)
        return 0;
    return ndpi_risk2score((ndpi_risk)1 << n, &cli, &srv);
}

int floe_dpi_risk_parse(const char *name)
{
    for (int n = 1; n < NDPI_MAX_RISK; n++)
        if (risk_keys[n] && strcmp(risk_keys[n], name) == 0)
            return n;
    return -1;
}

int floe_dpi_category_parse(floe_dpi *d, const char *name)
{
    char copy[64];
    snprintf(copy, sizeof(copy), "%s", name);
    int id = ndpi_get_category_id(d->mod, copy);
    return id >= 0 && id < NDPI_PROTOCOL_NUM_CATEGORIES ? id : -1;
}

size_t floe_dpi_app_count(floe_dpi *d)
{
    return ndpi_get_num_supported_protocols(d->mod);
}

size_t floe_dpi_states(const floe_dpi *d)
{
    return d->states.live;
}
uint64_t floe_dpi_refusals(const floe_dpi *d)
{
    return d->state_refusals;
}
