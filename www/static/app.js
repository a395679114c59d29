/*
 * floe's web UI script: vanilla JavaScript, no framework. The server
 * renders each page's structure; this fills it from the JSON API and keeps
 * it live (a refresh every REFRESH_MS, paused while the tab is hidden),
 * with human units (bits/s, SI prefixes, relative times), and turns every
 * <div class="chart" data-schema=...> into an interactive uPlot chart fed
 * by /api/v1/timeseries. Data is only ever written with textContent, never
 * as markup (plugin pages, rendered and escaped by floe, are swapped as
 * parsed nodes: pages.plugin).
 */
(function () {
    'use strict';

    var REFRESH_MS = 5000;
    var PAGE = 50;
    var THEME_KEY = 'floe-theme';

    /* The theme, before the first paint (this script runs in <head>): the
     * toggle's choice if there is one, else the system's, followed live. */
    function storedTheme() {
        try {
            var t = localStorage.getItem(THEME_KEY);
            return t === 'light' || t === 'dark' ? t : null;
        } catch (e) {
            return null;
        }
    }
    var systemDark = window.matchMedia('(prefers-color-scheme: dark)');
    function applyTheme() {
        document.documentElement.setAttribute('data-theme', storedTheme() || (systemDark.matches ? 'dark' : 'light'));
    }
    applyTheme();

    /* ---- units ------------------------------------------------------------ */

    var PREFIXES = ['', 'k', 'M', 'G', 'T', 'P', 'E'];

    /* 1234567 -> "1.23 M" + unit; SI (powers of 1000), three significant digits. */
    function si(v, unit) {
        if (v === null || v === undefined || isNaN(v))
            return '\u2013';
        var neg = v < 0, x = Math.abs(v), i = 0;
        while (x >= 999.5 && i < PREFIXES.length - 1) {
            x /= 1000;
            i++;
        }
        var text = i === 0 && Math.round(x) === x ? String(x) :
            x >= 99.5 ? x.toFixed(0) : x >= 9.95 ? x.toFixed(1) : x.toFixed(2);
        return (neg ? '-' : '') + text + (unit || PREFIXES[i] ? ' ' + PREFIXES[i] + (unit || '') : '');
    }

    function count(n) {
        if (n === null || n === undefined)
            return '\u2013';
        return n < 10000 ? String(n) : si(n, '');
    }

    var fmt = {
        si: si,
        count: count,
        bytes: function (b) { return si(b, 'B'); },
        /* a rate in bytes per second, shown as bits per second */
        bits: function (bytesPerSec) { return si(bytesPerSec * 8, 'bit/s'); },
        /* ms since the epoch -> "12 s ago", "3 min ago", "2 h ago", "5 d ago" */
        ago: function (ms, now) {
            if (!ms)
                return 'never';
            var s = Math.round(((now || Date.now()) - ms) / 1000);
            if (s < 2)
                return 'just now';
            if (s < 90)
                return s + ' s ago';
            if (s < 5400)
                return Math.round(s / 60) + ' min ago';
            if (s < 129600)
                return Math.round(s / 3600) + ' h ago';
            return Math.round(s / 86400) + ' d ago';
        },
        time: function (ms) { return new Date(ms).toLocaleString(); },
        pct: function (x) { return (100 * x).toFixed(x >= 0.1 ? 0 : 1) + ' %'; },
    };

    /* ---- DOM -------------------------------------------------------------- */

    function $(sel, root) { return (root || document).querySelector(sel); }
    function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

    /* el('td', {class: 'num'}, 'text', node...): strings become text nodes. */
    function el(tag, attrs) {
        var e = document.createElement(tag);
        for (var k in attrs || {}) {
            if (attrs[k] === null || attrs[k] === undefined || attrs[k] === false)
                continue;
            if (k === 'class')
                e.className = attrs[k];
            else if (k === 'text')
                e.textContent = attrs[k];
            else
                e.setAttribute(k, attrs[k] === true ? '' : attrs[k]);
        }
        for (var i = 2; i < arguments.length; i++) {
            var c = arguments[i];
            if (c === null || c === undefined)
                continue;
            e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
        }
        return e;
    }

    function hostLink(ip) {
        return el('a', { href: '/hosts/' + encodeURIComponent(ip), class: 'addr' }, ip);
    }

    function shareBar(x) {
        var bar = el('span', { class: 'share', title: fmt.pct(x) }, el('span'));
        bar.firstChild.style.width = Math.max(0, Math.min(100, 100 * x)).toFixed(1) + '%';
        return bar;
    }

    /*
     * Fills a server-rendered table's body. cols: [{v: row => text or node,
     * num: bool, cls: string or row => string}].
     */
    function fillTable(table, rows, cols, empty, onRow) {
        var body = table.tBodies[0], frag = document.createDocumentFragment();
        rows.forEach(function (row) {
            var tr = el('tr');
            cols.forEach(function (c) {
                var v = c.v(row), cls = typeof c.cls === 'function' ? c.cls(row) : c.cls;
                tr.appendChild(el('td', { class: ((c.num ? 'num ' : '') + (cls || '')).trim() || null },
                    v === null || v === undefined ? '\u2013' : v));
            });
            if (onRow)
                onRow(tr, row);
            frag.appendChild(tr);
        });
        if (!rows.length)
            frag.appendChild(el('tr', { class: 'empty' }, el('td', { colspan: cols.length }, empty || 'nothing yet')));
        body.replaceChildren(frag);
    }

    function tableMessage(table, text) {
        var n = table.tHead.rows[0].cells.length;
        table.tBodies[0].replaceChildren(el('tr', { class: 'empty' }, el('td', { colspan: n }, text)));
    }

    /* ---- the API ---------------------------------------------------------- */

    function csrf() {
        var m = $('meta[name="csrf-token"]');
        return m ? m.getAttribute('content') : '';
    }

    function ApiError(status, message) {
        this.status = status;
        this.message = message;
    }

    /* GET path as JSON; a 401 means the session ended: back to the login. */
    function api(path) {
        return fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
            .then(function (r) {
                if (r.status === 401) {
                    location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
                    throw new ApiError(401, 'logged out');
                }
                return r.json().catch(function () { return {}; }).then(function (body) {
                    if (!r.ok)
                        throw new ApiError(r.status, body.error || r.statusText);
                    return body;
                });
            }, function () {
                throw new ApiError(0, 'floe is not answering');
            });
    }

    function post(path, body) {
        return fetch(path, {
            method: 'POST', credentials: 'same-origin',
            headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf() },
            body: JSON.stringify(body || {}),
        });
    }

    function qs(obj) {
        return Object.keys(obj).filter(function (k) {
            return obj[k] !== '' && obj[k] !== null && obj[k] !== undefined;
        }).map(function (k) {
            return encodeURIComponent(k) + '=' + encodeURIComponent(obj[k]);
        }).join('&');
    }

    function params() {
        var out = {};
        new URLSearchParams(location.search).forEach(function (v, k) { out[k] = v; });
        return out;
    }

    /* ---- live refresh and "last updated" ---------------------------------- */

    var live = { tasks: [], last: 0, failed: false, timer: null };

    function updatedText() {
        var u = $('#updated');
        if (!u || !live.last)
            return;
        u.textContent = (live.failed ? 'not updated since ' : 'updated ') +
            new Date(live.last).toLocaleTimeString() + ' (' + fmt.ago(live.last) + ')';
        u.classList.toggle('stale', live.failed);
    }

    function refresh() {
        clearTimeout(live.timer);
        var runs = live.tasks.map(function (t) {
            try {
                return Promise.resolve(t());
            } catch (e) {
                return Promise.reject(e);
            }
        });
        return Promise.allSettled(runs).then(function (res) {
            var failed = res.some(function (r) { return r.status === 'rejected' && r.reason && r.reason.status === 0; });
            live.failed = failed;
            if (!failed)
                live.last = Date.now();
            updatedText();
            document.body.setAttribute('data-refreshed', String(Date.now()));
            if (!performance.getEntriesByName('floe:data').length)
                performance.mark('floe:data'); /* the first data drawn, for bench/web-page.mjs */
            if (!document.hidden)
                live.timer = setTimeout(refresh, REFRESH_MS);
        });
    }

    /* Registers a task that refreshes part of the page; it returns a promise. */
    function every(task) {
        live.tasks.push(task);
    }

    document.addEventListener('visibilitychange', function () {
        if (!document.hidden && live.tasks.length)
            refresh();
    });
    setInterval(updatedText, 1000);

    /* ---- charts ----------------------------------------------------------- */

    var RANGES = [['1h', 3600], ['6h', 21600], ['1d', 86400], ['1w', 604800], ['1m', 2678400], ['1y', 31536000]];
    var PALETTE = ['#1f6feb', '#e8590c', '#2f9e44', '#ae3ec9', '#f08c00', '#0c8599', '#e03131', '#5c7cfa'];
    var charts = [];

    function cssVar(name) {
        return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    }

    /*
     * A chart in slot: range buttons (1h..1y), a plot where hovering shows
     * the values at that time in the legend and a drag zooms (and fetches
     * that range at its finer resolution), double-click or "Reset" to go
     * back. unit "bytes": per-second deltas shown as bits/s.
     */
    function Chart(slot) {
        this.slot = slot;
        this.schema = slot.getAttribute('data-schema');
        this.tags = slot.getAttribute('data-tags') || '';
        this.unit = slot.getAttribute('data-unit') || '';
        this.range = slot.getAttribute('data-range') || '1d';
        this.zoom = null;
        this.u = null;
        this.data = null;
        var self = this;
        this.bar = el('div', { class: 'chart-bar', role: 'group', 'aria-label': 'Range' });
        RANGES.forEach(function (r) {
            var b = el('button', { type: 'button', 'data-range': r[0] }, r[0]);
            b.addEventListener('click', function () {
                self.range = r[0];
                self.zoom = null;
                self.load();
            });
            self.bar.appendChild(b);
        });
        this.reset = el('button', { type: 'button', class: 'reset', hidden: true }, 'Reset zoom');
        this.reset.addEventListener('click', function () {
            self.zoom = null;
            self.load();
        });
        this.bar.appendChild(this.reset);
        this.plot = el('div', { class: 'chart-plot' });
        this.msg = el('div', { class: 'chart-msg' }, 'loading\u2026');
        slot.replaceChildren(this.bar, this.msg, this.plot);
        slot.chart = this;
        charts.push(this);
        this.load();
    }

    Chart.prototype.window = function () {
        if (this.zoom)
            return this.zoom;
        var to = Math.floor(Date.now() / 1000), span = 86400;
        RANGES.forEach(function (r) { if (r[0] === this.range) span = r[1]; }, this);
        return [to - span, to];
    };

    Chart.prototype.message = function (text) {
        this.msg.textContent = text;
        this.msg.hidden = false;
        this.plot.hidden = true;
        this.slot.setAttribute('data-state', text === 'no timeseries yet' ? 'none' : 'message');
    };

    Chart.prototype.load = function () {
        var self = this, w = this.window();
        $$('button[data-range]', this.bar).forEach(function (b) {
            b.setAttribute('aria-pressed', String(!self.zoom && b.getAttribute('data-range') === self.range));
        });
        this.reset.hidden = !this.zoom;
        var url = '/api/v1/timeseries?' + qs({ schema: this.schema, tags: this.tags, from: w[0], to: w[1] });
        return api(url).then(function (d) {
            self.draw(d);
        }, function (e) {
            if (e.status === 404)
                self.message('no timeseries yet');
            else if (e.status !== 401)
                self.message('chart unavailable: ' + e.message);
        });
    };

    Chart.prototype.format = function (v) {
        if (v === null || v === undefined)
            return '\u2013';
        return this.unit === 'bytes' ? si(v, 'bit/s') : si(v, this.unit === 'count' ? '' : this.unit);
    };

    /* JSON {metrics, points: [[t, v1, ...], ...]} -> uPlot's columns. */
    Chart.prototype.columns = function (d) {
        var scale = this.unit === 'bytes' ? 8 : 1, n = (d.metrics || []).length;
        var cols = [[]];
        for (var i = 0; i < n; i++)
            cols.push([]);
        (d.points || []).forEach(function (p) {
            cols[0].push(p[0]);
            for (var i = 0; i < n; i++) {
                var v = p[i + 1];
                cols[i + 1].push(v === null || v === undefined ? null : v * scale);
            }
        });
        return cols;
    };

    Chart.prototype.options = function (metrics) {
        var self = this, muted = cssVar('--muted'), grid = cssVar('--grid');
        var series = [{ value: function (u, t) { return t === null ? '\u2013' : new Date(t * 1000).toLocaleString(); } }];
        metrics.forEach(function (m, i) {
            var c = PALETTE[i % PALETTE.length];
            series.push({
                label: m, stroke: c, width: 1.5, fill: c + '22', points: { show: false },
                value: function (u, v) { return self.format(v); },
            });
        });
        var axis = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
        return {
            width: Math.max(200, this.plot.clientWidth || this.slot.clientWidth || 600),
            height: 220,
            series: series,
            axes: [axis, Object.assign({}, axis, {
                size: 80,
                values: function (u, vals) { return vals.map(function (v) { return self.format(v); }); },
            })],
            scales: { x: { time: true } },
            cursor: { drag: { x: true, y: false } },
            hooks: {
                setSelect: [function (u) {
                    if (u.select.width < 4)
                        return;
                    var from = Math.floor(u.posToVal(u.select.left, 'x'));
                    var to = Math.ceil(u.posToVal(u.select.left + u.select.width, 'x'));
                    self.zoom = [from, to];
                    self.load();
                }],
            },
        };
    };

    Chart.prototype.draw = function (d) {
        var cols = this.columns(d);
        if (!cols[0].length) {
            this.message('no data in this range');
            return;
        }
        this.data = d;
        this.msg.hidden = true;
        this.plot.hidden = false;
        this.slot.setAttribute('data-state', 'drawn');
        var key = (d.metrics || []).join(',');
        if (this.u && this.key === key) {
            this.u.setData(cols);
            return;
        }
        if (this.u)
            this.u.destroy();
        this.key = key;
        this.u = new uPlot(this.options(d.metrics || []), cols, this.plot);
        var self = this;
        this.u.over.addEventListener('dblclick', function () {
            self.zoom = null;
            self.load();
        });
    };

    Chart.prototype.redraw = function () {
        if (!this.u || !this.data)
            return;
        this.u.destroy();
        this.u = null;
        this.draw(this.data);
    };

    Chart.prototype.resize = function () {
        if (this.u)
            this.u.setSize({ width: Math.max(200, this.plot.clientWidth), height: 220 });
    };

    function initCharts(root) {
        $$('.chart[data-schema]', root).forEach(function (slot) {
            if (!slot.chart && !slot.hidden)
                new Chart(slot);
        });
    }

    var resizeTimer = null;
    window.addEventListener('resize', function () {
        clearTimeout(resizeTimer);
        resizeTimer = setTimeout(function () { charts.forEach(function (c) { c.resize(); }); }, 150);
    });

    /* ---- the table pages' shared parts ------------------------------------ */

    /*
     * A paged, sorted, filtered table page: the state lives in the URL
     * (so a reload or a shared link keeps it), the filter form and the
     * sortable headings edit it, and load(state) fetches a page.
     */
    function tablePage(table, fields, load) {
        var state = params(), form = $('#filters');
        state.offset = parseInt(state.offset || '0', 10) || 0;
        if (form) {
            fields.forEach(function (f) {
                if (form.elements[f] && state[f])
                    form.elements[f].value = state[f];
            });
            form.addEventListener('submit', function (ev) {
                ev.preventDefault();
                fields.forEach(function (f) { state[f] = form.elements[f] ? form.elements[f].value.trim() : ''; });
                go(0);
            });
            form.addEventListener('reset', function () {
                setTimeout(function () {
                    fields.forEach(function (f) { state[f] = ''; });
                    go(0);
                });
            });
        }
        $$('th[data-sort] button', table).forEach(function (b) {
            b.addEventListener('click', function () {
                state.sort = b.parentNode.getAttribute('data-sort');
                go(0);
            });
        });
        $('#prev').addEventListener('click', function () { go(Math.max(0, state.offset - PAGE)); });
        $('#next').addEventListener('click', function () { go(state.offset + PAGE); });

        function go(offset) {
            state.offset = offset;
            var q = {};
            fields.concat(['sort']).forEach(function (f) { q[f] = state[f] || ''; });
            q.offset = offset || '';
            history.replaceState(null, '', location.pathname + (qs(q) ? '?' + qs(q) : ''));
            refresh();
        }

        every(function () {
            var sort = state.sort || 'bytes';
            $$('th[data-sort]', table).forEach(function (th) {
                if (th.getAttribute('data-sort') === sort)
                    th.setAttribute('aria-sort', 'descending');
                else
                    th.removeAttribute('aria-sort');
            });
            var q = { limit: PAGE, offset: state.offset || '', sort: sort };
            fields.forEach(function (f) { q[f] = state[f] || ''; });
            return load(qs(q)).then(function (d) {
                var first = d.total ? state.offset + 1 : 0;
                var last = Math.min(state.offset + PAGE, d.total);
                $('#page-info').textContent = count(first) + '\u2013' + count(last) + ' of ' + count(d.total);
                $('#prev').disabled = state.offset === 0;
                $('#next').disabled = state.offset + PAGE >= Math.min(d.total, 10000);
            }, function (e) {
                if (e.status)
                    tableMessage(table, e.message);
                throw e;
            });
        });
    }

    function flowApp(f) {
        return f.app ? el('span', { title: (f.category || '') + ' (' + (f.app_source || '') + ')' }, f.app) : '\u2013';
    }

    function flowBytes(f) {
        return (f.bytes ? f.bytes.c2s + f.bytes.s2c : 0);
    }

    /* The statuses the plugin engine sets: [{key, title, score, info}]. */
    function flowStatus(f) {
        var list = f.statuses || [];
        if (!list.length)
            return f.status ? el('span', { class: 'chip' }, String(f.status)) : '\u2013';
        var span = el('span');
        list.forEach(function (s) {
            span.appendChild(el('span', {
                class: 'chip ' + (s.score >= 100 ? 'bad' : s.score >= 10 ? 'warn' : ''),
                title: (s.info ? String(s.info) + ' ' : '') + '(score ' + s.score + ')',
            }, s.title || s.key));
        });
        return span;
    }

    var PROTOS = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 47: 'GRE', 50: 'ESP', 58: 'ICMPv6', 132: 'SCTP' };

    function endpoint(ip, port) {
        return el('span', null, hostLink(ip), port ? el('span', { class: 'mono' }, ':' + port) : null);
    }

    /* ---- pages ------------------------------------------------------------ */

    var pages = {};

    pages.dashboard = function () {
        var prev = null;
        every(function status() {
            return api('/api/v1/status').then(function (st) {
                var t = st.totals || {}, now = Date.now();
                if (prev && now > prev.at) {
                    var dt = (now - prev.at) / 1000;
                    $('#traffic-now').textContent = fmt.bits(Math.max(0, (t.bytes - prev.bytes) / dt));
                    $('#traffic-now-sub').textContent = si(Math.max(0, (t.records - prev.records) / dt), 'records/s') +
                        ', ' + si(Math.max(0, (t.datagrams - prev.datagrams) / dt), 'datagrams/s') + ' (as exported)';
                } else {
                    $('#traffic-now').textContent = 'measuring\u2026';
                    $('#traffic-now-sub').textContent = fmt.bytes(t.bytes) + ' received since start';
                }
                if (!prev) /* a second sample soon, for a first rate */
                    setTimeout(function () { status().catch(function () {}); }, 1500);
                prev = { at: now, bytes: t.bytes || 0, records: t.records || 0, datagrams: t.datagrams || 0 };
                $('#flows-now').textContent = count(st.flows);
                $('#flows-now-sub').textContent = count(st.hosts) + ' hosts';
                $('#exporters-now').textContent = count(st.exporters);
                $('#exporters-now-sub').textContent = count(t.malformed || 0) + ' malformed, ' +
                    count(t.lost || 0) + ' lost';
            });
        });
        every(function () {
            return api('/api/v1/hosts?limit=10&sort=bytes').then(function (d) {
                fillTable($('#top-hosts'), d.hosts, [
                    { v: function (h) { return hostLink(h.ip); } },
                    { num: true, v: function (h) { return fmt.bytes(h.bytes.sent + h.bytes.rcvd); } },
                    { num: true, v: function (h) { return count(h.flows.active_as_client + h.flows.active_as_server); } },
                    { v: function (h) { return fmt.ago(h.last_seen_ms); } },
                ], 'no hosts yet');
            });
        });
        every(function () {
            return api('/api/v1/applications?limit=10').then(function (d) {
                var total = d.bytes || 1;
                fillTable($('#top-apps'), d.applications, [
                    { v: function (a) { return el('a', { href: '/flows?app=' + encodeURIComponent(a.app) }, a.app); } },
                    { num: true, v: function (a) { return fmt.bytes(a.bytes); } },
                    { num: true, v: function (a) { return count(a.flows); } },
                    { v: function (a) { return shareBar(a.bytes / total); } },
                ], 'no applications yet');
            });
        });
        every(function () {
            return api('/api/v1/interfaces?limit=10&sort=bytes').then(function (d) {
                fillTable($('#top-ifaces'), d.interfaces, [
                    { v: function (i) { return el('span', { class: 'addr' }, i.exporter || '#' + i.exporter_id); } },
                    { num: true, v: function (i) { return String(i.ifindex); } },
                    { num: true, v: function (i) { return fmt.bytes(i.bytes.in); } },
                    { num: true, v: function (i) { return fmt.bytes(i.bytes.out); } },
                    { v: function (i) { return fmt.ago(i.last_seen_ms); } },
                ], 'no interfaces yet');
            });
        });
        every(function () {
            return api('/api/v1/exporters').then(function (d) {
                var list = d.exporters.slice().sort(function (a, b) { return b.last_seen_ms - a.last_seen_ms; });
                fillTable($('#exporter-health'), list.slice(0, 10), exporterHealthCols(), 'no exporters yet');
            });
        });
        every(alertsSlot);
    };

    function exporterHealthCols() {
        var stale = function (x) { return Date.now() - x.last_seen_ms > 300000 ? 'stale' : ''; };
        var bad = function (n) { return function (x) { return n(x) ? 'bad' : ''; }; };
        return [
            { v: function (x) {
                return el('span', null, el('span', { class: 'addr' }, x.address + (x.agent ? ' (' + x.agent + ')' : '')),
                    ' ' + x.proto + '/' + x.domain);
            } },
            { cls: stale, v: function (x) { return fmt.ago(x.last_seen_ms); } },
            { num: true, cls: bad(function (x) { return x.sequence.lost; }), v: function (x) { return count(x.sequence.lost) + ' ' + x.sequence.lost_unit; } },
            { num: true, cls: bad(function (x) { return x.counters.malformed; }), v: function (x) { return count(x.counters.malformed); } },
            { num: true, cls: bad(function (x) { return x.counters.missing_template; }), v: function (x) { return count(x.counters.missing_template); } },
        ];
    }

    function alertsSlot() {
        var slot = $('#alerts-slot');
        return api('/api/v1/alerts?state=engaged&limit=5&totals=1').then(function (d) {
            var alerts = d.alerts || [], total = d.totals && d.totals.total !== undefined ? d.totals.total : alerts.length;
            $('#alerts-now').textContent = count(total);
            slot.replaceChildren(alerts.length ? alertsTable(alerts, ALERT_COLS.slice(0, 5)) : el('p', null, 'No engaged alerts.'));
        }, function (e) {
            if (e.status !== 404)
                throw e;
            $('#alerts-now').textContent = '\u2013';
            $('#alerts-now-sub').textContent = 'the alert store is not in this build';
            slot.textContent = 'Engaged alerts appear here once floe has its alert store.';
        });
    }


    pages.hosts = function () {
        var table = $('#hosts');
        tablePage(table, ['host', 'app'], function (q) {
            return api('/api/v1/hosts?' + q).then(function (d) {
                fillTable(table, d.hosts, [
                    { v: function (h) { return hostLink(h.ip); } },
                    { v: function (h) { return h.local ? h.network : 'remote'; } },
                    { num: true, v: function (h) { return fmt.bytes(h.bytes.sent + h.bytes.rcvd); } },
                    { num: true, v: function (h) { return fmt.bytes(h.bytes.sent); } },
                    { num: true, v: function (h) { return fmt.bytes(h.bytes.rcvd); } },
                    { num: true, v: function (h) { return count(h.packets.sent + h.packets.rcvd); } },
                    { num: true, v: function (h) { return count(h.flows.active_as_client + h.flows.active_as_server); } },
                    { num: true, v: function (h) { return count(h.score); } },
                    { v: function (h) { return fmt.ago(h.last_seen_ms); } },
                ], 'no hosts match');
                return d;
            });
        });
    };

    pages.host = function () {
        var ip = document.body.getAttribute('data-arg');
        hostExtras(ip);
        every(function () {
            return api('/api/v1/hosts/' + encodeURIComponent(ip)).then(function (h) {
                $('#host-missing').hidden = true;
                var dl = $('#host-counters'), rows = [
                    ['Where', h.local ? 'local, ' + h.network : 'remote'],
                    ['First seen', fmt.time(h.first_seen_ms)],
                    ['Last seen', fmt.ago(h.last_seen_ms)],
                    ['Sent', fmt.bytes(h.bytes.sent) + ', ' + count(h.packets.sent) + ' packets'],
                    ['Received', fmt.bytes(h.bytes.rcvd) + ', ' + count(h.packets.rcvd) + ' packets'],
                    ['Flows as client', count(h.flows.as_client) + ' (' + count(h.flows.active_as_client) + ' active)'],
                    ['Flows as server', count(h.flows.as_server) + ' (' + count(h.flows.active_as_server) + ' active)'],
                    ['Score', count(h.score)],
                ];
                var frag = document.createDocumentFragment();
                rows.forEach(function (r) { frag.appendChild(el('dt', null, r[0])); frag.appendChild(el('dd', null, r[1])); });
                dl.replaceChildren(frag);
                var total = h.apps.reduce(function (s, a) { return s + a.bytes; }, 0) || 1;
                fillTable($('#host-apps'), h.apps, [
                    { v: function (a) { return a.app; } },
                    { num: true, v: function (a) { return fmt.bytes(a.bytes); } },
                    { v: function (a) { return shareBar(a.bytes / total); } },
                ], 'no applications yet');
            }, function (e) {
                if (e.status === 404)
                    $('#host-missing').hidden = false;
                throw e;
            });
        });
        every(function () {
            return api('/api/v1/flows?' + qs({ host: ip, limit: PAGE, sort: 'bytes' })).then(function (d) {
                fillTable($('#host-flows'), d.flows, [
                    { v: function (f) { return f.client === ip ? endpoint(f.server, f.server_port) : endpoint(f.client, f.client_port); } },
                    { v: function (f) { return f.client === ip ? 'client' : 'server'; } },
                    { v: flowApp },
                    { num: true, v: function (f) { return fmt.bytes(flowBytes(f)); } },
                    { num: true, v: function (f) { return count(f.score); } },
                    { v: flowStatus },
                    { v: function (f) { return fmt.ago(f.last_seen_ms); } },
                ], 'no active flows');
            });
        });
    };

    /* The host page's extras: its alerts, and a chart for each plugin
     * schema tagged by host alone (SYNs received, ...). */
    function hostExtras(ip) {
        every(function () {
            return api('/api/v1/alerts?' + qs({ value: ip, state: 'all', limit: 10 })).then(function (d) {
                fillTable($('#host-alerts'), d.alerts, ALERT_COLS.slice(0, 6), 'no alerts about this host');
            });
        });
        api('/api/v1/timeseries/schemas?series=1').then(function (d) {
            var box = $('#plugin-charts');
            (d.schemas || []).forEach(function (sc) {
                if (BUILTIN_SCHEMA.test(sc.name) || (sc.tags || []).join(',') !== 'host')
                    return;
                var unit = sc.metrics && sc.metrics[0] ? sc.metrics[0].unit : '';
                var slot = el('div', { class: 'chart', 'data-schema': sc.name, 'data-tags': ip, 'data-unit': unit, 'data-title': sc.title || sc.name });
                box.appendChild(el('section', { class: 'card wide' }, el('h2', null, sc.title || sc.name), slot));
                new Chart(slot);
            });
        }, function () {});
    }
    var BUILTIN_SCHEMA = /^(system|exporter|iface|network|app|host):/;

    pages.flows = function () {
        var table = $('#flows');
        tablePage(table, ['host', 'app', 'exporter'], function (q) {
            return api('/api/v1/flows?' + q).then(function (d) {
                fillTable(table, d.flows, [
                    { v: function (f) { return endpoint(f.client, f.client_port); } },
                    { v: function (f) { return endpoint(f.server, f.server_port); } },
                    { v: function (f) { return PROTOS[f.ipproto] || String(f.ipproto); } },
                    { v: flowApp },
                    { num: true, v: function (f) { return fmt.bytes(flowBytes(f)); } },
                    { num: true, v: function (f) { return count(f.packets.c2s + f.packets.s2c); } },
                    { num: true, v: function (f) { return count(f.score); } },
                    { v: flowStatus },
                    { v: function (f) { return fmt.ago(f.last_seen_ms); } },
                    { v: function (f) { return el('span', { class: 'addr' }, f.exporter || ''); } },
                ], 'no flows match');
                return d;
            });
        });
    };

    pages.exporters = function () {
        var open = {}, prev = {}, chartSlot = $('#iface-chart'), selected = null;
        every(function () {
            return api('/api/v1/exporters').then(function (d) {
                var stale = function (x) { return Date.now() - x.last_seen_ms > 300000 ? 'stale' : ''; };
                fillTable($('#exporters'), d.exporters, [
                    { v: function (x) { return el('span', { class: 'addr' }, x.address + (x.agent ? ' (' + x.agent + ')' : '')); } },
                    { v: function (x) { return x.proto; } },
                    { num: true, v: function (x) { return String(x.domain); } },
                    { cls: stale, v: function (x) { return fmt.ago(x.last_seen_ms); } },
                    { num: true, v: function (x) { return x.sampling > 1 ? '1:' + x.sampling : 'none'; } },
                    { num: true, v: function (x) { return count(x.template_count); } },
                    { num: true, v: function (x) { return count(x.counters.records); } },
                    { num: true, cls: function (x) { return x.sequence.lost ? 'bad' : ''; }, v: function (x) { return count(x.sequence.lost) + ' ' + x.sequence.lost_unit; } },
                    { num: true, v: function (x) { return count(x.sequence.gaps); } },
                    { num: true, cls: function (x) { return x.counters.malformed ? 'bad' : ''; }, v: function (x) { return count(x.counters.malformed); } },
                    { num: true, cls: function (x) { return x.counters.missing_template ? 'bad' : ''; }, v: function (x) { return count(x.counters.missing_template); } },
                ], 'no exporters yet');
                templates(d.exporters);
            });
        });

        function templates(list) {
            var box = $('#templates'), frag = document.createDocumentFragment();
            $$('details', box).forEach(function (det) { open[det.getAttribute('data-id')] = det.open; });
            list.filter(function (x) { return x.templates && x.templates.length; }).forEach(function (x) {
                var det = el('details', { class: 'templates', 'data-id': x.id, open: !!open[x.id] },
                    el('summary', null, x.address + ' ' + x.proto + ' domain ' + x.domain + ': ' +
                        x.templates.length + ' templates'));
                var table = el('table', { class: 'data' }, el('thead', null, el('tr', null,
                    el('th', { class: 'num' }, 'ID'), el('th', null, 'Kind'), el('th', { class: 'num' }, 'Fields'),
                    el('th', { class: 'num' }, 'Record bytes'), el('th', null, 'Refreshed'), el('th', null, 'Fields'))), el('tbody'));
                fillTable(table, x.templates, [
                    { num: true, v: function (t) { return String(t.id); } },
                    { v: function (t) { return t.kind; } },
                    { num: true, v: function (t) { return String(t.field_count); } },
                    { num: true, v: function (t) { return (t.variable_length ? '\u2265 ' : '') + t.record_length; } },
                    { v: function (t) { return fmt.ago(Date.now() - t.age_ms); } },
                    { cls: 'fields', v: function (t) { return t.fields.join(', '); } },
                ]);
                det.appendChild(el('div', { class: 'table-wrap' }, table));
                frag.appendChild(det);
            });
            if (!frag.childNodes.length)
                frag.appendChild(el('p', null, 'No exporter has sent templates (NetFlow v9 and IPFIX do).'));
            box.replaceChildren(frag);
        }

        every(function () {
            return api('/api/v1/interfaces?limit=500&sort=bytes').then(function (d) {
                var now = Date.now(), next = {};
                fillTable($('#interfaces'), d.interfaces, [
                    { v: function (i) { return el('span', { class: 'addr' }, i.exporter || '#' + i.exporter_id); } },
                    { num: true, v: function (i) { return String(i.ifindex); } },
                    { num: true, v: function (i) { return fmt.bytes(i.bytes.in); } },
                    { num: true, v: function (i) { return fmt.bytes(i.bytes.out); } },
                    { num: true, v: function (i) { return rate(i, 'in'); } },
                    { num: true, v: function (i) { return rate(i, 'out'); } },
                    { v: function (i) { return fmt.ago(i.last_seen_ms); } },
                ], 'no interfaces yet', function (tr, i) {
                    var key = i.exporter_id + '/' + i.ifindex;
                    next[key] = { at: now, in: i.bytes.in, out: i.bytes.out };
                    tr.classList.add('clickable');
                    tr.classList.toggle('selected', key === selected);
                    tr.addEventListener('click', function () {
                        selected = key;
                        $$('#interfaces tr.selected').forEach(function (r) { r.classList.remove('selected'); });
                        tr.classList.add('selected');
                        chartSlot.setAttribute('data-tags', (i.exporter || i.exporter_id) + ',' + i.ifindex);
                        chartSlot.hidden = false;
                        if (chartSlot.chart) {
                            chartSlot.chart.tags = chartSlot.getAttribute('data-tags');
                            chartSlot.chart.load();
                        } else {
                            new Chart(chartSlot);
                        }
                    });
                });
                prev = next;
                function rate(i, dir) {
                    var p = prev[i.exporter_id + '/' + i.ifindex];
                    if (!p || now <= p.at)
                        return '\u2013';
                    return fmt.bits(Math.max(0, (i.bytes[dir] - p[dir]) / ((now - p.at) / 1000)));
                }
            });
        });
    };

    /* Alerts and plugins: the lists when their APIs exist, else what the
     * page will hold. */

    /* ---- alerts ----------------------------------------------------------- */

    var SEVERITY_TONE = { emergency: 'bad', alert: 'bad', critical: 'bad', error: 'bad', warning: 'warn', notice: '', info: '', debug: '' };

    /* What an alert is about: a host link, a flow's two ends, or the text. */
    function alertEntity(a) {
        var t = a.entity.type, v = a.entity.value;
        if (t === 'host')
            return hostLink(v);
        if (t === 'flow' && a.flow)
            return el('span', { class: 'mono' }, endpoint(a.flow.client, a.flow.client_port), ' \u2192 ',
                endpoint(a.flow.server, a.flow.server_port), a.flow.app ? ' ' + a.flow.app : '');
        return el('span', null, t + ' ', el('span', { class: 'mono' }, v));
    }

    function alertState(a) {
        if (a.state === 'engaged')
            return el('span', { class: 'chip bad' }, 'engaged');
        if (a.kind === 'oneshot')
            return 'stored';
        return 'released ' + fmt.ago(a.released_ms);
    }

    var ALERT_COLS = [
        { v: function (a) { return el('span', { class: 'chip ' + (SEVERITY_TONE[a.severity] || '') }, a.severity); } },
        { v: function (a) { return el('span', { class: 'mono', title: a.info ? JSON.stringify(a.info) : null }, a.type); } },
        { v: alertEntity },
        { v: function (a) { return el('span', { title: fmt.time(a.raised_ms) }, fmt.ago(a.raised_ms)); } },
        { v: alertState },
        { num: true, v: function (a) { return count(a.count); } },
        { v: function (a) { return a.ack ? a.ack.by + ', ' + fmt.ago(a.ack.ms) : 'no'; } },
    ];

    /* A table of alerts built here (the dashboard's slot has none). */
    function alertsTable(alerts, cols) {
        var heads = ['Severity', 'Alert', 'Entity', 'Raised', 'State', 'Count', 'Acknowledged'];
        var table = el('table', { class: 'data' }, el('thead', null, el('tr', null,
            cols.map(function (c, i) { return el('th', { class: c.num ? 'num' : null }, heads[i]); }))), el('tbody'));
        fillTable(table, alerts, cols);
        return el('div', { class: 'table-wrap' }, table);
    }

    function alertFilters() {
        var p = params(), q = {};
        ['state', 'severity', 'entity', 'value', 'type', 'ack'].forEach(function (k) { q[k] = p[k] || ''; });
        q.state = q.state || 'engaged';
        return q;
    }

    pages.alerts = function () {
        var table = $('#alerts'), form = $('#filters'), result = $('#alerts-result');
        var q = alertFilters(), offset = parseInt(params().offset || '0', 10) || 0;
        Object.keys(q).forEach(function (k) { if (form.elements[k]) form.elements[k].value = q[k]; });
        function go(off) {
            offset = off;
            var shown = Object.assign({}, q, { offset: offset || '' });
            history.replaceState(null, '', '/alerts?' + qs(shown));
            refresh();
        }
        form.addEventListener('submit', function (ev) {
            ev.preventDefault();
            Object.keys(q).forEach(function (k) { q[k] = form.elements[k] ? form.elements[k].value.trim() : ''; });
            go(0);
        });
        form.addEventListener('reset', function () {
            setTimeout(function () {
                Object.keys(q).forEach(function (k) { q[k] = ''; });
                q.state = 'engaged';
                go(0);
            });
        });
        $('#prev').addEventListener('click', function () { go(Math.max(0, offset - PAGE)); });
        $('#next').addEventListener('click', function () { go(offset + PAGE); });
        function done(what) {
            return function (r) {
                result.textContent = r.ok ? what + (r.body.deleted !== undefined ? ' (' + count(r.body.deleted) + ')' : '')
                    : (r.body.error || 'failed');
                result.className = r.ok ? 'hint' : 'hint tone-bad';
                refresh();
            };
        }
        $('#alerts-delete-all').addEventListener('click', function () {
            if (!window.confirm('Delete every alert these filters match?'))
                return;
            send('DELETE', '/api/v1/alerts?' + qs(q)).then(done('deleted'));
        });
        var actions = {
            ack: function (a) { return send('POST', '/api/v1/alerts/' + a.id + '/ack').then(done('acknowledged')); },
            exclude: function (a) {
                var rule = { type: a.type };
                var host = a.entity.type === 'host' ? a.entity.value : a.flow ? a.flow.client : null;
                if (host)
                    rule.hosts = [host];
                return send('POST', '/api/v1/alerts/exclusions', rule).then(done('excluded'));
            },
            'delete': function (a) { return send('DELETE', '/api/v1/alerts/' + a.id).then(done('deleted')); },
        };
        var cols = ALERT_COLS.concat([{ v: function (a) {
            var box = el('span', { class: 'actions' });
            ['ack', 'exclude', 'delete'].forEach(function (k) {
                if (k === 'ack' && a.ack)
                    return;
                var b = el('button', { type: 'button', class: 'small secondary', 'data-action': k }, k === 'ack' ? 'Acknowledge' : k === 'exclude' ? 'Exclude' : 'Delete');
                b.addEventListener('click', function () { b.disabled = true; actions[k](a); });
                box.appendChild(b);
            });
            return box;
        } }]);
        every(function () {
            var query = Object.assign({}, q, { limit: PAGE, offset: offset || '', totals: 1 });
            return api('/api/v1/alerts?' + qs(query)).then(function (d) {
                fillTable(table, d.alerts, cols, 'no alerts match', function (tr, a) { tr.setAttribute('data-id', a.id); });
                var t = d.totals || { total: d.alerts.length, by_severity: {} };
                $('#page-info').textContent = (t.total ? count(offset + 1) : '0') + '\u2013' +
                    count(Math.min(offset + PAGE, t.total)) + ' of ' + count(t.total) + (t.capped ? '+' : '');
                $('#prev').disabled = offset === 0;
                $('#next').disabled = offset + PAGE >= t.total;
                var figs = $('#alert-figures'), frag = document.createDocumentFragment();
                ['critical', 'error', 'warning', 'notice', 'info'].forEach(function (sev) {
                    frag.appendChild(el('div', { class: 'card figure' }, el('h2', null, sev),
                        el('p', { class: 'big ' + (t.by_severity[sev] ? 'tone-' + (SEVERITY_TONE[sev] || 'ok') : '') }, count(t.by_severity[sev] || 0))));
                });
                figs.replaceChildren(frag);
            }, function (e) {
                tableMessage(table, e.message);
                throw e;
            });
        });
        every(function () {
            return api('/api/v1/alerts/exclusions').then(function (d) {
                var list = function (x) { return x && x.length ? x.join(', ') : 'any'; };
                fillTable($('#exclusions'), d.exclusions, [
                    { v: function (x) { return el('span', { class: 'mono' }, x.rule.type || '*'); } },
                    { v: function (x) { return x.rule.plugin || 'any'; } },
                    { v: function (x) { return list(x.rule.hosts); } },
                    { v: function (x) { return list(x.rule.apps); } },
                    { v: function (x) { return list(x.rule.exporters); } },
                    { num: true, v: function (x) { return count(x.excluded || 0); } },
                    { v: function (x) {
                        if (!x.persist)
                            return 'config';
                        var b = el('button', { type: 'button', class: 'small secondary' }, 'Remove');
                        b.addEventListener('click', function () { send('DELETE', '/api/v1/alerts/exclusions/' + x.id).then(done('rule removed')); });
                        return b;
                    } },
                ], 'no exclusions');
            });
        });
    };

    /* ---- plugins ---------------------------------------------------------- */

    /* A state change with a JSON body and the session's CSRF token; resolves
     * to {status, ok, body}. */
    function send(method, path, body) {
        return fetch(path, {
            method: method, credentials: 'same-origin',
            headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': csrf() },
            body: body === undefined ? undefined : JSON.stringify(body),
        }).then(function (r) {
            return r.json().catch(function () { return {}; }).then(function (b) {
                return { status: r.status, ok: r.ok, body: b };
            });
        }, function () {
            return { status: 0, ok: false, body: { error: 'floe is not answering' } };
        });
    }

    /* 1234567 ns -> "1.23 ms" */
    function duration(ns) {
        var units = [[1e9, 's'], [1e6, 'ms'], [1e3, '\u00b5s']];
        for (var i = 0; i < units.length; i++)
            if (ns >= units[i][0])
                return si(ns / units[i][0], '').trim() + ' ' + units[i][1];
        return (ns || 0) + ' ns';
    }

    var STATE_TONE = { loaded: 'ok', ok: 'ok', stale: 'warn', disabled: '', failed: 'bad', off: '' };

    function stateChip(state) {
        return el('span', { class: 'chip state ' + (STATE_TONE[state] || ''), 'data-state': state }, state);
    }

    /* The calls by duration (<1us .. more) as a small bar chart. */
    function histogram(h) {
        var keys = ['1us', '10us', '100us', '1ms', '10ms', '100ms', '1s', 'more'];
        var max = Math.max.apply(null, keys.map(function (k) { return h[k] || 0; })) || 1;
        var box = el('span', { class: 'hist', title: keys.map(function (k, i) {
            return (i < 7 ? '< ' + k : '\u2265 1s') + ': ' + (h[k] || 0);
        }).join(', ') });
        keys.forEach(function (k) {
            var bar = el('i');
            bar.style.height = (h[k] ? 10 + 90 * h[k] / max : 0).toFixed(0) + '%';
            box.appendChild(bar);
        });
        return box;
    }

    /* A list setting of scalars is edited as comma-separated text; anything
     * else that is a table, as JSON. */
    function editKind(s) {
        if (s.type === 'boolean')
            return 'bool';
        if (s.type === 'integer' || s.type === 'number')
            return 'number';
        if (s.type === 'string')
            return s.choices ? 'choice' : 'text';
        return s.type === 'list' && s.of && s.of !== 'map' ? 'csv' : 'json';
    }

    function normal(s, v) {
        if (v === undefined || v === null)
            v = s.default;
        /* an empty list prints as {} from Lua */
        if (s.type === 'list' && v && typeof v === 'object' && !Array.isArray(v) && !Object.keys(v).length)
            return [];
        return v;
    }

    function fieldInput(s, cur) {
        var kind = editKind(s), id = 'set-' + Math.random().toString(36).slice(2);
        var input;
        if (kind === 'bool') {
            input = el('input', { type: 'checkbox', id: id, checked: !!cur });
        } else if (kind === 'number') {
            input = el('input', { type: 'number', id: id, step: s.type === 'integer' ? '1' : 'any',
                                  min: s.min, max: s.max, value: cur });
        } else if (kind === 'choice') {
            input = el('select', { id: id });
            s.choices.forEach(function (c) { input.appendChild(el('option', { value: c, selected: c === cur }, c)); });
        } else if (kind === 'text') {
            input = el('input', { type: 'text', id: id, value: cur, spellcheck: 'false' });
        } else if (kind === 'csv') {
            input = el('input', { type: 'text', id: id, value: (cur || []).join(', '), spellcheck: 'false',
                                  placeholder: 'comma-separated' });
        } else {
            input = el('textarea', { id: id, rows: 6, spellcheck: 'false', class: 'mono' });
            input.value = JSON.stringify(cur, null, 2);
        }
        input.setAttribute('name', s.key);
        return input;
    }

    /* The field's value as JSON would carry it: {value} or {error}. */
    function readField(s, input) {
        var kind = editKind(s), v = input.value;
        if (kind === 'bool')
            return { value: input.checked };
        if (kind === 'number')
            return v.trim() === '' ? { error: 'a number is needed' } : { value: Number(v) };
        if (kind === 'csv') {
            var items = v.split(',').map(function (x) { return x.trim(); }).filter(function (x) { return x !== ''; });
            if (s.of === 'integer' || s.of === 'number')
                items = items.map(function (x) { return isNaN(Number(x)) ? x : Number(x); });
            if (s.of === 'boolean')
                items = items.map(function (x) { return x === 'true' ? true : x === 'false' ? false : x; });
            return { value: items };
        }
        if (kind === 'json') {
            try {
                return { value: JSON.parse(v) };
            } catch (e) {
                return { error: 'not valid JSON: ' + e.message };
            }
        }
        return { value: v };
    }

    /* What the last save of a check said, kept across the card's rebuild. */
    var saveNotes = {};

    function settingsForm(p, c) {
        var id = p.name + '.' + c.key;
        var form = el('form', { class: 'settings', novalidate: true, 'data-check': id });
        var fields = [];
        (c.settings || []).forEach(function (s) {
            var cur = normal(s, c.config ? c.config[s.key] : undefined);
            var input = fieldInput(s, cur);
            var err = el('p', { class: 'field-error error', 'data-key': s.key, role: 'alert', hidden: true });
            var hint = [s.description, s.min !== undefined ? 'min ' + s.min : null, s.max !== undefined ? 'max ' + s.max : null,
                        s.validated ? 'checked by the plugin' : null].filter(Boolean).join(' \u00b7 ');
            form.appendChild(el('div', { class: 'field field-' + editKind(s) },
                el('label', { for: input.id }, s.title || s.key,
                   s.title && s.title !== s.key ? el('span', { class: 'mono key' }, s.key) : null),
                input, hint ? el('span', { class: 'hint' }, hint) : null, err));
            fields.push({ s: s, input: input, cur: cur, err: err });
        });
        if (!fields.length)
            form.appendChild(el('p', { class: 'hint' }, 'This check has no settings besides on and off.'));
        var status = el('span', { class: 'form-status hint', role: 'status' }, saveNotes[id] || '');
        delete saveNotes[id];
        var save = el('button', { type: 'submit', disabled: !fields.length }, 'Save settings');
        form.appendChild(el('div', { class: 'form-buttons' }, save, status));
        form.addEventListener('input', function () { form.setAttribute('data-dirty', '1'); });
        form.addEventListener('submit', function (ev) {
            ev.preventDefault();
            var body = {}, bad = false;
            fields.forEach(function (f) {
                var r = readField(f.s, f.input);
                f.err.hidden = !r.error;
                f.err.textContent = r.error || '';
                if (r.error)
                    bad = true;
                else if (JSON.stringify(r.value) !== JSON.stringify(f.cur))
                    body[f.s.key] = r.value;
            });
            if (bad)
                return;
            if (!Object.keys(body).length) {
                status.textContent = 'nothing changed';
                return;
            }
            status.textContent = 'saving\u2026';
            send('PUT', '/api/v1/plugins/' + encodeURIComponent(p.name) + '/checks/' + encodeURIComponent(c.key), body)
                .then(function (r) {
                    if (r.ok) {
                        status.textContent = saveNotes[id] = 'saved at ' + new Date().toLocaleTimeString();
                        form.removeAttribute('data-dirty');
                        refresh();
                        return;
                    }
                    var msg = r.body.error || 'refused (' + r.status + ')';
                    var target = fields.filter(function (f) { return f.s.key === r.body.key; })[0];
                    if (target) {
                        target.err.textContent = msg;
                        target.err.hidden = false;
                        status.textContent = 'not saved';
                    } else {
                        status.textContent = msg;
                    }
                });
        });
        return form;
    }

    function checkDetail(p, c) {
        var box = el('div', { class: 'check-detail' });
        if (c.description)
            box.appendChild(el('p', { class: 'hint' }, c.description));
        if (c.last_error) {
            box.appendChild(el('details', { class: 'trace' },
                el('summary', { class: 'error' }, 'Last error ' + fmt.ago(c.last_error.at_ms) + ': ' + c.last_error.message),
                el('pre', null, c.last_error.traceback || c.last_error.message)));
        }
        box.appendChild(settingsForm(p, c));
        return box;
    }

    function switchButton(p, c) {
        var b = el('button', { type: 'button', class: 'switch', role: 'switch', 'aria-checked': String(!!c.enabled),
                               title: c.enabled ? 'Disable this check' : 'Enable this check' },
            c.enabled ? 'on' : 'off');
        b.addEventListener('click', function () {
            b.disabled = true;
            send('PUT', '/api/v1/plugins/' + encodeURIComponent(p.name) + '/checks/' + encodeURIComponent(c.key),
                 { enabled: !c.enabled }).then(function (r) {
                b.disabled = false;
                if (!r.ok)
                    b.title = r.body.error || 'refused';
                refresh();
            });
        });
        return b;
    }

    var CHECK_COLS = ['Check', 'Kind', 'State', '#Calls', '#Errors', '#Skipped', '#Time', 'Calls by time', 'Enabled', ''];

    function checkRow(p, c, open) {
        var tr = el('tr', { 'data-check': c.key });
        var more = el('button', { type: 'button', class: 'secondary small', 'aria-expanded': String(open) }, 'Settings');
        [el('span', { title: c.key }, c.title || c.key), c.kind + (c.hooks.length ? ' (' + c.hooks.join(', ') + ')' : ''),
         stateChip(c.state), count(c.calls), count(c.errors), count(c.skipped), duration(c.time_ns),
         histogram(c.time_histogram || {}), switchButton(p, c), more].forEach(function (v, i) {
            tr.appendChild(el('td', { class: (CHECK_COLS[i][0] === '#' ? 'num ' : '') + 'c' + i }, v));
        });
        if (c.errors)
            tr.cells[4].classList.add('bad');
        return { row: tr, more: more };
    }

    /* The card of a plugin: its state and error, its pages, and a table of
     * its checks whose rows open on an editor of their settings. */
    function pluginCard(p, openSet) {
        var card = el('section', { class: 'card wide plugin', 'data-plugin': p.name });
        var links = el('span', { class: 'plugin-links' });
        ((p.menu && p.menu.pages) || []).forEach(function (pg) { links.appendChild(el('a', { href: pg.href }, pg.title)); });
        card.appendChild(el('div', { class: 'plugin-head' },
            el('h2', null, p.title || p.name), stateChip(p.state),
            el('span', { class: 'hint' }, p.name + (p.version ? ' ' + p.version : '') + (p.author ? ' \u00b7 ' + p.author : '')),
            links));
        if (p.description)
            card.appendChild(el('p', { class: 'hint' }, p.description));
        if (p.error)
            card.appendChild(el('p', { class: 'error plugin-error' }, p.error));
        if (!p.checks.length)
            return card;
        var table = el('table', { class: 'data checks' }, el('thead', null, el('tr')), el('tbody'));
        CHECK_COLS.forEach(function (h) {
            table.tHead.rows[0].appendChild(el('th', { class: h[0] === '#' ? 'num' : '' }, h.replace(/^#/, '')));
        });
        p.checks.forEach(function (c) {
            var id = p.name + '.' + c.key, open = !!openSet[id];
            var r = checkRow(p, c, open);
            var detail = el('tr', { class: 'detail', hidden: !open }, el('td', { colspan: CHECK_COLS.length }, checkDetail(p, c)));
            r.more.addEventListener('click', function () {
                detail.hidden = !detail.hidden;
                r.more.setAttribute('aria-expanded', String(!detail.hidden));
                openSet[id] = !detail.hidden;
            });
            table.tBodies[0].appendChild(r.row);
            table.tBodies[0].appendChild(detail);
        });
        card.appendChild(el('div', { class: 'table-wrap' }, table));
        return card;
    }

    /* What, when it changes, needs the card built again; counters alone
     * are updated in place, so an open editor keeps what is typed in it. */
    function cardShape(p) {
        return JSON.stringify([p.state, p.error, p.version, p.menu, p.checks.map(function (c) {
            return [c.key, c.state, c.enabled, c.settings, c.config, c.last_error && c.last_error.at_ms];
        })]);
    }

    function updateCounters(card, p) {
        p.checks.forEach(function (c) {
            var tr = $('tr[data-check="' + c.key + '"]', card);
            if (!tr)
                return;
            tr.cells[3].textContent = count(c.calls);
            tr.cells[4].textContent = count(c.errors);
            tr.cells[5].textContent = count(c.skipped);
            tr.cells[6].textContent = duration(c.time_ns);
            tr.cells[7].replaceChildren(histogram(c.time_histogram || {}));
        });
    }

    pages.plugins = function () {
        var cards = {}, shapes = {}, openSet = {}, list = $('#plugins-list');
        every(function () {
            return api('/api/v1/plugins').then(function (d) {
                var checks = 0, off = 0, ns = 0, calls = 0, order = [];
                d.plugins.forEach(function (p) {
                    p.checks.forEach(function (c) {
                        checks++;
                        off += c.state !== 'ok';
                        ns += c.time_ns;
                        calls += c.calls;
                    });
                    var shape = cardShape(p), card = cards[p.name];
                    var editing = card && $('form.settings[data-dirty]', card);
                    if (!card || (shape !== shapes[p.name] && !editing)) {
                        card = pluginCard(p, openSet);
                        cards[p.name] = card;
                        shapes[p.name] = shape;
                    } else {
                        updateCounters(card, p);
                    }
                    order.push(card);
                });
                list.replaceChildren.apply(list, order.length ? order : [el('p', null, 'No plugins are loaded.')]);
                $('#plugins-loaded').textContent = count(d.loaded);
                $('#plugins-loaded-sub').textContent = d.failed ? d.failed + ' failed' : 'none failed';
                $('#plugins-loaded-sub').className = 'sub' + (d.failed ? ' error' : '');
                $('#checks-count').textContent = count(checks);
                $('#checks-count-sub').textContent = off ? off + ' not running' : 'all running';
                $('#lua-time').textContent = duration(ns);
                $('#lua-time-sub').textContent = count(calls) + ' calls';
                $('#plugin-alerts').textContent = count(d.alerts_engaged);
                fillTable($('#statuses'), d.statuses, [
                    { v: function (s) { return el('span', { class: 'mono' }, s.key); } },
                    { v: function (s) { return s.title; } },
                    { num: true, v: function (s) { return count(s.score); } },
                    { num: true, v: function (s) { return count(s.flows); } },
                    { v: function (s) { return s.alert ? el('span', { class: 'mono' }, s.alert) : null; } },
                ], 'no statuses defined');
            });
        });
        var reload = $('#plugins-reload'), result = $('#reload-result');
        reload.addEventListener('click', function () {
            reload.disabled = true;
            result.textContent = 'reloading\u2026';
            send('POST', '/api/v1/plugins/reload', {}).then(function (r) {
                reload.disabled = false;
                result.textContent = r.ok ? 'reloaded at ' + new Date().toLocaleTimeString() :
                    r.status === 422 ? r.body.failed + ' plugin(s) did not load: their cards say why' :
                    (r.body.error || 'reload failed (' + r.status + ')');
                result.className = r.ok ? 'hint ok' : 'hint error';
                refresh();
            });
        });
    };

    /*
     * A plugin's page is rendered by floe (a page script's blocks through
     * the escaping templates of www/plugin_pages.c); to keep it live the
     * page is fetched again and its blocks swapped for the new ones, parsed
     * by DOMParser (nothing executes: no script comes with it, and the CSP
     * allows none inline). Blocks that hold charts stay, so a chart keeps
     * its range and zoom.
     */
    function chartKeys(node) {
        return $$('.chart[data-schema]', node).map(function (c) {
            return c.getAttribute('data-schema') + '|' + c.getAttribute('data-tags');
        }).join(';');
    }

    pages.plugin = function () {
        var box = $('#plugin-page');
        if (!box)
            return;
        every(function () {
            return fetch(location.pathname, { credentials: 'same-origin', headers: { Accept: 'text/html' } }).then(function (r) {
                if (r.status === 401)
                    location.assign('/login?next=' + encodeURIComponent(location.pathname));
                if (!r.ok)
                    throw new ApiError(r.status, 'the page answered ' + r.status);
                return r.text();
            }, function () {
                throw new ApiError(0, 'floe is not answering');
            }).then(function (html) {
                var fresh = new DOMParser().parseFromString(html, 'text/html').getElementById('plugin-page');
                if (!fresh)
                    return;
                var old = Array.prototype.slice.call(box.children), next = Array.prototype.slice.call(fresh.children);
                var same = old.length === next.length && old.every(function (o, i) { return chartKeys(o) === chartKeys(next[i]); });
                if (!same) {
                    box.replaceChildren.apply(box, next.map(function (n) { return document.importNode(n, true); }));
                    initCharts(box);
                    return;
                }
                old.forEach(function (o, i) {
                    if (!chartKeys(o))
                        o.replaceWith(document.importNode(next[i], true));
                });
            });
        });
    };

    /* ---- historical flows (ClickHouse) -------------------------------------- */

    /* The form's fields are the API's arguments; range becomes from=-N. */
    function historyQuery(form) {
        var p = params(), q = {};
        $$('input, select', form).forEach(function (f) {
            if (p[f.name] !== undefined)
                f.value = p[f.name];
            if (f.name !== 'range' && f.value)
                q[f.name] = f.value;
        });
        q.from = '-' + (form.elements.range.value || '3600');
        return q;
    }

    function historyKey(group, key) {
        if (group === 'host')
            return hostLink(key);
        return group === 'exporter' ? el('span', { class: 'addr' }, key) : String(key);
    }

    /* The histogram as a line of bits per second over the range's steps. */
    function historyChart(slot, d) {
        var msg = $('.chart-msg', slot);
        if (!d.histogram || !d.histogram.length) {
            msg.textContent = 'no flows in this range';
            return;
        }
        /* Every step of the range, the empty ones at zero. */
        var t = [], v = [], by = {};
        d.histogram.forEach(function (p) { by[p.time] = p.bytes; });
        for (var s = Math.floor(d.from / d.step) * d.step; s < d.to && t.length < 2000; s += d.step) {
            t.push(s);
            v.push((by[s] || 0) * 8 / d.step);
        }
        msg.hidden = true;
        var plot = el('div', { class: 'chart-plot' });
        slot.appendChild(plot);
        slot.setAttribute('data-state', 'drawn');
        var muted = cssVar('--muted'), grid = cssVar('--grid');
        var axis = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
        new uPlot({
            width: Math.max(200, slot.clientWidth || 600), height: 220,
            series: [{}, { label: 'traffic', stroke: PALETTE[0], fill: PALETTE[0] + '22', width: 1.5,
                value: function (u, x) { return si(x, 'bit/s'); } }],
            axes: [axis, Object.assign({}, axis, { size: 80,
                values: function (u, vals) { return vals.map(function (x) { return si(x, 'bit/s'); }); } })],
            scales: { x: { time: true, range: function () { return [d.from, d.to]; } } },
        }, [t, v], plot);
    }

    pages.history = function () {
        var form = $('#history-form'), notice = $('#history-notice');
        var q = historyQuery(form), group = q.group || 'host';
        function fail(e) {
            if (e.status === 401)
                return;
            notice.textContent = e.status === 503 ? 'The history is off: set clickhouse.url in the config.' : e.message;
            notice.hidden = false;
            tableMessage($('#history-top'), 'no answer');
            tableMessage($('#history-flows'), 'no answer');
            $('.chart-msg', $('#history-chart')).textContent = 'no answer';
        }
        api('/api/v1/history/top?' + qs(q)).then(function (d) {
            var total = d.top.reduce(function (a, r) { return a + r[d.by]; }, 0) || 1;
            fillTable($('#history-top'), d.top, [
                { v: function (r) { return historyKey(group, r.key); } },
                { num: true, v: function (r) { return fmt.bytes(r.bytes); } },
                { num: true, v: function (r) { return count(r.packets); } },
                { num: true, v: function (r) { return count(r.flows); } },
                { v: function (r) { return shareBar(r[d.by] / total); } },
            ], 'no flows match');
            historyChart($('#history-chart'), d);
        }, fail);
        var fq = Object.assign({}, q, { limit: 100 });
        delete fq.group;
        delete fq.by;
        api('/api/v1/history/flows?' + qs(fq)).then(function (d) {
            fillTable($('#history-flows'), d.flows, [
                { v: function (f) { return fmt.time(f.time * 1000); } },
                { v: function (f) { return endpoint(f.client, f.client_port); } },
                { v: function (f) { return endpoint(f.server, f.server_port); } },
                { v: function (f) { return PROTOS[f.proto] || String(f.proto); } },
                { v: function (f) { return f.app || '\u2013'; } },
                { num: true, v: function (f) { return fmt.bytes(f.c2s_bytes + f.s2c_bytes); } },
                { v: function (f) { return f.instance; } },
                { v: function (f) { return el('span', { class: 'addr' }, f.exporter); } },
            ], 'no flows match');
        }, fail);
    };

    /* ---- the frame -------------------------------------------------------- */

    function initFrame() {
        var toggle = $('#theme-toggle');
        if (toggle) {
            toggle.addEventListener('click', function () {
                var next = document.documentElement.getAttribute('data-theme') === 'dark' ? 'light' : 'dark';
                document.documentElement.setAttribute('data-theme', next);
                try {
                    localStorage.setItem(THEME_KEY, next);
                } catch (e) { /* private mode: the choice lasts for this page */ }
                charts.forEach(function (c) { c.redraw(); });
            });
        }
        systemDark.addEventListener('change', function () {
            applyTheme();
            charts.forEach(function (c) { c.redraw(); });
        });
        var navToggle = $('.nav-toggle'), nav = $('#nav');
        if (navToggle && nav) {
            navToggle.addEventListener('click', function () {
                var openNow = nav.classList.toggle('open');
                navToggle.setAttribute('aria-expanded', String(openNow));
            });
        }
        document.addEventListener('click', function (ev) {
            $$('details.user-menu[open]').forEach(function (d) {
                if (!d.contains(ev.target))
                    d.open = false;
            });
        });
    }

    document.addEventListener('DOMContentLoaded', function () {
        initFrame();
        initCharts(document);
        var page = pages[document.body.getAttribute('data-page')];
        if (page)
            page();
        if (live.tasks.length)
            refresh();
    });

    /* For the browser tests and the console. */
    window.floe = { fmt: fmt, Chart: Chart, charts: charts, api: api, post: post, send: send, refresh: refresh };
})();
