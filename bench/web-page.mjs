// bench/web-page.mjs URL COOKIE: loads each page in Debian's chromium
// (playwright-core from tests/browser) five times and prints, per page, the
// median and maximum milliseconds from the start of the navigation to the
// page's data drawn (app.js's "floe:data" performance mark, set when its
// first refresh is done: every table filled from the API), as the browser's
// own clock measures them; the time playwright itself takes to notice is not
// counted. Run by bench/tables-api.py --browser.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'tests', 'browser', 'x.js'));
const { chromium } = require('playwright-core');
const [base, cookie] = process.argv.slice(2);
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'floe-bench-'));
const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const [name, value] = cookie.split('=');
await ctx.addCookies([{ name, value, url: base }]);
const page = ctx.pages()[0] || (await ctx.newPage());
console.log('\n| page in chromium (navigation start to data drawn) | median ms | max ms | API request ms |\n|---|---|---|---|');
for (const [p, sel] of [['/hosts', '#hosts tbody tr:not(.empty)'], ['/', '#top-hosts tbody tr:not(.empty)'],
                        ['/flows', '#flows tbody tr:not(.empty)']]) {
    const times = [], apis = [];
    for (let i = 0; i < 5; i++) {
        await page.goto(base + p);
        await page.waitForSelector(sel, { timeout: 60000 });
        await page.waitForFunction(() => performance.getEntriesByName('floe:data').length > 0);
        const m = await page.evaluate(() => ({
            drawn: performance.getEntriesByName('floe:data')[0].startTime,
            api: Math.max(...performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/'))
                .map((e) => e.responseEnd - e.startTime)),
        }));
        times.push(m.drawn);
        apis.push(m.api);
    }
    const med = (a) => a.slice().sort((x, y) => x - y)[2];
    console.log(`| \`${p}\` | ${med(times).toFixed(0)} | ${Math.max(...times).toFixed(0)} | ${med(apis).toFixed(0)} |`);
}
await ctx.close();
fs.rmSync(profile, { recursive: true, force: true });
